/**
 * The chat of `chat.ts` on the Redis backend: run it twice, on two ports, and a message posted to one server
 * reaches the browsers of both; a browser that reconnects to either resumes from its Last-Event-ID. Only the
 * hub's backend layer differs from the single-process chat.
 *
 *   PORT=8081 npm run cluster
 *   PORT=8082 npm run cluster      # in another terminal; REDIS_URL defaults to redis://127.0.0.1:6379
 */
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import * as SseHub from "effect-sse/SseHub"
import * as SseHubRedis from "effect-sse/SseHubRedis"
import { fileURLToPath } from "node:url"
import { ChatHub, chatHubOptions, serveChat } from "./chat.js"

/** The chat hub on Redis (`REDIS_URL`): every process that runs it shares its messages and its history. */
export const ChatHubRedis = SseHub.layer(ChatHub, chatHubOptions).pipe(Layer.provide(SseHubRedis.layer()))

export const ClusterServer = serveChat(ChatHubRedis)

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  NodeRuntime.runMain(Layer.launch(ClusterServer))
}
