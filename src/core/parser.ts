/**
 * The parser of `text/event-stream`, exactly as the WHATWG standard reads it, with no dependency: a state
 * machine fed bytes or text in chunks of any size, shared by every binding of the library.
 *
 * Part of the Effect-free core, shared by every binding; not a public API.
 */

/** A dispatched event, as a browser's `EventSource` delivers it. */
export interface Event {
  readonly _tag: "Event"
  readonly type: string
  readonly data: string
  readonly lastEventId: string
}

/** A valid `retry:` field: the new reconnection time in milliseconds. */
export interface Retry {
  readonly _tag: "Retry"
  readonly millis: number
}

/** What the parser produces, in stream order. */
export type Output = Event | Retry

/** A limit the stream broke: a pending line, or the data of a pending event, longer than `limit` characters. */
export interface Failure {
  readonly reason: "LineTooLong" | "EventTooLarge"
  readonly limit: number
}

/** The parser's options. */
export interface Options {
  readonly maxBufferSize?: number | undefined
  readonly lastEventId?: string | undefined
}

/** The default limit on one line and on one event's data: 8 MiB of characters. */
export const defaultMaxBufferSize = 8 * 1024 * 1024

/** What a failure means. */
export const describe = (failure: Failure): string =>
  failure.reason === "LineTooLong"
    ? `a line is longer than the limit of ${failure.limit} characters`
    : `an event's data is longer than the limit of ${failure.limit} characters`

const LF = 10
const CR = 13
const SPACE = 32
const COLON = 58
const BOM = 0xFEFF

// Each call decodes a whole piece of the stream (see `Parser.decode`), without `stream`, so the decoders hold
// no state and can be shared. `ignoreBOM: true` keeps a BOM in the text: the parser drops one at the start of
// the stream only, where a decoder would drop one at the start of every call.
const asciiDecoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true })
// Node decodes ASCII several times faster on its UTF-8 fast path, but other text faster through ICU, which a
// decoder switches to for good once it has been used with `stream`. Elsewhere both decoders are the same.
const textDecoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true })
textDecoder.decode(new Uint8Array(0), { stream: true })

/** Where an incomplete UTF-8 sequence at the end of `bytes` starts, or `bytes.length` if there is none. */
const incompleteSuffix = (bytes: Uint8Array): number => {
  const length = bytes.length
  for (let i = length - 1; i >= 0 && i >= length - 3; i--) {
    const byte = bytes[i]
    if (byte < 0x80) return length
    if (byte >= 0xC0) {
      const needed = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2
      return length - i < needed ? i : length
    }
  }
  return length
}

export const isEvent = (output: Output): output is Event => output._tag === "Event"

export const isRetry = (output: Output): output is Retry => output._tag === "Retry"

const isDigits = (s: string, start: number, end: number): boolean => {
  if (start === end) return false
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

/** Whether the line at `start` begins with `data:`, by far the most frequent field. */
const isData = (s: string, start: number): boolean =>
  s.charCodeAt(start) === 100 && s.charCodeAt(start + 1) === 97 && s.charCodeAt(start + 2) === 116 &&
  s.charCodeAt(start + 3) === 97 && s.charCodeAt(start + 4) === COLON

/**
 * The parser of the standard, one line at a time. Lines are located with `indexOf` scans over each decoded
 * chunk and handed over as `(string, start, end)` ranges, so that no line is copied unless it spans chunks.
 */
export class Parser {
  private readonly maxBufferSize: number
  // The bytes of a character split across chunks, decoded with the next chunk.
  private tail: Uint8Array | undefined = undefined
  // Whether the last chunk decoded was ASCII, which picks the decoder for the next.
  private ascii = true
  // Set once text has been read, so that only the first text of a stream may lose a BOM.
  private started = false
  // The previous chunk ended with CR: an LF at the start of the next one belongs to it.
  private skipLF = false
  private pending = ""
  private data = ""
  private hasData = false
  private type = ""
  private idBuffer: string
  private failure: Failure | undefined = undefined
  private out: Array<Output> = []
  lastEventId: string

  constructor(options?: Options) {
    this.maxBufferSize = options?.maxBufferSize ?? defaultMaxBufferSize
    this.lastEventId = options?.lastEventId ?? ""
    this.idBuffer = this.lastEventId
  }

  /** Decodes and parses `chunk`, pushing what it completes onto `out`. */
  feedInto(chunk: Uint8Array, out: Array<Output>): Failure | undefined {
    if (this.failure !== undefined) return this.failure
    this.out = out
    this.text(this.decode(chunk))
    return this.failure
  }

  /** Parses already decoded text, pushing what it completes onto `out`. */
  feedStringInto(chunk: string, out: Array<Output>): Failure | undefined {
    if (this.failure !== undefined) return this.failure
    this.out = out
    this.text(chunk)
    return this.failure
  }

  /**
   * UTF-8 decoding of a stream, chunk by chunk. A sequence that the chunk leaves incomplete is held back and
   * decoded with the next chunk, so every piece decoded (and flushed) ends right before a byte that is not a
   * continuation byte. A decoder reading the whole stream would close any sequence in progress at that byte
   * too, so the replacement characters come out exactly the same.
   */
  private decode(chunk: Uint8Array): string {
    let bytes = chunk
    if (this.tail !== undefined) {
      bytes = new Uint8Array(this.tail.length + chunk.length)
      bytes.set(this.tail)
      bytes.set(chunk, this.tail.length)
      this.tail = undefined
    }
    const cut = incompleteSuffix(bytes)
    if (cut < bytes.length) {
      this.tail = bytes.slice(cut)
      bytes = bytes.subarray(0, cut)
    }
    const text = (this.ascii ? asciiDecoder : textDecoder).decode(bytes)
    // As many characters as bytes: ASCII, or near enough to choose a decoder.
    this.ascii = text.length === bytes.length
    return text
  }

  end(): void {
    this.tail = undefined
    this.started = false
    this.skipLF = false
    this.pending = ""
    this.data = ""
    this.hasData = false
    this.type = ""
    // A new stream starts from the source's last event ID string, as browsers do on reconnection.
    this.idBuffer = this.lastEventId
    this.failure = undefined
    this.out = []
  }

  private text(text: string): void {
    const length = text.length
    if (length === 0) return
    let pos = 0
    if (!this.started) {
      this.started = true
      // One leading BOM is dropped, whether it arrived as bytes or as text.
      if (text.charCodeAt(0) === BOM) {
        if (length === 1) return
        pos = 1
      }
    }
    if (this.skipLF) {
      this.skipLF = false
      if (text.charCodeAt(0) === LF) pos = 1
    }
    let lf = text.indexOf("\n", pos)
    let cr = text.indexOf("\r", pos)
    if (this.pending.length > 0) {
      const end = cr === -1 ? lf : lf === -1 ? cr : cr < lf ? cr : lf
      if (end === -1) {
        this.pending += pos === 0 ? text : text.slice(pos)
        if (this.pending.length > this.maxBufferSize) this.fail("LineTooLong")
        return
      }
      const line = this.pending + text.slice(pos, end)
      this.pending = ""
      if (!this.line(line, 0, line.length)) return
      pos = this.next(text, end, length)
    }
    const out = this.out
    const max = this.maxBufferSize
    while (pos < length) {
      if (lf !== -1 && lf < pos) lf = text.indexOf("\n", pos)
      if (cr !== -1 && cr < pos) cr = text.indexOf("\r", pos)
      const end = cr === -1 ? lf : lf === -1 ? cr : cr < lf ? cr : lf
      if (end === -1) {
        this.pending = pos === 0 ? text : text.slice(pos)
        if (this.pending.length > this.maxBufferSize) this.fail("LineTooLong")
        return
      }
      if (end === pos) {
        this.dispatch()
      } else if (isData(text, pos) && end - pos <= max) {
        let valueStart = pos + 5
        if (valueStart < end && text.charCodeAt(valueStart) === SPACE) valueStart++
        const value = text.slice(valueStart, end)
        // A single `data:` line directly followed by an empty line is the shape of most events: dispatch it
        // without going through the data buffer.
        if (!this.hasData && end === lf && text.charCodeAt(end + 1) === LF) {
          this.lastEventId = this.idBuffer
          out.push({
            _tag: "Event",
            type: this.type === "" ? "message" : this.type,
            data: value,
            lastEventId: this.idBuffer
          })
          this.type = ""
          pos = end + 2
          continue
        }
        if (!this.appendData(value)) return
      } else if (!this.line(text, pos, end)) {
        return
      }
      pos = end === lf ? end + 1 : this.next(text, end, length)
    }
  }

  /** The position after the line break at `end`: CRLF is one break, and a CR ending the chunk may own an LF. */
  private next(text: string, end: number, length: number): number {
    if (text.charCodeAt(end) === CR) {
      if (end + 1 === length) {
        this.skipLF = true
        return length
      }
      if (text.charCodeAt(end + 1) === LF) return end + 2
    }
    return end + 1
  }

  /** Processes the line `s[start, end)`; returns false when a limit was exceeded. */
  private line(s: string, start: number, end: number): boolean {
    if (start === end) {
      this.dispatch()
      return true
    }
    if (end - start > this.maxBufferSize) {
      this.fail("LineTooLong")
      return false
    }
    const first = s.charCodeAt(start)
    if (first === COLON) return true
    if (isData(s, start)) {
      let valueStart = start + 5
      if (valueStart < end && s.charCodeAt(valueStart) === SPACE) valueStart++
      return this.appendData(s.slice(valueStart, end))
    }
    if (first === 105 && s.charCodeAt(start + 1) === 100 && s.charCodeAt(start + 2) === COLON) {
      let valueStart = start + 3
      if (valueStart < end && s.charCodeAt(valueStart) === SPACE) valueStart++
      const value = s.slice(valueStart, end)
      if (value.indexOf("\0") === -1) this.idBuffer = value
      return true
    }
    if (
      first === 101 && s.charCodeAt(start + 1) === 118 && s.charCodeAt(start + 2) === 101 &&
      s.charCodeAt(start + 3) === 110 && s.charCodeAt(start + 4) === 116 && s.charCodeAt(start + 5) === COLON
    ) {
      let valueStart = start + 6
      if (valueStart < end && s.charCodeAt(valueStart) === SPACE) valueStart++
      this.type = s.slice(valueStart, end)
      return true
    }
    let colon = start + 1
    while (colon < end && s.charCodeAt(colon) !== COLON) colon++
    let valueStart = colon + 1
    if (valueStart < end && s.charCodeAt(valueStart) === SPACE) valueStart++
    switch (s.slice(start, colon)) {
      case "data":
        return this.appendData(colon < end ? s.slice(valueStart, end) : "")
      case "event":
        this.type = colon < end ? s.slice(valueStart, end) : ""
        return true
      case "id": {
        const value = colon < end ? s.slice(valueStart, end) : ""
        if (value.indexOf("\0") === -1) this.idBuffer = value
        return true
      }
      case "retry":
        if (colon < end && isDigits(s, valueStart, end)) {
          this.out.push({ _tag: "Retry", millis: Number(s.slice(valueStart, end)) })
        }
        return true
      default:
        return true
    }
  }

  private appendData(value: string): boolean {
    if (this.hasData) {
      this.data = this.data + "\n" + value
    } else {
      this.data = value
      this.hasData = true
    }
    if (this.data.length > this.maxBufferSize) {
      this.fail("EventTooLarge")
      return false
    }
    return true
  }

  private dispatch(): void {
    this.lastEventId = this.idBuffer
    if (this.hasData) {
      this.out.push({
        _tag: "Event",
        type: this.type === "" ? "message" : this.type,
        data: this.data,
        lastEventId: this.idBuffer
      })
      this.data = ""
      this.hasData = false
    }
    this.type = ""
  }

  private fail(reason: Failure["reason"]): void {
    this.failure = { reason, limit: this.maxBufferSize }
    this.pending = ""
    this.data = ""
    this.hasData = false
  }
}

/** Parses a whole stream, given as one string or byte array or as chunks; an unterminated last event is discarded. */
export const parseAll = (
  input: string | Uint8Array | Iterable<string | Uint8Array>,
  options?: Options
): Array<Output> | Failure => {
  const parser = new Parser(options)
  const out: Array<Output> = []
  const chunks = typeof input === "string" || input instanceof Uint8Array ? [input] : input
  for (const chunk of chunks) {
    const error = typeof chunk === "string" ? parser.feedStringInto(chunk, out) : parser.feedInto(chunk, out)
    if (error !== undefined) return error
  }
  parser.end()
  return out
}
