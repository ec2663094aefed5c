/**
 * effect-sse on Bun's own server: the hub of `hubApp.ts` served with `hub.serve()` on `@effect/platform-bun`'s
 * `BunHttpServer.layer` (on `Bun.serve`), with `SseServer.layer()` provided to `HttpServer.serve`, and stopped by
 * `BunRuntime.runMain`, as `examples/bun.ts` assembles it. Its Node counterpart is `effect-sse-platform.ts` (the same
 * app on `NodeHttpServer.layer`); the harness runs it with the Bun binary of the `bun` devDependency.
 *
 *   PORT=8080 bun bench/servers/effect-sse-bun.ts
 */
import { HttpServer } from "@effect/platform"
import { BunHttpServer, BunRuntime } from "@effect/platform-bun"
import { Layer } from "effect"
import * as SseServer from "effect-sse/SseServer"
import { BenchHubLive, router } from "./hubApp.js"
import * as Protocol from "./protocol.js"

const BenchServer = HttpServer.serve(router).pipe(
  HttpServer.withLogAddress,
  Layer.provide(BenchHubLive),
  Layer.provide(SseServer.layer()),
  Layer.provide(BunHttpServer.layer({ port: Protocol.port(), hostname: Protocol.host }))
)

BunRuntime.runMain(Layer.launch(BenchServer))
