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
  /** Queues bytes for the client (ignored once the sink is closed). */
  readonly write: (bytes: Uint8Array) => void
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
  const goStraight = (): Destination | undefined => {
    const destination = body.destination
    if (destination === undefined || body.readableLength > 0 || highWaterMark < destination.writableHighWaterMark) {
      return undefined
    }
    // A write racing the client's departure must not surface as an unhandled error.
    destination.on("error", () => {})
    return straight = destination
  }
  const buffered = () =>
    straight === undefined ? body.readableLength + (body.destination?.writableLength ?? 0) : straight.writableLength
  const hasRoom = () => closed || buffered() < highWaterMark
  const wait = (f: () => void) => {
    waiters.add(f)
    const destination = body.destination
    if (destination !== undefined && !waitingForDrain && destination.writableLength >= highWaterMark) {
      waitingForDrain = true
      destination.once("drain", onDrain)
    }
  }
  return {
    write: (bytes) => {
      if (closed) return
      const destination = straight ?? goStraight()
      if (destination === undefined) body.push(bytes)
      else if (!destination.destroyed) destination.write(bytes)
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
  return {
    write: (bytes) => {
      if (closed) return
      queued += bytes.length
      mailbox.unsafeOffer(bytes)
    },
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
