import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import type * as Schema from "effect/Schema"
import * as Bytes from "../core/chunk.js"
import type * as SseEvent from "../SseEvent.js"
import * as event from "./event.js"
import * as parser from "./parser.js"

/** The wire bytes of a chunk of events, as one array. @internal */
export const encodeChunk = (events: Chunk.Chunk<SseEvent.SseEvent>): Uint8Array => {
  const parts: Array<Uint8Array> = []
  for (const e of events) parts.push(event.encode(e))
  return Bytes.concat(parts)
}

/** @internal */
export const encode = <IE = never, Done = unknown>(): Channel.Channel<
  Chunk.Chunk<Uint8Array>,
  Chunk.Chunk<SseEvent.SseEvent>,
  IE,
  IE,
  Done,
  Done
> =>
  Channel.mapOut(
    Channel.identity<Chunk.Chunk<SseEvent.SseEvent>, IE, Done>(),
    (events): Chunk.Chunk<Uint8Array> => Chunk.isEmpty(events) ? Chunk.empty() : Chunk.of(encodeChunk(events))
  )

/** @internal */
export const encodeSchema = <A, I, R>(schema: Schema.Schema<A, I, R>) => {
  const toEvent = event.jsonSchema(schema)
  return <IE = never, Done = unknown>(): Channel.Channel<
    Chunk.Chunk<Uint8Array>,
    Chunk.Chunk<A>,
    IE | SseEvent.SseEventError,
    IE,
    Done,
    Done,
    R
  > =>
    // The events before a refused value are written before the failure, even within one chunk.
    Channel.mapOut(
      parser.mapEachOrFail<A, SseEvent.SseEvent, SseEvent.SseEventError, R, IE, Done>(toEvent),
      (events): Chunk.Chunk<Uint8Array> => Chunk.of(encodeChunk(events))
    )
}
