/**
 * A hub broadcasts events to many subscribers, with ids, a history for resumption, topics, idempotent publishes
 * and the isolation of slow subscribers, on a backend: in memory by default, Redis Streams across processes
 * (`SseHubRedis.layer`). It drives the Effect-free engine of the core, shared with the Effect 3 line: the backend
 * feeds batches back in order, and the engine hands each to every subscriber under the slow-client policy.
 *
 * ```ts
 * import { Effect, Stream } from "effect"
 * import * as SseEvent from "effect-sse/SseEvent"
 * import * as SseHub from "effect-sse/SseHub"
 *
 * const program = Effect.gen(function*() {
 *   const hub = yield* SseHub.SseHub
 *   const id = yield* hub.publish(SseEvent.make("hello"), { topics: ["news"], idempotencyKey: "post-1" })
 *   // a client that reconnects with that id gets what came after it, then the live events
 *   return hub.subscribe({ lastEventId: id, topics: ["news"] }).pipe(Stream.take(1))
 * }).pipe(Effect.provide(SseHub.layer({ name: "news", bufferSize: 256, slowClient: "drop-oldest" })))
 * ```
 *
 * ## Ids and resumption
 *
 * Every event gets an id: the one it carries, or the backend's next one (the Redis backend always gives its own
 * stream ids). An id already in the history is refused with {@link PublishRejected}. A subscriber that brings a
 * last event id gets every retained event after it, then live events, with no gap and no duplicate. When the id
 * is not in the history (unknown, or already evicted), it first gets {@link lostEvent} (type `lost`, data
 * `{"lastEventId":"<the id>"}`), then every retained event.
 *
 * ## Slow subscribers
 *
 * Each subscriber buffers `bufferSize` events. With `slowClient: "disconnect"` (the default) a subscriber that
 * still has `bufferSize` events waiting when new ones arrive is dropped: its stream fails with
 * {@link SubscriberDropped} (a client reconnects and resumes from the history). With `slowClient: "drop-oldest"`
 * its oldest buffered events are discarded instead, and counted. Other subscribers and `publish` never wait for
 * a slow one.
 *
 * @since 1.0.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as Messages from "../../src/core/hubErrors.js"
import * as Metrics from "../../src/core/metrics.js"
import * as internal from "./internal/hub.js"
import type * as SseEvent from "./SseEvent.js"
import * as SseHubBackend from "./SseHubBackend.js"

/**
 * Raised by `publish` and `subscribe` once the hub has been shut down.
 *
 * @since 1.0.0
 * @category errors
 */
export class HubClosed extends Data.TaggedError("HubClosed")<{ readonly hub: string }> {
  /**
   * @since 1.0.0
   */
  readonly reason = "Shutdown" as const
  /**
   * @since 1.0.0
   */
  override get message(): string {
    return Messages.closed(this.hub)
  }
}

/**
 * Raised when the hub's backend cannot be reached (a Redis hub while Redis is down; the in-memory backend never
 * raises it). `reason` says what became of the events: `NotPublished`, they were not published and never will
 * be (retrying is safe); `OutcomeUnknown`, they were sent but no answer came in time, so they may be published
 * (publish them again with the same `idempotencyKey` to have them stored once); `ReadFailed`, the history could
 * not be read (resumption).
 *
 * @since 1.0.0
 * @category errors
 */
export class HubUnavailable extends Data.TaggedError("HubUnavailable")<{
  readonly hub: string
  readonly reason: "NotPublished" | "OutcomeUnknown" | "ReadFailed"
  readonly cause: unknown
}> {
  /**
   * @since 1.0.0
   */
  override get message(): string {
    return Messages.unavailable(this.hub, this.reason, this.cause)
  }
}

/**
 * Ends a `subscribe` stream whose consumer still had `bufferSize` events waiting when more arrived (the
 * `disconnect` policy).
 *
 * @since 1.0.0
 * @category errors
 */
export class SubscriberDropped extends Data.TaggedError("SubscriberDropped")<{
  readonly hub: string
  readonly bufferSize: number
}> {
  /**
   * @since 1.0.0
   */
  readonly reason = "SlowClient" as const
  /**
   * @since 1.0.0
   */
  override get message(): string {
    return Messages.dropped(this.hub, this.bufferSize)
  }
}

/**
 * Raised by `publish` when an event carries an id that is already in the history, or that two events of one
 * `publishAll` carry (resuming from it would be ambiguous). Nothing of the publish is stored or delivered.
 *
 * @since 1.0.0
 * @category errors
 */
export class PublishRejected extends Data.TaggedError("PublishRejected")<{
  readonly hub: string
  readonly reason: "DuplicateId"
  readonly id: string
}> {
  /**
   * @since 1.0.0
   */
  override get message(): string {
    return Messages.rejected(this.hub, this.reason, this.id, undefined)
  }
}

/**
 * What `publish` and `publishAll` may fail with.
 *
 * @since 1.0.0
 * @category errors
 */
export type PublishError = HubClosed | HubUnavailable | PublishRejected

/**
 * How a hub is built. Every option has a default.
 *
 * @since 1.0.0
 * @category models
 */
export interface Options {
  /** Names the hub in errors, metrics (the `hub` attribute) and the backend (a Redis key). Default: `"default"`. */
  readonly name?: string | undefined
  /** How many events the history keeps for resumption. Default: 1000; 0 turns resumption off. */
  readonly historySize?: number | undefined
  /** How old a retained event may be. Default: no limit. */
  readonly maxAge?: Duration.Input | undefined
  /** How many events a subscriber may have waiting before the slow-client policy applies. Default: 1024. */
  readonly bufferSize?: number | undefined
  /** What happens to a subscriber with `bufferSize` events waiting. Default: `"disconnect"`. */
  readonly slowClient?: "disconnect" | "drop-oldest" | undefined
  /** How long an idempotency key is remembered (see {@link PublishOptions}). Default: 10 minutes. */
  readonly idempotencyWindow?: Duration.Input | undefined
}

/**
 * @since 1.0.0
 * @category models
 */
export interface PublishOptions {
  /**
   * The topics of the events. Subscribers that asked for topics receive them if they asked for one of these;
   * subscribers without topics receive everything. An event without topics goes to every subscriber.
   */
  readonly topics?: ReadonlyArray<string> | undefined
  /**
   * Makes the publish idempotent: the same key published again within the hub's `idempotencyWindow` stores and
   * delivers nothing and returns the ids of the first publish with it (on every process of a Redis hub). Use it
   * to retry a publish that failed with `OutcomeUnknown`.
   */
  readonly idempotencyKey?: string | undefined
}

/**
 * A subscription: the id it resumes after, and the topics it takes (all when undefined).
 *
 * @since 1.0.0
 * @category models
 */
export interface SubscribeOptions {
  /** Resume after this id: the retained events after it come first. `undefined` (or `""`) means none. */
  readonly lastEventId?: string | undefined
  /** Only events published to one of these topics (and events published without topics). Default: all. */
  readonly topics?: ReadonlyArray<string> | undefined
}

/**
 * The hub.
 *
 * @since 1.0.0
 * @category services
 */
export class SseHub extends Context.Service<SseHub, {
  readonly name: string
  /** Publishes an event (to `topics`, or to everyone) and returns its id. */
  readonly publish: (event: SseEvent.SseEvent, options?: PublishOptions) => Effect.Effect<string, PublishError>
  /** Publishes events in order, atomically with respect to other publishers; returns their ids. */
  readonly publishAll: (
    events: Iterable<SseEvent.SseEvent>,
    options?: PublishOptions
  ) => Effect.Effect<ReadonlyArray<string>, PublishError>
  /**
   * The events published from when the stream starts, preceded, when `lastEventId` is given, by the retained
   * ones after it (after {@link lostEvent} and every retained one when it is unknown or evicted). It ends when
   * the hub shuts down and fails with `SubscriberDropped` if its consumer falls `bufferSize` events behind (the
   * `disconnect` policy).
   */
  readonly subscribe: (
    options?: SubscribeOptions
  ) => Stream.Stream<SseEvent.SseEvent, SubscriberDropped | HubClosed | HubUnavailable>
  /**
   * `subscribe`, subscribed now: the subscription is made when this effect runs and lasts until its scope closes,
   * so the returned stream has every event published from that moment, however late it is first pulled. What a
   * response serving a hub needs: subscribed before it writes `: connected`, so a client that reacts to it misses
   * nothing.
   */
  readonly subscribeScoped: (
    options?: SubscribeOptions
  ) => Effect.Effect<
    Stream.Stream<SseEvent.SseEvent, SubscriberDropped | HubClosed | HubUnavailable>,
    HubClosed | HubUnavailable,
    Scope.Scope
  >
  /** The number of subscribers on this process. */
  readonly clientCount: Effect.Effect<number>
  /**
   * Delivers what was published before, then ends every subscriber; later publishes and subscriptions fail with
   * `HubClosed`. Idempotent. Runs when the hub's scope or layer is released.
   */
  readonly shutdown: Effect.Effect<void>
}>()("effect-sse/SseHub") {}

/**
 * A hub on the provided backend (`SseHubBackend.SseHubBackend`, in memory when none is), shut down with its scope.
 *
 * @since 1.0.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<SseHub["Service"], never, Scope.Scope> = internal.make

/**
 * The hub as a layer, on the provided backend (in memory when none is).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import * as SseHub from "effect-sse/SseHub"
 * import * as SseHubRedis from "effect-sse/SseHubRedis"
 *
 * // across processes: the same hub name on every process, one Redis
 * const HubLive = SseHub.layer({ name: "chat" }).pipe(Layer.provide(SseHubRedis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 1.0.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<SseHub> => Layer.effect(SseHub)(make(options))

/**
 * The hub in memory as a layer, whatever backend is provided around it.
 *
 * @since 1.0.0
 * @category layers
 */
export const layerMemory = (options?: Options): Layer.Layer<SseHub> =>
  Layer.provide(layer(options), SseHubBackend.layerMemory)

/**
 * The event a resuming subscriber gets first when its last event id is not in the history.
 *
 * @since 1.0.0
 * @category constructors
 */
export const lostEvent: (lastEventId: string) => SseEvent.SseEvent = internal.lostEvent

/**
 * The hub's metrics, each updated with the attribute `hub=<name>`: `clients` (gauge: subscribers on this
 * process), `published`, `delivered`, `droppedClients` and `droppedEvents` (counters). Read one with
 * `Metric.value(Metric.withAttributes(SseHub.metrics.published, { hub: "news" }))`, or from `Metric.snapshot`.
 *
 * @since 1.0.0
 * @category metrics
 */
export const metrics: {
  readonly clients: Metric.Gauge<number>
  readonly published: Metric.Counter<number>
  readonly delivered: Metric.Counter<number>
  readonly droppedClients: Metric.Counter<number>
  readonly droppedEvents: Metric.Counter<number>
} = {
  clients: Metric.gauge(Metrics.clients.name, { description: Metrics.clients.description }),
  published: Metric.counter(Metrics.published.name, { description: Metrics.published.description, incremental: true }),
  delivered: Metric.counter(Metrics.delivered.name, { description: Metrics.delivered.description, incremental: true }),
  droppedClients: Metric.counter(Metrics.droppedClients.name, {
    description: Metrics.droppedClients.description,
    incremental: true
  }),
  droppedEvents: Metric.counter(Metrics.droppedEvents.name, {
    description: Metrics.droppedEvents.description,
    incremental: true
  })
}
