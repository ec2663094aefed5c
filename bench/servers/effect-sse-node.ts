/**
 * effect-sse on a plain `node:http` server of your own: the same hub as `effect-sse.ts` (encode function
 * `SseEvent.make(data)`, `bufferSize` 1024, history 1000, the `disconnect` policy, keep-alive), the same router,
 * served with the listener `SseNode.makeHandler` makes instead of `SseNode.layer`.
 *
 *   PORT=8080 npx tsx bench/servers/effect-sse-node.ts
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Array as Arr, Duration, Effect } from "effect"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseHub from "effect-sse/SseHub"
import * as SseHubBackend from "effect-sse/SseHubBackend"
import * as SseNode from "effect-sse/SseNode"
import * as SseServer from "effect-sse/SseServer"
import { createServer } from "node:http"
import * as Protocol from "./protocol.js"

Protocol.exitOnSignals()

const sleepUntil = (due: number) =>
  Effect.suspend(() => {
    const wait = due - performance.now()
    return wait > 0 ? Effect.sleep(Duration.millis(wait)) : Effect.void
  })

/** Resumes on the next turn of the event loop, after pending I/O: how events that come from I/O arrive. */
const nextTurn = Effect.async<void>((resume) => {
  setImmediate(() => resume(Effect.void))
})

const publishing = (hub: SseHub.SseHub<string>, params: Protocol.BroadcastParams) => {
  const { batch, count, rate, size } = params
  if (rate !== undefined) {
    const start = performance.now()
    return Effect.forEach(
      Arr.range(0, count - 1),
      (seq) =>
        Effect.zipRight(hub.publish(Protocol.makeData(seq, size)), sleepUntil(start + ((seq + 1) * 1000) / rate)),
      { discard: true }
    )
  }
  if (batch === 1 && params.yieldEach) {
    return Effect.forEach(
      Arr.range(0, count - 1),
      (seq) => Effect.zipRight(hub.publish(Protocol.makeData(seq, size)), nextTurn),
      { discard: true }
    )
  }
  if (batch === 1) {
    return Effect.forEach(Arr.range(0, count - 1), (seq) => hub.publish(Protocol.makeData(seq, size)), {
      discard: true
    })
  }
  return Effect.forEach(
    Arr.chunksOf(Arr.range(0, count - 1), batch),
    (seqs) => hub.publishAll(seqs.map((seq) => Protocol.makeData(seq, size))),
    { discard: true }
  )
}

const program = Effect.gen(function*() {
  const hub = yield* SseHub.make({
    name: "bench",
    encode: (data: string) => SseEvent.make(data),
    bufferSize: Protocol.bufferSize,
    history: { size: Protocol.historySize }
  })
  const broadcast = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const params = Protocol.parseBroadcast(request.url)
    if (typeof params === "string") return yield* HttpServerResponse.json({ error: params }, { status: 400 })
    if (params.count > 0) {
      yield* publishing(hub, params).pipe(
        Effect.catchAllCause((cause) => Effect.logError("broadcast failed", cause)),
        Effect.forkDaemon
      )
    }
    return yield* HttpServerResponse.json(params, { status: 202 })
  })
  const router = HttpRouter.empty.pipe(
    HttpRouter.get("/events", hub.serve()),
    HttpRouter.post("/broadcast", broadcast),
    HttpRouter.get("/stats", Effect.flatMap(hub.clientCount, (n) => HttpServerResponse.json(Protocol.stats(n)))),
    HttpRouter.post(
      "/gc",
      Effect.suspend(() => HttpServerResponse.json({}, { status: Protocol.collectGarbage() ? 200 : 501 }))
    ),
    HttpRouter.get("/time", Effect.suspend(() => HttpServerResponse.json({ now: Protocol.nowMicros() })))
  )
  const sse = yield* SseServer.make()
  const handler = yield* SseNode.makeHandler(Effect.provideService(router, SseServer.SseServer, sse))
  const server = createServer(handler)
  yield* Effect.async<void>((resume) => {
    server.listen(Protocol.port(), Protocol.host, () => resume(Effect.void))
  })
  yield* Effect.log(`effect-sse-node listening on ${Protocol.host}:${Protocol.port()}`)
  return yield* Effect.never
}).pipe(Effect.provide(SseHubBackend.layerMemory))

NodeRuntime.runMain(Effect.scoped(program))
