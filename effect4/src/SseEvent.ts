/**
 * A Server-Sent Event: its five fields, built only through checks that refuse what the standard cannot carry
 * (CR, LF or NUL in an id, CR or LF in an event type, a retry that is not a whole number of milliseconds), so a
 * value never injects a field of its own. Builders that can refuse return a `Result`.
 *
 * @since 1.0.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import type * as Sse from "effect/encoding/Sse"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import { type Pipeable, Prototype as PipeablePrototype } from "effect/Pipeable"
import * as Result from "effect/Result"
import * as Fields from "../../src/core/fields.js"

/**
 * An event as it is written: `data` undefined writes no `data:` line (a block that dispatches nothing, such as a
 * comment or an id-only frame).
 *
 * @since 1.0.0
 * @category models
 */
export interface SseEvent extends Pipeable {
  readonly _tag: "SseEvent"
  readonly data: string | undefined
  readonly type: string | undefined
  readonly id: string | undefined
  /** The reconnection time in milliseconds. */
  readonly retry: number | undefined
  readonly comment: string | undefined
}

/**
 * Raised when a value cannot become (part of) an event. `reason` says which rule it breaks: `InvalidId` (CR, LF
 * or NUL in an id), `InvalidType` (CR or LF in an event type), `InvalidRetry` (not a non-negative whole number
 * of milliseconds), `InvalidData` (a value `JSON.stringify` cannot write).
 *
 * @since 1.0.0
 * @category errors
 */
export class SseEventError extends Data.TaggedError("SseEventError")<{
  readonly reason: "InvalidId" | "InvalidType" | "InvalidRetry" | "InvalidData"
  readonly value: unknown
  readonly cause?: unknown
}> {
  /**
   * @since 1.0.0
   */
  override get message(): string {
    return this.reason === "InvalidData"
      ? `the value cannot be written as JSON: ${String(this.cause ?? this.value)}`
      : Fields.describe(this.reason, this.value)
  }
}

const build = (fields: Fields.Fields): SseEvent => {
  const event = Object.create(PipeablePrototype) as { -readonly [K in keyof SseEvent]: SseEvent[K] }
  event._tag = "SseEvent"
  event.data = fields.data
  event.type = fields.type
  event.id = fields.id
  event.retry = fields.retry
  event.comment = fields.comment
  return event
}

const fieldsOf = (self: SseEvent): Fields.Fields => ({
  data: self.data,
  type: self.type,
  id: self.id,
  retry: self.retry,
  comment: self.comment
})

const checked = (fields: Fields.Fields): Result.Result<SseEvent, SseEventError> => {
  const error = Fields.check(fields)
  if (error === undefined) return Result.succeed(build(fields))
  const value = error === "InvalidId" ? fields.id : error === "InvalidType" ? fields.type : fields.retry
  return Result.fail(new SseEventError({ reason: error, value }))
}

/**
 * Whether a value is an event.
 *
 * @since 1.0.0
 * @category guards
 */
export const isSseEvent = (u: unknown): u is SseEvent =>
  typeof u === "object" && u !== null && (u as { readonly _tag?: unknown })._tag === "SseEvent"

/**
 * An event carrying `data` (any text: line breaks become several `data:` lines), of the default type.
 *
 * @example
 * ```ts
 * import * as SseEvent from "effect-sse/SseEvent"
 *
 * SseEvent.encodeString(SseEvent.make("hello\nworld")) // "data: hello\ndata: world\n\n"
 * ```
 *
 * @since 1.0.0
 * @category constructors
 */
export const make = (data: string): SseEvent =>
  build({ data, type: undefined, id: undefined, retry: undefined, comment: undefined })

/**
 * A comment, which clients ignore: keeps a connection alive, or says something to a human reading the stream.
 *
 * @since 1.0.0
 * @category constructors
 */
export const comment = (text: string): SseEvent => build(Fields.commentFields(text))

// A number is milliseconds, taken as given so that a negative or fractional one is refused, not clamped.
const toMillis = (duration: Duration.Input): number =>
  typeof duration === "number"
    ? duration
    : Option.match(Duration.fromInput(duration), { onNone: () => Number.NaN, onSome: Duration.toMillis })

/**
 * A block that only sets the client's reconnection time.
 *
 * @since 1.0.0
 * @category constructors
 */
export const retry = (duration: Duration.Input): Result.Result<SseEvent, SseEventError> =>
  checked({ data: undefined, type: undefined, id: undefined, retry: toMillis(duration), comment: undefined })

/**
 * An event from its fields, each checked; an event without `data` dispatches nothing (an id-only frame moves the
 * client's last event id).
 *
 * @since 1.0.0
 * @category constructors
 */
export const fromFields = (fields: {
  readonly data?: string | undefined
  readonly type?: string | undefined
  readonly id?: string | undefined
  readonly retry?: Duration.Input | undefined
  readonly comment?: string | undefined
}): Result.Result<SseEvent, SseEventError> =>
  checked({
    data: fields.data,
    type: fields.type,
    id: fields.id,
    retry: fields.retry === undefined ? undefined : toMillis(fields.retry),
    comment: fields.comment
  })

/**
 * An event whose data is `value` as JSON, or `InvalidData` for a value JSON cannot write (a cycle, a BigInt,
 * `undefined`).
 *
 * @since 1.0.0
 * @category constructors
 */
export const json = (value: unknown): Result.Result<SseEvent, SseEventError> => {
  try {
    const data: string | undefined = JSON.stringify(value)
    return data === undefined
      ? Result.fail(new SseEventError({ reason: "InvalidData", value }))
      : Result.succeed(make(data))
  } catch (cause) {
    return Result.fail(new SseEventError({ reason: "InvalidData", value, cause }))
  }
}

/**
 * The event with its type set, checked.
 *
 * @since 1.0.0
 * @category combinators
 */
export const withType: {
  (type: string): (self: SseEvent) => Result.Result<SseEvent, SseEventError>
  (self: SseEvent, type: string): Result.Result<SseEvent, SseEventError>
} = dual(2, (self: SseEvent, type: string) => checked({ ...fieldsOf(self), type }))

/**
 * The event with its id set, checked.
 *
 * @since 1.0.0
 * @category combinators
 */
export const withId: {
  (id: string): (self: SseEvent) => Result.Result<SseEvent, SseEventError>
  (self: SseEvent, id: string): Result.Result<SseEvent, SseEventError>
} = dual(2, (self: SseEvent, id: string) => checked({ ...fieldsOf(self), id }))

/**
 * The event with its reconnection time set, checked.
 *
 * @since 1.0.0
 * @category combinators
 */
export const withRetry: {
  (retry: Duration.Input): (self: SseEvent) => Result.Result<SseEvent, SseEventError>
  (self: SseEvent, retry: Duration.Input): Result.Result<SseEvent, SseEventError>
} = dual(2, (self: SseEvent, retry: Duration.Input) => checked({ ...fieldsOf(self), retry: toMillis(retry) }))

/**
 * The event with a comment, written before its fields.
 *
 * @since 1.0.0
 * @category combinators
 */
export const withComment: {
  (comment: string): (self: SseEvent) => SseEvent
  (self: SseEvent, comment: string): SseEvent
} = dual(2, (self: SseEvent, comment: string) => build({ ...fieldsOf(self), comment }))

/**
 * The wire form of an event, ending with the blank line that dispatches it.
 *
 * @since 1.0.0
 * @category encoding
 */
export const encodeString = (self: SseEvent): string => Fields.encodeString(self)

/**
 * The wire form of an event as UTF-8 bytes.
 *
 * @since 1.0.0
 * @category encoding
 */
export const encode = (self: SseEvent): Uint8Array => Fields.encode(self)

/**
 * `: connected`, which a response writes first so that headers and first bytes leave at once.
 *
 * @since 1.0.0
 * @category constants
 */
export const connected: SseEvent = comment("connected")

/**
 * `: keep-alive`, written on a stream that has been quiet for the keep-alive interval.
 *
 * @since 1.0.0
 * @category constants
 */
export const keepAlive: SseEvent = comment("keep-alive")

/**
 * An event of effect 4's own `effect/encoding/Sse`, checked: its id and type go through the same rules as every
 * other builder's (that module writes them verbatim), and its default type `message` is left implicit.
 *
 * @since 1.0.0
 * @category interop
 */
export const fromSse = (event: Sse.Event): Result.Result<SseEvent, SseEventError> =>
  checked({
    data: event.data,
    type: event.event === "message" ? undefined : event.event,
    id: event.id,
    retry: undefined,
    comment: undefined
  })

/**
 * The event as `effect/encoding/Sse`'s, for its `HttpApiSchema.StreamSse` endpoints and its encoder; `None` for a
 * block that dispatches nothing (a comment, an id-only or retry-only frame), which that module cannot express.
 *
 * @since 1.0.0
 * @category interop
 */
export const toSse = (self: SseEvent): Option.Option<Sse.Event> =>
  self.data === undefined
    ? Option.none()
    : Option.some({ _tag: "Event", event: self.type ?? "message", id: self.id, data: self.data })
