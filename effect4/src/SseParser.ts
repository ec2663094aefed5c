/**
 * The parser of `text/event-stream` exactly as the WHATWG standard reads it (the same state machine as the
 * Effect 3 line): bytes or text in chunks of any size become events and `retry` values, with a bound on a line
 * and on an event's data that fails with a typed error instead of growing without end.
 *
 * @since 1.0.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import * as Core from "../../src/core/parser.js"

/**
 * A dispatched event, as a browser's `EventSource` delivers it.
 *
 * @since 1.0.0
 * @category models
 */
export interface Event {
  readonly _tag: "Event"
  readonly type: string
  readonly data: string
  readonly lastEventId: string
}

/**
 * A valid `retry:` field: the new reconnection time in milliseconds.
 *
 * @since 1.0.0
 * @category models
 */
export interface Retry {
  readonly _tag: "Retry"
  readonly millis: number
}

/**
 * What the parser produces, in stream order.
 *
 * @since 1.0.0
 * @category models
 */
export type Output = Event | Retry

/**
 * Raised when the stream breaks a limit: `LineTooLong` (a pending line longer than `maxBufferSize`
 * characters) or `EventTooLarge` (an event's data longer than that).
 *
 * @since 1.0.0
 * @category errors
 */
export class SseParserError extends Data.TaggedError("SseParserError")<{
  readonly reason: "LineTooLong" | "EventTooLarge"
  readonly limit: number
}> {
  /**
   * @since 1.0.0
   */
  override get message(): string {
    return Core.describe(this)
  }
}

/**
 * The parser's options: `maxBufferSize` bounds one line and one event's data, in characters (default
 * {@link defaultMaxBufferSize}); `lastEventId` is the id a resumed stream starts from.
 *
 * @since 1.0.0
 * @category models
 */
export interface Options {
  readonly maxBufferSize?: number | undefined
  readonly lastEventId?: string | undefined
}

/**
 * 8 MiB of characters.
 *
 * @since 1.0.0
 * @category constants
 */
export const defaultMaxBufferSize: number = Core.defaultMaxBufferSize

/**
 * A parser fed by hand: each `feed` returns what the chunk completed; `end` discards an unterminated event.
 *
 * @since 1.0.0
 * @category models
 */
export interface Parser {
  readonly feed: (chunk: Uint8Array | string) => Result.Result<Array<Output>, SseParserError>
  readonly end: () => void
}

/**
 * A parser of one stream.
 *
 * @since 1.0.0
 * @category constructors
 */
export const make = (options?: Options): Parser => {
  const parser = new Core.Parser(options)
  return {
    feed: (chunk) => {
      const out: Array<Output> = []
      const failure = typeof chunk === "string" ? parser.feedStringInto(chunk, out) : parser.feedInto(chunk, out)
      return failure === undefined ? Result.succeed(out) : Result.fail(new SseParserError(failure))
    },
    end: () => parser.end()
  }
}

/**
 * Parses a whole stream, given as one string or byte array or as chunks.
 *
 * @example
 * ```ts
 * import * as SseParser from "effect-sse/SseParser"
 *
 * SseParser.parse("data: hello\n\n") // Success([{ _tag: "Event", type: "message", data: "hello", lastEventId: "" }])
 * ```
 *
 * @since 1.0.0
 * @category parsing
 */
export const parse = (
  input: string | Uint8Array | Iterable<string | Uint8Array>,
  options?: Options
): Result.Result<Array<Output>, SseParserError> => {
  const out = Core.parseAll(input, options)
  return Array.isArray(out) ? Result.succeed(out) : Result.fail(new SseParserError(out))
}

/**
 * Parses a stream of bytes or text (no `Stream.decodeText` needed: the parser decodes UTF-8 itself and drops
 * the one BOM the standard allows).
 *
 * @since 1.0.0
 * @category parsing
 */
export const decode: {
  (options?: Options): <E, R>(self: Stream.Stream<Uint8Array | string, E, R>) => Stream.Stream<
    Output,
    E | SseParserError,
    R
  >
} = (options) => (self) =>
  Stream.suspend(() => {
    const parser = make(options)
    return self.pipe(
      Stream.mapEffect((chunk) => Effect.fromResult(parser.feed(chunk))),
      Stream.flattenIterable
    )
  })

/**
 * Whether an output is an event.
 *
 * @since 1.0.0
 * @category guards
 */
export const isEvent = (output: Output): output is Event => output._tag === "Event"

/**
 * Whether an output is a `retry` value.
 *
 * @since 1.0.0
 * @category guards
 */
export const isRetry = (output: Output): output is Retry => output._tag === "Retry"
