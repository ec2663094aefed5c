/**
 * A hub broadcasts typed messages to many SSE clients, with history for resumption,
 * topics, and isolation of slow clients.
 *
 * The hub is a service: declare a `Context.Tag` for each hub of your application and provide it with
 * {@link layer}, on a backend (`SseHubBackend.layerMemory` in one process, `SseHubRedis.layer` across
 * processes). A publish is numbered and kept in the backend's history; the backend feeds batches back in order
 * to the hub's engine, which hands each batch to every subscriber (written straight to served clients, as one
 * buffer encoded once), so a client that stops reading never slows `publish` or the other clients.
 *
 * ```ts
 * import { Context, Effect, Layer, Schema } from "effect"
 * import * as SseHub from "effect-sse/SseHub"
 * import * as SseHubBackend from "effect-sse/SseHubBackend"
 *
 * const Message = Schema.Struct({ user: Schema.String, text: Schema.String })
 *
 * class ChatHub extends Context.Tag("ChatHub")<ChatHub, SseHub.SseHub<typeof Message.Type>>() {}
 *
 * const ChatHubLive = SseHub.layer(ChatHub, { schema: Message, eventType: "message" }).pipe(
 *   Layer.provide(SseHubBackend.layerMemory)
 * )
 *
 * // a route: serve the hub to a client, resuming from its Last-Event-ID
 * const events = Effect.flatMap(ChatHub, SseHub.serve())
 * // anywhere: publish
 * const post = Effect.flatMap(ChatHub, SseHub.publish({ user: "ann", text: "hi" }))
 * ```
 *
 * ## Ids and resumption
 *
 * Every event gets an id: the one the encoded event already carries (or that {@link Options.Common.id} takes
 * from the message), or the backend's next one. An id already in the history is refused with
 * {@link PublishRejected}: resumption from it would be ambiguous. A subscriber that brings a last event id gets
 * every retained event after it, then live events, with no gap and no duplicate. When the id is not in the
 * history (unknown, or already evicted), the subscriber first gets an event of type `lost` with data
 * `{"lastEventId":"<the id>"}`, then every retained event.
 *
 * ## Targeting
 *
 * Beyond topics, which the client chooses, a hub built with `target: { schema, matches }` publishes to the clients
 * the server chooses: each client gets a state when it connects (`serve({ state })`, `subscribe({ state })`: the
 * user it belongs to, say), and `publish(message, { to })` reaches the clients whose state `matches` the target.
 * The target is stored with the event as data (encoded with `schema`), so that a Redis hub matches it on every
 * process against that process's clients, and resumption filters the history by it. {@link SseHub.clients} lists
 * the connected clients with their state.
 *
 * ## Slow clients
 *
 * Each subscriber buffers `bufferSize` events. With `slowClient: "disconnect"` (the default) a subscriber
 * that still has `bufferSize` events waiting when new ones arrive is dropped: a served client's socket is
 * closed (the browser reconnects and resumes from history), a `subscribe` stream fails with
 * `SubscriberDropped`. With `slowClient: "drop-oldest"` its oldest buffered events are discarded instead,
 * and counted. Whatever the policy, a served client that takes none of the bytes waiting for it within
 * `writeTimeout` is dropped, even when nothing new is published.
 *
 * @since 0.1.0
 */
import type * as Headers from "@effect/platform/Headers"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerRespondable from "@effect/platform/HttpServerRespondable"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import type * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/hub.js"
import * as errors from "./internal/hubErrors.js"
import type * as SseEvent from "./SseEvent.js"
import type * as SseHubBackend from "./SseHubBackend.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId as never

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * @since 0.2.0
 * @category type ids
 */
export const ErrorTypeId: unique symbol = errors.ErrorTypeId as never

/**
 * @since 0.2.0
 * @category type ids
 */
export type ErrorTypeId = typeof ErrorTypeId

/**
 * Raised by `publish`, `subscribe` and `serve` once the hub has been shut down. A route that does not handle it
 * answers 503 with its message (and `Retry-After`): it is `Respondable`.
 *
 * @since 0.1.0
 * @category errors
 */
export interface HubClosed extends Cause.YieldableError, HttpServerRespondable.Respondable {
  readonly _tag: "HubClosed"
  readonly [ErrorTypeId]: ErrorTypeId
  readonly reason: "Shutdown"
  readonly hub: string
}

/**
 * @since 0.1.0
 * @category errors
 */
export const HubClosed: new(args: { readonly hub: string }) => HubClosed = errors.HubClosed

/**
 * Raised when the hub's backend cannot be reached (a Redis hub while Redis is down; the in-memory backend never
 * raises it). `reason` says what became of the message:
 *
 * - `NotPublished`: the backend refused it or could not be reached before the write: it was not published and
 *   never will be. Retrying is safe.
 * - `OutcomeUnknown`: it was sent, but no answer came in time: it may have been published, now or later.
 *   Publish it again with the same `idempotencyKey` to have it stored and delivered once.
 * - `ReadFailed`: (`subscribe`, resumption) the history could not be read.
 *
 * @since 0.1.0
 * @category errors
 */
export interface HubUnavailable extends Cause.YieldableError {
  readonly _tag: "HubUnavailable"
  readonly [ErrorTypeId]: ErrorTypeId
  readonly reason: "NotPublished" | "OutcomeUnknown" | "ReadFailed"
  readonly hub: string
  readonly cause: unknown
}

/**
 * @since 0.1.0
 * @category errors
 */
export const HubUnavailable: new(args: {
  readonly hub: string
  readonly reason: HubUnavailable["reason"]
  readonly cause: unknown
}) => HubUnavailable = errors.HubUnavailable

/**
 * Ends a `subscribe` stream whose consumer still had `bufferSize` events waiting when more arrived (policy
 * `disconnect`).
 *
 * @since 0.1.0
 * @category errors
 */
export interface SubscriberDropped extends Cause.YieldableError {
  readonly _tag: "SubscriberDropped"
  readonly [ErrorTypeId]: ErrorTypeId
  readonly reason: "SlowClient"
  readonly hub: string
  readonly bufferSize: number
}

/**
 * @since 0.1.0
 * @category errors
 */
export const SubscriberDropped: new(args: { readonly hub: string; readonly bufferSize: number }) => SubscriberDropped =
  errors.SubscriberDropped

/**
 * Raised by `publish` when the event is refused: `DuplicateId`, an id that is already in the history, or that
 * two events of one `publishAll` carry (resuming from it would be ambiguous); `InvalidTarget`, a `to` that does not
 * encode with the hub's `target.schema`. Nothing of the publish is stored or delivered.
 *
 * @since 0.2.0
 * @category errors
 */
export interface PublishRejected extends Cause.YieldableError {
  readonly _tag: "PublishRejected"
  readonly [ErrorTypeId]: ErrorTypeId
  readonly reason: "DuplicateId" | "InvalidTarget"
  readonly hub: string
  /** The refused id (`DuplicateId`). */
  readonly id?: string | undefined
  /** Why the target does not encode with the hub's target schema (`InvalidTarget`). */
  readonly cause?: unknown
}

/**
 * @since 0.2.0
 * @category errors
 */
export const PublishRejected: new(args: {
  readonly hub: string
  readonly reason: PublishRejected["reason"]
  readonly id?: string | undefined
  readonly cause?: unknown
}) => PublishRejected = errors.PublishRejected

/**
 * What `publish` and `publishAll` may fail with.
 *
 * @since 0.2.0
 * @category errors
 */
export type PublishError = HubClosed | HubUnavailable | PublishRejected | SseEvent.SseEventError

/**
 * @since 0.1.0
 * @category models
 */
export interface PublishOptions<T = never> {
  /**
   * The topics of the event. Subscribers that asked for topics receive it if they asked for one of these;
   * subscribers without a topic filter receive everything. An event without topics goes to every subscriber.
   */
  readonly topics?: ReadonlyArray<string> | undefined
  /**
   * A key that makes the publish idempotent: the same key published again within the hub's
   * `idempotencyWindow` stores and delivers nothing and returns the ids of the first publish with it — on every
   * process of a Redis hub. Use it to retry a publish that failed with `OutcomeUnknown` (the chat example takes
   * it from the standard `Idempotency-Key` request header).
   */
  readonly idempotencyKey?: string | undefined
  /**
   * Only the clients whose state matches this target (see {@link Options.Common.target}): a user, a role, a
   * room. The target is stored with the event, so resumption honours it too, and on a Redis hub it travels as
   * data (encoded with the target's schema) and is matched on every process against its own clients. Clients
   * without a state never get a targeted event. Default: every client (of the topics).
   */
  readonly to?: T | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SubscribeOptions<S = unknown> {
  /** Only events published to one of these topics (and events published without topics). Default: all. */
  readonly topics?: ReadonlyArray<string> | undefined
  /** Resume after this id: retained events after it are delivered first. `None` (or `""`) means none. */
  readonly lastEventId?: Option.Option<string> | undefined
  /** The subscriber's state: what targeted publishes are matched against, and what {@link SseHub.clients} lists. */
  readonly state?: S | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ServeOptions<S = unknown> {
  /** Only events published to one of these topics (and events published without topics). Default: all. */
  readonly topics?: ReadonlyArray<string> | undefined
  /** Extra response headers. */
  readonly headers?: Headers.Input | undefined
  /**
   * The client's state, attached for as long as it is connected: the user it belongs to, say (compute it from the
   * request before serving). Targeted publishes are matched against it; {@link SseHub.clients} lists it.
   */
  readonly state?: S | undefined
  /**
   * Events for this client only, written right after `: connected` and before any resumed events — a
   * greeting, say. `clients` counts this client. Give them no id, so that they do not move the client's
   * last event id.
   */
  readonly onConnect?:
    | ((info: {
      readonly clients: number
      readonly lastEventId: Option.Option<string>
      readonly state: S | undefined
    }) => Effect.Effect<Iterable<SseEvent.SseEvent>>)
    | undefined
}

/**
 * A client connected to a hub on this process: a served response or a `subscribe` stream.
 *
 * @since 0.2.0
 * @category models
 */
export interface Client<S = unknown> {
  /** Unique among the hub's clients on this process. */
  readonly id: number
  /** `"serve"` for a served response, `"subscribe"` for a stream. */
  readonly kind: "serve" | "subscribe"
  /** The state it was given (`ServeOptions.state`, `SubscribeOptions.state`); `undefined` for none. */
  readonly state: S | undefined
  /** The topics it asked for; `undefined` for all. */
  readonly topics: ReadonlyArray<string> | undefined
  /** When it connected, in milliseconds since the epoch. */
  readonly connectedAt: number
}

/**
 * A hub of messages of type `A`, whose clients carry a state of type `S`, published to targets of type `T` (see
 * {@link Options.Common.target}; `never`, the default, for a hub without targeting).
 *
 * @since 0.1.0
 * @category models
 */
export interface SseHub<in out A, in out S = unknown, in out T = never> {
  readonly [TypeId]: TypeId
  readonly name: string
  /** Publishes one message; returns its event id. */
  readonly publish: (message: A, options?: PublishOptions<T>) => Effect.Effect<string, PublishError>
  /** Publishes several messages in order, atomically with respect to other publishers; returns their ids. */
  readonly publishAll: (
    messages: Iterable<A>,
    options?: PublishOptions<T>
  ) => Effect.Effect<ReadonlyArray<string>, PublishError>
  /**
   * Subscribes now and returns the events as a stream: the retained events after `lastEventId` (if given),
   * then every later publish. The subscription lasts as long as the scope. The stream ends when the hub
   * shuts down and fails with `SubscriberDropped` if its consumer falls too far behind.
   */
  readonly subscribe: (
    options?: SubscribeOptions<S>
  ) => Effect.Effect<Stream.Stream<SseEvent.SseEvent, SubscriberDropped>, HubClosed | HubUnavailable, Scope.Scope>
  /**
   * Serves the hub to the current request as an SSE response, resuming from its last event id (the
   * `Last-Event-ID` header, else the `lastEventId` query parameter). Events are written as the bytes the hub
   * encoded once, a batch per write; on `SseNode`'s and `SseWeb`'s servers no fiber stays behind per client.
   */
  readonly serve: (
    options?: ServeOptions<S>
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse, HubClosed, HttpServerRequest.HttpServerRequest>
  /**
   * The clients connected to the hub on this process, with their state, in the order they connected. (On a Redis
   * hub each process lists its own: a targeted publish reaches the matching clients of every process.)
   */
  readonly clients: Effect.Effect<ReadonlyArray<Client<S>>>
  /** The number of clients connected on this process. */
  readonly clientCount: Effect.Effect<number>
  /** The number of clients on this process, now and at every change; it ends when the hub shuts down. */
  readonly clientsChanges: Stream.Stream<number>
  /**
   * Delivers what was published before, then ends every subscriber (served responses end cleanly, streams
   * end); later calls fail with `HubClosed`. Idempotent. Runs when the hub's scope or layer is released.
   */
  readonly shutdown: Effect.Effect<void>
}

/**
 * @since 0.1.0
 */
export declare namespace Options {
  /**
   * Turns a message into an event: purely, through an `Either` (as the checked combinators of `SseEvent`
   * return), or with an effect.
   *
   * @since 0.1.0
   * @category models
   */
  export type Encode<A, R> = (
    message: A
  ) =>
    | SseEvent.SseEvent
    | Either.Either<SseEvent.SseEvent, SseEvent.SseEventError>
    | Effect.Effect<SseEvent.SseEvent, SseEvent.SseEventError, R>

  /**
   * @since 0.1.0
   * @category models
   */
  export interface Common<A> {
    /** Names the hub in errors, metrics (`hub` tag), spans, and the backend (a Redis key). Default: `"default"`. */
    readonly name?: string | undefined
    /** The event type (`event:` field) of every message, or a function of the message. Default: none. */
    readonly eventType?: string | ((message: A) => string) | undefined
    /**
     * The event id of a message, taken from it (a database key, say); checked like `SseEvent.withId`, and
     * refused with `PublishRejected` if it is already in the history. Default: the backend's next id. The
     * Redis backend always uses its own stream ids.
     */
    readonly id?: ((message: A) => string) | undefined
    /** What is kept for resumption: the last `size` events (default 1000), and none older than `maxAge`. */
    readonly history?: {
      readonly size?: number | undefined
      readonly maxAge?: Duration.DurationInput | undefined
    } | undefined
    /** How many events a subscriber may have waiting before the slow-client policy applies. Default: 1024. */
    readonly bufferSize?: number | undefined
    /** What happens to a subscriber with `bufferSize` events waiting. Default: `"disconnect"`. */
    readonly slowClient?: "disconnect" | "drop-oldest" | undefined
    /**
     * A `: keep-alive` comment for served clients that received nothing for this long (checked once a second).
     * `false` turns it off. Default: 15 seconds.
     */
    readonly keepAlive?: Duration.DurationInput | false | undefined
    /**
     * How long a served client may leave bytes waiting without taking any before it is dropped, even when
     * nothing is published. Default: 10 seconds.
     */
    readonly writeTimeout?: Duration.DurationInput | undefined
    /** A `retry:` sent to every served client after `: connected`. Default: none. */
    readonly retry?: Duration.DurationInput | undefined
    /** How long an idempotency key is remembered (see `PublishOptions.idempotencyKey`). Default: 10 minutes. */
    readonly idempotencyWindow?: Duration.DurationInput | undefined
    /**
     * Whether `publish` and `publishAll` run in an `SseHub.publish` span. A span costs more than an in-memory
     * publish itself, so the in-memory hub records none unless asked; hubs on other backends, where a publish
     * is a round trip, do by default. `subscribe` and `serve` always run in spans.
     */
    readonly tracePublish?: boolean | undefined
  }

  /**
   * Targeting beyond topics: a publish given `to: target` reaches the clients whose state `matches` it. The
   * target is encoded with `schema` when published (a target that does not encode is refused with
   * `PublishRejected`, reason `InvalidTarget`), stored with the event, and decoded where clients are
   * connected, so the predicate runs on the process that serves each client, and a Redis hub carries targets
   * between processes as data.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Target<S, T> {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any encoded side: it is stored as JSON
    readonly schema: Schema.Schema<T, any>
    readonly matches: (target: T, state: S) => boolean
  }
}

/**
 * How a hub is built: messages become events through a Schema (their data is the JSON of the encoded
 * message) or through an encode function.
 *
 * @since 0.1.0
 * @category models
 */
export type Options<A, R = never, S = unknown, T = never> =
  & (
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any encoded side: the data is its JSON
    | Options.Common<A> & { readonly schema: Schema.Schema<A, any, R>; readonly encode?: undefined }
    | Options.Common<A> & { readonly encode: Options.Encode<A, R>; readonly schema?: undefined }
  )
  & { readonly target?: Options.Target<S, T> | undefined }

/**
 * Builds a hub on the provided backend, for as long as the scope; closing the scope shuts it down.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import * as SseEvent from "effect-sse/SseEvent"
 * import * as SseHub from "effect-sse/SseHub"
 * import * as SseHubBackend from "effect-sse/SseHubBackend"
 *
 * const program = Effect.gen(function*() {
 *   const hub = yield* SseHub.make<string>({ encode: SseEvent.make })
 *   const events = yield* hub.subscribe()
 *   yield* hub.publish("hello")
 *   const [first] = yield* Stream.runCollect(Stream.take(events, 1))
 *   console.log(first.data) // "hello"
 * }).pipe(Effect.scoped, Effect.provide(SseHubBackend.layerMemory))
 * Effect.runPromise(program)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <A, R = never, S = unknown, T = never>(
  options: Options<A, R, S, T>
) => Effect.Effect<SseHub<A, S, T>, never, Scope.Scope | R | SseHubBackend.SseHubBackend> = internal.make

/**
 * Provides a hub under `tag`, on the provided backend; releasing the layer shuts the hub down.
 *
 * @example
 * ```ts
 * import { Context, Layer, Schema } from "effect"
 * import * as SseHub from "effect-sse/SseHub"
 * import * as SseHubBackend from "effect-sse/SseHubBackend"
 *
 * const Note = Schema.Struct({ text: Schema.String })
 * class Notes extends Context.Tag("Notes")<Notes, SseHub.SseHub<typeof Note.Type>>() {}
 *
 * const NotesLive = SseHub.layer(Notes, { name: "notes", schema: Note, eventType: "note" }).pipe(
 *   Layer.provide(SseHubBackend.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: <I, A, R = never, S = unknown, T = never>(
  tag: Context.Tag<I, SseHub<A, S, T>>,
  options: Options<A, R, S, T>
) => Layer.Layer<I, never, R | SseHubBackend.SseHubBackend> = internal.layer

/**
 * Publishes one message to a hub; returns its event id.
 *
 * @example
 * ```ts
 * import { Context, Effect } from "effect"
 * import * as SseHub from "effect-sse/SseHub"
 *
 * class Notes extends Context.Tag("Notes")<Notes, SseHub.SseHub<string>>() {}
 *
 * const post = (text: string) => Effect.flatMap(Notes, SseHub.publish(text, { topics: ["general"] }))
 * ```
 *
 * @since 0.2.0
 * @category accessors
 */
export const publish: {
  <A, T = never>(
    message: A,
    options?: PublishOptions<T>
  ): <S>(self: SseHub<A, S, T>) => Effect.Effect<string, PublishError>
  <A, S, T>(self: SseHub<A, S, T>, message: A, options?: PublishOptions<T>): Effect.Effect<string, PublishError>
} = internal.publish

/**
 * Publishes several messages in order, atomically with respect to other publishers; returns their ids.
 *
 * @since 0.2.0
 * @category accessors
 */
export const publishAll: {
  <A, T = never>(
    messages: Iterable<A>,
    options?: PublishOptions<T>
  ): <S>(self: SseHub<A, S, T>) => Effect.Effect<ReadonlyArray<string>, PublishError>
  <A, S, T>(
    self: SseHub<A, S, T>,
    messages: Iterable<A>,
    options?: PublishOptions<T>
  ): Effect.Effect<ReadonlyArray<string>, PublishError>
} = internal.publishAll

/**
 * Subscribes to a hub (see {@link SseHub.subscribe}).
 *
 * @example
 * ```ts
 * import { Context, Effect, Option, Stream } from "effect"
 * import * as SseHub from "effect-sse/SseHub"
 *
 * class Notes extends Context.Tag("Notes")<Notes, SseHub.SseHub<string>>() {}
 *
 * // every note after "42", then the live ones, logged
 * const follow = Effect.flatMap(Notes, SseHub.subscribe({ lastEventId: Option.some("42") })).pipe(
 *   Effect.flatMap(Stream.runForEach((event) => Effect.log(event.data))),
 *   Effect.scoped
 * )
 * ```
 *
 * @since 0.2.0
 * @category accessors
 */
export const subscribe: {
  <S = unknown>(
    options?: SubscribeOptions<S>
  ): <A, T>(
    self: SseHub<A, S, T>
  ) => Effect.Effect<Stream.Stream<SseEvent.SseEvent, SubscriberDropped>, HubClosed | HubUnavailable, Scope.Scope>
  <A, S, T>(
    self: SseHub<A, S, T>,
    options?: SubscribeOptions<S>
  ): Effect.Effect<Stream.Stream<SseEvent.SseEvent, SubscriberDropped>, HubClosed | HubUnavailable, Scope.Scope>
} = internal.subscribe

/**
 * Serves a hub to the current request (see {@link SseHub.serve}).
 *
 * @example
 * ```ts
 * import { HttpRouter } from "@effect/platform"
 * import { Context, Effect } from "effect"
 * import * as SseHub from "effect-sse/SseHub"
 *
 * class Notes extends Context.Tag("Notes")<Notes, SseHub.SseHub<string>>() {}
 *
 * const route = HttpRouter.get("/notes", Effect.flatMap(Notes, SseHub.serve({ topics: ["general"] })))
 * ```
 *
 * @since 0.2.0
 * @category accessors
 */
export const serve: {
  <S = unknown>(
    options?: ServeOptions<S>
  ): <A, T>(
    self: SseHub<A, S, T>
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse, HubClosed, HttpServerRequest.HttpServerRequest>
  <A, S, T>(
    self: SseHub<A, S, T>,
    options?: ServeOptions<S>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, HubClosed, HttpServerRequest.HttpServerRequest>
} = internal.serve

/**
 * The event a resuming subscriber gets first when its last event id is not in the history.
 *
 * @since 0.1.0
 * @category constructors
 */
export const lostEvent: (lastEventId: string) => SseEvent.SseEvent = internal.lostEvent

/**
 * The hub's metrics, each tagged `hub=<name>` when a hub updates it: `clients` (gauge), `published`,
 * `delivered`, `droppedClients` and `droppedEvents` (counters). Read them with `Metric.value`, after tagging
 * with the hub's name, or from `Metric.snapshot`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics: {
  readonly clients: Metric.Metric.Gauge<number>
  readonly published: Metric.Metric.Counter<number>
  readonly delivered: Metric.Metric.Counter<number>
  readonly droppedClients: Metric.Metric.Counter<number>
  readonly droppedEvents: Metric.Metric.Counter<number>
} = internal.metrics
