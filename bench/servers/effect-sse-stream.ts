/**
 * `SseResponse.stream` on the default path: the routes of `streamApp.ts` on `HttpRouter` + `SseNode.layer`, as the
 * time example runs. Each open stream is the one fiber that runs it, writing straight to its socket; SIGTERM
 * releases the layer through `NodeRuntime.runMain`, which ends every stream cleanly and closes the server.
 *
 *   PORT=8080 npx tsx bench/servers/effect-sse-stream.ts
 */
import { HttpServer } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Config, Layer } from "effect"
import * as SseNode from "effect-sse/SseNode"
import { createServer } from "node:http"
import * as Protocol from "./protocol.js"
import { router } from "./streamApp.js"

NodeRuntime.runMain(Layer.launch(
  HttpServer.serve(router).pipe(
    HttpServer.withLogAddress,
    Layer.provide(SseNode.layerConfig(createServer, {
      port: Config.integer("PORT"),
      host: Config.succeed(Protocol.host)
    }))
  )
))
