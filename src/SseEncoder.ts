/**
 * Encoding streams of events, the other half of `SseParser`: channels from events (or from values and a
 * Schema) to the bytes of `text/event-stream`, in the shape of `@effect/platform`'s `Ndjson.pack` /
 * `Ndjson.packSchema`. Each chunk of input becomes one array of bytes.
 *
 * ```ts
 * import { Effect, Stream } from "effect"
 * import * as SseEncoder from "effect-sse/SseEncoder"
 * import * as SseEvent from "effect-sse/SseEvent"
 *
 * const bytes = Stream.make(SseEvent.make("a"), SseEvent.make("b")).pipe(
 *   Stream.pipeThroughChannel(SseEncoder.encode()),
 *   Stream.decodeText(),
 *   Stream.mkString
 * )
 * Effect.runPromise(bytes).then(console.log) // "data: a\n\ndata: b\n\n"
 * ```
 *
 * @since 0.2.0
 */
import type * as Channel from "effect/Channel"
import type * as Chunk from "effect/Chunk"
import type * as Schema from "effect/Schema"
import * as internal from "./internal/encoder.js"
import type * as SseEvent from "./SseEvent.js"

/**
 * A channel from chunks of events to their wire bytes, one array per chunk. It never fails: every `SseEvent`
 * can be written.
 *
 * @since 0.2.0
 * @category encoding
 */
export const encode: <IE = never, Done = unknown>() => Channel.Channel<
  Chunk.Chunk<Uint8Array>,
  Chunk.Chunk<SseEvent.SseEvent>,
  IE,
  IE,
  Done,
  Done
> = internal.encode

/**
 * A channel from chunks of values to the wire bytes of events whose data is the JSON of each value encoded by
 * `schema`. A value the schema refuses fails the channel with an `SseEventError` of reason `SchemaMismatch`, after
 * the bytes of the values before it (in the same chunk too).
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import * as SseEncoder from "effect-sse/SseEncoder"
 *
 * const Tick = Schema.Struct({ n: Schema.Number })
 * const text = Stream.make({ n: 1 }, { n: 2 }).pipe(
 *   Stream.pipeThroughChannel(SseEncoder.encodeSchema(Tick)()),
 *   Stream.decodeText(),
 *   Stream.mkString
 * )
 * Effect.runPromise(text).then(console.log) // 'data: {"n":1}\n\ndata: {"n":2}\n\n'
 * ```
 *
 * @since 0.2.0
 * @category encoding
 */
export const encodeSchema: <A, I, R>(
  schema: Schema.Schema<A, I, R>
) => <IE = never, Done = unknown>() => Channel.Channel<
  Chunk.Chunk<Uint8Array>,
  Chunk.Chunk<A>,
  IE | SseEvent.SseEventError,
  IE,
  Done,
  Done,
  R
> = internal.encodeSchema
