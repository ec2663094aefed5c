import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import { dual } from "effect/Function"
import * as Hash from "effect/Hash"
import * as Inspectable from "effect/Inspectable"
import * as ParseResult from "effect/ParseResult"
import { pipeArguments } from "effect/Pipeable"
import * as Schema from "effect/Schema"
import * as Fields from "../core/fields.js"
import type * as SseEvent from "../SseEvent.js"

/** @internal */
export const TypeId: SseEvent.TypeId = Symbol.for("effect-sse/SseEvent") as SseEvent.TypeId

/** @internal */
export const ErrorTypeId: SseEvent.ErrorTypeId = Symbol.for("effect-sse/SseEvent/SseEventError") as SseEvent.ErrorTypeId

/** @internal */
export class SseEventError extends Data.TaggedError("SseEventError")<{
  readonly reason: SseEvent.SseEventError["reason"]
  readonly value: unknown
  readonly cause?: unknown
}> {
  readonly [ErrorTypeId]: SseEvent.ErrorTypeId = ErrorTypeId
  override get message(): string {
    switch (this.reason) {
      case "InvalidId":
      case "InvalidType":
      case "InvalidRetry":
        return `SseEvent: ${Fields.describe(this.reason, this.value)}`
      case "InvalidData":
        return `SseEvent: the data has no JSON form: ${
          this.cause instanceof Error ? this.cause.message : String(this.cause)
        }`
      case "SchemaMismatch":
        return `SseEvent: the value does not match the schema: ${formatParseError(this.cause)}`
    }
  }
}

interface Cached extends Fields.Fields {
  encoded: Uint8Array | undefined
}

const Proto = {
  [TypeId]: TypeId,
  pipe() {
    return pipeArguments(this, arguments)
  },
  [Equal.symbol](this: Fields.Fields, that: unknown): boolean {
    return isSseEvent(that) && this.data === that.data && this.type === that.type && this.id === that.id &&
      this.retry === that.retry && this.comment === that.comment
  },
  [Hash.symbol](this: Fields.Fields): number {
    return Hash.cached(
      this,
      Hash.array([this.data, this.type, this.id, this.retry, this.comment].map((_) => Hash.hash(_)))
    )
  },
  toJSON(this: Fields.Fields) {
    const out: Record<string, unknown> = { _id: "SseEvent" }
    if (this.comment !== undefined) out.comment = this.comment
    if (this.type !== undefined) out.type = this.type
    if (this.id !== undefined) out.id = this.id
    if (this.retry !== undefined) out.retry = this.retry
    if (this.data !== undefined) out.data = this.data
    return out
  },
  toString(this: Inspectable.Inspectable) {
    return Inspectable.format(this.toJSON())
  },
  [Inspectable.NodeInspectSymbol](this: Inspectable.Inspectable) {
    return this.toJSON()
  }
}

/** An event from fields known to be valid. @internal */
export const unsafeMake = (fields: Fields.Fields): SseEvent.SseEvent => {
  const self = Object.create(Proto)
  self.data = fields.data
  self.type = fields.type
  self.id = fields.id
  self.retry = fields.retry
  self.comment = fields.comment
  self.encoded = undefined
  return self
}

const fieldsOf = (self: SseEvent.SseEvent): Fields.Fields => ({
  data: self.data,
  type: self.type,
  id: self.id,
  retry: self.retry,
  comment: self.comment
})

/** @internal */
export const isSseEvent = (u: unknown): u is SseEvent.SseEvent => typeof u === "object" && u !== null && TypeId in u

/** @internal */
export const make = (data: string): SseEvent.SseEvent =>
  unsafeMake({ data, type: undefined, id: undefined, retry: undefined, comment: undefined })

/** @internal */
export const comment = (text: string): SseEvent.SseEvent => unsafeMake(Fields.commentFields(text))

/** @internal */
export const invalid = (reason: Fields.FieldError, value: unknown): SseEventError =>
  new SseEventError({ reason, value })

/** @internal */
export const fromFields = (fields: {
  readonly data?: string | undefined
  readonly type?: string | undefined
  readonly id?: string | undefined
  readonly retry?: Duration.DurationInput | undefined
  readonly comment?: string | undefined
}): Either.Either<SseEvent.SseEvent, SseEventError> => {
  const complete: Fields.Fields = {
    data: fields.data,
    type: fields.type,
    id: fields.id,
    retry: fields.retry === undefined ? undefined : toMillis(fields.retry),
    comment: fields.comment
  }
  const error = Fields.check(complete)
  if (error === undefined) return Either.right(unsafeMake(complete))
  const value = error === "InvalidId" ? complete.id : error === "InvalidType" ? complete.type : fields.retry
  return Either.left(invalid(error, value))
}

const toMillis = (input: Duration.DurationInput): number => {
  // A plain number is taken as milliseconds as given, so that -1 or 1.5 are refused instead of being rounded.
  if (typeof input === "number") return input
  const duration = Duration.decodeUnknown(input)
  return duration._tag === "Some" ? Duration.toMillis(duration.value) : Number.NaN
}

/** @internal */
export const retry = (duration: Duration.DurationInput): Either.Either<SseEvent.SseEvent, SseEventError> =>
  fromFields({ retry: duration })

const stringify = (value: unknown): Either.Either<string, SseEventError> => {
  try {
    const json = JSON.stringify(value)
    return typeof json === "string"
      ? Either.right(json)
      : Either.left(new SseEventError({ reason: "InvalidData", value, cause: "the value has no JSON form" }))
  } catch (cause) {
    return Either.left(new SseEventError({ reason: "InvalidData", value, cause }))
  }
}

/** @internal */
export const json = (value: unknown): Either.Either<SseEvent.SseEvent, SseEventError> =>
  Either.map(stringify(value), make)

/** @internal */
export const jsonSchema = <A, I, R>(schema: Schema.Schema<A, I, R>) => {
  const encode = Schema.encode(schema)
  return (value: A): Effect.Effect<SseEvent.SseEvent, SseEvent.SseEventError, R> =>
    encode(value).pipe(
      Effect.mapError((cause) => new SseEventError({ reason: "SchemaMismatch", value, cause })),
      Effect.flatMap(json)
    )
}

/** The message of a schema failure: the parse error's tree, which names the path and what was expected. @internal */
export const formatParseError = (cause: unknown): string =>
  ParseResult.isParseError(cause) ? ParseResult.TreeFormatter.formatErrorSync(cause) : String(cause)

type Input<E> = SseEvent.SseEvent | Either.Either<SseEvent.SseEvent, E>

const refine = <E>(
  self: Input<E>,
  f: (event: SseEvent.SseEvent) => Either.Either<SseEvent.SseEvent, SseEventError>
): Either.Either<SseEvent.SseEvent, E | SseEventError> => isSseEvent(self) ? f(self) : Either.flatMap(self, f)

const checked = (
  fields: Fields.Fields,
  error: Fields.FieldError | undefined,
  value: unknown
): Either.Either<SseEvent.SseEvent, SseEventError> =>
  error === undefined ? Either.right(unsafeMake(fields)) : Either.left(invalid(error, value))

/** @internal */
export const withType = dual(
  2,
  <E>(self: Input<E>, type: string) =>
    refine(
      self,
      (event) => checked({ ...fieldsOf(event), type }, Fields.isValidType(type) ? undefined : "InvalidType", type)
    )
)

/** @internal */
export const withId = dual(
  2,
  <E>(self: Input<E>, id: string) =>
    refine(self, (event) => checked({ ...fieldsOf(event), id }, Fields.isValidId(id) ? undefined : "InvalidId", id))
)

/** @internal */
export const withRetry = dual(
  2,
  <E>(self: Input<E>, duration: Duration.DurationInput) =>
    refine(self, (event) => {
      const millis = toMillis(duration)
      return checked(
        { ...fieldsOf(event), retry: millis },
        Fields.isValidRetry(millis) ? undefined : "InvalidRetry",
        duration
      )
    })
)

const total = <E>(self: Input<E>, f: (event: SseEvent.SseEvent) => SseEvent.SseEvent) =>
  isSseEvent(self) ? f(self) : Either.map(self, f)

/** @internal */
export const withComment = dual(
  2,
  <E>(self: Input<E>, text: string) => total(self, (event) => unsafeMake({ ...fieldsOf(event), comment: text }))
)

/** @internal */
export const withData = dual(
  2,
  <E>(self: Input<E>, data: string) => total(self, (event) => unsafeMake({ ...fieldsOf(event), data }))
)

/** An event with its id set by the library (hub ids are always valid). @internal */
export const unsafeWithId = (self: SseEvent.SseEvent, id: string): SseEvent.SseEvent =>
  self.id === id ? self : unsafeMake({ ...fieldsOf(self), id })

/** @internal */
export const encodeString = (self: SseEvent.SseEvent): string => Fields.encodeString(self)

/** The wire bytes of an event, computed once per event and kept with it. @internal */
export const encode = (self: SseEvent.SseEvent): Uint8Array => {
  const cached = self as unknown as Cached
  return cached.encoded ??= Fields.encode(self)
}

/** @internal */
export const connected: SseEvent.SseEvent = comment("connected")

/** @internal */
export const keepAlive: SseEvent.SseEvent = comment("keep-alive")
