import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import { dual } from "effect/Function"
import * as Hash from "effect/Hash"
import * as Inspectable from "effect/Inspectable"
import { pipeArguments } from "effect/Pipeable"
import * as Schema from "effect/Schema"
import type * as SseEvent from "../SseEvent.js"

/** @internal */
export const TypeId: SseEvent.TypeId = Symbol.for("effect-sse/SseEvent") as SseEvent.TypeId

/** @internal */
export class SseEventError extends Data.TaggedError("SseEventError")<{
  readonly reason: "InvalidId" | "InvalidType" | "InvalidRetry" | "InvalidData"
  readonly value: unknown
  readonly cause?: unknown
}> {
  override get message(): string {
    switch (this.reason) {
      case "InvalidId":
        return `SseEvent field "id" must not contain CR, LF or NUL: ${JSON.stringify(this.value)}`
      case "InvalidType":
        return `SseEvent field "event" (the type) must not contain CR or LF: ${JSON.stringify(this.value)}`
      case "InvalidRetry":
        return `SseEvent field "retry" must be a non-negative whole number of milliseconds: ${String(this.value)}`
      case "InvalidData":
        return `SseEvent data could not be encoded as JSON: ${String(this.cause ?? this.value)}`
    }
  }
}

interface Fields {
  readonly data: string | undefined
  readonly type: string | undefined
  readonly id: string | undefined
  readonly retry: number | undefined
  readonly comment: string | undefined
}

const Proto = {
  [TypeId]: TypeId,
  pipe() {
    return pipeArguments(this, arguments)
  },
  [Equal.symbol](this: Fields, that: unknown): boolean {
    return isSseEvent(that) && this.data === that.data && this.type === that.type && this.id === that.id &&
      this.retry === that.retry && this.comment === that.comment
  },
  [Hash.symbol](this: Fields): number {
    return Hash.cached(
      this,
      Hash.array([this.data, this.type, this.id, this.retry, this.comment].map((_) => Hash.hash(_)))
    )
  },
  toJSON(this: Fields) {
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

/** @internal */
export const makeUnsafe = (fields: Fields): SseEvent.SseEvent => {
  const self = Object.create(Proto)
  self.data = fields.data
  self.type = fields.type
  self.id = fields.id
  self.retry = fields.retry
  self.comment = fields.comment
  return self
}

const fieldsOf = (self: SseEvent.SseEvent): Fields => ({
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
  makeUnsafe({ data, type: undefined, id: undefined, retry: undefined, comment: undefined })

/** @internal */
export const comment = (text: string): SseEvent.SseEvent =>
  makeUnsafe({ data: undefined, type: undefined, id: undefined, retry: undefined, comment: text })

const toMillis = (input: Duration.DurationInput): number => {
  // A plain number is taken as milliseconds as given, so that -1 or 1.5 are refused at encoding
  // instead of being rounded by Duration.decode.
  if (typeof input === "number") return input
  try {
    return Duration.toMillis(Duration.decode(input))
  } catch {
    return Number.NaN
  }
}

/** @internal */
export const retry = (duration: Duration.DurationInput): SseEvent.SseEvent =>
  makeUnsafe({ data: undefined, type: undefined, id: undefined, retry: toMillis(duration), comment: undefined })

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
  return (value: A): Effect.Effect<SseEvent.SseEvent, SseEventError, R> =>
    encode(value).pipe(
      Effect.mapError((cause) => new SseEventError({ reason: "InvalidData", value, cause })),
      Effect.flatMap(json)
    )
}

/** @internal */
export const withType = dual<
  (type: string) => (self: SseEvent.SseEvent) => SseEvent.SseEvent,
  (self: SseEvent.SseEvent, type: string) => SseEvent.SseEvent
>(2, (self, type) => makeUnsafe({ ...fieldsOf(self), type }))

/** @internal */
export const withId = dual<
  (id: string) => (self: SseEvent.SseEvent) => SseEvent.SseEvent,
  (self: SseEvent.SseEvent, id: string) => SseEvent.SseEvent
>(2, (self, id) => makeUnsafe({ ...fieldsOf(self), id }))

/** @internal */
export const withRetry = dual<
  (retry: Duration.DurationInput) => (self: SseEvent.SseEvent) => SseEvent.SseEvent,
  (self: SseEvent.SseEvent, retry: Duration.DurationInput) => SseEvent.SseEvent
>(2, (self, retry) => makeUnsafe({ ...fieldsOf(self), retry: toMillis(retry) }))

/** @internal */
export const withComment = dual<
  (comment: string) => (self: SseEvent.SseEvent) => SseEvent.SseEvent,
  (self: SseEvent.SseEvent, comment: string) => SseEvent.SseEvent
>(2, (self, comment) => makeUnsafe({ ...fieldsOf(self), comment }))

/** @internal */
export const withData = dual<
  (data: string) => (self: SseEvent.SseEvent) => SseEvent.SseEvent,
  (self: SseEvent.SseEvent, data: string) => SseEvent.SseEvent
>(2, (self, data) => makeUnsafe({ ...fieldsOf(self), data }))

// -----------------------------------------------------------------------------
// encoding
// -----------------------------------------------------------------------------

const lineBreak = /\r\n|\r|\n/
const hasLineBreak = /[\r\n]/
const hasIdBreaker = /[\r\n\0]/

/** @internal */
export const check = (self: SseEvent.SseEvent): SseEventError | undefined => {
  if (self.id !== undefined && hasIdBreaker.test(self.id)) {
    return new SseEventError({ reason: "InvalidId", value: self.id })
  }
  if (self.type !== undefined && hasLineBreak.test(self.type)) {
    return new SseEventError({ reason: "InvalidType", value: self.type })
  }
  if (self.retry !== undefined && !(Number.isSafeInteger(self.retry) && self.retry >= 0)) {
    return new SseEventError({ reason: "InvalidRetry", value: self.retry })
  }
  return undefined
}

const appendLines = (out: string, prefix: string, text: string): string => {
  if (!hasLineBreak.test(text)) return out + prefix + text + "\n"
  const lines = text.split(lineBreak)
  for (let i = 0; i < lines.length; i++) out += prefix + lines[i] + "\n"
  return out
}

const appendComment = (out: string, text: string): string => {
  const lines = hasLineBreak.test(text) ? text.split(lineBreak) : [text]
  for (let i = 0; i < lines.length; i++) out += lines[i] === "" ? ":\n" : ": " + lines[i] + "\n"
  return out
}

/** @internal */
export const unsafeEncodeString = (self: SseEvent.SseEvent): string => {
  let out = ""
  if (self.comment !== undefined) out = appendComment(out, self.comment)
  if (self.type !== undefined) out += "event: " + self.type + "\n"
  if (self.id !== undefined) out += "id: " + self.id + "\n"
  if (self.retry !== undefined) out += "retry: " + self.retry + "\n"
  if (self.data !== undefined) out = appendLines(out, "data: ", self.data)
  return out + "\n"
}

/** @internal */
export const validate = (self: SseEvent.SseEvent): Either.Either<SseEvent.SseEvent, SseEventError> => {
  const error = check(self)
  return error === undefined ? Either.right(self) : Either.left(error)
}

/** @internal */
export const encodeString = (self: SseEvent.SseEvent): Either.Either<string, SseEventError> => {
  const error = check(self)
  return error === undefined ? Either.right(unsafeEncodeString(self)) : Either.left(error)
}

const textEncoder = new TextEncoder()
const encodedCache = new WeakMap<SseEvent.SseEvent, Either.Either<Uint8Array, SseEventError>>()

/** Encodes an event known to be valid (no id or type), without caching. @internal */
export const unsafeEncode = (self: SseEvent.SseEvent): Uint8Array => textEncoder.encode(unsafeEncodeString(self))

/** @internal */
export const encode = (self: SseEvent.SseEvent): Either.Either<Uint8Array, SseEventError> => {
  let encoded = encodedCache.get(self)
  if (encoded === undefined) {
    const error = check(self)
    encoded = error === undefined ? Either.right(textEncoder.encode(unsafeEncodeString(self))) : Either.left(error)
    encodedCache.set(self, encoded)
  }
  return encoded
}
