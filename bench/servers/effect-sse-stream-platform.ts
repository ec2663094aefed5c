/**
 * `SseResponse.stream` on Effect's own Node server, for reference: the routes of `streamApp.ts` on
 * `NodeHttpServer.layer`, with `SseServer.layer()` provided to `HttpServer.serve` as the guide says for "any other
 * server". The platform pulls each response's body in a fiber of its own, besides the one that runs the stream.
 *
 *   PORT=8080 npx tsx bench/servers/effect-sse-stream-platform.ts
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Layer } from "effect"
import * as SseServer from "effect-sse/SseServer"
import { createServer } from "node:http"
import * as Protocol from "./protocol.js"
import { router } from "./streamApp.js"

NodeRuntime.runMain(Layer.launch(
  HttpServer.serve(router).pipe(
    HttpServer.withLogAddress,
    Layer.provide(SseServer.layer()),
    Layer.provide(NodeHttpServer.layerConfig(createServer, {
      port: Config.integer("PORT"),
      host: Config.succeed(Protocol.host)
    }))
  )
))
