/**
 * The open event streams of an HTTP server, as one service: every SSE response served under it is kept alive
 * (a `: keep-alive` comment when it has been quiet for its interval), dropped when its client has taken
 * nothing of what waits for it within the write timeout, and ended cleanly when the service is released — so
 * a server with open streams still shuts down at once.
 *
 * `SseNode.layer` and `SseWeb`'s handlers include it. With another server (`NodeHttpServer.layer`, Bun's),
 * provide it to `HttpServer.serve` yourself; without it each stream keeps its own timer, and nothing ends the
 * streams when the server closes.
 *
 * ```ts
 * import { HttpRouter, HttpServer } from "@effect/platform"
 * import { NodeHttpServer } from "@effect/platform-node"
 * import { Layer, Stream } from "effect"
 * import * as SseResponse from "effect-sse/SseResponse"
 * import * as SseServer from "effect-sse/SseServer"
 * import { createServer } from "node:http"
 *
 * const app = HttpRouter.empty.pipe(HttpRouter.get("/events", SseResponse.stream(Stream.never)))
 * const main = HttpServer.serve(app).pipe(
 *   Layer.provide(SseServer.layer()),
 *   Layer.provide(NodeHttpServer.layer(createServer, { port: 3000 }))
 * )
 * ```
 *
 * @since 0.2.0
 */
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/sseServer.js"

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
 * The open event streams of a server.
 *
 * @since 0.2.0
 * @category models
 */
export interface SseServer {
  readonly [TypeId]: TypeId
  /** How many event streams are open now. */
  readonly open: Effect.Effect<number>
}

/**
 * @since 0.2.0
 * @category tags
 */
export const SseServer: Context.Tag<SseServer, SseServer> = internal.tag

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /**
   * How long streams may take to finish at shutdown (their clients taking what was already written) before they
   * are cut. Default: 1 second.
   */
  readonly gracePeriod?: Duration.DurationInput | undefined
}

/**
 * The service, for as long as the scope; closing the scope ends every stream.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<SseServer, never, Scope.Scope> = internal.make

/**
 * The service as a layer; releasing the layer ends every stream (after the grace period, cuts those that could
 * not finish).
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: (options?: Options) => Layer.Layer<SseServer> = internal.layer
