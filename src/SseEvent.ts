/**
 * The event model of Server-Sent Events and its wire encoding.
 *
 * An `SseEvent` is an immutable value: `data` (any string, multi-line allowed), an optional `type`
 * (the `event:` field), `id` and `retry`, and an optional comment. Build one with {@link make} and refine it
 * with the pipeable combinators:
 *
 * ```ts
 * import * as SseEvent from "effect-sse/SseEvent"
 *
 * const event = SseEvent.make("2025-01-18T04:30:00Z").pipe(
 *   SseEvent.withType("time"),
 *   SseEvent.withId("evt-1")
 * )
 * ```
 *
 * Building never fails. The field rules of the standard are checked once, when the event is encoded
 * ({@link encode}: on `send`, on `publish`, or when a `Stream` is served): an `id` containing CR, LF or NUL,
 * a `type` containing CR or LF, or a `retry` that is not a non-negative whole number of milliseconds yields a
 * typed {@link SseEventError} naming the field, and such an event is never written.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Equal from "effect/Equal"
import type * as Inspectable from "effect/Inspectable"
import type { Pipeable } from "effect/Pipeable"
import type * as Schema from "effect/Schema"
import * as internal from "./internal/event.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId as never

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * A Server-Sent Event, or a comment, ready to be encoded.
 *
 * - `data`: the payload; `undefined` only for blocks that dispatch nothing (a comment, a bare `retry`).
 *   An empty string still dispatches an event with empty data.
 * - `type`: the `event:` field; `undefined` means the client's default, `message`.
 * - `id`: the `id:` field; the empty string resets the client's last event id.
 * - `retry`: the reconnection time in milliseconds.
 * - `comment`: written first, one `:` line per line of text; clients ignore it.
 *
 * @since 0.1.0
 * @category models
 */
export interface SseEvent extends Pipeable, Equal.Equal, Inspectable.Inspectable {
  readonly [TypeId]: TypeId
  readonly data: string | undefined
  readonly type: string | undefined
  readonly id: string | undefined
  readonly retry: number | undefined
  readonly comment: string | undefined
}

/**
 * Raised when an event cannot be put on the wire. `reason` names the offending field:
 *
 * - `InvalidId`: the `id` contains CR, LF or NUL (it could end the field and inject another);
 * - `InvalidType`: the `type` contains CR or LF;
 * - `InvalidRetry`: `retry` is negative, fractional, infinite or not a number;
 * - `InvalidData`: a value given to {@link json} / {@link jsonSchema} has no JSON form.
 *
 * @since 0.1.0
 * @category errors
 */
export const SseEventError: typeof internal.SseEventError = internal.SseEventError

/**
 * @since 0.1.0
 * @category errors
 */
export type SseEventError = internal.SseEventError

/**
 * @since 0.1.0
 * @category guards
 */
export const isSseEvent: (u: unknown) => u is SseEvent = internal.isSseEvent

/**
 * An event carrying `data`. Line breaks in `data` (CRLF, LF or CR) become separate `data:` lines, which a
 * client joins back with LF.
 *
 * @example
 * ```ts
 * import * as SseEvent from "effect-sse/SseEvent"
 *
 * // data: hello
 * // data: world
 * const event = SseEvent.make("hello\nworld")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (data: string) => SseEvent = internal.make

/**
 * A comment: clients ignore it, proxies see traffic. Multi-line text gives one `:` line per line.
 *
 * @since 0.1.0
 * @category constructors
 */
export const comment: (text: string) => SseEvent = internal.comment

/**
 * A block that only sets the client's reconnection time (`retry:`) and dispatches no event.
 *
 * @since 0.1.0
 * @category constructors
 */
export const retry: (duration: Duration.DurationInput) => SseEvent = internal.retry

/**
 * An event whose data is `JSON.stringify(value)`. Fails with `InvalidData` when the value has no JSON form
 * (a cycle, a `bigint`, `undefined`). The result is an `Either`, which is also an `Effect`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const json: (value: unknown) => Either.Either<SseEvent, SseEventError> = internal.json

/**
 * An event whose data is the JSON of `value` encoded by `schema`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import * as SseEvent from "effect-sse/SseEvent"
 *
 * const Message = Schema.Struct({ user: Schema.String, at: Schema.DateFromString })
 * const toEvent = SseEvent.jsonSchema(Message)
 * const program = toEvent({ user: "ann", at: new Date(0) }).pipe(Effect.map(SseEvent.withType("message")))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const jsonSchema: <A, I, R>(
  schema: Schema.Schema<A, I, R>
) => (value: A) => Effect.Effect<SseEvent, SseEventError, R> = internal.jsonSchema

/**
 * Sets the event type (the `event:` field).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withType: {
  (type: string): (self: SseEvent) => SseEvent
  (self: SseEvent, type: string): SseEvent
} = internal.withType

/**
 * Sets the event id (the `id:` field). The empty string resets the client's last event id.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withId: {
  (id: string): (self: SseEvent) => SseEvent
  (self: SseEvent, id: string): SseEvent
} = internal.withId

/**
 * Sets the client's reconnection time. A number is taken as milliseconds, exactly as given.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withRetry: {
  (retry: Duration.DurationInput): (self: SseEvent) => SseEvent
  (self: SseEvent, retry: Duration.DurationInput): SseEvent
} = internal.withRetry

/**
 * Adds a comment, written before the fields.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withComment: {
  (comment: string): (self: SseEvent) => SseEvent
  (self: SseEvent, comment: string): SseEvent
} = internal.withComment

/**
 * Replaces the data.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withData: {
  (data: string): (self: SseEvent) => SseEvent
  (self: SseEvent, data: string): SseEvent
} = internal.withData

/**
 * Checks the field rules without encoding.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate: (self: SseEvent) => Either.Either<SseEvent, SseEventError> = internal.validate

/**
 * Encodes an event to its UTF-8 wire form, ending with the blank line that dispatches it. The result is
 * computed once per event and cached, so writing one event to many connections encodes it once.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode: (self: SseEvent) => Either.Either<Uint8Array, SseEventError> = internal.encode

/**
 * Encodes an event to its wire form as a string.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import * as SseEvent from "effect-sse/SseEvent"
 *
 * const text = SseEvent.encodeString(SseEvent.make("a\r\nb").pipe(SseEvent.withType("t")))
 * // Either.right("event: t\ndata: a\ndata: b\n\n")
 * ```
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeString: (self: SseEvent) => Either.Either<string, SseEventError> = internal.encodeString

/**
 * The comment `: connected`, written first on every connection so that headers and first bytes leave at
 * once and the browser fires `open`.
 *
 * @since 0.1.0
 * @category constants
 */
export const connected: SseEvent = internal.comment("connected")
