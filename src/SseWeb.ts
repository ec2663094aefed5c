/**
 * SSE on Fetch handlers (`Request → Response`): Bun's `Bun.serve`, Deno's `Deno.serve`, workers, and any server
 * that takes a Web handler. Built on `@effect/platform`'s `HttpApp.toWebHandlerLayer`, with an `SseServer` for
 * the streams: every SSE response of the app (`SseResponse.stream`, `SseConnection.upgrade`, `SseHub.serve`) is
 * a Web `ReadableStream` written straight from its source, kept alive, and ended cleanly when the handler is
 * disposed.
 *
 * ```ts
 * import { HttpRouter } from "@effect/platform"
 * import { Layer, Schedule, Stream } from "effect"
 * import * as SseEvent from "effect-sse/SseEvent"
 * import * as SseResponse from "effect-sse/SseResponse"
 * import * as SseWeb from "effect-sse/SseWeb"
 *
 * const ticks = Stream.fromSchedule(Schedule.spaced("1 second")).pipe(Stream.map((n) => SseEvent.make(String(n))))
 * const app = HttpRouter.empty.pipe(HttpRouter.get("/ticks", SseResponse.stream(ticks)))
 *
 * const { dispose, handler } = SseWeb.toWebHandlerLayer(app, Layer.empty)
 * // Deno.serve(handler), Bun.serve({ fetch: handler }), export default { fetch: handler }…
 * // on shutdown: await dispose() — every open stream ends cleanly
 * ```
 *
 * The module imports no `node:` module: it runs wherever `Request`, `Response` and `ReadableStream` exist.
 *
 * @since 0.2.0
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import type * as Context from "effect/Context"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/web.js"
import type * as SseServer from "./SseServer.js"

/**
 * A Web handler and its disposal.
 *
 * @since 0.2.0
 * @category models
 */
export interface WebHandler {
  /** Serves one request. `context` adds services for this request only. */
  readonly handler: (request: Request, context?: Context.Context<never> | undefined) => Promise<Response>
  /** Ends every open stream cleanly (cutting those that cannot finish within the grace period), then releases the layer. */
  readonly dispose: () => Promise<void>
}

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  readonly middleware?: HttpMiddleware.HttpMiddleware | undefined
  readonly memoMap?: Layer.MemoMap | undefined
  /** The options of the handler's `SseServer`. */
  readonly server?: SseServer.Options | undefined
}

/**
 * A Web handler for `app`, with its services built from `layer` on the first request (an `SseServer` is added).
 *
 * @example
 * ```ts
 * import { HttpRouter } from "@effect/platform"
 * import { Layer, Stream } from "effect"
 * import * as SseEvent from "effect-sse/SseEvent"
 * import * as SseResponse from "effect-sse/SseResponse"
 * import * as SseWeb from "effect-sse/SseWeb"
 *
 * const app = HttpRouter.empty.pipe(HttpRouter.get("/hello", SseResponse.stream(Stream.make(SseEvent.make("hi")))))
 * const { dispose, handler } = SseWeb.toWebHandlerLayer(app, Layer.empty)
 *
 * handler(new Request("http://localhost/hello"))
 *   .then((response) => response.text())
 *   .then((text) => console.log(JSON.stringify(text))) // ": connected\n\ndata: hi\n\n"
 *   .finally(dispose)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const toWebHandlerLayer: <E, R, RE>(
  app: HttpApp.Default<E, R | Scope.Scope>,
  layer: Layer.Layer<R, RE>,
  options?: Options
) => WebHandler = internal.toWebHandlerLayer

/**
 * A Web handler for an `app` that needs no services.
 *
 * @since 0.2.0
 * @category constructors
 */
export const toWebHandler: <E>(
  app: HttpApp.Default<E, Scope.Scope>,
  options?: Omit<Options, "memoMap">
) => WebHandler = internal.toWebHandler
