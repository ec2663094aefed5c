/**
 * The event model of Server-Sent Events and its wire encoding.
 *
 * An `SseEvent` is an immutable value: `data` (any string, multi-line allowed), an optional `type` (the `event:`
 * field), `id` and `retry`, and an optional comment. Every `SseEvent` can be written: the field rules of the
 * standard are checked where the event is built, so a value that could inject a field never becomes an event.
 *
 * - {@link make}, {@link comment} and {@link withData} / {@link withComment} take any text and never fail;
 * - {@link withType}, {@link withId}, {@link withRetry}, {@link retry} and {@link fromFields} check the value and
 *   return an `Either`, which is also an `Effect`: an `id` containing CR, LF or NUL, a `type` containing CR or
 *   LF, or a `retry` that is not a non-negative whole number of milliseconds is a typed {@link SseEventError}
 *   that the code building the event has to handle.
 *
 * ```ts
 * import { Effect } from "effect"
 * import * as SseEvent from "effect-sse/SseEvent"
 *
 * const program = Effect.gen(function*() {
 *   // Either<SseEvent, SseEventError>: yield it in Effect.gen, or map over it
 *   const event = yield* SseEvent.make("2025-01-18T04:30:00Z").pipe(
 *     SseEvent.withType("time"),
 *     SseEvent.withId("evt-1")
 *   )
 *   return SseEvent.encodeString(event) // "event: time\nid: evt-1\ndata: 2025-01-18T04:30:00Z\n\n"
 * })
 * ```
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
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
 * A Server-Sent Event, or a comment, that can be written as it is.
 *
 * - `data`: the payload; `undefined` only for blocks that dispatch nothing (a comment, a bare `retry`).
 *   An empty string still dispatches an event with empty data.
 * - `type`: the `event:` field; `undefined` means the client's default, `message`. Never contains CR or LF.
 * - `id`: the `id:` field; the empty string resets the client's last event id. Never contains CR, LF or NUL.
 * - `retry`: the reconnection time in milliseconds, a non-negative whole number.
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
 * Raised when a value cannot become (part of) an event. `reason` says which rule it breaks:
 *
 * - `InvalidId`: the `id` contains CR, LF or NUL (it could end the field and inject another);
 * - `InvalidType`: the `type` contains CR or LF;
 * - `InvalidRetry`: `retry` is negative, fractional, infinite or not a number;
 * - `InvalidData`: a value given to {@link json} has no JSON form (a cycle, a `bigint`, `undefined`);
 * - `SchemaMismatch`: a value given to {@link jsonSchema} does not match the schema; `cause` is the parse error,
 *   and the message shows it.
 *
 * `value` is the offending value.
 *
 * @since 0.1.0
 * @category errors
 */
export interface SseEventError extends Cause.YieldableError {
  readonly _tag: "SseEventError"
  readonly [ErrorTypeId]: ErrorTypeId
  readonly reason: "InvalidId" | "InvalidType" | "InvalidRetry" | "InvalidData" | "SchemaMismatch"
  readonly value: unknown
  readonly cause?: unknown
}

/**
 * @since 0.1.0
 * @category errors
 */
export const SseEventError: new(args: {
  readonly reason: SseEventError["reason"]
  readonly value: unknown
  readonly cause?: unknown
}) => SseEventError = internal.SseEventError

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
 * console.log(SseEvent.encodeString(event))
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
 * A block that only sets the client's reconnection time (`retry:`) and dispatches no event. A number is taken
 * as milliseconds, exactly as given.
 *
 * @since 0.1.0
 * @category constructors
 */
export const retry: (duration: Duration.DurationInput) => Either.Either<SseEvent, SseEventError> = internal.retry

/**
 * An event from all its fields at once, each checked. Every field is optional; without `data` the block
 * dispatches nothing.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import * as SseEvent from "effect-sse/SseEvent"
 *
 * const ok = SseEvent.fromFields({ type: "update", id: "42", data: "{}" })
 * const refused = SseEvent.fromFields({ id: "a\nb", data: "{}" })
 * console.log(Either.isRight(ok), Either.isLeft(refused)) // true true
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromFields: (fields: {
  readonly data?: string | undefined
  readonly type?: string | undefined
  readonly id?: string | undefined
  readonly retry?: Duration.DurationInput | undefined
  readonly comment?: string | undefined
}) => Either.Either<SseEvent, SseEventError> = internal.fromFields

/**
 * An event whose data is `JSON.stringify(value)`. Fails with `InvalidData` when the value has no JSON form
 * (a cycle, a `bigint`, `undefined`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const json: (value: unknown) => Either.Either<SseEvent, SseEventError> = internal.json

/**
 * An event whose data is the JSON of `value` encoded by `schema`. A value the schema refuses fails with
 * `SchemaMismatch`, whose message shows the parse error.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import * as SseEvent from "effect-sse/SseEvent"
 *
 * const Message = Schema.Struct({ user: Schema.String, at: Schema.DateFromString })
 * const toEvent = SseEvent.jsonSchema(Message)
 * const program = toEvent({ user: "ann", at: new Date(0) }).pipe(Effect.flatMap(SseEvent.withType("message")))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const jsonSchema: <A, I, R>(
  schema: Schema.Schema<A, I, R>
) => (value: A) => Effect.Effect<SseEvent, SseEventError, R> = internal.jsonSchema

/**
 * Sets the event type (the `event:` field). A type containing CR or LF is refused with `InvalidType`. Takes an
 * event, or the `Either` of an earlier step, so that steps chain in a `pipe`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withType: {
  (type: string): <E = never>(self: SseEvent | Either.Either<SseEvent, E>) => Either.Either<SseEvent, E | SseEventError>
  <E = never>(self: SseEvent | Either.Either<SseEvent, E>, type: string): Either.Either<SseEvent, E | SseEventError>
} = internal.withType

/**
 * Sets the event id (the `id:` field). The empty string resets the client's last event id. An id containing CR,
 * LF or NUL is refused with `InvalidId`.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import * as SseEvent from "effect-sse/SseEvent"
 *
 * const event = SseEvent.make("hello").pipe(SseEvent.withType("greeting"), SseEvent.withId("1"))
 * console.log(Either.map(event, SseEvent.encodeString)) // Right("event: greeting\nid: 1\ndata: hello\n\n")
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withId: {
  (id: string): <E = never>(self: SseEvent | Either.Either<SseEvent, E>) => Either.Either<SseEvent, E | SseEventError>
  <E = never>(self: SseEvent | Either.Either<SseEvent, E>, id: string): Either.Either<SseEvent, E | SseEventError>
} = internal.withId

/**
 * Sets the client's reconnection time. A number is taken as milliseconds, exactly as given; a time that is not a
 * non-negative whole number of milliseconds is refused with `InvalidRetry`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withRetry: {
  (
    retry: Duration.DurationInput
  ): <E = never>(self: SseEvent | Either.Either<SseEvent, E>) => Either.Either<SseEvent, E | SseEventError>
  <E = never>(
    self: SseEvent | Either.Either<SseEvent, E>,
    retry: Duration.DurationInput
  ): Either.Either<SseEvent, E | SseEventError>
} = internal.withRetry

/**
 * What a total combinator gives for `Self`: an event for an event, the same `Either` for an `Either`.
 *
 * @since 0.2.0
 * @category models
 */
export type Refined<Self> = Self extends Either.Either<SseEvent, infer E> ? Either.Either<SseEvent, E> : SseEvent

/**
 * Adds a comment, written before the fields. Any text is fine.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withComment: {
  (comment: string): <Self extends SseEvent | Either.Either<SseEvent, unknown>>(self: Self) => Refined<Self>
  <Self extends SseEvent | Either.Either<SseEvent, unknown>>(self: Self, comment: string): Refined<Self>
} = internal.withComment as never

/**
 * Replaces the data. Any text is fine.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withData: {
  (data: string): <Self extends SseEvent | Either.Either<SseEvent, unknown>>(self: Self) => Refined<Self>
  <Self extends SseEvent | Either.Either<SseEvent, unknown>>(self: Self, data: string): Refined<Self>
} = internal.withData as never

/**
 * Encodes an event to its UTF-8 wire form, ending with the blank line that dispatches it. The result is
 * computed once per event and kept with it, so writing one event to many connections encodes it once.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode: (self: SseEvent) => Uint8Array = internal.encode

/**
 * Encodes an event to its wire form as a string.
 *
 * @example
 * ```ts
 * import * as SseEvent from "effect-sse/SseEvent"
 *
 * console.log(SseEvent.encodeString(SseEvent.make("a\r\nb"))) // "data: a\ndata: b\n\n"
 * ```
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeString: (self: SseEvent) => string = internal.encodeString

/**
 * The comment `: connected`, written first on every connection so that headers and first bytes leave at
 * once and the browser fires `open`.
 *
 * @since 0.1.0
 * @category constants
 */
export const connected: SseEvent = internal.connected

/**
 * The comment `: keep-alive`, written on a stream that has been quiet for its keep-alive interval.
 *
 * @since 0.2.0
 * @category constants
 */
export const keepAlive: SseEvent = internal.keepAlive
