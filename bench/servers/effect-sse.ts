/**
 * effect-sse, the default path: the hub of `hubApp.ts` served with `hub.serve()` on `HttpRouter` + `SseNode.layer`,
 * as every example and the README assemble it. SSE responses are written by the library straight to their
 * sockets; a hub client keeps no fiber once it is live.
 *
 * SIGTERM releases the layers through `NodeRuntime.runMain` (the hub ends its clients, the server closes), as a
 * deployed server stops: the `shutdown` scenario measures it.
 *
 *   PORT=8080 npx tsx bench/servers/effect-sse.ts
 */
import { HttpServer } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Config, Layer } from "effect"
import * as SseNode from "effect-sse/SseNode"
import { createServer } from "node:http"
import { BenchHubLive, router } from "./hubApp.js"
import * as Protocol from "./protocol.js"

const BenchServer = HttpServer.serve(router).pipe(
  HttpServer.withLogAddress,
  Layer.provide(BenchHubLive),
  Layer.provide(SseNode.layerConfig(createServer, {
    port: Config.integer("PORT"),
    host: Config.succeed(Protocol.host)
  }))
)

NodeRuntime.runMain(Layer.launch(BenchServer))
