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
  once(event: "drain" | "close", listener: () => void): unknown
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
  constructor(highWaterMark: number, private readonly sink: { read(): void }) {
    super({ highWaterMark })
  }
  override _read(): void {
    this.sink.read()
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
export const node = (source: unknown, highWaterMark = defaultHighWaterMark): NodeSink =>
  new NodeSink(source, highWaterMark, undefined)

/**
 * A sink that writes into a Node `ServerResponse` it is given directly (its head already written): no body,
 * no pipe. For a response served outside Effect's HTTP server.
 *
 * @internal
 */
export const nodeResponse = (
  source: unknown,
  response: NodeJS.WritableStream,
  highWaterMark = defaultHighWaterMark
): NodeSink => new NodeSink(source, highWaterMark, response as unknown as Destination)

/**
 * The Node sink's state lives in one object with its methods on the prototype: a server holds thousands of
 * these, and closures per connection would cost far more memory.
 */
export class NodeSink implements Sink {
  private readonly waiters = new Waiters()
  private closed = false
  private waitingForDrain = false
  /** The body given to the server, or none when the sink was given the response itself. */
  private readonly body: Body | undefined
  /** The response, once it is piped and what was pushed before has flowed out: writes then go straight to it. */
  private straight: Destination | undefined
  /** Its socket, once a write has gone through the response (so its head is out) and chunks may go there. */
  private socket: Destination | undefined
  private chunked = false
  private writableEffect: Effect.Effect<void> | undefined

  constructor(
    private readonly source: unknown,
    private readonly highWaterMark: number,
    response: Destination | undefined
  ) {
    const onClose = () => {
      this.closed = true
      this.waiters.release()
    }
    if (response !== undefined) {
      this.body = undefined
      this.straight = response
      this.chunked = response.chunkedEncoding === true
      response.once("close", onClose)
      // A write racing the client's departure must not surface as an unhandled error.
      response.on("error", noop)
      return
    }
    const body = this.body = new Body(highWaterMark, this)
    body.on("close", onClose)
    // A client that goes away surfaces as an error of the pipeline; it is handled there.
    body.on("error", noop)
  }

  /** `drain`, of the socket or of the response: a waiting writer may go on. */
  onDrain(): void {
    this.waitingForDrain = false
    this.waiters.release()
  }

  /**
   * Writes go straight to the response once it is piped and what was pushed before has flowed out. That needs
   * the response's `drain` to wake a waiting writer, which it emits only past its own high-water mark: a lower
   * mark of ours keeps every write going through the body's buffer.
   */
  private goStraight(): Destination | undefined {
    if (this.body === undefined) return this.straight
    const destination = this.body.destination
    if (
      destination === undefined || this.body.readableLength > 0 ||
      this.highWaterMark < destination.writableHighWaterMark
    ) {
      return undefined
    }
    // A write racing the client's departure must not surface as an unhandled error.
    destination.on("error", noop)
    this.chunked = destination.chunkedEncoding === true
    return this.straight = destination
  }

  private framing(size: number): number {
    return this.chunked ? size.toString(16).length + 4 + size : size
  }

  write(bytes: Uint8Array): number {
    if (this.closed) return 0
    const destination = this.straight ?? this.goStraight()
    if (destination === undefined) {
      this.body!.push(bytes)
      return bytes.length
    }
    if (destination.destroyed) return 0
    destination.write(bytes)
    if (this.socket === undefined) {
      this.socket = socketOf(destination)
      if (this.socket !== undefined) this.socket.on("error", noop)
    }
    return this.framing(bytes.length)
  }

  writeShared(shared: Shared): number {
    const socket = this.socket
    if (socket === undefined || this.closed) return this.write(shared.bytes)
    if (socket.destroyed) return 0
    const bytes = shared.chunk
    socket.write(bytes)
    return bytes.length
  }

  buffered(): number {
    if (this.socket !== undefined) return this.socket.writableLength
    if (this.straight !== undefined || this.body === undefined) return this.straight?.writableLength ?? 0
    return this.body.readableLength + (this.body.destination?.writableLength ?? 0)
  }

  private hasRoom(): boolean {
    return this.closed || this.buffered() < this.highWaterMark
  }

  private wait(f: () => void): void {
    this.waiters.add(f)
    const destination = this.body === undefined ? this.straight : this.body.destination
    if (destination !== undefined && !this.waitingForDrain && destination.writableLength >= this.highWaterMark) {
      this.waitingForDrain = true
      // Written to directly, the socket emits `drain`; the response does only for its own writes.
      const emitter = this.socket ?? destination
      emitter.once("drain", () => this.onDrain())
    }
  }

  get writable(): Effect.Effect<void> {
    return this.writableEffect ??= Effect.async<void>((resume) => {
      if (this.hasRoom()) return resume(Effect.void)
      this.wait(() => resume(Effect.void))
    })
  }

  onWritable(f: () => void): void {
    if (this.hasRoom()) f()
    else this.wait(f)
  }

  end(): void {
    if (this.closed) return
    this.closed = true
    if (this.body !== undefined) this.body.push(null)
    else (this.straight as unknown as NodeJS.WritableStream).end()
  }

  destroy(): void {
    this.closed = true
    shutdown.destroySocket(this.source)
    if (this.body !== undefined) this.body.destroy()
    else (this.straight as unknown as { destroy(): void }).destroy()
  }

  isClosed(): boolean {
    return this.closed
  }

  response(options: HttpServerResponse.Options.WithContentType): HttpServerResponse.HttpServerResponse {
    return HttpServerResponse.raw(this.body, options)
  }

  dispose(): void {
    if (this.body !== undefined) {
      this.closed = true
      this.body.destroy()
    } else {
      // A response of its own ends as the connection's scope closes (already over when the client left).
      this.end()
    }
  }

  /** The body asks for more: a writer waiting for room may go on. */
  read(): void {
    this.waiters.release()
  }
}

const noop = () => {}

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
