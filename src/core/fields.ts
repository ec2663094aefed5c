/**
 * The fields of a Server-Sent Event and the rules the standard sets for them, with no dependency: what every
 * binding of the library (one per Effect major) checks and writes the same way.
 *
 * Part of the Effect-free core, shared by every binding; not a public API.
 */

/** The five fields of an event block. `data` undefined means a block that dispatches nothing. */
export interface Fields {
  readonly data: string | undefined
  readonly type: string | undefined
  readonly id: string | undefined
  readonly retry: number | undefined
  readonly comment: string | undefined
}

/** Why a field value cannot be written. */
export type FieldError = "InvalidId" | "InvalidType" | "InvalidRetry"

const hasLineBreak = /[\r\n]/
const hasIdBreaker = /[\r\n\0]/
const lineBreak = /\r\n|\r|\n/

/** An `id` must not contain CR, LF or NUL: it would end the field and start another, or be ignored. */
export const isValidId = (id: string): boolean => !hasIdBreaker.test(id)

/** An event type must not contain CR or LF. */
export const isValidType = (type: string): boolean => !hasLineBreak.test(type)

/** A reconnection time is a non-negative whole number of milliseconds. */
export const isValidRetry = (retry: number): boolean => Number.isSafeInteger(retry) && retry >= 0

/** The first rule that `fields` break, or `undefined`. */
export const check = (fields: Fields): FieldError | undefined => {
  if (fields.id !== undefined && !isValidId(fields.id)) return "InvalidId"
  if (fields.type !== undefined && !isValidType(fields.type)) return "InvalidType"
  if (fields.retry !== undefined && !isValidRetry(fields.retry)) return "InvalidRetry"
  return undefined
}

/** What `error` means, for a message naming the field and the value. */
export const describe = (error: FieldError, value: unknown): string => {
  switch (error) {
    case "InvalidId":
      return `the "id" field must not contain CR, LF or NUL: ${JSON.stringify(value)}`
    case "InvalidType":
      return `the "event" field (the type) must not contain CR or LF: ${JSON.stringify(value)}`
    case "InvalidRetry":
      return `the "retry" field must be a non-negative whole number of milliseconds: ${String(value)}`
  }
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

/**
 * The wire form of valid fields, ending with the blank line that dispatches the block: the comment first (one
 * `:` line per line), then `event`, `id`, `retry`, and one `data:` line per line of data (split on CRLF, LF
 * and CR, so no payload can start a field of its own).
 */
export const encodeString = (fields: Fields): string => {
  let out = ""
  if (fields.comment !== undefined) out = appendComment(out, fields.comment)
  if (fields.type !== undefined) out += "event: " + fields.type + "\n"
  if (fields.id !== undefined) out += "id: " + fields.id + "\n"
  if (fields.retry !== undefined) out += "retry: " + fields.retry + "\n"
  if (fields.data !== undefined) out = appendLines(out, "data: ", fields.data)
  return out + "\n"
}

const textEncoder = new TextEncoder()

/** UTF-8 bytes of a string. */
export const utf8 = (text: string): Uint8Array => textEncoder.encode(text)

/** The wire form of valid fields as UTF-8 bytes. */
export const encode = (fields: Fields): Uint8Array => textEncoder.encode(encodeString(fields))

/** A block with only a comment. */
export const commentFields = (text: string): Fields => ({
  data: undefined,
  type: undefined,
  id: undefined,
  retry: undefined,
  comment: text
})

/** `: connected`, written first on every stream so that headers and first bytes leave at once. */
export const connectedBytes: Uint8Array = encode(commentFields("connected"))

/** `: keep-alive`, written on a stream that has been quiet for the keep-alive interval. */
export const keepAliveBytes: Uint8Array = encode(commentFields("keep-alive"))
