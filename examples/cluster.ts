/**
 * The chat of `chat.ts` on a Redis-backed hub: run it twice, on two ports, and a message posted to one
 * server reaches the browsers of both. Only the hub's layer differs from the single-process chat.
 *
 *   PORT=8081 npm run cluster
 *   PORT=8082 npm run cluster      # in another terminal; REDIS_URL defaults to redis://127.0.0.1:6379
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Layer } from "effect"
import * as SseHubRedis from "effect-sse/SseHubRedis"
import { createServer } from "node:http"
import { fileURLToPath } from "node:url"
import { ChatHub, ChatMessage, router } from "./chat.js"

export const ChatHubRedis = SseHubRedis.layer(ChatHub, {
  name: "chat",
  schema: ChatMessage,
  history: { size: 1000 }
})

export const ClusterServer = HttpServer.serve(router).pipe(
  HttpServer.withLogAddress,
  Layer.provide(ChatHubRedis),
  Layer.provide(NodeHttpServer.layerConfig(createServer, {
    port: Config.integer("PORT").pipe(Config.withDefault(8081)),
    host: Config.string("HOST").pipe(Config.withDefault(undefined))
  }))
)

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  NodeRuntime.runMain(Layer.launch(ClusterServer))
}
