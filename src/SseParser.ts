/**
 * An incremental parser for `text/event-stream`, exactly as the standard reads it.
 *
 * It reads bytes (or already decoded text) in chunks of any size and produces {@link Event}s and
 * {@link Retry} updates:
 *
 * - UTF-8 is decoded with replacement characters, and one leading BOM is dropped;
 * - lines end with CRLF, LF or CR, in any mix, split at any chunk boundary; a CR ending a chunk completes its
 *   line at once, so an event is never held back waiting for the next chunk;
 * - comments, unknown fields and an `id` containing NUL are ignored, `retry` counts only when it is all ASCII
 *   digits, a block without `data` dispatches no event, and an unterminated last event is discarded;
 * - the last event ID persists from event to event until an `id` field changes it.
 *
 * Use it as a `Stream` step with {@link decode}, as a plain function with {@link parse}, or drive a
 * {@link Parser} from {@link make} yourself:
 *
 * ```ts
 * import { Stream } from "effect"
 * import * as SseParser from "effect-sse/SseParser"
 *
 * declare const body: Stream.Stream<Uint8Array>
 *
 * const events = body.pipe(
 *   Stream.pipeThroughChannelOrFail(SseParser.decode()),
 *   Stream.filter(SseParser.isEvent)
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import type * as Channel from "effect/Channel"
import type * as Chunk from "effect/Chunk"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Schema from "effect/Schema"
import * as internal from "./internal/parser.js"

/**
 * A dispatched event, as a browser's `EventSource` delivers it.
 *
 * - `type`: the `event:` field, or `message` when there was none (or it was empty);
 * - `data`: the `data:` lines joined with LF;
 * - `lastEventId`: the last event ID string when the event was dispatched. It persists across events: an
 *   event without an `id:` field carries the id of an earlier one, and `id` with an empty value resets it.
 *
 * `A` is the type of `data`: a string as parsed, or the value a Schema decoded from it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Event<A = string> {
  readonly _tag: "Event"
  readonly type: string
  readonly data: A
  readonly lastEventId: string
}

/**
 * A valid `retry:` field: the server sets the client's reconnection time, in milliseconds. It takes effect
 * when the line is read, not when the event is dispatched.
 *
 * @since 0.1.0
 * @category models
 */
export interface Retry {
  readonly _tag: "Retry"
  readonly millis: number
}

/**
 * What the parser produces, in stream order.
 *
 * @since 0.1.0
 * @category models
 */
export type Output<A = string> = Event<A> | Retry

/**
 * @since 0.2.0
 * @category type ids
 */
export const ErrorTypeId: unique symbol = internal.ErrorTypeId as never

/**
 * @since 0.2.0
 * @category type ids
 */
export type ErrorTypeId = typeof ErrorTypeId

/**
 * Raised when the stream cannot be read on. `reason` says why:
 *
 * - `LineTooLong`: a line (complete, or still waiting for its line break) is longer than `limit` characters;
 * - `EventTooLarge`: the data of the event being built is longer than `limit` characters;
 * - `SchemaMismatch`: ({@link decodeSchema}) an event's data is not JSON matching the schema; `lastEventId` and
 *   `eventType` name the event, `cause` is the parse error.
 *
 * @since 0.1.0
 * @category errors
 */
export interface SseParserError extends Cause.YieldableError {
  readonly _tag: "SseParserError"
  readonly [ErrorTypeId]: ErrorTypeId
  readonly reason: "LineTooLong" | "EventTooLarge" | "SchemaMismatch"
  readonly limit?: number | undefined
  readonly lastEventId?: string | undefined
  readonly eventType?: string | undefined
  readonly cause?: unknown
}

/**
 * @since 0.1.0
 * @category errors
 */
export const SseParserError: new(args: {
  readonly reason: SseParserError["reason"]
  readonly limit?: number | undefined
  readonly lastEventId?: string | undefined
  readonly eventType?: string | undefined
  readonly cause?: unknown
}) => SseParserError = internal.SseParserError

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * The most characters (UTF-16 code units of decoded text) the parser holds for one pending line, and for
   * the data of one pending event. Beyond it the parser fails with {@link SseParserError} instead of growing
   * without bound.
   *
   * Defaults to {@link defaultMaxBufferSize}, 8 MiB.
   */
  readonly maxBufferSize?: number | undefined
  /**
   * The last event ID string to start from, as a reconnecting client that has already seen events does.
   *
   * Defaults to `""`.
   */
  readonly lastEventId?: string | undefined
}

/**
 * The default of {@link Options.maxBufferSize}: 8 MiB (8,388,608 characters).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxBufferSize: number = internal.defaultMaxBufferSize

/**
 * A stateful, incremental parser for one event stream at a time.
 *
 * Feed it either bytes ({@link Parser.feed}) or text ({@link Parser.feedString}), not both. Each call returns
 * what the chunk completed. Once a limit is exceeded every call returns the same error, until {@link Parser.end}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Parser {
  /**
   * The last event ID string: the `id` in force at the most recent dispatch, including a dispatch that fired
   * no event (a block with an `id:` but no `data:`). A reconnecting client sends it as `Last-Event-ID` when it
   * is not empty.
   */
  readonly lastEventId: string
  /**
   * Decodes a chunk of UTF-8 bytes (a character may be split across chunks) and parses it. On failure, the
   * outputs that the same chunk completed before the offending line are not returned ({@link decode} writes
   * them before failing).
   */
  readonly feed: (chunk: Uint8Array) => Either.Either<ReadonlyArray<Output>, SseParserError>
  /**
   * Parses a chunk of text. A BOM at the start of the first non-empty chunk is dropped.
   */
  readonly feedString: (chunk: string) => Either.Either<ReadonlyArray<Output>, SseParserError>
  /**
   * Ends the stream: a partial line and a partial event are discarded, as the standard requires. The parser
   * can then read a new stream (a reconnection), starting from the current {@link Parser.lastEventId}.
   */
  readonly end: () => void
}

/**
 * Creates a {@link Parser}.
 *
 * @example
 * ```ts
 * import * as SseParser from "effect-sse/SseParser"
 *
 * const parser = SseParser.make()
 * parser.feedString("id: 1\ndata: hel")
 * parser.feedString("lo\n\n")
 * // Either.right([{ _tag: "Event", type: "message", data: "hello", lastEventId: "1" }])
 * parser.lastEventId // "1"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Parser = internal.make

/**
 * Parses a whole stream, given as one string or byte array or as a sequence of chunks, and discards an
 * unterminated last event.
 *
 * @example
 * ```ts
 * import * as SseParser from "effect-sse/SseParser"
 *
 * SseParser.parse("event: add\ndata: 1\r\n\r\nretry: 500\n\n")
 * // Either.right([
 * //   { _tag: "Event", type: "add", data: "1", lastEventId: "" },
 * //   { _tag: "Retry", millis: 500 }
 * // ])
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse: (
  input: string | Uint8Array | Iterable<string | Uint8Array>,
  options?: Options
) => Either.Either<Array<Output>, SseParserError> = internal.parse

/**
 * A channel from chunks of UTF-8 bytes to parsed outputs, for `Stream.pipeThroughChannel` or
 * `Stream.pipeThroughChannelOrFail`. When a limit is exceeded it writes the outputs completed before the
 * offending line, then fails with {@link SseParserError}.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import * as SseParser from "effect-sse/SseParser"
 *
 * const bytes = Stream.make(new TextEncoder().encode("event: add\ndata: 1\n\nretry: 500\n\n"))
 * const program = bytes.pipe(Stream.pipeThroughChannelOrFail(SseParser.decode()), Stream.runCollect)
 * Effect.runPromise(program).then((outputs) => console.log([...outputs]))
 * // [{ _tag: "Event", type: "add", data: "1", lastEventId: "" }, { _tag: "Retry", millis: 500 }]
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const decode: <IE = never, Done = unknown>(
  options?: Options
) => Channel.Channel<Chunk.Chunk<Output>, Chunk.Chunk<Uint8Array>, IE | SseParserError, IE, Done, Done> =
  internal.decode

/**
 * A channel from chunks of UTF-8 bytes to parsed outputs whose events' data are decoded as the JSON of `schema`,
 * like Ndjson's `unpackSchema`. Data that does not decode fails the channel with an {@link SseParserError} of
 * reason `SchemaMismatch`, after the outputs before it (in the same chunk of bytes too).
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import * as SseParser from "effect-sse/SseParser"
 *
 * const Tick = Schema.Struct({ n: Schema.Number })
 * const bytes = Stream.make(new TextEncoder().encode('data: {"n":1}\n\ndata: {"n":2}\n\n'))
 * const program = bytes.pipe(
 *   Stream.pipeThroughChannelOrFail(SseParser.decodeSchema(Tick)()),
 *   Stream.filter(SseParser.isEvent),
 *   Stream.map((event) => event.data.n),
 *   Stream.runCollect
 * )
 * Effect.runPromise(program).then((ns) => console.log([...ns])) // [1, 2]
 * ```
 *
 * @since 0.2.0
 * @category parsing
 */
export const decodeSchema: <A, I, R>(
  schema: Schema.Schema<A, I, R>
) => <IE = never, Done = unknown>(
  options?: Options
) => Channel.Channel<Chunk.Chunk<Output<A>>, Chunk.Chunk<Uint8Array>, IE | SseParserError, IE, Done, Done, R> =
  internal.decodeSchema

/**
 * Decodes one parsed event's data as the JSON of `schema`, failing with `SchemaMismatch`.
 *
 * @since 0.2.0
 * @category parsing
 */
export const decodeEvent: <A, I, R>(
  schema: Schema.Schema<A, I, R>
) => (event: Event) => Effect.Effect<Event<A>, SseParserError, R> = internal.decodeData

/**
 * A channel from chunks of text to parsed outputs, like {@link decode}.
 *
 * @since 0.1.0
 * @category parsing
 */
export const decodeString: <IE = never, Done = unknown>(
  options?: Options
) => Channel.Channel<Chunk.Chunk<Output>, Chunk.Chunk<string>, IE | SseParserError, IE, Done, Done> =
  internal.decodeString

/**
 * @since 0.1.0
 * @category guards
 */
export const isEvent: <A>(output: Output<A>) => output is Event<A> = internal.isEvent as never

/**
 * @since 0.1.0
 * @category guards
 */
export const isRetry: <A>(output: Output<A>) => output is Retry = internal.isRetry as never
