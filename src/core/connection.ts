/**
 * Open event streams and the two rules every one of them keeps, with no dependency: a `: keep-alive` comment
 * when a stream has been quiet for its interval, and a client whose connection has taken nothing of what waits
 * for it within the write timeout is dropped, whether or not anything new is being written.
 *
 * Both rules are checked by one periodic `tick` over a set of connections (a binding runs it on its clock), so
 * that nothing is added to the write path: a tick sees activity as a change in the writer's byte counts.
 *
 * Part of the Effect-free core, shared by every binding; not a public API.
 */
import * as Fields from "./fields.js"
import type { Writer } from "./writer.js"

/** How often a set of connections is checked, in milliseconds. */
export const tickMillis = 1000

/** One open stream as the keep-alive and stall rules see it. */
export class Connection {
  private seenWritten = 0
  private lastActivity: number
  private seenTaken = 0
  private lastProgress: number
  /** Set once the connection was dropped for not taking its bytes within the write timeout. */
  stalled = false

  constructor(
    readonly writer: Writer,
    /** Milliseconds of quiet before a keep-alive comment; `undefined` for none. */
    readonly keepAlive: number | undefined,
    /** Milliseconds a client may leave bytes waiting without taking any before it is dropped. */
    readonly writeTimeout: number,
    now: number
  ) {
    this.lastActivity = now
    this.lastProgress = now
    this.seenWritten = writer.written()
  }

  /** Applies both rules at `now`; true when the connection was dropped. */
  tick(now: number): boolean {
    const writer = this.writer
    const written = writer.written()
    const buffered = writer.buffered()
    if (written !== this.seenWritten) {
      this.seenWritten = written
      this.lastActivity = now
    }
    // Progress is more bytes taken. A runtime that counts framing of its own in what waits (Bun's `node:http`
    // counts each chunk's header) makes `taken` shrink as bytes are written: that is no progress.
    const taken = written - buffered
    const progressed = buffered === 0 || taken > this.seenTaken
    this.seenTaken = taken
    if (progressed) {
      this.lastProgress = now
    } else if (now - this.lastProgress >= this.writeTimeout) {
      this.stalled = true
      writer.destroy()
      return true
    }
    // An ending stream (its bytes still flushing) is still dropped if it stalls, but hears no keep-alive.
    if (this.keepAlive !== undefined && now - this.lastActivity >= this.keepAlive && !writer.isClosed()) {
      // A client with bytes still waiting has traffic anyway; either way the quiet period restarts now.
      if (buffered === 0) {
        writer.write(Fields.keepAliveBytes)
        this.seenWritten = writer.written()
      }
      this.lastActivity = now
    }
    return false
  }
}

/** The open streams of one server, or of one hub, or a single stream: ticked together, ended together. */
export class ConnectionSet {
  private readonly connections = new Set<Connection>()
  private empty: Array<() => void> = []
  private nonEmpty: (() => void) | undefined = undefined
  /** Set by `endAll`: a connection added later is ended at once. */
  closed = false

  get size(): number {
    return this.connections.size
  }

  /** Adds a connection; it leaves the set by itself when its stream is over. */
  add(connection: Connection): void {
    if (this.closed) {
      connection.writer.end()
      return
    }
    this.connections.add(connection)
    connection.writer.onClose(() => this.delete(connection))
    const nonEmpty = this.nonEmpty
    if (nonEmpty !== undefined) {
      this.nonEmpty = undefined
      nonEmpty()
    }
  }

  /** Calls `f` once, when a connection is open (at once if one is): an idle set needs no ticking. */
  onNonEmpty(f: () => void): void {
    if (this.connections.size > 0) f()
    else this.nonEmpty = f
  }

  delete(connection: Connection): void {
    if (this.connections.delete(connection) && this.connections.size === 0) this.emptied()
  }

  /** Calls `f` once, when no connection is open (at once if none is). */
  onEmpty(f: () => void): void {
    if (this.connections.size === 0) f()
    else this.empty.push(f)
  }

  private emptied(): void {
    const empty = this.empty
    this.empty = []
    for (let i = 0; i < empty.length; i++) empty[i]()
  }

  /** Applies the keep-alive and stall rules to every connection; returns how many were dropped. */
  tick(now: number): number {
    let dropped = 0
    for (const connection of this.connections) {
      if (connection.tick(now)) {
        this.delete(connection)
        dropped++
      }
    }
    return dropped
  }

  /** Ends every stream once what was written to it is sent, and every later one at once. */
  endAll(): void {
    this.closed = true
    for (const connection of this.connections) connection.writer.end()
  }

  /** Drops every stream that is still open (after a grace period, say). */
  destroyAll(): void {
    for (const connection of this.connections) connection.writer.destroy()
    this.connections.clear()
    this.emptied()
  }
}
