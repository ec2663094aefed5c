import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Mailbox from "effect/Mailbox"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Conn from "../core/connection.js"
import * as Engine from "../core/engine.js"
import * as Metrics from "../core/metrics.js"
import type * as Writers from "../core/writer.js"
import type * as SseEvent from "../SseEvent.js"
import type * as SseHub from "../SseHub.js"
import type * as SseHubBackend from "../SseHubBackend.js"
import * as backend from "./backend.js"
import * as event from "./event.js"
import * as errors from "./hubErrors.js"
import { makeToEvent, StreamOutlet } from "./hubMessages.js"
import { makeTargeting } from "./hubTargeting.js"
import * as response from "./response.js"
import * as server from "./sseServer.js"

/** @internal */
export const TypeId: SseHub.TypeId = Symbol.for("effect-sse/SseHub") as SseHub.TypeId

/** @internal */
export const defaults = {
  name: "default",
  historySize: 1000,
  bufferSize: 1024,
  idempotencyWindow: Duration.minutes(10)
}

/** @internal */
export const metrics = {
  clients: Metric.gauge(Metrics.clients.name, { description: Metrics.clients.description }),
  published: Metric.counter(Metrics.published.name, { description: Metrics.published.description, incremental: true }),
  delivered: Metric.counter(Metrics.delivered.name, {
    description: `${Metrics.delivered.description} (to the socket, for served connections)`,
    incremental: true
  }),
  droppedClients: Metric.counter(Metrics.droppedClients.name, {
    description: Metrics.droppedClients.description,
    incremental: true
  }),
  droppedEvents: Metric.counter(Metrics.droppedEvents.name, {
    description: Metrics.droppedEvents.description,
    incremental: true
  })
}

/** @internal */
export const lostEvent = (lastEventId: string): SseEvent.SseEvent =>
  event.unsafeMake({
    data: JSON.stringify({ lastEventId }),
    type: "lost",
    id: undefined,
    retry: undefined,
    comment: undefined
  })

const topicsOf = (topics: ReadonlyArray<string> | undefined) => topics === undefined ? undefined : new Set(topics)

// -----------------------------------------------------------------------------
// the hub
// -----------------------------------------------------------------------------

/** @internal */
export const make = <A, R = never, S = unknown, T = never>(
  options: SseHub.Options<A, R, S, T>
): Effect.Effect<SseHub.SseHub<A, S, T>, never, Scope.Scope | R | SseHubBackend.SseHubBackend> =>
  Effect.gen(function*() {
    const name = options.name ?? defaults.name
    const bufferSize = Math.max(1, options.bufferSize ?? defaults.bufferSize)
    const dropOldest = options.slowClient === "drop-oldest"
    const store = yield* backend.tag
    const log = yield* store.open(name, {
      historySize: options.history?.size ?? defaults.historySize,
      maxAge: options.history?.maxAge === undefined ? undefined : Duration.toMillis(options.history.maxAge),
      idempotencyWindow: Duration.toMillis(options.idempotencyWindow ?? defaults.idempotencyWindow)
    })
    // The hub's metrics, tagged with its name through one array of tags kept for good: `Metric.tagged` would
    // build and look up the tagged key again on every update.
    const tags = [MetricLabel.make("hub", name)]
    const clientChanges = yield* PubSub.unbounded<number>()
    const engine = new Engine.Engine<SseEvent.SseEvent>(event.encode, {
      delivered: (n) => metrics.delivered.unsafeUpdate(n, tags),
      droppedClients: (n) => metrics.droppedClients.unsafeUpdate(n, tags),
      droppedEvents: (n) => metrics.droppedEvents.unsafeUpdate(n, tags),
      clients: (count) => {
        metrics.clients.unsafeUpdate(count, tags)
        clientChanges.unsafeOffer(count)
      }
    }, dropOldest ? new Engine.DropOldest(bufferSize) : new Engine.Disconnect(bufferSize))
    const context = yield* Effect.context<R>()
    const toEvent = makeToEvent(options)
    const targeting = makeTargeting<S, T>(name, options.target)
    let nextClientId = 0
    const newClient = (
      kind: SseHub.Client["kind"],
      state: S | undefined,
      topics: ReadonlyArray<string> | undefined
    ) =>
      Effect.map(Clock.currentTimeMillis, (connectedAt): SseHub.Client<S> => ({
        id: ++nextClientId,
        kind,
        state,
        topics: topics === undefined ? undefined : [...topics],
        connectedAt
      }))
    const closedError = new errors.HubClosed({ hub: name })
    const dropError = new errors.SubscriberDropped({ hub: name, bufferSize })
    const ended = yield* Deferred.make<void>()
    const hubScope = yield* Effect.scope
    // Served clients keep-alive and stall rules: the server's, when an `SseServer` is provided, else the hub's.
    const ownGroup: server.Group = { connections: new Conn.ConnectionSet(), add: () => {} }
    yield* Effect.forkIn(server.ticker(ownGroup.connections), hubScope)
    yield* log.feed((batch) => engine.deliver(batch))

    const spanOptions = { attributes: { hub: name, backend: store.kind }, captureStackTrace: false } as const
    const publishSpan = options.tracePublish ?? store.kind !== "memory"
      ? Effect.withSpan("SseHub.publish", spanOptions)
      : <X, E, RX>(self: Effect.Effect<X, E, RX>) => self

    const accept = (
      events: ReadonlyArray<SseEvent.SseEvent>,
      publishOptions: SseHub.PublishOptions<T> | undefined
    ): Effect.Effect<ReadonlyArray<string>, SseHub.PublishError> => {
      if (engine.closed) return Effect.fail(closedError)
      const target = targeting.encode(publishOptions?.to)
      return Either.isLeft(target)
        ? Effect.fail(target.left)
        : Effect.map(
          log.publish(events, {
            topics: publishOptions?.topics,
            target: target.right,
            idempotencyKey: publishOptions?.idempotencyKey
          }),
          (accepted) => {
            // A repeat of an earlier publish (same idempotency key) publishes nothing.
            if (!accepted.repeated) metrics.published.unsafeUpdate(accepted.ids.length, tags)
            return accepted.ids
          }
        )
    }

    const publishAll = (
      messages: Iterable<A>,
      publishOptions?: SseHub.PublishOptions<T>
    ): Effect.Effect<ReadonlyArray<string>, SseHub.PublishError> =>
      Effect.forEach(messages, toEvent).pipe(
        Effect.provide(context),
        Effect.flatMap((events) => accept(events, publishOptions)),
        publishSpan
      )

    // The common case, a message that encodes without an effect, takes no detour.
    const publish = (
      message: A,
      publishOptions?: SseHub.PublishOptions<T>
    ): Effect.Effect<string, SseHub.PublishError> =>
      Effect.suspend(() => {
        const encoded = toEvent(message)
        const events = Either.isEither(encoded)
          ? Either.map(encoded, (e) => [e])
          : Effect.provide(Effect.map(encoded, (e) => [e]), context)
        return Effect.flatMap(events, (events) => accept(events, publishOptions))
      }).pipe(
        Effect.map((ids) => ids[0]),
        publishSpan
      )

    const resume = (lastEventId: Option.Option<string>, topics: ReadonlySet<string> | undefined) =>
      Option.isNone(lastEventId)
        ? Effect.succeed(undefined)
        : log.resume(lastEventId.value, topics) as Effect.Effect<
          SseHubBackend.Resume | undefined,
          errors.HubUnavailable
        >

    /** What the subscriber has, once its prelude is written: live events must come after it. */
    const afterPrelude = (
      resumed: SseHubBackend.Resume | undefined,
      lastEventId: Option.Option<string>,
      joined: SseHubBackend.Cursor
    ) => {
      if (resumed !== undefined && resumed.entries.length > 0) {
        return log.after(log.cursorOf(resumed.entries[resumed.entries.length - 1].id))
      }
      if (resumed !== undefined && !resumed.lost && Option.isSome(lastEventId)) {
        return log.after(log.cursorOf(lastEventId.value))
      }
      return log.after(joined)
    }

    const register = (subscriber: Engine.Subscriber<SseEvent.SseEvent, SseHub.Client<S>>) =>
      Effect.suspend(() => engine.register(subscriber) ? log.position : Effect.fail(closedError))

    const subscribe = (subscribeOptions?: SseHub.SubscribeOptions<S>) =>
      Effect.gen(function*() {
        const mailbox = yield* Mailbox.make<SseEvent.SseEvent, errors.SubscriberDropped>(
          dropOldest ? { capacity: bufferSize, strategy: "sliding" } : undefined
        )
        const outlet = new StreamOutlet(mailbox, bufferSize, dropError, dropOldest)
        const topics = topicsOf(subscribeOptions?.topics)
        const client = yield* newClient("subscribe", subscribeOptions?.state, subscribeOptions?.topics)
        const subscriber = new Engine.Subscriber(
          engine,
          outlet,
          topics,
          client,
          targeting.accepts(subscribeOptions?.state)
        )
        const lastEventId = Option.filter(subscribeOptions?.lastEventId ?? Option.none(), (id) => id !== "")
        const joined = yield* register(subscriber)
        yield* Effect.addFinalizer(() => Effect.sync(() => engine.unregister(subscriber)))
        const resumed = yield* resume(lastEventId, topics).pipe(
          Effect.tapError(() => Effect.sync(() => engine.unregister(subscriber)))
        )
        // The history honours targets as live delivery does: what was published to others is not replayed.
        const mine = resumed === undefined ? [] : resumed.entries.filter((entry) => subscriber.takes(entry))
        const prelude: Array<SseEvent.SseEvent> = mine.map((e) => e.event)
        if (resumed?.lost === true && Option.isSome(lastEventId)) prelude.unshift(lostEvent(lastEventId.value))
        engine.settle(subscriber, subscriber.goLive(afterPrelude(resumed, lastEventId, joined)))
        const replayed = mine.length
        return Stream.concat(
          Stream.fromIterable(prelude).pipe(
            Stream.ensuring(Effect.sync(() => replayed > 0 && metrics.delivered.unsafeUpdate(replayed, tags)))
          ),
          Stream.mapChunks(Mailbox.toStream(mailbox), (chunk) => {
            outlet.took(chunk.length)
            return chunk
          })
        )
      }).pipe(Effect.withSpan("SseHub.subscribe", spanOptions))

    /**
     * Serves the hub into a started stream: registers the client, writes its greeting and what it resumes, then
     * hands it to the engine. Completes once it is live; the registration ends when the stream does.
     */
    const attach = (
      writer: Writers.Writer,
      lastEventId: Option.Option<string>,
      serveOptions: SseHub.ServeOptions<S> | undefined
    ): Effect.Effect<void> =>
      Effect.gen(function*() {
        const outlet = new Engine.WriterOutlet<SseEvent.SseEvent>(writer)
        const client = yield* newClient("serve", serveOptions?.state, serveOptions?.topics)
        const subscriber = new Engine.Subscriber(
          engine,
          outlet,
          topicsOf(serveOptions?.topics),
          client,
          targeting.accepts(serveOptions?.state)
        )
        if (!engine.register(subscriber)) {
          // Shut down while this client was being set up: it ends like the others did.
          writer.end()
          return
        }
        const joined = yield* log.position
        writer.onClose(() => engine.unregister(subscriber))
        if (serveOptions?.onConnect !== undefined) {
          // The application's code runs interruptibly, as a route's does, whatever region the transport writes the
          // response in (a server writes in an uninterruptible one): a timeout or race in it must not wait for its
          // loser. Interrupted (the server shutting down), the client ends.
          const greeting = yield* Effect.interruptible(
            serveOptions.onConnect({ clients: engine.size, lastEventId, state: serveOptions.state })
          )
            .pipe(
              Effect.onInterrupt(() => Effect.sync(() => writer.end()))
            )
          for (const e of greeting) writer.write(event.encode(e))
        }
        const resumed = yield* Effect.either(resume(lastEventId, subscriber.topics))
        if (Either.isLeft(resumed)) {
          // The history is out of reach: end at once; the browser retries after its reconnection time.
          yield* Effect.logWarning("effect-sse: cannot resume a client now; ending its response", resumed.left)
          engine.unregister(subscriber)
          writer.end()
          return
        }
        if (resumed.right?.lost === true && Option.isSome(lastEventId)) {
          writer.write(event.encode(lostEvent(lastEventId.value)))
        }
        const mine = resumed.right === undefined ? [] : resumed.right.entries.filter((entry) => subscriber.takes(entry))
        if (mine.length > 0) {
          outlet.replay(new Engine.Batch(mine, event.encode))
          metrics.delivered.unsafeUpdate(mine.length, tags)
        }
        engine.settle(subscriber, subscriber.goLive(afterPrelude(resumed.right, lastEventId, joined)))
      }).pipe(Effect.withSpan("SseHub.serve", spanOptions))

    const serve = (
      serveOptions?: SseHub.ServeOptions<S>
    ): Effect.Effect<HttpServerResponse.HttpServerResponse, errors.HubClosed, HttpServerRequest.HttpServerRequest> =>
      Effect.gen(function*() {
        if (engine.closed) return yield* Effect.fail(closedError)
        const request = yield* HttpServerRequest.HttpServerRequest
        const lastEventId = response.lastEventIdOf(request)
        const resolved = yield* response.resolve({
          retry: options.retry,
          keepAlive: options.keepAlive,
          writeTimeout: options.writeTimeout,
          headers: serveOptions?.headers
        })
        const group = yield* server.currentGroup
        return yield* response.toResponse({
          options: resolved,
          group: group ?? ownGroup,
          run: (writer) => attach(writer, lastEventId, serveOptions)
        })
      })

    const shutdown = Effect.suspend(() => {
      if (engine.closed) return Deferred.await(ended)
      engine.closed = true
      // Everything accepted before the shutdown is delivered, then every subscriber ends.
      return log.stop.pipe(
        Effect.zipRight(Effect.sync(() => engine.end())),
        Effect.zipRight(Deferred.succeed(ended, undefined))
      )
    })
    yield* Scope.addFinalizer(hubScope, shutdown)

    const hub: SseHub.SseHub<A, S, T> = {
      [TypeId]: TypeId,
      name,
      publish,
      publishAll,
      subscribe,
      serve,
      clients: Effect.sync(() => Array.from(engine.subscribers, (subscriber) => subscriber.state as SseHub.Client<S>)),
      clientCount: Effect.sync(() => engine.size),
      // Subscribed before the current count is read, so no change between the two is missed.
      clientsChanges: Stream.unwrapScoped(Effect.map(PubSub.subscribe(clientChanges), (changes) =>
        Stream.concat(
          Stream.sync(() => engine.size),
          Stream.fromQueue(changes)
        ))).pipe(
          Stream.interruptWhen(Deferred.await(ended))
        ),
      shutdown
    }
    return hub
  })

/** @internal */
export const layer = <I, A, R = never, S = unknown, T = never>(
  tag: Context.Tag<I, SseHub.SseHub<A, S, T>>,
  options: SseHub.Options<A, R, S, T>
): Layer.Layer<I, never, R | SseHubBackend.SseHubBackend> => Layer.scoped(tag, make(options))

// -----------------------------------------------------------------------------
// accessors
// -----------------------------------------------------------------------------

/** @internal */
export const publish = dual(
  (args) => args.length >= 2 && typeof args[0] === "object" && args[0] !== null && TypeId in args[0],
  <A, S, T>(self: SseHub.SseHub<A, S, T>, message: A, options?: SseHub.PublishOptions<T>) =>
    self.publish(message, options)
)

/** @internal */
export const publishAll = dual(
  (args) => args.length >= 2 && typeof args[0] === "object" && args[0] !== null && TypeId in args[0],
  <A, S, T>(self: SseHub.SseHub<A, S, T>, messages: Iterable<A>, options?: SseHub.PublishOptions<T>) =>
    self.publishAll(messages, options)
)

/** @internal */
export const isHub = (u: unknown): u is SseHub.SseHub<unknown, unknown, unknown> =>
  typeof u === "object" && u !== null && TypeId in u

/** @internal */
export const subscribe = dual(
  (args) => isHub(args[0]),
  <A, S, T>(self: SseHub.SseHub<A, S, T>, options?: SseHub.SubscribeOptions<S>) => self.subscribe(options)
)

/** @internal */
export const serve = dual(
  (args) => isHub(args[0]),
  <A, S, T>(self: SseHub.SseHub<A, S, T>, options?: SseHub.ServeOptions<S>) => self.serve(options)
)
