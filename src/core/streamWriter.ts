/**
 * Writers over Node-style writables, with no dependency (they need only the shape of `Writable`): a socket under
 * an HTTP/1.1 response, and any writable that frames its own bytes (an HTTP/2 stream, an HTTP/1.0 response).
 *
 * Part of the Effect-free core, shared by every binding; not a public API.
 */
import * as Chunk from "./chunk.js"
import { Callbacks, defaultHighWaterMark, type Writer } from "./writer.js"

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
  /** The response this writer was made with (the base class's writable, known here to be an HTTP/1.1 response). */
  declare protected readonly target: Http1Response

  constructor(
    response: Http1Response,
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
    this.target.flushHeaders?.()
  }

  override write(bytes: Uint8Array): void {
    if (this.closed || this.socket.destroyed || bytes.length === 0) return
    if (this.headPending) {
      // The response frames the chunk, and queues it after the head on the socket (corked until the next tick).
      this.headPending = false
      const before = this.socket.writableLength
      this.target.write(bytes)
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
