/**
 * effect-sse on Effect's own Node server, for reference: the hub of `hubApp.ts` served with `hub.serve()` on
 * `NodeHttpServer.layer`, with `SseServer.layer()` provided to `HttpServer.serve` as the guide says for "any other
 * server". The platform pulls each response's body in a fiber of its own for as long as the client is connected.
 *
 *   PORT=8080 npx tsx bench/servers/effect-sse-platform.ts
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Layer } from "effect"
import * as SseServer from "effect-sse/SseServer"
import { createServer } from "node:http"
import { BenchHubLive, router } from "./hubApp.js"
import * as Protocol from "./protocol.js"

const BenchServer = HttpServer.serve(router).pipe(
  HttpServer.withLogAddress,
  Layer.provide(BenchHubLive),
  Layer.provide(SseServer.layer()),
  Layer.provide(NodeHttpServer.layerConfig(createServer, {
    port: Config.integer("PORT"),
    host: Config.succeed(Protocol.host)
  }))
)

NodeRuntime.runMain(Layer.launch(BenchServer))
