/**
 * effect-sse over HTTP/2 and HTTP/1.1 at once: the app of `hubApp.ts` (one hub) served by the one request listener
 * `SseNode.makeHandler` makes, on a `node:http` server on `PORT` (the bench's control requests, and HTTP/1.1
 * clients) and on a cleartext HTTP/2 (h2c) `node:http2` server on `H2_PORT`, as `test/SseNode.h2.e2e.test.ts`
 * serves it. Both reach the same hub, so the `h2-*` scenarios compare many streams over a few HTTP/2 sessions
 * with one connection per client on the same process. The HTTP/2 server allows 10 000 concurrent streams per
 * session (Node's default is 2^32 - 1; said here so the bench does not depend on it).
 *
 *   PORT=8080 H2_PORT=8081 npx tsx bench/servers/effect-sse-h2.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Exit, Scope } from "effect"
import * as SseNode from "effect-sse/SseNode"
import * as SseServer from "effect-sse/SseServer"
import { createServer, type Server } from "node:http"
import * as Http2 from "node:http2"
import { BenchHubLive, router } from "./hubApp.js"
import * as Protocol from "./protocol.js"

/** Listens on `port` until the scope closes. */
const listening = (server: Server | Http2.Http2Server, port: number) =>
  Effect.acquireRelease(
    Effect.async<void>((resume) => {
      server.listen(port, Protocol.host, () => resume(Effect.void))
    }),
    () =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        if ("closeIdleConnections" in server) server.closeIdleConnections()
      })
  )

const program = Effect.gen(function*() {
  const sseScope = yield* Scope.make()
  const sse = yield* SseServer.make().pipe(Scope.extend(sseScope))
  const handler = yield* SseNode.makeHandler(Effect.provideService(router, SseServer.SseServer, sse))
  // HTTP/2 first: the harness starts the clients once `PORT` answers.
  yield* listening(Http2.createServer({ settings: { maxConcurrentStreams: 10_000 } }, handler), Protocol.h2Port())
  yield* listening(createServer(handler), Protocol.port())
  // Runs before the servers close: the streams end first, so that `close` completes.
  yield* Effect.addFinalizer(() => Scope.close(sseScope, Exit.void))
  yield* Effect.log(
    `effect-sse-h2 listening on ${Protocol.host}:${Protocol.port()} (HTTP/1.1), :${Protocol.h2Port()} (h2c)`
  )
  return yield* Effect.never
})

NodeRuntime.runMain(program.pipe(Effect.scoped, Effect.provide(BenchHubLive)))
