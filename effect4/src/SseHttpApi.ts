/**
 * Effect 4's typed SSE endpoints (`HttpApiSchema.StreamSse`) served with effect-sse: the endpoint is declared as
 * effect declares it, so it keeps its OpenAPI description and its `HttpApiClient`, and its handler answers with an
 * effect-sse response: `: connected` at once, `: keep-alive` comments, event ids, resumption from `Last-Event-ID`
 * (else the `lastEventId` query parameter), checked fields (an id or event type that would inject a field of its
 * own is refused with `SseEventError`, never written), an end (not a cut) when an `SseNode` server shuts down,
 * and, if wanted, the events of an `SseHub`. A failure of the stream reaches an `HttpApiClient` as effect's own
 * encoder sends it (the `effect/http-api/stream/failure` event).
 *
 * ```ts
 * import { Option, Schedule, Schema, Stream } from "effect"
 * import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
 * import * as SseHttpApi from "effect-sse/SseHttpApi"
 *
 * const Tick = Schema.Struct({ n: Schema.Number })
 * const Ticks = HttpApiSchema.StreamSse({ data: Tick })
 *
 * class Api extends HttpApi.make("api").add(
 *   HttpApiGroup.make("clock").add(HttpApiEndpoint.get("ticks", "/ticks", { success: Ticks }))
 * ) {}
 *
 * const ClockLive = HttpApiBuilder.group(Api, "clock", (handlers) =>
 *   handlers.handle("ticks", () =>
 *     SseHttpApi.resumable(
 *       Ticks,
 *       (lastEventId) =>
 *         Stream.iterate(Number(Option.getOrElse(lastEventId, () => "0")) + 1, (n) => n + 1).pipe(
 *           Stream.schedule(Schedule.spaced("1 second")),
 *           Stream.map((n) => ({ n }))
 *         ),
 *       { id: (tick) => String(tick.n), type: "tick" }
 *     )))
 *
 * // GET /ticks answers text/event-stream in the document, as effect describes it
 * const document = OpenApi.fromApi(Api)
 * ```
 *
 * @since 1.0.0
 */
import type * as Effect from "effect/Effect"
import type * as HttpApiSchema from "effect/http-api/HttpApiSchema"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import type * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/httpApi.js"
import type * as SseEvent from "./SseEvent.js"
import type * as SseHub from "./SseHub.js"
import type * as SseResponse from "./SseResponse.js"

/**
 * What an SSE endpoint is known by here: its `HttpApiSchema.StreamSse` success schema, or the endpoint itself (a
 * handler gets it as `request.endpoint`).
 *
 * @since 1.0.0
 * @category models
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any events, error and value: only the type is read
export type Source = HttpApiSchema.StreamSse<any, any, any> | { readonly "~Success": unknown }

/**
 * The `StreamSse` schema of a {@link Source}.
 *
 * @since 1.0.0
 * @category models
 */
export type DeclarationOf<S> = S extends { readonly _tag: "StreamSse" } ? S
  : S extends { readonly "~Success": infer Success } ? Extract<
      Success extends ReadonlyArray<infer Member> ? Member : Success,
      { readonly _tag: "StreamSse" }
    >
  : never

/**
 * What a handler streams for an endpoint: its data (a `StreamSse` made with `data`) or its events (made with
 * `events`).
 *
 * @since 1.0.0
 * @category models
 */
export type ValueOf<S> = DeclarationOf<S> extends { readonly "Type": Stream.Stream<infer A, infer _E, infer _R> } ? A
  : never

/**
 * The failures the endpoint declares for its stream (`StreamSse`'s `error`).
 *
 * @since 1.0.0
 * @category models
 */
export type ErrorOf<S> = DeclarationOf<S> extends { readonly "Type": Stream.Stream<infer _A, infer E, infer _R> } ? E
  : never

/**
 * The services the endpoint's schemas need to encode.
 *
 * @since 1.0.0
 * @category models
 */
export type ServicesOf<S> = DeclarationOf<S> extends { readonly "EncodingServices": infer R } ? R : never

/**
 * How a value becomes an event. For a `StreamSse` made with `data`, `id` gives each event its id (for
 * resumption) and `type` its event type (default: none, `message` for a browser); a `StreamSse` made with
 * `events` takes both from each event, so these options are not read for it.
 *
 * @since 1.0.0
 * @category models
 */
export interface EncodeOptions<A> {
  readonly id?: ((value: A) => string) | undefined
  readonly type?: string | undefined
}

/**
 * How a handler's stream is encoded and written (see `SseResponse.ResponseOptions`: keep-alive, retry, headers).
 *
 * @since 1.0.0
 * @category models
 */
export interface StreamOptions<A> extends EncodeOptions<A>, SseResponse.ResponseOptions {}

/**
 * Which of a hub's events a response serves (all when `topics` is undefined), and how it is written.
 *
 * @since 1.0.0
 * @category models
 */
export interface HubOptions extends SseResponse.ResponseOptions {
  readonly topics?: ReadonlyArray<string> | undefined
}

/**
 * How a value is published to a hub: encoded as for the endpoint, to `topics` (to everyone when undefined). The
 * hub gives the event its id.
 *
 * @since 1.0.0
 * @category models
 */
export interface PublishOptions<A> extends EncodeOptions<A> {
  readonly topics?: ReadonlyArray<string> | undefined
}

/**
 * The event a value of the endpoint becomes: encoded with the endpoint's schema, its fields checked. A value the
 * schema refuses is an `SseEventError` of reason `InvalidData`; an id or event type with CR, LF (or, for an id,
 * NUL) is `InvalidId` or `InvalidType`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { HttpApiSchema } from "effect/http-api"
 * import * as SseEvent from "effect-sse/SseEvent"
 * import * as SseHttpApi from "effect-sse/SseHttpApi"
 *
 * const Ticks = HttpApiSchema.StreamSse({ data: Schema.Struct({ n: Schema.Number }) })
 *
 * // "id: 1\ndata: {\"n\":1}\n\n"
 * const wire = SseHttpApi.event(Ticks, { n: 1 }, { id: (tick) => String(tick.n) }).pipe(Effect.map(SseEvent.encodeString))
 * ```
 *
 * @since 1.0.0
 * @category encoding
 */
export const event: <S extends Source>(
  source: S,
  value: ValueOf<S>,
  options?: EncodeOptions<ValueOf<S>>
) => Effect.Effect<SseEvent.SseEvent, SseEvent.SseEventError, ServicesOf<S>> = internal.event as never

/**
 * Encodes a stream of the endpoint's values into events (see {@link event}); the first value refused fails the
 * stream with its `SseEventError`.
 *
 * @since 1.0.0
 * @category encoding
 */
export const encode: <S extends Source>(
  source: S,
  options?: EncodeOptions<ValueOf<S>>
) => <E, R>(
  self: Stream.Stream<ValueOf<S>, E, R>
) => Stream.Stream<SseEvent.SseEvent, E | SseEvent.SseEventError, R | ServicesOf<S>> = internal.encode as never

/**
 * Implements an SSE endpoint with a stream of its values, served as `SseResponse.stream` serves (`: connected`,
 * keep-alive, an end at an `SseNode` server's shutdown). A value refused (see {@link event}) is not written: the
 * response ends there, the refusal logged and sent as effect's failure event (a defect, for an `HttpApiClient`);
 * a failure of the stream itself is logged and sent as that event too, encoded with the endpoint's `error`.
 *
 * @since 1.0.0
 * @category constructors
 */
export const stream: <S extends Source, R>(
  source: S,
  events: Stream.Stream<ValueOf<S>, ErrorOf<S>, R>,
  options?: StreamOptions<ValueOf<S>>
) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, R | ServicesOf<S>> = internal.stream as never

/**
 * Implements an SSE endpoint with the stream that `make` builds from the request's last event id (its
 * `Last-Event-ID` header, else its `lastEventId` query parameter; see `SseResponse.lastEventId`), so that a
 * reconnecting client resumes.
 *
 * @since 1.0.0
 * @category constructors
 */
export const resumable: <S extends Source, R>(
  source: S,
  make: (lastEventId: Option.Option<string>) => Stream.Stream<ValueOf<S>, ErrorOf<S>, R>,
  options?: StreamOptions<ValueOf<S>>
) => Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  R | ServicesOf<S> | HttpServerRequest.HttpServerRequest
> = internal.resumable as never

/**
 * Implements an SSE endpoint with a hub's events (published with {@link publish}, so encoded as the endpoint
 * declares): the hub's ids, and the retained events after the request's last event id before the live ones.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"
 * import * as SseHttpApi from "effect-sse/SseHttpApi"
 * import * as SseHub from "effect-sse/SseHub"
 *
 * const Message = Schema.Struct({ text: Schema.String })
 * const Messages = HttpApiSchema.StreamSse({ data: Message })
 *
 * class Api extends HttpApi.make("chat").add(
 *   HttpApiGroup.make("chat")
 *     .add(HttpApiEndpoint.get("events", "/events", { success: Messages }))
 *     .add(HttpApiEndpoint.post("send", "/messages", { payload: Message }))
 * ) {}
 *
 * const ChatLive = HttpApiBuilder.group(Api, "chat", (handlers) =>
 *   Effect.gen(function*() {
 *     const hub = yield* SseHub.SseHub
 *     return handlers
 *       .handle("events", () => SseHttpApi.hub(hub))
 *       .handle("send", ({ payload }) => SseHttpApi.publish(hub, Messages, payload).pipe(Effect.orDie, Effect.asVoid))
 *   }))
 * ```
 *
 * @since 1.0.0
 * @category constructors
 */
export const hub: (
  hub: SseHub.SseHub["Service"],
  options?: HubOptions
) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest> = internal.hub

/**
 * Publishes a value of the endpoint to a hub, encoded and checked as {@link event} does; returns the id the hub
 * gave it, or fails with the hub's `PublishError` when the hub refuses it.
 *
 * @since 1.0.0
 * @category constructors
 */
export const publish: <S extends Source>(
  hub: SseHub.SseHub["Service"],
  source: S,
  value: ValueOf<S>,
  options?: PublishOptions<ValueOf<S>>
) => Effect.Effect<string, SseEvent.SseEventError | SseHub.PublishError, ServicesOf<S>> = internal.publish as never
