/**
 * Where an event stream's bytes go, with no dependency: one interface, and writers for a socket under an
 * HTTP/1.1 response, for any Node-style writable (an HTTP/2 stream, an HTTP/1.0 response), and for a queue
 * that a response body pulls from (Web streams, Effect streams).
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
class Callbacks {
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

const noop = () => {}

/** What a writer needs of a Node-style writable (a socket, an HTTP/2 stream, a `ServerResponse`). */
export interface Writable {
  write(bytes: Uint8Array): boolean
  end(): unknown
  destroy(): unknown
  cork?(): void
  uncork?(): void
  readonly writableLength: number
  readonly writableNeedDrain?: boolean | undefined
  readonly destroyed: boolean
  readonly writableEnded?: boolean | undefined
  once(event: "drain" | "close", listener: () => void): unknown
  on(event: "error", listener: (error: unknown) => void): unknown
}

/**
 * A writer over a Node-style writable: an HTTP/2 stream (whose `writableLength` is its own, so a stalled
 * stream is told apart from the others on its connection) or a `ServerResponse` that frames its own body.
 * `drain` wakes a waiting writer; below the writable's own high-water mark it emits none, so room is also
 * there whenever the writable does not ask for a drain.
 */
export class StreamWriter implements Writer {
  protected closed = false
  private over = false
  protected total = 0
  private readonly rooms = new Callbacks()
  private readonly closes = new Callbacks()
  private draining = false

  constructor(protected readonly target: Writable, protected readonly highWaterMark = defaultHighWaterMark) {
    target.on("error", noop)
    target.once("close", () => this.onTargetClose())
  }

  protected onTargetClose(): void {
    this.closed = true
    this.over = true
    this.rooms.run()
    this.closes.run()
  }

  write(bytes: Uint8Array): void {
    if (this.closed || this.target.destroyed) return
    this.total += bytes.length
    this.target.write(bytes)
  }

  writeAll(parts: ReadonlyArray<Uint8Array>): void {
    if (this.closed || this.target.destroyed || parts.length === 0) return
    this.target.cork?.()
    for (let i = 0; i < parts.length; i++) {
      this.total += parts[i].length
      this.target.write(parts[i])
    }
    this.target.uncork?.()
  }

  writeShared(shared: Chunk.Shared): void {
    this.write(shared.bytes)
  }

  buffered(): number {
    return this.target.writableLength
  }

  written(): number {
    return this.total
  }

  hasRoom(): boolean {
    return this.closed || this.buffered() < this.highWaterMark || this.target.writableNeedDrain === false
  }

  onRoom(f: () => void): void {
    if (this.hasRoom()) return f()
    this.rooms.add(f)
    if (!this.draining) {
      this.draining = true
      this.drainSource().once("drain", () => {
        this.draining = false
        this.rooms.run()
      })
    }
  }

  /** What emits `drain` for the bytes this writer queues. */
  protected drainSource(): Writable {
    return this.target
  }

  onClose(f: () => void): void {
    if (this.over) f()
    else this.closes.add(f)
  }

  end(): void {
    if (this.closed) return
    this.closed = true
    this.rooms.run()
    this.target.end()
  }

  destroy(): void {
    const wasClosed = this.closed
    this.closed = true
    this.target.destroy()
    if (!wasClosed) this.rooms.run()
  }

  isClosed(): boolean {
    return this.closed
  }
}

/** What the chunked writer needs of an HTTP/1.1 `ServerResponse`. */
export interface Http1Response extends Writable {
  readonly chunkedEncoding?: boolean | undefined
  readonly socket?: Writable | null | undefined
  readonly headersSent?: boolean | undefined
  flushHeaders?(): void
}

/**
 * A writer for a chunked HTTP/1.1 response whose head has gone out: bytes go straight to the socket as chunks.
 * `ServerResponse.write` costs, for every client and every event, a chunk header string, four writes into the
 * socket's buffer, a cork with a scheduled uncork and a vectored write; a chunk that every client shares is one
 * plain write. The response then holds nothing of its own (its `writableLength` is all the socket's), so bytes
 * written to the socket land after everything it wrote, and its `end` (the last chunk) after them.
 */
export class Http1Writer extends StreamWriter {
  constructor(
    private readonly response: Http1Response,
    private readonly socket: Writable,
    highWaterMark?: number,
    /** The head is written (`writeHead`) but not sent: the first write sends it, through the response. */
    private headPending = false
  ) {
    super(response, highWaterMark)
    socket.on("error", noop)
  }

  /**
   * A chunked writer for `response` if it can have one: chunked, head written, nothing of its own queued.
   * Otherwise a writer through the response itself (HTTP/1.0, or a response that frames otherwise).
   *
   * With `headPending` (the head is written but not flushed), the first write goes through the response, which
   * sends the head and that chunk in one write to the socket rather than two; later writes go straight to it.
   */
  static of(response: Http1Response, highWaterMark?: number, headPending = false): StreamWriter {
    const socket = response.socket
    return response.chunkedEncoding === true && response.headersSent === true && socket !== null &&
        socket !== undefined && response.writableLength === socket.writableLength
      ? new Http1Writer(response, socket, highWaterMark, headPending)
      : new StreamWriter(response, highWaterMark)
  }

  /** Sends the head, if it is still pending, before bytes go straight to the socket. */
  private sendHead(): void {
    if (!this.headPending) return
    this.headPending = false
    this.response.flushHeaders?.()
  }

  override write(bytes: Uint8Array): void {
    if (this.closed || this.socket.destroyed || bytes.length === 0) return
    if (this.headPending) {
      // The response frames the chunk, and queues it after the head on the socket (corked until the next tick).
      this.headPending = false
      const before = this.socket.writableLength
      this.response.write(bytes)
      this.total += this.socket.writableLength - before
      return
    }
    const framed = Chunk.chunk(bytes)
    this.total += framed.length
    this.socket.write(framed)
  }

  override writeAll(parts: ReadonlyArray<Uint8Array>): void {
    if (this.closed || this.socket.destroyed) return
    const size = Chunk.totalLength(parts)
    if (size === 0) return
    this.sendHead()
    // One chunk whose data are the shared buffers as they are: nothing is copied for this client.
    const header = Chunk.chunkHeader(size)
    this.total += header.length + size + 2
    this.socket.cork?.()
    this.socket.write(header)
    for (let i = 0; i < parts.length; i++) if (parts[i].length > 0) this.socket.write(parts[i])
    this.socket.write(Chunk.crlf)
    this.socket.uncork?.()
  }

  override writeShared(shared: Chunk.Shared): void {
    if (this.closed || this.socket.destroyed || shared.bytes.length === 0) return
    this.sendHead()
    const framed = shared.chunk
    this.total += framed.length
    this.socket.write(framed)
  }

  override buffered(): number {
    return this.socket.writableLength
  }

  override hasRoom(): boolean {
    return this.closed || this.socket.writableLength < this.highWaterMark || this.socket.writableNeedDrain === false
  }

  protected override drainSource(): Writable {
    return this.socket
  }

  override destroy(): void {
    // The socket, not only the response: ending a response would keep the unsent bytes (and the socket).
    this.socket.destroy()
    super.destroy()
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
