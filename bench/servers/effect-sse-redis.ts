/**
 * effect-sse across processes: `bench/servers/effect-sse.ts` with the hub on Redis (`SseHubRedis.layer`),
 * the only change a user makes to go from one process to several. `REDIS_URL` says where Redis is and
 * `SSE_BENCH_KEY` names the stream, so that the processes of one run share it and runs do not mix.
 *
 *   PORT=8080 SSE_BENCH_KEY=bench-1 npx tsx bench/servers/effect-sse-redis.ts
 */
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Config, Context, Effect, Layer } from "effect"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseHub from "effect-sse/SseHub"
import * as SseHubRedis from "effect-sse/SseHubRedis"
import * as SseNode from "effect-sse/SseNode"
import { createServer } from "node:http"
import * as Protocol from "./protocol.js"

Protocol.exitOnSignals()

class BenchHub extends Context.Tag("BenchHub")<BenchHub, SseHub.SseHub<string>>() {}

// The stream key is `SSE_BENCH_KEY`: the prefix is all of it but the hub's name.
const BenchHubLive = Layer.unwrapEffect(Effect.map(
  Config.string("SSE_BENCH_KEY").pipe(Config.withDefault("effect-sse:bench")),
  (key) =>
    SseHub.layer(BenchHub, {
      name: "bench",
      encode: (data: string) => SseEvent.make(data),
      bufferSize: Protocol.bufferSize,
      history: { size: Protocol.historySize }
    }).pipe(
      Layer.provide(SseHubRedis.layer({ prefix: key.endsWith("bench") ? key.slice(0, -"bench".length) : `${key}:` }))
    )
))

/** Resumes on the next turn of the event loop, after pending I/O: how events that come from I/O arrive. */
const nextTurn = Effect.async<void>((resume) => {
  setImmediate(() => resume(Effect.void))
})

const broadcast = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const params = Protocol.parseBroadcast(request.url)
  if (typeof params === "string") return yield* HttpServerResponse.json({ error: params }, { status: 400 })
  const hub = yield* BenchHub
  // One event per turn of the event loop, as the other servers publish (each publish is an XADD).
  yield* Effect.forEach(
    Array.from({ length: params.count }, (_, seq) => seq),
    (seq) => Effect.zipRight(hub.publish(Protocol.makeData(seq, params.size)), nextTurn),
    { discard: true }
  ).pipe(Effect.catchAllCause((cause) => Effect.logError("broadcast failed", cause)), Effect.forkDaemon)
  return yield* HttpServerResponse.json(params, { status: 202 })
})

const router = HttpRouter.empty.pipe(
  HttpRouter.get("/events", Effect.flatMap(BenchHub, (hub) => hub.serve())),
  HttpRouter.post("/broadcast", broadcast),
  HttpRouter.get(
    "/stats",
    Effect.flatMap(
      BenchHub,
      (hub) => Effect.flatMap(hub.clientCount, (n) => HttpServerResponse.json(Protocol.stats(n)))
    )
  ),
  HttpRouter.post(
    "/gc",
    Effect.suspend(() => HttpServerResponse.json({}, { status: Protocol.collectGarbage() ? 200 : 501 }))
  ),
  HttpRouter.get("/time", Effect.suspend(() => HttpServerResponse.json({ now: Protocol.nowMicros() })))
)

NodeRuntime.runMain(Layer.launch(
  HttpServer.serve(router).pipe(
    Layer.provide(BenchHubLive),
    Layer.provide(SseNode.layerConfig(createServer, {
      port: Config.integer("PORT"),
      host: Config.succeed(Protocol.host)
    }))
  )
))
