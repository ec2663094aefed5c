/**
 * A hub broadcasts typed messages to many SSE clients: the seed's `Hub[T]`, with history for resumption,
 * topics, and isolation of slow clients.
 *
 * The hub is a service: declare a `Context.Tag` for each hub of your application and provide it with
 * {@link layer}. A publish is numbered, kept in a bounded history and put on an Effect `PubSub`; one
 * dispatcher fiber takes what is there in batches and hands each batch to every subscriber (written straight
 * into served clients' responses, as one buffer encoded once), so a client that stops reading never slows
 * `publish` or the other clients.
 *
 * ```ts
 * import { Context, Effect, Schema } from "effect"
 * import * as SseHub from "effect-sse/SseHub"
 *
 * const Message = Schema.Struct({ user: Schema.String, text: Schema.String })
 *
 * class ChatHub extends Context.Tag("ChatHub")<ChatHub, SseHub.SseHub<typeof Message.Type>>() {}
 *
 * const ChatHubLive = SseHub.layer(ChatHub, { schema: Message, eventType: "message" })
 *
 * // a route: serve the hub to a client, resuming from its Last-Event-ID
 * const events = Effect.flatMap(ChatHub, (hub) => hub.serve())
 * // anywhere: publish
 * const post = Effect.flatMap(ChatHub, (hub) => hub.publish({ user: "ann", text: "hi" }))
 * ```
 *
 * ## Ids and resumption
 *
 * Every event gets an id: the one the encoded event already carries, or the next number of the hub's
 * sequence (which starts from the clock, so ids of an earlier run of the process are never reused). A
 * subscriber that brings a last event id gets every retained event after it, then live events, with no gap
 * and no duplicate. When the id is not in the history (unknown, or already evicted), the subscriber first
 * gets an event of type `lost` with data `{"lastEventId":"<the id>"}`, then every retained event.
 *
 * ## Slow clients
 *
 * Each subscriber buffers `bufferSize` events. With `slowClient: "disconnect"` (the default) a subscriber
 * that still has `bufferSize` events waiting when new ones arrive is dropped: a served client's socket is
 * closed (the browser reconnects and resumes from history), a `subscribe` stream fails with
 * `SubscriberDropped`. With `slowClient: "drop-oldest"` its oldest buffered events are discarded instead,
 * and counted.
 *
 * @since 0.1.0
 */
import type * as Headers from "@effect/platform/Headers"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { IncomingMessage, ServerResponse } from "node:http"
import * as internal from "./internal/hub.js"
import type * as SseEvent from "./SseEvent.js"

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
 * Raised by `publish`, `subscribe` and `serve` once the hub has been shut down.
 *
 * @since 0.1.0
 * @category errors
 */
export const HubClosed: typeof internal.HubClosed = internal.HubClosed

/**
 * @since 0.1.0
 * @category errors
 */
export type HubClosed = internal.HubClosed

/**
 * Ends a `subscribe` stream whose consumer still had `bufferSize` events waiting when more arrived (policy
 * `disconnect`).
 *
 * @since 0.1.0
 * @category errors
 */
export const SubscriberDropped: typeof internal.SubscriberDropped = internal.SubscriberDropped

/**
 * @since 0.1.0
 * @category errors
 */
export type SubscriberDropped = internal.SubscriberDropped

/**
 * Raised by `publish` (and by `subscribe` when resuming) when the hub's backend cannot be reached — a
 * Redis hub while Redis is down. The in-memory hub never raises it. When Redis refused or dropped the
 * connection the message was not published; when Redis did not answer within the command timeout, it may or
 * may not have been (as with any write whose answer is lost).
 *
 * @since 0.1.0
 * @category errors
 */
export const HubUnavailable: typeof internal.HubUnavailable = internal.HubUnavailable

/**
 * @since 0.1.0
 * @category errors
 */
export type HubUnavailable = internal.HubUnavailable

/**
 * @since 0.1.0
 * @category models
 */
export interface PublishOptions {
  /**
   * The topics of the event. Subscribers that asked for topics receive it if they asked for one of these;
   * subscribers without a topic filter receive everything. An event without topics goes to every subscriber.
   */
  readonly topics?: ReadonlyArray<string> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SubscribeOptions {
  /** Only events published to one of these topics (and events published without topics). Default: all. */
  readonly topics?: ReadonlyArray<string> | undefined
  /** Resume after this id: retained events after it are delivered first. The empty string means none. */
  readonly lastEventId?: string | Option.Option<string> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ServeOptions {
  /** Only events published to one of these topics (and events published without topics). Default: all. */
  readonly topics?: ReadonlyArray<string> | undefined
  /** Extra response headers. */
  readonly headers?: Headers.Input | undefined
  /**
   * Events for this client only, written right after `: connected` and before any resumed events — a
   * greeting, say. `clients` counts this client. Give them no id, so that they do not move the client's
   * last event id.
   */
  readonly onConnect?:
    | ((info: {
      readonly clients: number
      readonly lastEventId: Option.Option<string>
    }) => Effect.Effect<Iterable<SseEvent.SseEvent>>)
    | undefined
}

/**
 * A hub of messages of type `A`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SseHub<in out A> {
  readonly [TypeId]: TypeId
  readonly name: string
  /** Publishes one message; returns its event id. Fails with `HubClosed` after shutdown. */
  readonly publish: (
    message: A,
    options?: PublishOptions
  ) => Effect.Effect<string, HubClosed | HubUnavailable | SseEvent.SseEventError>
  /** Publishes several messages in order, atomically with respect to other publishers; returns their ids. */
  readonly publishAll: (
    messages: Iterable<A>,
    options?: PublishOptions
  ) => Effect.Effect<ReadonlyArray<string>, HubClosed | HubUnavailable | SseEvent.SseEventError>
  /**
   * Subscribes now and returns the events as a stream: the retained events after `lastEventId` (if given),
   * then every later publish. The subscription lasts as long as the scope. The stream ends when the hub
   * shuts down and fails with `SubscriberDropped` if its consumer falls too far behind.
   */
  readonly subscribe: (
    options?: SubscribeOptions
  ) => Effect.Effect<Stream.Stream<SseEvent.SseEvent, SubscriberDropped>, HubClosed | HubUnavailable, Scope.Scope>
  /**
   * Serves the hub to the current request as an SSE response, resuming from the request's `Last-Event-ID`
   * header, or its `lastEventId` query parameter. The fast path: events are written as the bytes the hub
   * encoded once, a batch per socket write.
   */
  readonly serve: (
    options?: ServeOptions
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse, HubClosed, HttpServerRequest.HttpServerRequest>
  /**
   * Serves the hub on a plain Node request, outside Effect's HTTP server: for a `node:http` listener that
   * takes the SSE route before handing the rest to Effect's server (see the guide). It writes the head and
   * `: connected` at once, resumes like `serve`, and completes as soon as the client is live: the connection
   * then belongs to the hub, its scope closed when the client leaves, the hub shuts down or the server
   * closes. No fiber stays behind per connection, which is what a connection costs most on Effect's HTTP
   * server. A request that comes after the hub shut down is answered 503.
   */
  readonly serveNode: (
    request: IncomingMessage,
    response: ServerResponse,
    options?: ServeOptions
  ) => Effect.Effect<void>
  /** The number of current subscribers. */
  readonly clients: Effect.Effect<number>
  /** The number of subscribers, now and at every change; it ends when the hub shuts down. */
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
   * Turns a message into an event, purely or with an effect.
   *
   * @since 0.1.0
   * @category models
   */
  export type Encode<A, R> = (
    message: A
  ) => SseEvent.SseEvent | Effect.Effect<SseEvent.SseEvent, SseEvent.SseEventError, R>

  /**
   * @since 0.1.0
   * @category models
   */
  export interface Common<A> {
    /** Names the hub in errors, metrics (`hub` tag) and spans. Default: `"default"`. */
    readonly name?: string | undefined
    /** The event type (`event:` field) of every message, or a function of the message. Default: none. */
    readonly eventType?: string | ((message: A) => string) | undefined
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
     * A `: keep-alive` comment for served clients that received nothing for this long (checked once per
     * interval, so a quiet client hears one within two intervals). `false` turns it off. Default: 15 seconds.
     */
    readonly keepAlive?: Duration.DurationInput | false | undefined
    /** A `retry:` sent to every served client after `: connected`. Default: none. */
    readonly retry?: Duration.DurationInput | undefined
    /**
     * Whether `publish` and `publishAll` run in an `SseHub.publish` span. A span costs more than an in-memory
     * publish itself (measured: about 7 µs, against 4 µs for the publish), so the in-memory hub records none
     * unless asked; the Redis hub, where a publish is a round trip to Redis, does by default. `subscribe` and
     * `serve` always run in spans.
     */
    readonly tracePublish?: boolean | undefined
  }
}

/**
 * How a hub is built: messages become events through a Schema (their data is the JSON of the encoded
 * message) or through an encode function.
 *
 * @since 0.1.0
 * @category models
 */
export type Options<A, R = never> =
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any encoded side: the data is its JSON
  | Options.Common<A> & { readonly schema: Schema.Schema<A, any, R>; readonly encode?: undefined }
  | Options.Common<A> & { readonly encode: Options.Encode<A, R>; readonly schema?: undefined }

/**
 * Builds a hub that lives as long as the scope; closing the scope shuts it down.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <A, R = never>(options: Options<A, R>) => Effect.Effect<SseHub<A>, never, Scope.Scope | R> =
  internal.make

/**
 * Provides a hub under `tag`; releasing the layer shuts the hub down.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: <I, A, R = never>(
  tag: Context.Tag<I, SseHub<A>>,
  options: Options<A, R>
) => Layer.Layer<I, never, R> = internal.layer

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
export const metrics: typeof internal.metrics = internal.metrics
