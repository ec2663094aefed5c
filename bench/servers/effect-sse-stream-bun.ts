/**
 * `SseResponse.stream` on Bun's own server: the routes of `streamApp.ts` on `@effect/platform-bun`'s
 * `BunHttpServer.layer`, with `SseServer.layer()` provided to `HttpServer.serve`, stopped by `BunRuntime.runMain`.
 * Its Node counterpart is `effect-sse-stream-platform.ts` (the same app on `NodeHttpServer.layer`); the harness runs
 * it with the Bun binary of the `bun` devDependency.
 *
 *   PORT=8080 bun bench/servers/effect-sse-stream-bun.ts
 */
import { HttpServer } from "@effect/platform"
import { BunHttpServer, BunRuntime } from "@effect/platform-bun"
import { Layer } from "effect"
import * as SseServer from "effect-sse/SseServer"
import * as Protocol from "./protocol.js"
import { router } from "./streamApp.js"

BunRuntime.runMain(Layer.launch(
  HttpServer.serve(router).pipe(
    HttpServer.withLogAddress,
    Layer.provide(SseServer.layer()),
    Layer.provide(BunHttpServer.layer({ port: Protocol.port(), hostname: Protocol.host }))
  )
))
