import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Mailbox from "effect/Mailbox"
import * as Stream from "effect/Stream"
import { Readable } from "node:stream"
import * as shutdown from "./shutdown.js"

/**
 * Where an SSE response's bytes go. Writing is synchronous and never blocks: `write` reports whether the
 * client can take more right away, `buffered` how much it has not taken yet, and `writable` waits for room.
 * That lets one fiber (a hub's dispatcher) write the same bytes to thousands of clients in a loop, with no
 * fiber or stream step per client, while a single producer (a served `Stream`, `SseConnection.send`) can
 * still wait for the socket.
 *
 * @internal
 */
export interface Sink {
  /**
   * Queues bytes for the client (ignored once the sink is closed); returns how many bytes that adds to what
   * `buffered` counts (the bytes, plus the transfer framing around them, if any).
   */
  readonly write: (bytes: Uint8Array) => number
  /** `write` for bytes that many clients are sent: their framing is built once, by the first sink that needs it. */
  readonly writeShared: (shared: Shared) => number
  /** Bytes queued for the client and not yet handed to the socket. */
  readonly buffered: () => number
  /** Completes when fewer than the high-water mark's bytes are queued, or the client is gone. */
  readonly writable: Effect.Effect<void>
  /** Calls `f` once, when fewer than the high-water mark's bytes are queued or the client is gone. */
  readonly onWritable: (f: () => void) => void
  /** Ends the response once what was written has been sent. */
  readonly end: () => void
  /** Drops the client at once: unsent bytes are discarded and its socket is closed. */
  readonly destroy: () => void
  /** Whether the response is ending or over (no more writes are taken). */
  readonly isClosed: () => boolean
  /** The response's body. */
  readonly response: (options: HttpServerResponse.Options.WithContentType) => HttpServerResponse.HttpServerResponse
  /** Frees what the sink holds if its response was never served. */
  readonly dispose: () => void
}

/** @internal */
export const defaultHighWaterMark = 16 * 1024

/** @internal */
export const toBuffer = (bytes: Uint8Array): Uint8Array =>
  typeof Buffer === "undefined" || Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)

const crlf = typeof Buffer === "undefined" ? new Uint8Array([13, 10]) : Buffer.from("\r\n")

/**
 * The bytes of an HTTP/1.1 chunk holding `bytes`: their length in hex, CRLF, the bytes, CRLF.
 *
 * @internal
 */
export const chunk = (bytes: Uint8Array): Uint8Array => {
  const size = bytes.length.toString(16)
  const out = alloc(size.length + bytes.length + 4)
  for (let i = 0; i < size.length; i++) out[i] = size.charCodeAt(i)
  out.set(crlf, size.length)
  out.set(bytes, size.length + 2)
  out.set(crlf, size.length + 2 + bytes.length)
  return out
}

/**
 * Bytes written to many clients (a hub's batch of events). A sink that writes to the socket itself needs them
 * framed as an HTTP/1.1 chunk: that is built once and shared by every client.
 *
 * @internal
 */
export class Shared {
  private framed: Uint8Array | undefined
  constructor(readonly bytes: Uint8Array) {}
  get chunk(): Uint8Array {
    return this.framed ??= chunk(this.bytes)
  }
}

class Waiters {
  private waiting: Array<() => void> = []
  add(f: () => void): void {
    this.waiting.push(f)
  }
  release(): void {
    if (this.waiting.length === 0) return
    const waiting = this.waiting
    this.waiting = []
    for (const f of waiting) f()
  }
}

interface Destination {
  write(chunk: Uint8Array): boolean
  readonly writableLength: number
  readonly writableHighWaterMark: number
  readonly writableEnded: boolean
  readonly destroyed: boolean
  once(event: "drain", listener: () => void): unknown
  on(event: "error", listener: () => void): unknown
  /** Node's `ServerResponse`: the socket it writes to, and whether it frames its body as chunks. */
  readonly socket?: Destination | null | undefined
  readonly chunkedEncoding?: boolean | undefined
}

/**
 * The socket under a Node `ServerResponse` that a sink can write chunks to itself, or `undefined`. A
 * `ServerResponse.write` costs, for every client and every event, a chunk header string, four writes into the
 * socket's buffer, a cork with a scheduled uncork, and a vectored write of them; writing one chunk that every
 * client shares is one plain write. Only for a chunked HTTP/1.1 response whose head has gone out: the
 * response then holds nothing of its own (its `writableLength` is all the socket's), so bytes written to the
 * socket land after everything the response wrote, and its `end` after them. It stays that way: a response
 * with its socket writes into the socket, and only this sink writes to it.
 */
const socketOf = (response: Destination): Destination | undefined => {
  const socket = response.socket
  if (
    response.chunkedEncoding !== true || socket === null || socket === undefined ||
    response.writableLength !== socket.writableLength || typeof socket.write !== "function"
  ) {
    return undefined
  }
  return socket
}

/**
 * The body a Node response is given: a `Readable` that Node's server pipes into its `ServerResponse`. Once
 * piped, and once what was pushed before has flowed out, writes go straight to the response: `push` would
 * add a `data` event, a pipe step and a scheduled read-ahead to every write.
 */
class Body extends Readable {
  destination: Destination | undefined
  constructor(highWaterMark: number, read: () => void) {
    super({ highWaterMark, read })
  }
  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean | undefined }): T {
    this.destination = destination as unknown as Destination
    return super.pipe(destination, options)
  }
}

/**
 * A sink for Node's HTTP server: a raw body (see `Body`), with Node's own backpressure: what the response
 * has not yet handed to the socket counts as buffered.
 *
 * @internal
 */
export const node = (source: unknown, highWaterMark = defaultHighWaterMark): Sink => {
  const waiters = new Waiters()
  let closed = false
  let waitingForDrain = false
  const onDrain = () => {
    waitingForDrain = false
    waiters.release()
  }
  const body = new Body(highWaterMark, () => waiters.release())
  body.on("close", () => {
    closed = true
    waiters.release()
  })
  // A client that goes away surfaces as an error of the pipeline; it is handled there.
  body.on("error", () => {})
  // Writes go straight to the response once it is piped and what was pushed before has flowed out. That
  // needs the response's `drain` to wake a waiting writer, which it emits only past its own high-water mark: a
  // lower mark of ours keeps every write going through the body's buffer.
  let straight: Destination | undefined
  // Once a write has gone through the response (so its head is out), chunks go to its socket when it allows.
  let socket: Destination | undefined
  let chunked = false
  const goStraight = (): Destination | undefined => {
    const destination = body.destination
    if (destination === undefined || body.readableLength > 0 || highWaterMark < destination.writableHighWaterMark) {
      return undefined
    }
    // A write racing the client's departure must not surface as an unhandled error.
    destination.on("error", () => {})
    chunked = destination.chunkedEncoding === true
    return straight = destination
  }
  const buffered = () =>
    socket !== undefined
      ? socket.writableLength
      : straight === undefined
      ? body.readableLength + (body.destination?.writableLength ?? 0)
      : straight.writableLength
  const hasRoom = () => closed || buffered() < highWaterMark
  const wait = (f: () => void) => {
    waiters.add(f)
    const destination = body.destination
    if (destination !== undefined && !waitingForDrain && destination.writableLength >= highWaterMark) {
      waitingForDrain = true
      // Written to directly, the socket emits `drain`; the response does only for its own writes.
      const emitter = socket ?? destination
      emitter.once("drain", onDrain)
    }
  }
  const framing = (size: number) => chunked ? size.toString(16).length + 4 + size : size
  const write = (bytes: Uint8Array): number => {
    if (closed) return 0
    const destination = straight ?? goStraight()
    if (destination === undefined) {
      body.push(bytes)
      return bytes.length
    }
    if (destination.destroyed) return 0
    destination.write(bytes)
    if (socket === undefined) {
      socket = socketOf(destination)
      if (socket !== undefined) socket.on("error", () => {})
    }
    return framing(bytes.length)
  }
  return {
    write,
    writeShared: (shared) => {
      if (socket === undefined || closed) return write(shared.bytes)
      if (socket.destroyed) return 0
      const bytes = shared.chunk
      socket.write(bytes)
      return bytes.length
    },
    buffered,
    writable: Effect.async<void>((resume) => {
      if (hasRoom()) return resume(Effect.void)
      wait(() => resume(Effect.void))
    }),
    onWritable: (f) => hasRoom() ? f() : wait(f),
    end: () => {
      if (closed) return
      closed = true
      body.push(null)
    },
    destroy: () => {
      closed = true
      shutdown.destroySocket(source)
      body.destroy()
    },
    isClosed: () => closed,
    response: (options) => HttpServerResponse.raw(body, options),
    dispose: () => {
      closed = true
      body.destroy()
    }
  }
}

/**
 * A sink for any other platform (and for responses run outside a server): a mailbox that the response drains
 * as a `Stream` body, one write per batch. `onEnd` runs when the body ends, for any reason.
 *
 * @internal
 */
export const stream = (
  mailbox: Mailbox.Mailbox<Uint8Array>,
  highWaterMark: number,
  onEnd: Effect.Effect<void>
): Sink => {
  const waiters = new Waiters()
  let queued = 0
  let closed = false
  const hasRoom = () => closed || queued < highWaterMark
  const body = Mailbox.toStream(mailbox).pipe(
    Stream.mapChunks((chunk) => {
      for (const bytes of chunk) queued -= bytes.length
      if (hasRoom()) waiters.release()
      return Chunk.of(concat(Chunk.toReadonlyArray(chunk)))
    }),
    Stream.ensuring(Effect.zipRight(
      Effect.sync(() => {
        closed = true
        waiters.release()
      }),
      onEnd
    ))
  )
  const close = () => {
    closed = true
    mailbox.unsafeDone(Exit.void)
    waiters.release()
  }
  const write = (bytes: Uint8Array): number => {
    if (closed) return 0
    queued += bytes.length
    mailbox.unsafeOffer(bytes)
    return bytes.length
  }
  return {
    write,
    writeShared: (shared) => write(shared.bytes),
    buffered: () => queued,
    writable: Effect.async<void>((resume) => {
      if (hasRoom()) return resume(Effect.void)
      waiters.add(() => resume(Effect.void))
    }),
    onWritable: (f) => hasRoom() ? f() : waiters.add(f),
    end: () => {
      closed = true
      mailbox.unsafeDone(Exit.void)
    },
    destroy: close,
    isClosed: () => closed,
    response: (options) => HttpServerResponse.stream(body, options),
    dispose: close
  }
}

const alloc = (size: number): Uint8Array =>
  typeof Buffer === "undefined" ? new Uint8Array(size) : Buffer.allocUnsafe(size)

/**
 * Joins byte arrays into one (a `Buffer` on Node), or returns the only one.
 *
 * @internal
 */
export const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (parts.length === 1) return parts[0]
  let size = 0
  for (let i = 0; i < parts.length; i++) size += parts[i].length
  const out = alloc(size)
  let offset = 0
  for (let i = 0; i < parts.length; i++) {
    out.set(parts[i], offset)
    offset += parts[i].length
  }
  return out
}
