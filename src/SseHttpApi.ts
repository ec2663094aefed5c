/**
 * SSE endpoints in an `HttpApi`: declared with a Schema for their events, implemented with a `Stream` or a hub
 * (with effect-sse's serving: keep-alive, ids, resumption, slow-client policy), described in the OpenAPI document
 * as `text/event-stream`, and read by a client derived from the API as a typed `Stream` that reconnects with
 * `Last-Event-ID`.
 *
 * ```ts
 * import { HttpApi, HttpApiBuilder, HttpApiGroup, OpenApi } from "@effect/platform"
 * import { Option, Schedule, Schema, Stream } from "effect"
 * import * as SseHttpApi from "effect-sse/SseHttpApi"
 *
 * const Tick = Schema.Struct({ n: Schema.Number })
 * const ticks = SseHttpApi.get("ticks", "/ticks", { data: Tick, type: "tick", id: (tick) => String(tick.n) })
 *
 * class Api extends HttpApi.make("api").add(HttpApiGroup.make("clock").add(ticks)) {}
 *
 * const ClockLive = HttpApiBuilder.group(Api, "clock", (handlers) =>
 *   handlers.handle("ticks", () =>
 *     SseHttpApi.resumable(ticks, (lastEventId) =>
 *       Stream.iterate(Number(Option.getOrElse(lastEventId, () => "0")) + 1, (n) => n + 1).pipe(
 *         Stream.schedule(Schedule.spaced("1 second")),
 *         Stream.map((n) => ({ n }))
 *       ))))
 *
 * // the document says: GET /ticks answers text/event-stream, each event an object { data: Tick, event, id }
 * const document = OpenApi.fromApi(Api)
 * ```
 *
 * @since 0.2.0
 */
import type * as HttpApi from "@effect/platform/HttpApi"
import type * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import type * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import type * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import type * as Types from "effect/Types"
import * as internal from "./internal/httpApi.js"
import type * as SseClient from "./SseClient.js"
import type * as SseHub from "./SseHub.js"
import type * as SseParser from "./SseParser.js"
import type * as SseResponse from "./SseResponse.js"

/**
 * @since 0.2.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId as never

/**
 * @since 0.2.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * The success of an SSE endpoint whose events carry data of type `A`: an SSE response, made by {@link stream},
 * {@link resumable} or {@link hub}.
 *
 * @since 0.2.0
 * @category models
 */
export interface Events<out A> extends HttpServerResponse.HttpServerResponse {
  readonly [TypeId]: { readonly _A: Types.Covariant<A> }
}

/**
 * What an SSE endpoint's events are.
 *
 * @since 0.2.0
 * @category models
 */
export interface EventsOptions<A, I> {
  /** The schema of each event's data, sent as the JSON of its encoded form. */
  readonly data: Schema.Schema<A, I>
  /** The event type (`event:` field) of every event. Default: none (`message`, for a browser). */
  readonly type?: string | undefined
  /**
   * The event id of a message, for resumption ({@link resumable}); a hub ({@link hub}) numbers events itself.
   * Default: none.
   */
  readonly id?: ((data: A) => string) | undefined
  /** The description of the stream in the OpenAPI document. Default: `"An event stream"`. */
  readonly description?: string | undefined
}

/**
 * The declaration an SSE endpoint carries: what {@link stream} encodes with and the client decodes with.
 *
 * @since 0.2.0
 * @category models
 */
export type Declaration<A = unknown, I = unknown> = EventsOptions<A, I>

/**
 * An endpoint that answers with events of data `A` (any method, path, parameters or errors).
 *
 * @since 0.2.0
 * @category models
 */
export interface EventsEndpoint<A> extends HttpApiEndpoint.HttpApiEndpoint.Any {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- whatever the schema needs: only its type matters
  readonly successSchema: Schema.Schema<Events<A>, unknown, any>
}

/**
 * The success schema of an SSE endpoint, to give `HttpApiEndpoint.addSuccess` by hand: its type is {@link Events},
 * its OpenAPI description the stream's event object. {@link get}, {@link post} and {@link make} use it and also
 * add OpenAPI 3.2's `itemSchema`.
 *
 * @since 0.2.0
 * @category schemas
 */
export const events: <A, I>(options: EventsOptions<A, I>) => Schema.Schema<Events<A>, unknown> = internal.events

/**
 * Declares an SSE endpoint with the given method: its success is an event stream of `options.data`. Add path,
 * URL parameters, headers, a payload or errors to it as to any endpoint.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: <Method extends HttpApiEndpoint.HttpApiEndpoint.AnyWithProps["method"]>(
  method: Method
) => <const Name extends string, A, I>(
  name: Name,
  path: HttpApiEndpoint.PathSegment,
  options: EventsOptions<A, I>
) => HttpApiEndpoint.HttpApiEndpoint<Name, Method, never, never, never, never, Events<A>> = internal.make

/**
 * Declares a `GET` SSE endpoint.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as SseHttpApi from "effect-sse/SseHttpApi"
 *
 * const Message = Schema.Struct({ user: Schema.String, text: Schema.String })
 * const messages = SseHttpApi.get("messages", "/messages", { data: Message, type: "message" })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const get: <const Name extends string, A, I>(
  name: Name,
  path: HttpApiEndpoint.PathSegment,
  options: EventsOptions<A, I>
) => HttpApiEndpoint.HttpApiEndpoint<Name, "GET", never, never, never, never, Events<A>> = internal.make(
  "GET"
)

/**
 * Declares a `POST` SSE endpoint (a request with a body answered by a stream, as language-model APIs do).
 *
 * @since 0.2.0
 * @category constructors
 */
export const post: <const Name extends string, A, I>(
  name: Name,
  path: HttpApiEndpoint.PathSegment,
  options: EventsOptions<A, I>
) => HttpApiEndpoint.HttpApiEndpoint<Name, "POST", never, never, never, never, Events<A>> = internal.make(
  "POST"
)

/**
 * The declaration of an SSE endpoint, `undefined` for an endpoint that is not one.
 *
 * @since 0.2.0
 * @category accessors
 */
export const declaration: (endpoint: HttpApiEndpoint.HttpApiEndpoint.Any) => Declaration | undefined =
  internal.declaration

/**
 * Implements an SSE endpoint with a stream of its data: each element is encoded with the endpoint's schema (its
 * type and id taken from the declaration) and served as `SseResponse.stream` serves (keep-alive, a clean end when
 * the server shuts down, the slow-client rules). An element that does not encode ends the response, logged.
 *
 * @since 0.2.0
 * @category constructors
 */
export const stream: <A, E, R>(
  endpoint: EventsEndpoint<A>,
  events: Stream.Stream<A, E, R>,
  options?: SseResponse.ResponseOptions
) => Effect.Effect<Events<A>, never, R> = internal.stream

/**
 * Implements an SSE endpoint with the stream that `make` builds from the request's last event id (the
 * `Last-Event-ID` header, else the `lastEventId` query parameter), so that a reconnecting client resumes.
 *
 * @since 0.2.0
 * @category constructors
 */
export const resumable: <A, E, R>(
  endpoint: EventsEndpoint<A>,
  make: (lastEventId: Option.Option<string>) => Stream.Stream<A, E, R>,
  options?: SseResponse.ResponseOptions
) => Effect.Effect<Events<A>, never, R | HttpServerRequest.HttpServerRequest> = internal.resumable

/**
 * Implements an SSE endpoint by serving a hub (see `SseHub.serve`): its ids, resumption from `Last-Event-ID`,
 * keep-alive and slow-client policy, and the client's state for targeting. The hub's messages must be the
 * endpoint's data, encoded by the hub (give the hub the endpoint's schema and type). A hub that is shut down
 * answers 503 with `Retry-After`, as `SseHub.serve` does.
 *
 * @since 0.2.0
 * @category constructors
 */
export const hub: <A, S, T>(
  hub: SseHub.SseHub<A, S, T>,
  options?: SseHub.ServeOptions<S>
) => Effect.Effect<Events<A>, never, HttpServerRequest.HttpServerRequest> = internal.hub

/**
 * What a request to an SSE endpoint takes: its path parameters, URL parameters, headers and payload, as the
 * endpoint declares them (the same as `HttpApiClient`'s), and the client's options.
 *
 * @since 0.2.0
 * @category models
 */
export type ClientRequest<Endpoint> = [Endpoint] extends [
  HttpApiEndpoint.HttpApiEndpoint<
    infer _Name,
    infer _Method,
    infer _Path,
    infer _UrlParams,
    infer _Payload,
    infer _Headers,
    infer _Success,
    infer _Error,
    infer _R,
    infer _RE
  >
] ?
    & ([_Path] extends [never] ? unknown : { readonly path: _Path })
    & ([_UrlParams] extends [never] ? unknown : { readonly urlParams: _UrlParams })
    & ([_Payload] extends [never] ? unknown : { readonly payload: _Payload })
    & ([_Headers] extends [never] ? unknown : { readonly headers: _Headers })
    & { readonly options?: SseClient.Options | undefined }
  : never

/**
 * The data of the events an endpoint streams.
 *
 * @since 0.2.0
 * @category models
 */
export type DataOf<Endpoint> = Endpoint extends HttpApiEndpoint.HttpApiEndpoint<
  infer _Name,
  infer _Method,
  infer _Path,
  infer _UrlParams,
  infer _Payload,
  infer _Headers,
  Events<infer A>,
  infer _Error,
  infer _R,
  infer _RE
> ? A
  : never

/**
 * A client of an API's SSE endpoints: for each group, for each SSE endpoint, a function that takes the request
 * and returns its events as a typed `Stream`, reconnecting with `Last-Event-ID` (see `SseClient.eventsSchema`).
 * The API's other endpoints are `HttpApiClient`'s.
 *
 * @since 0.2.0
 * @category models
 */
export type Client<Groups extends HttpApiGroup.HttpApiGroup.Any> = {
  readonly [Group in Groups as HttpApiGroup.HttpApiGroup.Name<Group>]: {
    readonly [
      Endpoint in HttpApiGroup.HttpApiGroup.Endpoints<Group> as [DataOf<Endpoint>] extends [never] ? never
        : HttpApiEndpoint.HttpApiEndpoint.Name<Endpoint>
    ]: (
      request: ClientRequest<Endpoint>
    ) => Stream.Stream<
      SseParser.Event<DataOf<Endpoint>>,
      SseClient.SseClientError | ParseResult.ParseError,
      HttpApiEndpoint.HttpApiEndpoint.Context<Endpoint>
    >
  }
}

/**
 * The client of an API's SSE endpoints at `baseUrl`, on the `HttpClient` provided (`FetchHttpClient.layer` in a
 * browser, `NodeHttpClient.layerUndici` on Node).
 *
 * @example
 * ```ts
 * import { FetchHttpClient, HttpApi, HttpApiGroup } from "@effect/platform"
 * import { Effect, Schema, Stream } from "effect"
 * import * as SseHttpApi from "effect-sse/SseHttpApi"
 *
 * const Tick = Schema.Struct({ n: Schema.Number })
 * class Api extends HttpApi.make("api").add(
 *   HttpApiGroup.make("clock").add(SseHttpApi.get("ticks", "/ticks", { data: Tick }))
 * ) {}
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* SseHttpApi.client(Api, { baseUrl: "http://127.0.0.1:8080" })
 *   yield* client.clock.ticks({}).pipe(
 *     Stream.take(3),
 *     Stream.runForEach((event) => Effect.log(event.data.n))
 *   )
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const client: <ApiId extends string, Groups extends HttpApiGroup.HttpApiGroup.Any, ApiError, ApiR>(
  api: HttpApi.HttpApi<ApiId, Groups, ApiError, ApiR>,
  options: {
    /** Where the API is: its endpoints' paths are resolved against it. */
    readonly baseUrl: string | URL
    /** Options for every stream of the client; a request's own `options` take precedence. */
    readonly options?: SseClient.Options | undefined
  }
) => Effect.Effect<Client<Groups>, never, HttpClient.HttpClient> = internal.client
