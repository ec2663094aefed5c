/**
 * Bytes on their way to a client, with no dependency: joining, and HTTP/1.1 chunk framing built once for
 * bytes that many clients are sent.
 *
 * Part of the Effect-free core, shared by every binding; not a public API.
 */

const CR = 13
const LF = 10

/** CRLF, which ends a chunk's size line and its data. */
export const crlf: Uint8Array = new Uint8Array([CR, LF])

/** The size line of an HTTP/1.1 chunk of `size` bytes: the size in hex, then CRLF. */
export const chunkHeader = (size: number): Uint8Array => {
  const hex = size.toString(16)
  const out = new Uint8Array(hex.length + 2)
  for (let i = 0; i < hex.length; i++) out[i] = hex.charCodeAt(i)
  out[hex.length] = CR
  out[hex.length + 1] = LF
  return out
}

/** How many bytes a chunk of `size` data bytes takes on the wire. */
export const chunkLength = (size: number): number => size.toString(16).length + 4 + size

/** An HTTP/1.1 chunk holding `bytes`: their size in hex, CRLF, the bytes, CRLF. */
export const chunk = (bytes: Uint8Array): Uint8Array => {
  const hex = bytes.length.toString(16)
  const out = new Uint8Array(hex.length + bytes.length + 4)
  for (let i = 0; i < hex.length; i++) out[i] = hex.charCodeAt(i)
  out[hex.length] = CR
  out[hex.length + 1] = LF
  out.set(bytes, hex.length + 2)
  out[hex.length + 2 + bytes.length] = CR
  out[hex.length + 3 + bytes.length] = LF
  return out
}

/** Joins byte arrays into one, or returns the only one. */
export const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (parts.length === 1) return parts[0]
  let size = 0
  for (let i = 0; i < parts.length; i++) size += parts[i].length
  const out = new Uint8Array(size)
  let offset = 0
  for (let i = 0; i < parts.length; i++) {
    out.set(parts[i], offset)
    offset += parts[i].length
  }
  return out
}

/** The total length of byte arrays. */
export const totalLength = (parts: ReadonlyArray<Uint8Array>): number => {
  let size = 0
  for (let i = 0; i < parts.length; i++) size += parts[i].length
  return size
}

/**
 * Bytes written to many clients at once (a hub's batch of events). A writer that frames chunks itself asks for
 * `chunk`, which is built once and shared by every client.
 */
export class Shared {
  private framed: Uint8Array | undefined = undefined
  constructor(readonly bytes: Uint8Array) {}
  get chunk(): Uint8Array {
    return this.framed ??= chunk(this.bytes)
  }
}
