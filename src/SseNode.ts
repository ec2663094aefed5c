/**
 * Node at the edge: an `HttpServer` for `@effect/platform` on `node:http` and `node:http2` that writes the SSE
 * responses of this library straight to their sockets.
 *
 * It is a drop-in for `NodeHttpServer.layer`: routes, middleware and `HttpServer.serve` are Effect's own.
 * Ordinary responses are written as `@effect/platform-node` writes them. An SSE response (`SseResponse.stream`,
 * `SseConnection.upgrade`, `SseHub.serve`) is written by the library itself: its head and `: connected` go out
 * at once, the request's fiber ends as soon as the stream is live, and the stream then costs only what it needs
 * (a hub's client: no fiber at all; a served `Stream`: the fiber that runs it). It includes `SseServer`: every
 * stream is kept alive, dropped when its client stalls, and ended cleanly when the layer is released, before the
 * server closes.
 *
 * ```ts
 * import { HttpRouter, HttpServer } from "@effect/platform"
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Layer, Schedule, Stream } from "effect"
 * import * as SseEvent from "effect-sse/SseEvent"
 * import * as SseNode from "effect-sse/SseNode"
 * import * as SseResponse from "effect-sse/SseResponse"
 * import { createServer } from "node:http"
 *
 * const ticks = Stream.fromSchedule(Schedule.spaced("1 second")).pipe(Stream.map((n) => SseEvent.make(String(n))))
 * const app = HttpRouter.empty.pipe(HttpRouter.get("/ticks", SseResponse.stream(ticks)))
 *
 * HttpServer.serve(app).pipe(
 *   Layer.provide(SseNode.layer(createServer, { port: 3000 })),
 *   Layer.launch,
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * HTTP/2 works the same way with `http2.createServer` (cleartext) or `http2.createSecureServer` (TLS): each
 * stream is accounted on its own, so a stalled stream is dropped while another on the same connection keeps
 * full speed, and no connection-specific header is sent. The server does not upgrade connections to
 * WebSockets: serve those with `NodeHttpServer`.
 *
 * @since 0.2.0
 */
import type * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type * as Etag from "@effect/platform/Etag"
import type * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import type * as HttpPlatform from "@effect/platform/HttpPlatform"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { LazyArg } from "effect/Function"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import type * as Http2 from "node:http2"
import type * as Https from "node:https"
import type * as Net from "node:net"
import * as internal from "./internal/nodeServer.js"
import type * as SseServer from "./SseServer.js"

/**
 * The servers the layer listens with: `http.createServer`, `https.createServer`, `http2.createServer`,
 * `http2.createSecureServer`.
 *
 * @since 0.2.0
 * @category models
 */
export type NodeServer = Http.Server | Https.Server | Http2.Http2Server | Http2.Http2SecureServer

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /**
   * How long open streams may take to finish at shutdown before their connections are cut. Default: 1 second.
   */
  readonly gracePeriod?: Duration.DurationInput | undefined
}

/**
 * An `HttpServer` (and the `SseServer` of its streams) listening with the server `evaluate` makes, for as long as
 * the scope. A failure to listen (a port in use) is a `ServeError`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (
  evaluate: LazyArg<NodeServer>,
  options: Net.ListenOptions & Options
): Effect.Effect<HttpServer.HttpServer, HttpServerError.ServeError, Scope.Scope> =>
  Effect.map(internal.make(evaluate, options), Context.get(HttpServer.HttpServer))

/**
 * The server as a layer, with what `NodeHttpServer.layer` provides besides (`HttpPlatform`, `Etag`, the Node
 * context) and the `SseServer` of its streams. Releasing it ends every stream cleanly, then closes the server.
 *
 * @example
 * ```ts
 * import { HttpRouter, HttpServer } from "@effect/platform"
 * import { Layer, Stream } from "effect"
 * import * as SseNode from "effect-sse/SseNode"
 * import * as SseResponse from "effect-sse/SseResponse"
 * import { createServer } from "node:http"
 *
 * const app = HttpRouter.empty.pipe(HttpRouter.get("/events", SseResponse.stream(Stream.never)))
 * const main = HttpServer.serve(app).pipe(Layer.provide(SseNode.layer(createServer, { port: 3000 })))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  evaluate: LazyArg<NodeServer>,
  options: Net.ListenOptions & Options
): Layer.Layer<
  HttpServer.HttpServer | SseServer.SseServer | HttpPlatform.HttpPlatform | Etag.Generator | NodeContext.NodeContext,
  HttpServerError.ServeError
> =>
  Layer.merge(
    Layer.scopedContext(internal.make(evaluate, options)) as Layer.Layer<
      HttpServer.HttpServer | SseServer.SseServer,
      HttpServerError.ServeError
    >,
    NodeHttpServer.layerContext
  )

/**
 * The layer, its listen options read from `Config`.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import * as SseNode from "effect-sse/SseNode"
 * import { createServer } from "node:http"
 *
 * const ServerLive = SseNode.layerConfig(createServer, {
 *   port: Config.integer("PORT").pipe(Config.withDefault(8080)),
 *   host: Config.string("HOST").pipe(Config.withDefault("127.0.0.1"))
 * })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  evaluate: LazyArg<NodeServer>,
  options: Config.Config.Wrap<Net.ListenOptions>
): Layer.Layer<
  HttpServer.HttpServer | SseServer.SseServer | HttpPlatform.HttpPlatform | Etag.Generator | NodeContext.NodeContext,
  HttpServerError.ServeError | ConfigError.ConfigError
> =>
  Layer.merge(
    Layer.scopedContext(
      Effect.flatMap(Config.unwrap(options), (listen) => internal.make(evaluate, listen))
    ) as Layer.Layer<
      HttpServer.HttpServer | SseServer.SseServer,
      HttpServerError.ServeError | ConfigError.ConfigError
    >,
    NodeHttpServer.layerContext
  )

/**
 * The layer on a free port of 127.0.0.1, with an `HttpClient` whose relative URLs go to it: for tests, as
 * `NodeHttpServer.layerTest`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerTest: Layer.Layer<
  | HttpServer.HttpServer
  | SseServer.SseServer
  | HttpPlatform.HttpPlatform
  | Etag.Generator
  | NodeContext.NodeContext
  | HttpClient.HttpClient,
  HttpServerError.ServeError
> = HttpServer.layerTestClient.pipe(
  Layer.provide(NodeHttpClient.layerWithoutAgent),
  Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: false })),
  Layer.provideMerge(layer(() => Http.createServer(), { port: 0, host: "127.0.0.1" }))
)

/**
 * A request as a Node server hands it to its listener: HTTP/1 (`node:http`, `node:https`) or HTTP/2 (the
 * compatibility API of `node:http2`).
 *
 * @since 0.2.0
 * @category models
 */
export type NodeServerRequest = Http.IncomingMessage | Http2.Http2ServerRequest

/**
 * The response a Node server hands over with the request.
 *
 * @since 0.2.0
 * @category models
 */
export type NodeServerResponse = Http.ServerResponse | Http2.Http2ServerResponse

/**
 * A request listener for a server of your own that serves `app` as the layer's server does: SSE responses
 * straight to their sockets (or HTTP/2 streams), the rest as usual. It fits `http.createServer(listener)`,
 * `https.createServer`, `http2.createServer` and `http2.createSecureServer` alike. Its request fibers live as
 * long as the scope. Provide an `SseServer` to `app` for keep-alive, stall detection and a clean shutdown of its
 * streams.
 *
 * @example
 * ```ts
 * import { HttpRouter } from "@effect/platform"
 * import { Effect, Stream } from "effect"
 * import * as SseNode from "effect-sse/SseNode"
 * import * as SseResponse from "effect-sse/SseResponse"
 * import * as SseServer from "effect-sse/SseServer"
 * import { createServer } from "node:http2"
 *
 * const app = HttpRouter.empty.pipe(HttpRouter.get("/events", SseResponse.stream(Stream.never)))
 * const listen = Effect.gen(function*() {
 *   const sse = yield* SseServer.make()
 *   const handler = yield* SseNode.makeHandler(Effect.provideService(app, SseServer.SseServer, sse))
 *   createServer(handler).listen(8080)
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeHandler: <E, R>(
  app: HttpApp.Default<E, R>,
  middleware?: HttpMiddleware.HttpMiddleware
) => Effect.Effect<
  (request: NodeServerRequest, response: NodeServerResponse) => void,
  never,
  Exclude<R, HttpServerRequest.HttpServerRequest | Scope.Scope> | Scope.Scope
> = internal.makeHandler as never
