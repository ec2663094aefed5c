/**
 * The hub: the core's engine driven from effect 4, fed by a backend's log, its subscribers' streams as outlets.
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Engine from "../../../src/core/engine.js"
import * as SseEvent from "../SseEvent.js"
import * as SseHub from "../SseHub.js"
import * as SseHubBackend from "../SseHubBackend.js"

/** @internal */
export const defaults = {
  name: "default",
  historySize: 1000,
  bufferSize: 1024,
  idempotencyWindow: Duration.minutes(10)
}

/** @internal */
export const lostEvent = (lastEventId: string): SseEvent.SseEvent => {
  const data = JSON.stringify({ lastEventId })
  const event = SseEvent.fromFields({ type: "lost", data })
  // "lost" is a valid type and data is never refused: the builder cannot fail here.
  return Result.isSuccess(event) ? event.success : SseEvent.make(data)
}

/**
 * A `subscribe` stream's outlet: events go to a queue the stream reads. What waits is what the queue holds. Under
 * drop-oldest the queue holds the newest `bufferSize` events (sliding), so the outlet always has room and reports
 * what the queue discarded.
 */
class StreamOutlet implements Engine.Outlet<SseEvent.SseEvent> {
  private closed = false
  private room: (() => void) | undefined = undefined
  constructor(
    readonly queue: Queue.Queue<SseEvent.SseEvent, SseHub.SubscriberDropped | Cause.Done>,
    private readonly bufferSize: number,
    private readonly dropError: SseHub.SubscriberDropped,
    private readonly sliding: boolean
  ) {}
  waiting(): number {
    return Queue.sizeUnsafe(this.queue)
  }
  hasRoom(): boolean {
    return this.sliding || this.waiting() < this.bufferSize
  }
  onRoom(f: () => void): void {
    if (this.hasRoom() || this.closed) f()
    else this.room = f
  }
  offer(batch: Engine.Batch<SseEvent.SseEvent>): number {
    if (this.closed) return 0
    const over = this.sliding ? Math.max(0, this.waiting() + batch.entries.length - this.bufferSize) : 0
    for (const entry of batch.entries) Queue.offerUnsafe(this.queue, entry.event)
    return over
  }
  /** The stream took events from the queue. */
  took(): void {
    const room = this.room
    if (room !== undefined && this.hasRoom()) {
      this.room = undefined
      room()
    }
  }
  isClosed(): boolean {
    return this.closed
  }
  backlog(): boolean {
    return false
  }
  end(): void {
    this.closed = true
    Queue.endUnsafe(this.queue)
  }
  drop(): void {
    this.closed = true
    Queue.failCauseUnsafe(this.queue, Cause.fail(this.dropError))
  }
}

/** @internal */
export const make = (options?: SseHub.Options): Effect.Effect<SseHub.SseHub["Service"], never, Scope.Scope> =>
  Effect.gen(function*() {
    const name = options?.name ?? defaults.name
    const bufferSize = Math.max(1, options?.bufferSize ?? defaults.bufferSize)
    const dropOldest = options?.slowClient === "drop-oldest"
    const backend = yield* SseHubBackend.SseHubBackend
    const log = yield* backend.open(name, {
      historySize: options?.historySize ?? defaults.historySize,
      maxAge: options?.maxAge === undefined ? undefined : Duration.toMillis(Duration.fromInputUnsafe(options.maxAge)),
      idempotencyWindow: Duration.toMillis(
        Duration.fromInputUnsafe(options?.idempotencyWindow ?? defaults.idempotencyWindow)
      )
    })
    // The metrics with the hub's attribute, built once: the engine updates them synchronously, in the context the
    // hub was built in (where the metric registry is).
    const context = yield* Effect.context<never>()
    const attributes = { hub: name }
    const clients = Metric.withAttributes(SseHub.metrics.clients, attributes)
    const published = Metric.withAttributes(SseHub.metrics.published, attributes)
    const delivered = Metric.withAttributes(SseHub.metrics.delivered, attributes)
    const droppedClients = Metric.withAttributes(SseHub.metrics.droppedClients, attributes)
    const droppedEvents = Metric.withAttributes(SseHub.metrics.droppedEvents, attributes)
    const engine = new Engine.Engine<SseEvent.SseEvent>(SseEvent.encode, {
      delivered: (n) => delivered.updateUnsafe(n, context),
      droppedClients: (n) => droppedClients.updateUnsafe(n, context),
      droppedEvents: (n) => droppedEvents.updateUnsafe(n, context),
      clients: (count) => clients.updateUnsafe(count, context)
    }, dropOldest ? new Engine.DropOldest(bufferSize) : new Engine.Disconnect(bufferSize))
    const closedError = new SseHub.HubClosed({ hub: name })
    const dropError = new SseHub.SubscriberDropped({ hub: name, bufferSize })
    const ended = yield* Deferred.make<void>()
    yield* log.feed((batch) => {
      engine.deliver(batch)
    })

    // A span costs more than an in-memory publish itself: only publishes to other backends (a round trip) get one.
    const spanOptions = { attributes: { hub: name, backend: backend.kind } } as const
    const publishSpan = backend.kind === "memory"
      ? <X, E>(self: Effect.Effect<X, E>) => self
      : <X, E>(self: Effect.Effect<X, E>) => Effect.withSpan(self, "SseHub.publish", spanOptions)

    const publishAll = (
      events: Iterable<SseEvent.SseEvent>,
      publishOptions?: SseHub.PublishOptions
    ): Effect.Effect<ReadonlyArray<string>, SseHub.PublishError> =>
      Effect.suspend((): Effect.Effect<ReadonlyArray<string>, SseHub.PublishError> => {
        if (engine.closed) return Effect.fail(closedError)
        return Effect.map(
          log.publish(Array.from(events), {
            topics: publishOptions?.topics,
            target: undefined,
            idempotencyKey: publishOptions?.idempotencyKey
          }),
          (accepted) => {
            // A repeat of an earlier publish (same idempotency key) publishes nothing.
            if (!accepted.repeated && accepted.ids.length > 0) published.updateUnsafe(accepted.ids.length, context)
            return accepted.ids
          }
        )
      }).pipe(publishSpan)

    const publish = (
      event: SseEvent.SseEvent,
      publishOptions?: SseHub.PublishOptions
    ): Effect.Effect<string, SseHub.PublishError> => Effect.map(publishAll([event], publishOptions), (ids) => ids[0])

    /** What the subscriber has, once its prelude is written: live events must come after it. */
    const afterPrelude = (
      resumed: SseHubBackend.Resume | undefined,
      lastEventId: string | undefined,
      joined: SseHubBackend.Cursor
    ) => {
      if (resumed !== undefined && resumed.entries.length > 0) {
        return log.after(log.cursorOf(resumed.entries[resumed.entries.length - 1].id))
      }
      if (resumed !== undefined && !resumed.lost && lastEventId !== undefined) {
        return log.after(log.cursorOf(lastEventId))
      }
      return log.after(joined)
    }

    const subscribeScoped = (subscribeOptions?: SseHub.SubscribeOptions) =>
      Effect.gen(function*() {
        const queue = yield* Queue.make<SseEvent.SseEvent, SseHub.SubscriberDropped | Cause.Done>(
          dropOldest ? { capacity: bufferSize, strategy: "sliding" } : undefined
        )
        const outlet = new StreamOutlet(queue, bufferSize, dropError, dropOldest)
        const topics = subscribeOptions?.topics === undefined ? undefined : new Set(subscribeOptions.topics)
        const subscriber = new Engine.Subscriber<SseEvent.SseEvent>(engine, outlet, topics, undefined)
        if (!engine.register(subscriber)) return yield* Effect.fail(closedError)
        const joined = yield* log.position
        yield* Effect.addFinalizer(() => Effect.sync(() => engine.unregister(subscriber)))
        const lastEventId = subscribeOptions?.lastEventId === "" ? undefined : subscribeOptions?.lastEventId
        const resumed = lastEventId === undefined ? undefined : yield* log.resume(lastEventId, topics)
        const mine = resumed === undefined ? [] : resumed.entries.filter((entry) => subscriber.takes(entry))
        const prelude: Array<SseEvent.SseEvent> = mine.map((entry) => entry.event)
        if (resumed?.lost === true && lastEventId !== undefined) prelude.unshift(lostEvent(lastEventId))
        engine.settle(subscriber, subscriber.goLive(afterPrelude(resumed, lastEventId, joined)))
        if (mine.length > 0) delivered.updateUnsafe(mine.length, context)
        return Stream.concat(
          Stream.fromIterable(prelude),
          Stream.mapArray(Stream.fromQueue(queue), (events) => {
            outlet.took()
            return events
          })
        )
      }).pipe(Effect.withSpan("SseHub.subscribe", spanOptions))
    const subscribe = (subscribeOptions?: SseHub.SubscribeOptions) => Stream.unwrap(subscribeScoped(subscribeOptions))

    const shutdown = Effect.suspend(() => {
      if (engine.closed) return Deferred.await(ended)
      engine.closed = true
      // Everything accepted before the shutdown is delivered, then every subscriber ends.
      return log.stop.pipe(
        Effect.andThen(Effect.sync(() => engine.end())),
        Effect.andThen(Deferred.succeed(ended, undefined)),
        Effect.asVoid
      )
    })
    yield* Effect.addFinalizer(() => shutdown)

    return SseHub.SseHub.of({
      name,
      publish,
      publishAll,
      subscribe,
      subscribeScoped,
      clientCount: Effect.sync(() => engine.size),
      shutdown
    })
  })
