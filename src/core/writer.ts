/**
 * Where an event stream's bytes go, with no dependency: one interface, and the writer for a queue that a response
 * body pulls from (Web streams, Effect streams). The writers over Node-style writables (a socket under an HTTP/1.1
 * response, an HTTP/2 stream) are in `./streamWriter.ts`.
 *
 * Writing never blocks and never fails: `write` queues, `buffered` says how much the client has not taken,
 * `onRoom` calls back once there is room again. That lets one loop write the same bytes to thousands of
 * clients with no step per client, while a single producer can still wait for its client.
 *
 * Part of the Effect-free core, shared by every binding; not a public API.
 */
import * as Chunk from "./chunk.js"

/** A stream's way to its client. */
export interface Writer {
  /** Queues bytes; ignored once the writer is closed. */
  write(bytes: Uint8Array): void
  /** Queues byte arrays as one write without joining them: a replay written from buffers the history shares. */
  writeAll(parts: ReadonlyArray<Uint8Array>): void
  /** Queues bytes that many writers are given; framing, where a writer needs it, is built once for all. */
  writeShared(shared: Chunk.Shared): void
  /** Bytes queued and not yet taken by the client's connection (framing included). */
  buffered(): number
  /** Every byte queued since the writer was made (framing included): `written() - buffered()` were taken. */
  written(): number
  /** Whether fewer than the high-water mark's bytes are waiting. */
  hasRoom(): boolean
  /** Calls `f` once, when there is room or the writer is closed (at once if there is room now). */
  onRoom(f: () => void): void
  /** Calls `f` once, when the stream is over for any reason (at once if it is). */
  onClose(f: () => void): void
  /** Ends the stream once what was queued has been sent. */
  end(): void
  /** Drops the client at once: unsent bytes are discarded and its connection is closed. */
  destroy(): void
  /** Whether the stream is ending or over: no more bytes are taken. */
  isClosed(): boolean
}

/** The default high-water mark, in bytes. */
export const defaultHighWaterMark = 16 * 1024

/** Callbacks waiting for one moment, run once. */
export class Callbacks {
  private waiting: Array<() => void> | undefined = undefined
  add(f: () => void): void {
    ;(this.waiting ??= []).push(f)
  }
  run(): void {
    const waiting = this.waiting
    if (waiting === undefined) return
    this.waiting = undefined
    for (let i = 0; i < waiting.length; i++) waiting[i]()
  }
}

/**
 * A writer into a queue that a response body pulls from: an Effect `Stream`, a Web `ReadableStream`. Whatever
 * was queued when the body asks is handed over as one piece. `buffered` is what the body has not pulled yet.
 */
export class QueueWriter implements Writer {
  private queue: Array<Uint8Array> = []
  private size = 0
  private total = 0
  private ended = false
  private closed = false
  private readonly rooms = new Callbacks()
  private readonly closes = new Callbacks()
  /** Called when bytes arrive or the stream ends, while the body waits for them. */
  private wake: (() => void) | undefined = undefined

  constructor(
    private readonly highWaterMark = defaultHighWaterMark,
    /**
     * Closes the connection under the body, where the platform exposes it. A pulled body can only end, and its
     * end waits behind the bytes already handed over: a client that takes none of them would keep its connection
     * (and a server that waits for it) forever.
     */
    private readonly cut?: (() => void) | undefined
  ) {}

  write(bytes: Uint8Array): void {
    if (this.ended || bytes.length === 0) return
    this.queue.push(bytes)
    this.size += bytes.length
    this.total += bytes.length
    this.signal()
  }

  writeAll(parts: ReadonlyArray<Uint8Array>): void {
    for (let i = 0; i < parts.length; i++) this.write(parts[i])
  }

  writeShared(shared: Chunk.Shared): void {
    this.write(shared.bytes)
  }

  private signal(): void {
    const wake = this.wake
    if (wake !== undefined) {
      this.wake = undefined
      wake()
    }
  }

  buffered(): number {
    return this.size
  }

  written(): number {
    return this.total
  }

  hasRoom(): boolean {
    return this.ended || this.size < this.highWaterMark
  }

  onRoom(f: () => void): void {
    if (this.hasRoom()) f()
    else this.rooms.add(f)
  }

  onClose(f: () => void): void {
    if (this.closed) f()
    else this.closes.add(f)
  }

  end(): void {
    if (this.ended) return
    this.ended = true
    this.rooms.run()
    this.signal()
  }

  destroy(): void {
    this.queue = []
    this.size = 0
    this.end()
    this.finish()
    this.cut?.()
  }

  isClosed(): boolean {
    return this.ended
  }

  /**
   * For the body: what is queued, as one piece; `undefined` when nothing is (then `onData` says when to ask
   * again); `null` once the stream has ended and everything was taken.
   */
  take(): Uint8Array | undefined | null {
    if (this.size === 0) {
      if (this.ended) {
        this.finish()
        return null
      }
      return undefined
    }
    const queue = this.queue
    this.queue = []
    this.size = 0
    this.rooms.run()
    return Chunk.concat(queue)
  }

  /** For the body: calls `f` once, when there is something to take or the stream has ended. */
  onData(f: () => void): void {
    if (this.size > 0 || this.ended) f()
    else this.wake = f
  }

  /** For the body: the client is gone (the body was cancelled, or ended). */
  finish(): void {
    if (this.closed) return
    this.closed = true
    this.ended = true
    this.queue = []
    this.size = 0
    this.rooms.run()
    this.closes.run()
  }
}

/**
 * A Web `ReadableStream` of what a queue writer collects, pulled as the runtime reads the response: the body of an
 * SSE response on a Fetch handler (Bun, Deno, workers). Cancelling it (the client left) finishes the writer.
 */
export const toReadableStream = (writer: QueueWriter): ReadableStream<Uint8Array> =>
  new ReadableStream<Uint8Array>({
    pull(controller) {
      return new Promise<void>((resolve) => {
        const take = () => {
          const bytes = writer.take()
          if (bytes === null) controller.close()
          else if (bytes === undefined) return writer.onData(take)
          else controller.enqueue(bytes)
          resolve()
        }
        take()
      })
    },
    cancel() {
      writer.finish()
    }
  }, { highWaterMark: 0 })
