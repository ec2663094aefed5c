import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Mailbox from "effect/Mailbox"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type * as SseEvent from "../SseEvent.js"
import type * as SseHub from "../SseHub.js"
import * as event from "./event.js"
import * as server from "./server.js"
import * as shutdown from "./shutdown.js"

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
  /** Offers entries; returns how many the subscriber had to drop (drop-oldest) or -1 if it must go. */
  readonly offer: (entries: Chunk.Chunk<Entry>) => number
  readonly keepAlive: ((now: number) => void) | undefined
  readonly end: () => void
  readonly drop: () => void
}

const matches = (topics: ReadonlySet<string> | undefined, entry: Entry): boolean => {
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

  /**
   * What a subscriber that last saw `lastEventId` must be sent before live events: the entries after it,
   * or, when the id is not retained, every retained entry and `lost: true`.
   */
  resume(lastEventId: string, topics: ReadonlySet<string> | undefined): { lost: boolean; entries: Array<Entry> } {
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

/** @internal */
export const lostEvent = (lastEventId: string): SseEvent.SseEvent =>
  event.withType(event.make(JSON.stringify({ lastEventId })), "lost")

// -----------------------------------------------------------------------------
// the hub
// -----------------------------------------------------------------------------

const End = Symbol.for("effect-sse/SseHub/End")

type Envelope = Entry | typeof End

/** @internal */
export const make = <A, R = never>(
  options: SseHub.Options<A, R>
): Effect.Effect<SseHub.SseHub<A>, never, Scope.Scope | R> =>
  Effect.gen(function*() {
    const name = options.name ?? defaults.name
    const bufferSize = Math.max(1, options.bufferSize ?? defaults.bufferSize)
    const dropOldest = options.slowClient === "drop-oldest"
    const keepAlive = server.keepAliveMillis(options)
    const history = new History(
      options.history?.size ?? defaults.historySize,
      options.history?.maxAge === undefined ? undefined : Duration.toMillis(options.history.maxAge)
    )
    const tags = { hub: name }
    const clientsGauge = Metric.taggedWithLabels(metrics.clients, [])
    const published = Metric.tagged(metrics.published, "hub", tags.hub)
    const delivered = Metric.tagged(metrics.delivered, "hub", tags.hub)
    const droppedClients = Metric.tagged(metrics.droppedClients, "hub", tags.hub)
    const droppedEvents = Metric.tagged(metrics.droppedEvents, "hub", tags.hub)
    const clientsMetric = Metric.tagged(clientsGauge, "hub", tags.hub)

    const context = yield* Effect.context<R>()
    const toEvent = makeToEvent(options)
    const pubsub = yield* PubSub.unbounded<Envelope>()
    const dequeue = yield* PubSub.subscribe(pubsub)
    const subscribers = new Set<Subscriber>()
    const clients = yield* SubscriptionRef.make(0)
    const stopped = yield* Deferred.make<void>()
    const hubScope = yield* Effect.scope
    let closed = false
    // Ids continue from the clock, so that ids of an earlier run of the process are never reused: an old id
    // is then reported as lost instead of silently matching a different event.
    let seq = (yield* Clock.currentTimeMillis) * 1000

    const closedError = new HubClosed({ hub: name })

    // Publishing assigns the sequence number and offers in one synchronous step, so the order of ids is the
    // order of delivery even with concurrent publishers.
    const enqueue = (
      events: ReadonlyArray<SseEvent.SseEvent>,
      topics: ReadonlyArray<string> | undefined
    ): Effect.Effect<ReadonlyArray<string>, HubClosed | event.SseEventError> =>
      Effect.flatMap(
        Clock.currentTimeMillis,
        (now): Effect.Effect<ReadonlyArray<string>, HubClosed | event.SseEventError> => {
          if (closed) return Effect.fail(closedError)
          const prepared: Array<Entry> = []
          for (const e of events) {
            const next = seq + 1
            const id = e.id === undefined || e.id === "" ? String(next) : e.id
            const withId = e.id === id ? e : event.withId(e, id)
            const bytes = event.encode(withId)
            if (bytes._tag === "Left") return Effect.fail(bytes.left)
            seq = next
            prepared.push({ seq: next, id, event: withId, bytes: bytes.right, topics, at: now })
          }
          for (const entry of prepared) pubsub.unsafeOffer(entry)
          published.unsafeUpdate(prepared.length, [])
          return Effect.succeed(prepared.map((entry) => entry.id))
        }
      )

    const publishAll = (
      messages: Iterable<A>,
      publishOptions?: SseHub.PublishOptions
    ): Effect.Effect<ReadonlyArray<string>, HubClosed | event.SseEventError> =>
      Effect.forEach(messages, toEvent).pipe(
        Effect.flatMap((events) => enqueue(events, publishOptions?.topics)),
        Effect.provide(context),
        Effect.withSpan("SseHub.publish", { attributes: { hub: name } })
      )

    const publish = (
      message: A,
      publishOptions?: SseHub.PublishOptions
    ): Effect.Effect<string, HubClosed | event.SseEventError> =>
      Effect.map(publishAll([message], publishOptions), (ids) => ids[0])

    // The dispatcher: the one place that appends to the history and fans out, so that a subscriber's
    // snapshot of the history and its live events never overlap nor leave a gap.
    const deliver = (batch: Chunk.Chunk<Entry>, now: number) => {
      for (const entry of batch) history.append(entry)
      history.evictOlderThan(now)
      for (const subscriber of subscribers) {
        const mine = subscriber.topics === undefined ? batch : Chunk.filter(batch, (e) => matches(subscriber.topics, e))
        if (Chunk.isEmpty(mine)) continue
        const dropped = subscriber.offer(mine)
        if (dropped < 0) {
          subscribers.delete(subscriber)
          droppedClients.unsafeUpdate(1, [])
          subscriber.drop()
        } else if (dropped > 0) {
          droppedEvents.unsafeUpdate(dropped, [])
        }
      }
    }

    const dispatch: Effect.Effect<void> = Effect.flatMap(Queue.takeAll(dequeue), (envelopes) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        let ended = false
        const entries: Array<Entry> = []
        for (const envelope of envelopes) {
          if (envelope === End) {
            ended = true
          } else entries.push(envelope)
        }
        if (entries.length > 0) {
          deliver(Chunk.unsafeFromArray(entries), now)
        }
        return ended ? Effect.void : dispatch
      }))

    yield* dispatch.pipe(Effect.ensuring(Deferred.succeed(stopped, undefined)), Effect.forkIn(hubScope))

    if (keepAlive !== undefined) {
      yield* Effect.sleep(keepAlive).pipe(
        Effect.zipRight(Clock.currentTimeMillis),
        Effect.map((now) => {
          for (const subscriber of subscribers) {
            subscriber.keepAlive?.(now)
          }
        }),
        Effect.forever,
        Effect.forkIn(hubScope)
      )
    }

    const shutdownHub = Effect.suspend(() => {
      if (closed) {
        return Deferred.await(stopped)
      }
      closed = true
      // Everything published before the shutdown is delivered, then every subscriber ends.
      pubsub.unsafeOffer(End)
      return Deferred.await(stopped).pipe(
        Effect.zipRight(Effect.sync(() => {
          for (const subscriber of subscribers) {
            subscriber.end()
          }
          subscribers.clear()
        })),
        Effect.zipRight(PubSub.shutdown(pubsub))
      )
    })
    yield* Scope.addFinalizer(hubScope, shutdownHub)

    const changeClients = (delta: number) =>
      SubscriptionRef.updateAndGet(clients, (n) =>
        n + delta).pipe(
          Effect.tap((n) =>
            clientsMetric.unsafeUpdate(n, [])
          )
        )

    /** Registers a subscriber and returns what it must receive before live events, in one synchronous step. */
    const register = (
      subscriber: Subscriber,
      lastEventId: Option.Option<string>
    ): { lost: boolean; entries: Array<Entry> } | undefined => {
      if (closed) return undefined
      subscribers.add(subscriber)
      return Option.isNone(lastEventId)
        ? { lost: false, entries: [] }
        : history.resume(lastEventId.value, subscriber.topics)
    }

    const topicsOf = (topics: ReadonlyArray<string> | undefined) => topics === undefined ? undefined : new Set(topics)

    const subscribe = (subscribeOptions?: SseHub.SubscribeOptions) =>
      Effect.gen(function*() {
        const mailbox = yield* Mailbox.make<SseEvent.SseEvent, SubscriberDropped>(
          dropOldest ? { capacity: bufferSize, strategy: "sliding" } : undefined
        )
        const dropError = new SubscriberDropped({ hub: name, bufferSize })
        const subscriber: Subscriber = {
          topics: topicsOf(subscribeOptions?.topics),
          offer: (entries) => {
            const before = Option.getOrElse(mailbox.unsafeSize(), () => 0)
            mailbox.unsafeOfferAll(Chunk.map(entries, (e) => e.event))
            const size = before + Chunk.size(entries)
            if (size <= bufferSize) return 0
            return dropOldest ? size - bufferSize : -1
          },
          keepAlive: undefined,
          end: () => mailbox.unsafeDone(Exit.void),
          drop: () => mailbox.unsafeDone(Exit.fail(dropError))
        }
        const lastEventId = normalizeId(subscribeOptions?.lastEventId)
        const replay = yield* Effect.acquireRelease(
          Effect.sync(() => register(subscriber, lastEventId)),
          () => Effect.zipRight(Effect.sync(() => subscribers.delete(subscriber)), changeClients(-1))
        )
        if (replay === undefined) return yield* Effect.fail(closedError)
        yield* changeClients(1)
        const prelude: Array<SseEvent.SseEvent> = replay.entries.map((e) => e.event)
        if (replay.lost && Option.isSome(lastEventId)) prelude.unshift(lostEvent(lastEventId.value))
        return Stream.concat(
          Stream.fromIterable(prelude),
          Stream.mapChunks(Mailbox.toStream(mailbox), (chunk) => {
            delivered.unsafeUpdate(Chunk.size(chunk), [])
            return chunk
          })
        )
      }).pipe(Effect.withSpan("SseHub.subscribe", { attributes: { hub: name } }))

    const serve = (serveOptions?: SseHub.ServeOptions) =>
      Effect.gen(function*() {
        if (closed) return yield* Effect.fail(closedError)
        const responseOptions = { retry: options.retry, headers: serveOptions?.headers, keepAlive: false as const }
        const outbox = yield* server.makeOutbox(
          responseOptions,
          dropOldest ? { capacity: bufferSize, strategy: "sliding" } : {}
        )
        const { mailbox } = outbox
        const request = outbox.request
        const subscriber: Subscriber = {
          topics: topicsOf(serveOptions?.topics),
          offer: (entries) => {
            const before = Option.getOrElse(mailbox.unsafeSize(), () => 0)
            mailbox.unsafeOfferAll(Chunk.map(entries, (e) => e.bytes))
            const size = before + Chunk.size(entries)
            if (size <= bufferSize) return 0
            return dropOldest ? size - bufferSize : -1
          },
          keepAlive: keepAlive === undefined ? undefined : (now) => {
            if (now - outbox.lastOffer >= keepAlive && Option.getOrElse(mailbox.unsafeSize(), () => 1) === 0) {
              mailbox.unsafeOffer(server.keepAliveBytes)
              outbox.lastOffer = now
            }
          },
          end: () => mailbox.unsafeDone(Exit.void),
          drop: () => {
            mailbox.unsafeDone(Exit.void)
            if (Option.isSome(request)) shutdown.destroySocket(request.value.source)
          }
        }
        const lastEventId = Option.isSome(request) ? requestLastEventId(request.value) : Option.none()
        const replay = register(subscriber, lastEventId)
        if (replay === undefined) {
          yield* Scope.close(outbox.scope, Exit.void)
          return yield* Effect.fail(closedError)
        }
        yield* Scope.addFinalizer(
          outbox.scope,
          Effect.zipRight(Effect.sync(() => subscribers.delete(subscriber)), changeClients(-1))
        )
        const count = yield* changeClients(1)
        if (serveOptions?.onConnect !== undefined) {
          const greeting = yield* serveOptions.onConnect({ clients: count, lastEventId })
          for (const e of greeting) {
            const bytes = event.encode(e)
            if (bytes._tag === "Right") mailbox.unsafeOffer(bytes.right)
            else yield* Effect.logError("effect-sse: an onConnect event is invalid and was not sent", bytes.left)
          }
        }
        if (replay.lost && Option.isSome(lastEventId)) {
          mailbox.unsafeOffer(event.unsafeEncode(lostEvent(lastEventId.value)))
        }
        if (replay.entries.length > 0) {
          mailbox.unsafeOffer(server.concatBytes(replay.entries.map((e) => e.bytes)))
          delivered.unsafeUpdate(replay.entries.length, [])
        }
        return server.toResponse(outbox, responseOptions, (chunk) => {
          let n = 0
          for (const bytes of chunk) if (bytes !== server.keepAliveBytes) n++
          delivered.unsafeUpdate(n, [])
        })
      }).pipe(Effect.withSpan("SseHub.serve", { attributes: { hub: name } }))

    const hub: SseHub.SseHub<A> = {
      [TypeId]: TypeId,
      name,
      publish,
      publishAll,
      subscribe,
      serve,
      clients: SubscriptionRef.get(clients),
      clientsChanges: clients.changes,
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

const makeToEvent = <A, R>(options: SseHub.Options<A, R>): (message: A) => Effect.Effect<
  SseEvent.SseEvent,
  event.SseEventError,
  R
> => {
  const withType = (self: SseEvent.SseEvent, message: A): SseEvent.SseEvent => {
    const type = typeof options.eventType === "function" ? options.eventType(message) : options.eventType
    return type === undefined ? self : event.withType(self, type)
  }
  if ("schema" in options && options.schema !== undefined) {
    const encode = event.jsonSchema(options.schema)
    return (message) => Effect.map(encode(message), (self) => withType(self, message))
  }
  const encode = (options as { readonly encode: SseHub.Options.Encode<A, R> }).encode
  return (message) => {
    const result = encode(message)
    return Effect.map(
      event.isSseEvent(result) ? Effect.succeed(result) : result,
      (self) => withType(self, message)
    )
  }
}

/** @internal */
export const layer = <I, A, R = never>(
  tag: Context.Tag<I, SseHub.SseHub<A>>,
  options: SseHub.Options<A, R>
): Layer.Layer<I, never, R> => Layer.scoped(tag, make(options))
