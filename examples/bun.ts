/**
 * The time and chat examples on Bun's own server: `@effect/platform-bun`'s `BunHttpServer` and `BunRuntime`
 * where `time.ts` and `chat.ts` use `SseNode` and `NodeRuntime` (both of which also run on Bun unchanged). The
 * routers are the examples' own; an `SseServer` keeps their streams alive and ends them all at shutdown.
 *
 *   bun examples/bun.ts            # PORT=8080; the chat on /, /events, /messages; the time on /time/events
 */
import { HttpRouter, HttpServer } from "@effect/platform"
import { BunHttpServer, BunRuntime } from "@effect/platform-bun"
import { Config, Effect, Layer } from "effect"
import * as SseServer from "effect-sse/SseServer"
import { ChatHubLive, router as chatRouter } from "./chat.js"
import { router as timeRouter } from "./time.js"

const listen = Config.all({
  port: Config.integer("PORT").pipe(Config.withDefault(8080)),
  hostname: Config.string("HOST").pipe(Config.withDefault("127.0.0.1"))
})

const routes = HttpRouter.concat(chatRouter, HttpRouter.prefixAll(timeRouter, "/time"))

export const BunServer = HttpServer.serve(routes).pipe(
  HttpServer.withLogAddress,
  Layer.provide(ChatHubLive),
  Layer.provide(SseServer.layer()),
  Layer.provide(Layer.unwrapEffect(Effect.map(listen, (options) => BunHttpServer.layer(options))))
)

BunRuntime.runMain(Layer.launch(BunServer))
