/**
 * The `Last-Event-ID` request header, both ways, with no dependency.
 *
 * The header carries the UTF-8 bytes of the last event ID string. HTTP stacks hand header values over as one
 * character per byte (latin1), so a server decodes them back, and a client spells a non-ASCII id out byte by
 * byte. A browser's first request cannot set the header, so a server also reads the `lastEventId` query
 * parameter, which a page can put in the URL it gives `EventSource`.
 *
 * Part of the Effect-free core, shared by every binding; not a public API.
 */

// `ignoreBOM` keeps a leading U+FEFF: it is part of the id (an `id:` line keeps it), not a byte order mark.
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true })
const utf8Encoder = new TextEncoder()

/** The id a header value (one character per byte) spells in UTF-8. A value that is not latin1 is kept as is. */
export const decodeHeader = (value: string): string => {
  let ascii = true
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code > 0x7f) {
      ascii = false
      if (code > 0xff) return value
    }
  }
  if (ascii) return value
  const bytes = new Uint8Array(value.length)
  for (let i = 0; i < value.length; i++) bytes[i] = value.charCodeAt(i)
  return utf8Decoder.decode(bytes)
}

/**
 * The header value that carries `id`, or `undefined` when no HTTP stack would send it unchanged: a control
 * character (other than tab) is refused by Fetch and undici, leading or trailing spaces and tabs are
 * stripped, and a lone surrogate has no UTF-8 form (it would arrive as U+FFFD, another id). The standard lets a
 * client leave the header out; it must not stop reconnecting over it.
 */
export const encodeHeader = (id: string): string | undefined => {
  if (id === "") return undefined
  const first = id.charCodeAt(0)
  const last = id.charCodeAt(id.length - 1)
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) return undefined
  let ascii = true
  for (let i = 0; i < id.length; i++) {
    const code = id.charCodeAt(i)
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return undefined
    if (code > 0x7f) {
      ascii = false
      if (code >= 0xD800 && code <= 0xDFFF) {
        // A high surrogate followed by a low one is one character; anything else is a lone surrogate.
        const next = id.charCodeAt(i + 1)
        if (code > 0xDBFF || !(next >= 0xDC00 && next <= 0xDFFF)) return undefined
        i++
      }
    }
  }
  if (ascii) return id
  const bytes = utf8Encoder.encode(id)
  let out = ""
  for (let i = 0; i < bytes.length; i++) out += String.fromCharCode(bytes[i])
  return out
}

/** The name of the query parameter a first request may carry the id in. */
export const queryParameter = "lastEventId"

/**
 * The id a request resumes from: the `Last-Event-ID` header (which a browser sends when it reconnects), else
 * the `lastEventId` query parameter; `undefined` when neither is there or both are empty.
 */
export const fromRequest = (header: string | ReadonlyArray<string> | undefined, url: string): string | undefined => {
  const value = typeof header === "string" ? header : header !== undefined && header.length > 0 ? header[0] : undefined
  if (value !== undefined && value.length > 0) return decodeHeader(value)
  const query = url.indexOf("?")
  if (query < 0) return undefined
  const hash = url.indexOf("#", query)
  const id = new URLSearchParams(url.slice(query + 1, hash < 0 ? undefined : hash)).get(queryParameter)
  return id === null || id === "" ? undefined : id
}
