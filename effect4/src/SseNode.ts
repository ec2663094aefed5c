/**
 * A Node HTTP server (effect 4's `@effect/platform-node` `NodeHttpServer`) whose SSE responses end cleanly when
 * it shuts down: the server's scope closing first ends every open event stream (its last chunk written, so a
 * client sees the end of the response, not a reset) and then lets `NodeHttpServer` close the idle connections,
 * instead of holding them until `gracefulShutdownTimeout` (20 s by default) and cutting them.
 *
 * @since 1.0.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type * as NodeServices from "@effect/platform-node/NodeServices"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { LazyArg } from "effect/Function"
import type * as Etag from "effect/http/Etag"
import type * as HttpPlatform from "effect/http/HttpPlatform"
import * as HttpServer from "effect/http/HttpServer"
import type * as HttpServerError from "effect/http/HttpServerError"
import * as Layer from "effect/Layer"
import type * as Http from "node:http"
import * as SseResponse from "./SseResponse.js"

/**
 * `NodeHttpServer`'s options, and how long a shutdown waits for the open event streams to end once they are told
 * to (default: 1 second).
 *
 * @since 1.0.0
 * @category models
 */
export interface Options extends NodeHttpServer.Options {
  readonly shutdownGrace?: Duration.Input | undefined
}

/**
 * The server, with `SseResponse.Shutdown` for the responses it serves.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http"
 * import * as SseNode from "effect-sse/SseNode"
 *
 * const server = SseNode.layer(() => createServer(), { port: 3000, host: "127.0.0.1" })
 * ```
 *
 * @since 1.0.0
 * @category layers
 */
export const layer = (
  evaluate: LazyArg<Http.Server>,
  options: Options
): Layer.Layer<
  | HttpServer.HttpServer
  | NodeServices.NodeServices
  | HttpPlatform.HttpPlatform
  | Etag.Generator
  | SseResponse.Shutdown,
  HttpServerError.ServeError
> => {
  const grace = options.shutdownGrace ?? Duration.seconds(1)
  // Added to the serve scope after the server's own finalizer, so run before it: the streams end first.
  const ending = Layer.effect(HttpServer.HttpServer)(Effect.gen(function*() {
    const inner = yield* HttpServer.HttpServer
    const shutdown = yield* SseResponse.Shutdown
    return HttpServer.make({
      address: inner.address,
      serve: (app, middleware) =>
        Effect.andThen(
          middleware === undefined ? inner.serve(app) : inner.serve(app, middleware),
          Effect.addFinalizer(() => shutdown.close(grace))
        )
    })
  }))
  const base = Layer.merge(
    NodeHttpServer.layer(evaluate, options),
    Layer.effect(SseResponse.Shutdown)(SseResponse.makeShutdown)
  )
  return Layer.provideMerge(ending, base)
}
