/**
 * A hub's fan-out, with no dependency: the engine that hands every published batch to every subscriber, the
 * subscribers with their state, and the slow-client policies as strategy objects.
 *
 * The engine is fed batches in the backend's order by one caller at a time (a binding's dispatcher). A
 * subscriber is registered first, holding live events while what comes before them is written (a greeting,
 * the `lost` event, the replayed history), then goes live: live events that the replay already covered are
 * skipped, so the hand-over has no gap and no duplicate whatever the timing.
 *
 * Part of the Effect-free core, shared by every binding; not a public API.
 */
import * as Chunk from "./chunk.js"
import type { Published } from "./history.js"
import { matches } from "./history.js"
import type { Writer } from "./writer.js"

// -----------------------------------------------------------------------------
// outlets: where a subscriber's events go
// -----------------------------------------------------------------------------

/** The wire bytes of a batch, joined on demand and shared by every subscriber that takes the whole batch. */
export class Batch<E> {
  private shared: Chunk.Shared | undefined = undefined
  constructor(readonly entries: ReadonlyArray<Published<E>>, private readonly encode: (event: E) => Uint8Array) {}
  get bytes(): Chunk.Shared {
    if (this.shared === undefined) {
      const parts: Array<Uint8Array> = []
      for (let i = 0; i < this.entries.length; i++) parts.push(this.encode(this.entries[i].event))
      this.shared = new Chunk.Shared(Chunk.concat(parts))
    }
    return this.shared
  }
  /** The bytes of each event, as the history shares them: a replay is written without copying. */
  parts(): Array<Uint8Array> {
    const parts: Array<Uint8Array> = []
    for (let i = 0; i < this.entries.length; i++) parts.push(this.encode(this.entries[i].event))
    return parts
  }
}

/** Where a subscriber's events go: a served client's writer, or a stream's queue. */
export interface Outlet<E> {
  /** Events handed over that the client has not taken yet. */
  waiting(): number
  /** Whether more can be handed over now without queueing past the outlet's bound. */
  hasRoom(): boolean
  /** Calls `f` once, when there is room again or the outlet is closed. */
  onRoom(f: () => void): void
  /**
   * Hands events over; returns how many of the events waiting in the outlet it discarded to take them (an outlet
   * that bounds its own buffer, dropping its oldest), else 0.
   */
  offer(batch: Batch<E>): number
  /** Whether the outlet is closed (the client gone): nothing is handed over any more. */
  isClosed(): boolean
  /** Whether bytes are left waiting in a socket, after a delivery: a burst should let I/O run. */
  backlog(): boolean
  /** The hub shut down: end once what was handed over is delivered. */
  end(): void
  /** The subscriber is dropped by the slow-client policy. */
  drop(): void
}

/**
 * A served client's outlet: events are written to its writer, the batch's bytes shared with every client. It
 * counts the events written but not yet taken by the connection: each write is recorded with the running byte
 * and event totals at its end, and a write counts as taken once all its bytes are.
 */
export class WriterOutlet<E> implements Outlet<E> {
  private writes: Array<number> = []
  private head = 0
  private eventsWritten = 0
  private eventsTaken = 0

  constructor(readonly writer: Writer) {}

  waiting(): number {
    const buffered = this.writer.buffered()
    if (buffered === 0) {
      // Everything was taken: the common case for a client that keeps up.
      this.eventsTaken = this.eventsWritten
      this.writes.length = 0
      this.head = 0
      return 0
    }
    const taken = this.writer.written() - buffered
    const writes = this.writes
    while (this.head < writes.length && writes[this.head] <= taken) {
      this.eventsTaken = writes[this.head + 1]
      this.head += 2
    }
    if (this.head > 64 && this.head * 2 > writes.length) {
      writes.splice(0, this.head)
      this.head = 0
    }
    return this.eventsWritten - this.eventsTaken
  }

  hasRoom(): boolean {
    return this.writer.hasRoom()
  }

  onRoom(f: () => void): void {
    this.writer.onRoom(f)
  }

  offer(batch: Batch<E>): number {
    this.writer.writeShared(batch.bytes)
    this.record(batch.entries.length)
    return 0
  }

  /** Writes a replay from the history's own buffers, one chunk, nothing copied. */
  replay(batch: Batch<E>): void {
    this.writer.writeAll(batch.parts())
    this.record(batch.entries.length)
  }

  private record(events: number): void {
    this.eventsWritten += events
    this.writes.push(this.writer.written(), this.eventsWritten)
  }

  isClosed(): boolean {
    return this.writer.isClosed()
  }

  backlog(): boolean {
    return this.writer.buffered() > 0
  }

  end(): void {
    this.writer.end()
  }

  drop(): void {
    this.writer.destroy()
  }
}

// -----------------------------------------------------------------------------
// slow-client policies
// -----------------------------------------------------------------------------

/**
 * What happens to a subscriber with `bufferSize` events waiting. `offer` hands live events to a subscriber and
 * returns how many it had to discard, or -1 when the subscriber must go; `hold` does the same for events
 * arriving while it is not live yet.
 */
export interface SlowClientPolicy<E> {
  readonly name: "disconnect" | "drop-oldest"
  offer(subscriber: Subscriber<E>, batch: Batch<E>): number
  hold(subscriber: Subscriber<E>, entries: ReadonlyArray<Published<E>>): number
}

/** Drop a subscriber that still has `bufferSize` events waiting when more arrive; it reconnects and resumes. */
export class Disconnect<E> implements SlowClientPolicy<E> {
  readonly name = "disconnect" as const
  constructor(readonly bufferSize: number) {}
  offer(subscriber: Subscriber<E>, batch: Batch<E>): number {
    if (subscriber.outlet.waiting() >= this.bufferSize) return -1
    return subscriber.engine.handOver(subscriber, batch)
  }
  hold(subscriber: Subscriber<E>, entries: ReadonlyArray<Published<E>>): number {
    if (subscriber.held.length >= this.bufferSize) return -1
    for (let i = 0; i < entries.length; i++) subscriber.held.push(entries[i])
    return 0
  }
}

/**
 * Keep a subscriber, discarding its oldest events: while its outlet has no room, the newest `bufferSize` events
 * wait and go out together when it has room again. An outlet that bounds its own buffer (a stream's queue of
 * `bufferSize` events) always has room, and discards its own oldest events.
 */
export class DropOldest<E> implements SlowClientPolicy<E> {
  readonly name = "drop-oldest" as const
  constructor(readonly bufferSize: number) {}
  offer(subscriber: Subscriber<E>, batch: Batch<E>): number {
    if (!subscriber.waitingForRoom && subscriber.outlet.hasRoom()) return subscriber.engine.handOver(subscriber, batch)
    if (!subscriber.waitingForRoom) {
      subscriber.waitingForRoom = true
      subscriber.outlet.onRoom(() => this.flush(subscriber))
    }
    return this.hold(subscriber, batch.entries)
  }
  hold(subscriber: Subscriber<E>, entries: ReadonlyArray<Published<E>>): number {
    const held = subscriber.held
    for (let i = 0; i < entries.length; i++) held.push(entries[i])
    const excess = held.length - this.bufferSize
    if (excess <= 0) return 0
    held.splice(0, excess)
    return excess
  }
  private flush(subscriber: Subscriber<E>): void {
    subscriber.waitingForRoom = false
    const entries = subscriber.held
    subscriber.held = []
    if (entries.length === 0 || subscriber.outlet.isClosed()) return
    const engine = subscriber.engine
    engine.settle(subscriber, engine.handOver(subscriber, new Batch(entries, engine.encode)))
  }
}

// -----------------------------------------------------------------------------
// subscribers and the engine
// -----------------------------------------------------------------------------

/** What the engine reports, for a binding's metrics. */
export interface Metrics {
  delivered(events: number): void
  droppedClients(clients: number): void
  droppedEvents(events: number): void
  clients(count: number): void
}

/** Which events a subscriber takes beyond its topics; `undefined` for all. */
export type Accepts<E> = ((entry: Published<E>) => boolean) | undefined

/** One subscriber: its outlet, its topics, the state the hub attached to it, and where it is in its life. */
export class Subscriber<E, S = unknown> {
  /** Not live yet: live events wait in `held` until `goLive`. */
  pending = true
  /** Events waiting: while pending, or, under drop-oldest, for room. */
  held: Array<Published<E>> = []
  waitingForRoom = false
  /** Once live, events up to the last one the subscriber already has are skipped (see `goLive`). */
  private skip: ((entry: Published<E>) => boolean) | undefined = undefined
  registered = false

  constructor(
    readonly engine: Engine<E>,
    readonly outlet: Outlet<E>,
    readonly topics: ReadonlySet<string> | undefined,
    readonly state: S,
    readonly accepts: Accepts<E> = undefined
  ) {}

  /** Whether this subscriber takes `entry` at all. */
  takes(entry: Published<E>): boolean {
    return matches(this.topics, entry.topics) && (this.accepts === undefined || this.accepts(entry))
  }

  /**
   * Goes live once the prelude is written. `after` tells the events that come after the last one the prelude
   * covered (or after the moment the subscriber joined): held events before it are skipped, and so are live
   * ones until the first that is after it. Returns what `settle` takes.
   */
  goLive(after: ((entry: Published<E>) => boolean) | undefined): number {
    this.pending = false
    const held = this.held
    this.held = []
    const fresh = after === undefined ? held : held.filter(after)
    if (fresh.length === 0) {
      this.skip = after
      return 0
    }
    return this.engine.policy.offer(this, new Batch(fresh, this.engine.encode))
  }

  /** Hands a batch to the subscriber; returns what `settle` takes. */
  offer(batch: Batch<E>): number {
    if (this.pending) return this.engine.policy.hold(this, batch.entries)
    if (this.skip === undefined) return this.engine.policy.offer(this, batch)
    const fresh = batch.entries.filter(this.skip)
    if (fresh.length === 0) return 0
    this.skip = undefined
    return this.engine.policy.offer(
      this,
      fresh.length === batch.entries.length ? batch : new Batch(fresh, this.engine.encode)
    )
  }
}

/** The engine: the subscribers of one hub on this process, and the fan-out of every batch to them. */
export class Engine<E> {
  readonly subscribers = new Set<Subscriber<E, unknown>>()
  /** Set by `end`: nobody registers any more. */
  closed = false
  /** Events handed to outlets during a delivery, reported once per delivery (a metric update costs). */
  private handed = 0
  private delivering = false

  constructor(
    readonly encode: (event: E) => Uint8Array,
    readonly metrics: Metrics,
    readonly policy: SlowClientPolicy<E>
  ) {}

  /**
   * Hands a batch to a subscriber's outlet, counting it as delivered; returns how many waiting events the outlet
   * discarded to take it (those are no longer counted as delivered).
   */
  handOver(subscriber: Subscriber<E, unknown>, batch: Batch<E>): number {
    const discarded = subscriber.outlet.offer(batch)
    const delivered = batch.entries.length - discarded
    if (this.delivering) this.handed += delivered
    else if (delivered !== 0) this.metrics.delivered(delivered)
    return discarded
  }

  get size(): number {
    return this.subscribers.size
  }

  /** Registers a subscriber; false once the engine is closed. */
  register(subscriber: Subscriber<E, unknown>): boolean {
    if (this.closed) return false
    this.subscribers.add(subscriber)
    subscriber.registered = true
    this.metrics.clients(this.subscribers.size)
    return true
  }

  unregister(subscriber: Subscriber<E, unknown>): void {
    if (!subscriber.registered) return
    subscriber.registered = false
    this.subscribers.delete(subscriber)
    this.metrics.clients(this.subscribers.size)
  }

  /** What an offer's result means for the subscriber: -1 drops it, a positive count is events it discarded. */
  settle(subscriber: Subscriber<E, unknown>, result: number): void {
    if (result < 0) {
      this.unregister(subscriber)
      this.metrics.droppedClients(1)
      subscriber.outlet.drop()
    } else if (result > 0) {
      this.metrics.droppedEvents(result)
    }
  }

  /**
   * Hands a batch to every subscriber that takes any of it. Returns whether a served client was left with bytes
   * its socket has not taken yet.
   */
  deliver(entries: ReadonlyArray<Published<E>>): boolean {
    const batch = new Batch(entries, this.encode)
    let backlog = false
    this.delivering = true
    this.handed = 0
    for (const subscriber of this.subscribers) {
      let mine = batch
      let all = true
      for (let i = 0; i < entries.length; i++) {
        if (!subscriber.takes(entries[i])) {
          all = false
          break
        }
      }
      if (!all) {
        const some = entries.filter((entry) => subscriber.takes(entry))
        if (some.length === 0) continue
        mine = new Batch(some, this.encode)
      }
      const result = subscriber.offer(mine)
      this.settle(subscriber, result)
      if (!backlog && result >= 0 && subscriber.outlet.backlog()) backlog = true
    }
    this.delivering = false
    if (this.handed > 0) this.metrics.delivered(this.handed)
    return backlog
  }

  /** Ends every subscriber once what it was handed is delivered; nobody registers any more. */
  end(): void {
    this.closed = true
    for (const subscriber of this.subscribers) {
      subscriber.registered = false
      subscriber.outlet.end()
    }
    this.subscribers.clear()
    this.metrics.clients(0)
  }
}
