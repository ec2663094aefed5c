/**
 * Reading SSE bytes back with an independent parser (`eventsource-parser`), and splitting them into lines the
 * way the standard does, to check what a client would see.
 */
import { createParser, type EventSourceMessage, type ParseError } from "eventsource-parser"

export interface Parsed {
  readonly events: Array<EventSourceMessage>
  readonly comments: Array<string>
  readonly retries: Array<number>
  readonly errors: Array<ParseError>
}

/** Parses a whole stream given as chunks of bytes (or strings), decoding UTF-8 across chunk borders. */
export const parse = (chunks: ReadonlyArray<Uint8Array | string>): Parsed => {
  const parsed: Parsed = { events: [], comments: [], retries: [], errors: [] }
  const parser = createParser({
    onEvent: (event) => parsed.events.push(event),
    onComment: (comment) => parsed.comments.push(comment),
    onRetry: (retry) => parsed.retries.push(retry),
    onError: (error) => parsed.errors.push(error)
  })
  const decoder = new TextDecoder()
  for (const chunk of chunks) {
    const text = typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true })
    if (text.length > 0) parser.feed(text)
  }
  const rest = decoder.decode()
  if (rest.length > 0) parser.feed(rest)
  return parsed
}

/** The event as a client sees it: data lines joined with LF, so CRLF and lone CR in a payload become LF. */
export const normalizeLineBreaks = (data: string): string => data.replace(/\r\n|\r/g, "\n")

/** The lines of a text, ended by CRLF, lone LF or lone CR as the standard says (the final empty piece dropped). */
export const lines = (text: string): Array<string> => {
  const pieces = text.split(/\r\n|\r|\n/)
  if (pieces[pieces.length - 1] === "") pieces.pop()
  return pieces
}

/**
 * The field name of each line, as the standard reads it: `:` for a comment, `""` for an empty line
 * (dispatch), else the text before the first colon (or the whole line).
 */
export const fieldNames = (text: string): Array<string> =>
  lines(text).map((line) => {
    if (line === "") return ""
    if (line.startsWith(":")) return ":"
    const colon = line.indexOf(":")
    return colon === -1 ? line : line.slice(0, colon)
  })

export const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  let size = 0
  for (const chunk of chunks) size += chunk.length
  const out = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

export const utf8 = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

/** `whole` split at the given positions (each taken modulo its length + 1), in order: any chunking of the bytes. */
export const splitAt = (whole: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const positions = [...new Set(cuts.map((cut) => cut % (whole.length + 1)))].sort((a, b) => a - b)
  const chunks: Array<Uint8Array> = []
  let start = 0
  for (const position of positions) {
    chunks.push(whole.subarray(start, position))
    start = position
  }
  chunks.push(whole.subarray(start))
  return chunks
}
