import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Mailbox from "effect/Mailbox"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { IncomingMessage, ServerResponse } from "node:http"
import type * as SseEvent from "../SseEvent.js"
import type * as SseHub from "../SseHub.js"
import * as event from "./event.js"
import * as server from "./server.js"
import * as sink from "./sink.js"

/** @internal */
export const TypeId: SseHub.TypeId = Symbol.for("effect-sse/SseHub") as SseHub.TypeId

/** @internal */
export class HubClosed extends Data.TaggedError("HubClosed")<{
  readonly hub: string
}> {
  override get message(): string {
    return `The SSE hub "${this.hub}" is shut down`
  }
}

/** @internal */
export class SubscriberDropped extends Data.TaggedError("SubscriberDropped")<{
  readonly hub: string
  readonly bufferSize: number
}> {
  override get message(): string {
    return `The subscriber fell more than ${this.bufferSize} events behind the SSE hub "${this.hub}" and was dropped`
  }
}

/** @internal */
export const defaults = {
  historySize: 1000,
  bufferSize: 1024,
  slowClient: "disconnect" as const,
  name: "default"
}

// -----------------------------------------------------------------------------
// metrics
// -----------------------------------------------------------------------------

/** @internal */
export const metrics = {
  clients: Metric.gauge("sse_hub_clients", { description: "Subscribers currently connected to the hub" }),
  published: Metric.counter("sse_hub_events_published", {
    description: "Events published to the hub",
    incremental: true
  }),
  delivered: Metric.counter("sse_hub_events_delivered", {
    description: "Events handed to subscribers (to the socket, for served connections)",
    incremental: true
  }),
  droppedClients: Metric.counter("sse_hub_clients_dropped", {
    description: "Subscribers disconnected for falling behind",
    incremental: true
  }),
  droppedEvents: Metric.counter("sse_hub_events_dropped", {
    description: "Events dropped for slow subscribers under the drop-oldest policy",
    incremental: true
  })
}

// -----------------------------------------------------------------------------
// model
// -----------------------------------------------------------------------------

/**
 * A published event as the hub keeps it: encoded once, shared by every subscriber and by the history.
 *
 * @internal
 */
export interface Entry {
  readonly seq: number
  readonly id: string
  readonly event: SseEvent.SseEvent
  readonly bytes: Uint8Array
  readonly topics: ReadonlyArray<string> | undefined
  readonly at: number
}

interface Subscriber {
  readonly topics: ReadonlySet<string> | undefined
  /**
   * Offers entries, with their wire bytes joined (computed on demand, and shared by every subscriber that
   * takes the whole batch); returns how many the subscriber had to drop (drop-oldest) or -1 if it must go.
   */
  offer(entries: Chunk.Chunk<Entry>, bytes: () => sink.Shared): number
  /** Writes a keep-alive comment if it heard nothing for the interval (served clients). */
  keepAlive(now: number): void
  end(): void
  drop(): void
}

/** @internal */
export const matches = (topics: ReadonlySet<string> | undefined, entry: Entry): boolean => {
  if (topics === undefined || entry.topics === undefined) return true
  for (let i = 0; i < entry.topics.length; i++) {
    if (topics.has(entry.topics[i])) return true
  }
  return false
}

/**
 * The bounded, ordered record of published entries, indexed by id, that resumption reads.
 *
 * @internal
 */
export class History {
  private entries: Array<Entry> = []
  private start = 0
  private readonly byId = new Map<string, Entry>()
  lastId: string | undefined = undefined

  constructor(readonly size: number, readonly maxAge: number | undefined) {}

  get length(): number {
    return this.entries.length - this.start
  }

  append(entry: Entry): void {
    this.lastId = entry.id
    if (this.size <= 0) return
    this.entries.push(entry)
    this.byId.set(entry.id, entry)
    while (this.length > this.size) this.evictOne()
  }

  evictOlderThan(now: number): void {
    if (this.maxAge === undefined) return
    const limit = now - this.maxAge
    while (this.length > 0 && this.entries[this.start].at < limit) this.evictOne()
  }

  private evictOne(): void {
    const entry = this.entries[this.start]
    if (this.byId.get(entry.id) === entry) this.byId.delete(entry.id)
    this.start++
    if (this.start >= 1024 && this.start * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.start)
      this.start = 0
    }
  }

  seqOf(id: string): number | undefined {
    return this.byId.get(id)?.seq
  }

  /**
   * What a subscriber that last saw `lastEventId` must be sent before live events: the entries after it,
   * or, when the id is not retained, every retained entry and `lost: true`.
   */
  resume(lastEventId: string, topics: ReadonlySet<string> | undefined): Resume {
    if (lastEventId === this.lastId) return { lost: false, entries: [] }
    const found = this.byId.get(lastEventId)
    const from = found === undefined ? this.start : this.start + (found.seq - this.entries[this.start].seq) + 1
    const entries: Array<Entry> = []
    for (let i = from; i < this.entries.length; i++) {
      if (matches(topics, this.entries[i])) entries.push(this.entries[i])
    }
    return { lost: found === undefined, entries }
  }
}

/** Resumes after pending I/O has run: the next turn of the event loop. */
const ioTurn: Effect.Effect<void> = Effect.async<void>((resume) => {
  if (typeof setImmediate === "function") {
    const handle = setImmediate(() => resume(Effect.void))
    return Effect.sync(() => clearImmediate(handle))
  }
  const handle = setTimeout(() => resume(Effect.void), 0)
  return Effect.sync(() => clearTimeout(handle))
})

const joinBytes = (entries: Iterable<Entry>): sink.Shared => {
  const parts: Array<Uint8Array> = []
  for (const entry of entries) parts.push(entry.bytes)
  return new sink.Shared(sink.concat(parts))
}

/** @internal */
export const lostEvent = (lastEventId: string): SseEvent.SseEvent =>
  event.withType(event.make(JSON.stringify({ lastEventId })), "lost")

// -----------------------------------------------------------------------------
// backends
// -----------------------------------------------------------------------------

/** What a resuming subscriber must get before live events. @internal */
export interface Resume {
  readonly lost: boolean
  readonly entries: ReadonlyArray<Entry>
}

/**
 * Where a hub's events come from and where its history lives. The engine does the local fan-out; a backend
 * accepts publishes, feeds entries to the engine in one global order, and answers resumption.
 *
 * @internal
 */
export interface Backend {
  /** Accepts events for publication; returns their ids. */
  readonly publish: (
    events: ReadonlyArray<SseEvent.SseEvent>,
    topics: ReadonlyArray<string> | undefined
  ) => Effect.Effect<ReadonlyArray<string>, HubUnavailable | event.SseEventError>
  /** The retained entries after `lastEventId`, or all of them with `lost` when it is not retained. */
  readonly resume: (
    lastEventId: string,
    topics: ReadonlySet<string> | undefined
  ) => Effect.Effect<Resume, HubUnavailable>
  /**
   * A test for "comes after the event with id `id`", for an id the backend has just resolved (the last
   * resumed event, or the client's last event id). Built once, when the subscriber goes live.
   */
  readonly after: (id: string) => (entry: Entry) => boolean
  /**
   * Starts feeding entries, in order, to `deliver`, in the hub's scope. `deliver` returns true when a served
   * client was left with bytes its socket has not taken yet.
   */
  readonly start: (
    deliver: (batch: ReadonlyArray<Entry>, now: number) => boolean
  ) => Effect.Effect<void, never, Scope.Scope>
  /** Delivers what was accepted, then stops feeding. */
  readonly stop: Effect.Effect<void>
}

/** @internal */
export class HubUnavailable extends Data.TaggedError("HubUnavailable")<{
  readonly hub: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `The SSE hub "${this.hub}" cannot reach its backend: ${String(this.cause)}`
  }
}

const End = Symbol.for("effect-sse/SseHub/End")

/**
 * The in-process backend: publishes go through a `PubSub` to one dispatcher fiber, which appends them to a
 * bounded `History` and hands them to the engine.
 *
 * @internal
 */
export const memoryBackend = (options: {
  readonly historySize: number
  readonly maxAge: number | undefined
}): Effect.Effect<Backend, never, Scope.Scope> =>
  Effect.gen(function*() {
    const history = new History(options.historySize, options.maxAge)
    const pubsub = yield* PubSub.unbounded<Entry | typeof End>()
    const dequeue = yield* PubSub.subscribe(pubsub)
    const stopped = yield* Deferred.make<void>()
    // Ids continue from the clock, so that ids of an earlier run of the process are never reused: an old id
    // is then reported as lost instead of silently matching a different event.
    let seq = (yield* Clock.currentTimeMillis) * 1000
    let ended = false

    // Assigning sequence numbers and offering happen in one synchronous step, so the order of ids is the
    // order of delivery even with concurrent publishers.
    const publish: Backend["publish"] = (events, topics) =>
      Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<ReadonlyArray<string>, event.SseEventError> => {
        const prepared: Array<Entry> = []
        for (const e of events) {
          const next = seq + prepared.length + 1
          const id = e.id === undefined || e.id === "" ? String(next) : e.id
          const withId = e.id === id ? e : event.withId(e, id)
          const bytes = event.encode(withId)
          if (bytes._tag === "Left") return Effect.fail(bytes.left)
          prepared.push({ seq: next, id, event: withId, bytes: sink.toBuffer(bytes.right), topics, at: now })
        }
        seq += prepared.length
        // In the history at once, so that an id publish returned can be resumed from before it is dispatched.
        for (const entry of prepared) history.append(entry)
        history.evictOlderThan(now)
        for (const entry of prepared) pubsub.unsafeOffer(entry)
        return Effect.succeed(prepared.map((entry) => entry.id))
      })

    const start: Backend["start"] = (deliver) => {
      // Waits for at least one envelope, then takes everything available: one delivery per batch. (Not
      // `takeBetween(1, …)`: woken by the first envelope of a `publishAll`, that returns it alone, and the rest
      // of the batch would go out as a second write to every client.)
      const batch = Effect.flatMap(
        Queue.takeAll(dequeue),
        (all) =>
          Chunk.isEmpty(all)
            ? Effect.zipWith(Queue.take(dequeue), Queue.takeAll(dequeue), (first, rest) => Chunk.prepend(rest, first))
            : Effect.succeed(all)
      )
      const loop: Effect.Effect<void> = Effect.flatMap(
        batch,
        (envelopes) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => {
            let done = false
            const entries: Array<Entry> = []
            for (const envelope of envelopes) {
              if (envelope === End) {
                done = true
              } else entries.push(envelope)
            }
            // Sockets left with unsent bytes get a turn of the event loop before the next batch: a publisher that
            // never yields to I/O (a burst in a tight loop) would otherwise leave every client's bytes queued in
            // Node, and the slow-client rule would count them against clients that are reading.
            const backlog = entries.length > 0 && deliver(entries, now)
            return done ? Effect.void : backlog ? Effect.zipRight(ioTurn, loop) : loop
          })
      )
      return Effect.asVoid(Effect.forkScoped(Effect.ensuring(loop, Deferred.succeed(stopped, undefined))))
    }

    const stop = Effect.suspend(() => {
      if (!ended) {
        ended = true
        pubsub.unsafeOffer(End)
      }
      return Effect.zipRight(Deferred.await(stopped), PubSub.shutdown(pubsub))
    })

    return {
      publish,
      resume: (lastEventId, topics) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          history.evictOlderThan(now)
          return history.resume(lastEventId, topics)
        }),
      after: (id) => {
        const seen = history.seqOf(id)
        return seen === undefined ? () => true : (entry) => entry.seq > seen
      },
      start,
      stop
    }
  })

// -----------------------------------------------------------------------------
// the engine: local fan-out
// -----------------------------------------------------------------------------

/** @internal */
export const make = <A, R = never>(
  options: SseHub.Options<A, R>
): Effect.Effect<SseHub.SseHub<A>, never, Scope.Scope | R> =>
  Effect.flatMap(
    memoryBackend({
      historySize: options.history?.size ?? defaults.historySize,
      maxAge: options.history?.maxAge === undefined ? undefined : Duration.toMillis(options.history.maxAge)
    }),
    (backend) => makeWith(options, backend)
  )

/** @internal */
export const makeWith = <A, R = never>(
  options: SseHub.Options<A, R>,
  backend: Backend
): Effect.Effect<SseHub.SseHub<A>, never, Scope.Scope | R> =>
  Effect.gen(function*() {
    const name = options.name ?? defaults.name
    const bufferSize = Math.max(1, options.bufferSize ?? defaults.bufferSize)
    const dropOldest = options.slowClient === "drop-oldest"
    const keepAlive = server.keepAliveMillis(options)
    // The hub's metrics, tagged with its name through one array of tags kept for good: `Metric.tagged` would
    // build and look up the tagged key again on every update (a new array of tags each time, and the cache of
    // tagged keys is by array), several microseconds per dispatched batch.
    const hubTags = [MetricLabel.make("hub", name)]
    const tagged = (metric: Metric.Metric.Counter<number> | Metric.Metric.Gauge<number>) => ({
      unsafeUpdate: (input: number) => metric.unsafeUpdate(input, hubTags)
    })
    const published = tagged(metrics.published)
    const delivered = tagged(metrics.delivered)
    const droppedClients = tagged(metrics.droppedClients)
    const droppedEvents = tagged(metrics.droppedEvents)
    const clientsMetric = tagged(metrics.clients)

    const context = yield* Effect.context<R>()
    const toEvent = makeToEvent(options)
    const subscribers = new Set<Subscriber>()
    // The subscriber count, and its changes for `clientsChanges` (a plain count: registering must stay cheap).
    let clients = 0
    const clientChanges = yield* PubSub.unbounded<number>()
    const hubScope = yield* Effect.scope
    const closedError = new HubClosed({ hub: name })
    const ended = yield* Deferred.make<void>()
    let closed = false

    const accept = (
      events: ReadonlyArray<SseEvent.SseEvent>,
      topics: ReadonlyArray<string> | undefined
    ): Effect.Effect<ReadonlyArray<string>, HubClosed | HubUnavailable | event.SseEventError> =>
      closed
        ? Effect.fail(closedError)
        : Effect.tap(backend.publish(events, topics), (ids) => published.unsafeUpdate(ids.length))

    const spanOptions = { attributes: { hub: name }, captureStackTrace: false } as const
    const publishSpan = options.tracePublish === true
      ? Effect.withSpan("SseHub.publish", spanOptions)
      : <X, E, R>(self: Effect.Effect<X, E, R>) => self

    const publishAll = (
      messages: Iterable<A>,
      publishOptions?: SseHub.PublishOptions
    ): Effect.Effect<ReadonlyArray<string>, HubClosed | HubUnavailable | event.SseEventError> =>
      Effect.forEach(messages, toEvent).pipe(
        Effect.provide(context),
        Effect.flatMap((events) => accept(events, publishOptions?.topics)),
        publishSpan
      )

    // The common case, a message that encodes without an effect, takes no detour.
    const publish = (
      message: A,
      publishOptions?: SseHub.PublishOptions
    ): Effect.Effect<string, HubClosed | HubUnavailable | event.SseEventError> =>
      Effect.suspend(() => {
        const encoded = toEvent.prepare(message)
        const events = event.isSseEvent(encoded)
          ? Effect.succeed([encoded])
          : Effect.provide(Effect.map(encoded, (e) => [e]), context)
        return Effect.flatMap(events, (events) => accept(events, publishOptions?.topics))
      }).pipe(
        Effect.map((ids) => ids[0]),
        publishSpan
      )

    let lastDelivery = 0
    // Events written to served clients during a delivery, added to the metric once per delivery.
    let written = 0
    // Whether a served client was left with bytes its socket has not taken, during a delivery.
    let backlog = false
    // What an offer's result means for the subscriber: -1 drops it, a positive count is events it dropped.
    const settle = (subscriber: Subscriber, dropped: number) => {
      if (dropped < 0) {
        subscribers.delete(subscriber)
        droppedClients.unsafeUpdate(1)
        subscriber.drop()
      } else if (dropped > 0) {
        droppedEvents.unsafeUpdate(dropped)
      }
    }
    const deliver = (entries: ReadonlyArray<Entry>, now: number): boolean => {
      lastDelivery = now
      written = 0
      backlog = false
      const batch = Chunk.unsafeFromArray(entries)
      let joined: sink.Shared | undefined
      const shared = () => joined ??= joinBytes(batch)
      for (const subscriber of subscribers) {
        let dropped: number
        if (subscriber.topics === undefined) {
          dropped = subscriber.offer(batch, shared)
        } else {
          const mine = Chunk.filter(batch, (e) => matches(subscriber.topics, e))
          if (Chunk.isEmpty(mine)) continue
          dropped = subscriber.offer(mine, Chunk.size(mine) === Chunk.size(batch) ? shared : () => joinBytes(mine))
        }
        settle(subscriber, dropped)
      }
      if (written > 0) delivered.unsafeUpdate(written)
      return backlog
    }
    yield* backend.start(deliver)

    if (keepAlive !== undefined) {
      yield* Effect.sleep(keepAlive).pipe(
        Effect.zipRight(Clock.currentTimeMillis),
        Effect.map((now) => {
          for (const subscriber of subscribers) subscriber.keepAlive(now)
        }),
        Effect.forever,
        Effect.forkIn(hubScope)
      )
    }

    const shutdownHub = Effect.suspend(() => {
      closed = true
      // Everything accepted before the shutdown is delivered, then every subscriber ends.
      return Effect.zipRight(
        backend.stop,
        Effect.sync(() => {
          for (const subscriber of subscribers) subscriber.end()
          subscribers.clear()
        })
      ).pipe(Effect.zipRight(Deferred.succeed(ended, undefined)))
    })
    yield* Scope.addFinalizer(hubScope, shutdownHub)

    const changeClients = (delta: number) =>
      Effect.sync(() => {
        clients += delta
        clientsMetric.unsafeUpdate(clients)
        clientChanges.unsafeOffer(clients)
        return clients
      })

    /**
     * A subscriber, registered at once (so it misses nothing published from now on) but holding its live
     * events until `live` is called, once what comes before them is written: a greeting, the `lost` event,
     * the resumed history. Live events that the history already covered are skipped, so the hand-over has
     * no gap and no duplicate whatever the timing. One object per subscriber, its methods on the prototype:
     * a hub holds thousands of them.
     */
    abstract class Attached implements Subscriber {
      private pending: Array<Entry> | undefined = []
      // Once live, entries up to the last one the subscriber already has are skipped: with the in-memory
      // backend the history runs ahead of the dispatcher, so those can still arrive after the hand-over.
      private skip: ((entry: Entry) => boolean) | undefined = undefined
      constructor(readonly topics: ReadonlySet<string> | undefined) {}
      /** Takes live entries: what `offer` returns. */
      abstract take(entries: Chunk.Chunk<Entry>, bytes: () => sink.Shared): number
      abstract keepAlive(now: number): void
      abstract end(): void
      abstract drop(): void

      offer(entries: Chunk.Chunk<Entry>, bytes: () => sink.Shared): number {
        if (this.pending !== undefined) {
          if (this.pending.length >= bufferSize && !dropOldest) return -1
          for (const entry of entries) this.pending.push(entry)
          return 0
        }
        if (this.skip === undefined) return this.take(entries, bytes)
        const fresh = Chunk.filter(entries, this.skip)
        if (Chunk.isEmpty(fresh)) return 0
        this.skip = undefined
        return this.take(fresh, () => joinBytes(fresh))
      }

      live(resumed: Resume | undefined, lastEventId: Option.Option<string>): void {
        const held = this.pending ?? []
        this.pending = undefined
        const last = resumed !== undefined && resumed.entries.length > 0
          ? resumed.entries[resumed.entries.length - 1].id
          : resumed !== undefined && !resumed.lost && Option.isSome(lastEventId)
          ? lastEventId.value
          : undefined
        const isNew = last === undefined ? undefined : backend.after(last)
        const fresh = isNew === undefined ? held : held.filter(isNew)
        if (fresh.length === 0) {
          this.skip = isNew
          return
        }
        const entries = Chunk.unsafeFromArray(fresh)
        written = 0
        const dropped = this.take(entries, () => joinBytes(entries))
        if (written > 0) delivered.unsafeUpdate(written)
        settle(this, dropped)
      }
    }

    /** A `subscribe` stream's subscriber: events go to a mailbox the stream reads. */
    class Subscribed extends Attached {
      constructor(
        topics: ReadonlySet<string> | undefined,
        private readonly mailbox: Mailbox.Mailbox<SseEvent.SseEvent, SubscriberDropped>,
        private readonly dropError: SubscriberDropped
      ) {
        super(topics)
      }
      take(entries: Chunk.Chunk<Entry>): number {
        const waiting = Option.getOrElse(this.mailbox.unsafeSize(), () => 0)
        if (waiting >= bufferSize && !dropOldest) return -1
        // One by one: in effect 3.22.4, Mailbox.unsafeOfferAll after unsafeOffer repeats the earlier messages.
        for (const e of entries) this.mailbox.unsafeOffer(e.event)
        return dropOldest ? Math.max(0, waiting + Chunk.size(entries) - bufferSize) : 0
      }
      keepAlive(): void {}
      end(): void {
        this.mailbox.unsafeDone(Exit.void)
      }
      drop(): void {
        this.mailbox.unsafeDone(Exit.fail(this.dropError))
      }
    }

    /**
     * A served client: events are written to its response, the batch's bytes shared with every client. The
     * slow-client rule counts events written to the response but not yet taken by the socket: each write is
     * recorded with the running byte and event totals at its end, and a write counts as taken once all its
     * bytes are.
     */
    class Served extends Attached {
      private writes: Array<number> = []
      private head = 0
      private bytesWritten = 0
      private eventsWritten = 0
      private eventsTaken = 0
      // drop-oldest: while the client is over its high-water mark, events wait here, the newest `bufferSize`
      // of them, and go out in one write when it has room.
      private held: Array<Entry> | undefined = undefined
      constructor(topics: ReadonlySet<string> | undefined, private readonly outbox: server.Outbox) {
        super(topics)
      }

      private waiting(): number {
        const buffered = this.outbox.sink.buffered()
        if (buffered === 0) {
          // Everything was taken: the common case for a client that keeps up.
          this.eventsTaken = this.eventsWritten
          this.writes.length = 0
          this.head = 0
          return 0
        }
        const taken = this.bytesWritten - buffered
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

      writeEntries(bytes: sink.Shared, count: number): void {
        const target = this.outbox.sink
        this.bytesWritten += target.writeShared(bytes)
        this.eventsWritten += count
        this.writes.push(this.bytesWritten, this.eventsWritten)
        this.outbox.lastWrite = lastDelivery
        if (!backlog && target.buffered() > 0) backlog = true
      }

      private flush(): void {
        const entries = this.held
        this.held = undefined
        if (entries === undefined || entries.length === 0 || this.outbox.sink.isClosed()) return
        this.writeEntries(joinBytes(entries), entries.length)
        delivered.unsafeUpdate(entries.length)
      }

      take(entries: Chunk.Chunk<Entry>, bytes: () => sink.Shared): number {
        if (!dropOldest) {
          if (this.waiting() >= bufferSize) return -1
          this.writeEntries(bytes(), Chunk.size(entries))
          written += Chunk.size(entries)
          return 0
        }
        if (this.held === undefined && this.outbox.sink.buffered() < sink.defaultHighWaterMark) {
          this.writeEntries(bytes(), Chunk.size(entries))
          written += Chunk.size(entries)
          return 0
        }
        if (this.held === undefined) {
          this.held = []
          this.outbox.sink.onWritable(() => this.flush())
        }
        for (const entry of entries) this.held.push(entry)
        const excess = this.held.length - bufferSize
        if (excess <= 0) return 0
        this.held.splice(0, excess)
        return excess
      }

      keepAlive(now: number): void {
        if (keepAlive !== undefined && now - this.outbox.lastWrite >= keepAlive && this.outbox.sink.buffered() === 0) {
          this.outbox.sink.write(server.keepAliveBytes)
          this.outbox.lastWrite = now
        }
      }
      end(): void {
        this.outbox.sink.end()
      }
      drop(): void {
        this.outbox.sink.destroy()
      }
    }

    // A plain finalizer rather than `acquireRelease`, which would keep a snapshot of the fiber's refs (its
    // context, span and annotations) for as long as the client stays connected.
    const register = (subscriber: Subscriber, scope: Scope.Scope) =>
      Effect.suspend(() => {
        if (closed) return Effect.fail(closedError)
        subscribers.add(subscriber)
        return Effect.zipRight(
          Scope.addFinalizer(
            scope,
            Effect.suspend(() => {
              subscribers.delete(subscriber)
              return changeClients(-1)
            })
          ),
          changeClients(1)
        )
      }).pipe(Effect.uninterruptible)

    const resumeFrom = (lastEventId: Option.Option<string>, topics: ReadonlySet<string> | undefined) =>
      Option.isNone(lastEventId)
        ? Effect.succeed(undefined)
        : backend.resume(lastEventId.value, topics) as Effect.Effect<Resume | undefined, HubUnavailable>

    const topicsOf = (topics: ReadonlyArray<string> | undefined) => topics === undefined ? undefined : new Set(topics)

    const subscribe = (subscribeOptions?: SseHub.SubscribeOptions) =>
      Effect.gen(function*() {
        const mailbox = yield* Mailbox.make<SseEvent.SseEvent, SubscriberDropped>(
          dropOldest ? { capacity: bufferSize, strategy: "sliding" } : undefined
        )
        const topics = topicsOf(subscribeOptions?.topics)
        const subscriber = new Subscribed(topics, mailbox, new SubscriberDropped({ hub: name, bufferSize }))
        const lastEventId = normalizeId(subscribeOptions?.lastEventId)
        // Registered in a scope of its own, so that a failure to resume leaves no subscriber behind.
        const registration = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
        yield* register(subscriber, registration)
        const resumed = yield* resumeFrom(lastEventId, topics).pipe(
          Effect.onError(() => Scope.close(registration, Exit.void))
        )
        const prelude: Array<SseEvent.SseEvent> = resumed === undefined ? [] : resumed.entries.map((e) => e.event)
        if (resumed?.lost === true && Option.isSome(lastEventId)) prelude.unshift(lostEvent(lastEventId.value))
        subscriber.live(resumed, lastEventId)
        const replayed = resumed === undefined ? 0 : resumed.entries.length
        return Stream.concat(
          Stream.fromIterable(prelude).pipe(Stream.ensuring(Effect.sync(() => delivered.unsafeUpdate(replayed)))),
          Stream.mapChunks(Mailbox.toStream(mailbox), (chunk) => {
            delivered.unsafeUpdate(Chunk.size(chunk))
            return chunk
          })
        )
      }).pipe(Effect.withSpan("SseHub.subscribe", spanOptions))

    /**
     * Serves the hub into an opened response: registers the client, writes its greeting and what it resumes,
     * then hands it to the dispatcher. Returns once it is live; the outbox's scope ends the connection.
     */
    const serveInto = (
      outbox: server.Outbox,
      lastEventId: Option.Option<string>,
      serveOptions: SseHub.ServeOptions | undefined
    ): Effect.Effect<void, HubClosed> =>
      Effect.gen(function*() {
        const target = outbox.sink
        const subscriber = new Served(topicsOf(serveOptions?.topics), outbox)
        const count = yield* register(subscriber, outbox.scope).pipe(
          Effect.tapError(() => Scope.close(outbox.scope, Exit.void))
        )
        if (serveOptions?.onConnect !== undefined) {
          const greeting = yield* serveOptions.onConnect({ clients: count, lastEventId })
          for (const e of greeting) {
            const bytes = event.encode(e)
            if (bytes._tag === "Right") target.write(bytes.right)
            else yield* Effect.logError("effect-sse: an onConnect event is invalid and was not sent", bytes.left)
          }
        }
        const resumed = yield* Effect.either(resumeFrom(lastEventId, subscriber.topics))
        if (Either.isLeft(resumed)) {
          // History is out of reach: end at once, and the browser retries after its reconnection time.
          yield* Effect.logWarning("effect-sse: cannot resume a client now; ending its response", resumed.left)
          target.end()
          return
        }
        if (resumed.right?.lost === true && Option.isSome(lastEventId)) {
          target.write(event.unsafeEncode(lostEvent(lastEventId.value)))
        }
        if (resumed.right !== undefined && resumed.right.entries.length > 0) {
          subscriber.writeEntries(joinBytes(resumed.right.entries), resumed.right.entries.length)
          delivered.unsafeUpdate(resumed.right.entries.length)
        }
        subscriber.live(resumed.right, lastEventId)
      })

    const serve = (serveOptions?: SseHub.ServeOptions) =>
      Effect.gen(function*() {
        if (closed) return yield* Effect.fail(closedError)
        const responseOptions = { retry: options.retry, headers: serveOptions?.headers, keepAlive: false as const }
        const outbox = yield* server.makeOutbox(responseOptions)
        const lastEventId = Option.isSome(outbox.request) ? requestLastEventId(outbox.request.value) : Option.none()
        yield* serveInto(outbox, lastEventId, serveOptions)
        return server.toResponse(outbox, responseOptions)
      }).pipe(Effect.withSpan("SseHub.serve", spanOptions))

    const serveNode = (
      request: IncomingMessage,
      response: ServerResponse,
      serveOptions?: SseHub.ServeOptions
    ): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (closed) {
          response.writeHead(503, { "content-type": "text/plain" }).end(closedError.message)
          return
        }
        const responseOptions = { retry: options.retry, headers: serveOptions?.headers, keepAlive: false as const }
        const outbox = yield* server.makeNodeOutbox(request, response, responseOptions)
        yield* serveInto(outbox, server.nodeLastEventId(request), serveOptions).pipe(
          // Closed while this client was being set up: it ends like the others did.
          Effect.catchTag("HubClosed", () => Effect.sync(() => outbox.sink.end()))
        )
      }).pipe(Effect.withSpan("SseHub.serve", spanOptions))

    const hub: SseHub.SseHub<A> = {
      [TypeId]: TypeId,
      name,
      publish,
      publishAll,
      subscribe,
      serve,
      serveNode,
      clients: Effect.sync(() => clients),
      // Subscribed before the current count is read, so no change between the two is missed.
      clientsChanges: Stream.unwrapScoped(Effect.map(PubSub.subscribe(clientChanges), (changes) =>
        Stream.concat(
          Stream.sync(() => clients),
          Stream.fromQueue(changes)
        ))).pipe(
          Stream.interruptWhen(Deferred.await(ended))
        ),
      shutdown: shutdownHub
    }
    return hub
  })

const normalizeId = (id: string | Option.Option<string> | undefined): Option.Option<string> => {
  if (id === undefined) return Option.none()
  if (typeof id === "string") return id === "" ? Option.none() : Option.some(id)
  return Option.filter(id, (s) => s !== "")
}

/**
 * The id a client resumes from: the `Last-Event-ID` header a browser sends when it reconnects, else the
 * `lastEventId` query parameter (a first request cannot set headers with `EventSource`).
 *
 * @internal
 */
export const requestLastEventId = (request: HttpServerRequest.HttpServerRequest): Option.Option<string> => {
  const header = server.lastEventIdFrom(request)
  if (Option.isSome(header)) return header
  const query = request.url.indexOf("?")
  if (query < 0) return Option.none()
  const value = new URLSearchParams(request.url.slice(query + 1)).get("lastEventId")
  return value === null || value === "" ? Option.none() : Option.some(value)
}

interface ToEvent<A, R> {
  (message: A): Effect.Effect<SseEvent.SseEvent, event.SseEventError, R>
  /** The event, or the effect that makes it when encoding needs one. */
  readonly prepare: (message: A) => SseEvent.SseEvent | Effect.Effect<SseEvent.SseEvent, event.SseEventError, R>
}

const makeToEvent = <A, R>(options: SseHub.Options<A, R>): ToEvent<A, R> => {
  const withType = (self: SseEvent.SseEvent, message: A): SseEvent.SseEvent => {
    const type = typeof options.eventType === "function" ? options.eventType(message) : options.eventType
    return type === undefined ? self : event.withType(self, type)
  }
  let prepare: ToEvent<A, R>["prepare"]
  if ("schema" in options && options.schema !== undefined) {
    const encode = event.jsonSchema(options.schema)
    prepare = (message) => Effect.map(encode(message), (self) => withType(self, message))
  } else {
    const encode = (options as { readonly encode: SseHub.Options.Encode<A, R> }).encode
    prepare = (message) => {
      const result = encode(message)
      return event.isSseEvent(result)
        ? withType(result, message)
        : Effect.map(result, (self) => withType(self, message))
    }
  }
  const toEvent = (message: A) => {
    const prepared = prepare(message)
    return event.isSseEvent(prepared) ? Effect.succeed(prepared) : prepared
  }
  return Object.assign(toEvent, { prepare })
}

/** @internal */
export const layer = <I, A, R = never>(
  tag: Context.Tag<I, SseHub.SseHub<A>>,
  options: SseHub.Options<A, R>
): Layer.Layer<I, never, R> => Layer.scoped(tag, make(options))
