/**
 * The app the effect-sse hub servers serve (`effect-sse.ts`, `effect-sse-node.ts`, `effect-sse-platform.ts`):
 * they differ only in the server under it. One `SseHub` (encode function `SseEvent.make(data)`, `bufferSize` 1024,
 * history 1000, the default `disconnect` policy, keep-alive and `writeTimeout`) on the in-memory backend, assembled
 * as in `examples/chat.ts`, and the routes of the bench protocol (`./protocol.ts`).
 *
 * `POST /broadcast` answers 202 at once; a daemon fiber then publishes the way a user would write it:
 * `hub.publish` in an `Effect.forEach` loop (or `hub.publishAll` B at a time with `batch=B`), paced with
 * `Effect.sleep` when a rate is given.
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Array as Arr, Context, Duration, Effect, Layer } from "effect"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseHub from "effect-sse/SseHub"
import * as SseHubBackend from "effect-sse/SseHubBackend"
import * as Protocol from "./protocol.js"

export class BenchHub extends Context.Tag("BenchHub")<BenchHub, SseHub.SseHub<string>>() {}

export const BenchHubLive = SseHub.layer(BenchHub, {
  name: "bench",
  encode: (data: string) => SseEvent.make(data),
  bufferSize: Protocol.bufferSize,
  history: { size: Protocol.historySize }
}).pipe(Layer.provide(SseHubBackend.layerMemory))

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

const broadcast = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const params = Protocol.parseBroadcast(request.url)
  if (typeof params === "string") return yield* HttpServerResponse.json({ error: params }, { status: 400 })
  const hub = yield* BenchHub
  if (params.count > 0) {
    yield* publishing(hub, params).pipe(
      Effect.catchAllCause((cause) => Effect.logError("broadcast failed", cause)),
      Effect.forkDaemon
    )
  }
  return yield* HttpServerResponse.json(params, { status: 202 })
})

const stats = Effect.gen(function*() {
  const hub = yield* BenchHub
  return yield* HttpServerResponse.json(Protocol.stats(yield* hub.clientCount))
})

export const router = HttpRouter.empty.pipe(
  HttpRouter.get("/events", Effect.flatMap(BenchHub, SseHub.serve())),
  HttpRouter.post("/broadcast", broadcast),
  HttpRouter.get("/stats", stats),
  HttpRouter.post(
    "/gc",
    Effect.suspend(() => HttpServerResponse.json({}, { status: Protocol.collectGarbage() ? 200 : 501 }))
  ),
  HttpRouter.get("/time", Effect.suspend(() => HttpServerResponse.json({ now: Protocol.nowMicros() })))
)
