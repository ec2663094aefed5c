/**
 * A stream of events as the bytes of `text/event-stream`: each chunk of events becomes one byte array.
 *
 * @since 1.0.0
 */
import * as Stream from "effect/Stream"
import * as Bytes from "../../src/core/chunk.js"
import * as SseEvent from "./SseEvent.js"

/**
 * The wire bytes of events, as one array.
 *
 * @since 1.0.0
 * @category encoding
 */
export const encodeAll = (events: Iterable<SseEvent.SseEvent>): Uint8Array => {
  const parts: Array<Uint8Array> = []
  for (const event of events) parts.push(SseEvent.encode(event))
  return Bytes.concat(parts)
}

/**
 * Encodes a stream of events: one byte array per chunk of events.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import * as SseEncoder from "effect-sse/SseEncoder"
 * import * as SseEvent from "effect-sse/SseEvent"
 *
 * const bytes = Stream.make(SseEvent.make("a"), SseEvent.make("b")).pipe(SseEncoder.encode, Stream.runCollect)
 * ```
 *
 * @since 1.0.0
 * @category encoding
 */
export const encode = <E, R>(self: Stream.Stream<SseEvent.SseEvent, E, R>): Stream.Stream<Uint8Array, E, R> =>
  Stream.mapArray(self, (events) => [encodeAll(events)] as const)
