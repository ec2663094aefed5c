/**
 * effect-sse on a plain `node:http` server of your own: the app of `hubApp.ts` (the same hub and routes as
 * `effect-sse.ts`) served by the request listener `SseNode.makeHandler` makes, with an `SseServer` provided to it,
 * as `test/SseNode.e2e.test.ts` assembles it. At shutdown the streams end first, then the server closes.
 *
 *   PORT=8080 npx tsx bench/servers/effect-sse-node.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Exit, Scope } from "effect"
import * as SseNode from "effect-sse/SseNode"
import * as SseServer from "effect-sse/SseServer"
import { createServer } from "node:http"
import { BenchHubLive, router } from "./hubApp.js"
import * as Protocol from "./protocol.js"

const program = Effect.gen(function*() {
  const sseScope = yield* Scope.make()
  const sse = yield* SseServer.make().pipe(Scope.extend(sseScope))
  const handler = yield* SseNode.makeHandler(Effect.provideService(router, SseServer.SseServer, sse))
  const server = createServer(handler)
  yield* Effect.acquireRelease(
    Effect.async<void>((resume) => {
      server.listen(Protocol.port(), Protocol.host, () => resume(Effect.void))
    }),
    () =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeIdleConnections()
      })
  )
  // Runs before the server closes: the streams end first, so that `close` completes.
  yield* Effect.addFinalizer(() => Scope.close(sseScope, Exit.void))
  yield* Effect.log(`effect-sse-node listening on ${Protocol.host}:${Protocol.port()}`)
  return yield* Effect.never
})

NodeRuntime.runMain(program.pipe(Effect.scoped, Effect.provide(BenchHubLive)))
