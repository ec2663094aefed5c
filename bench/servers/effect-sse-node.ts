/**
 * effect-sse on a plain `node:http` server: the same hub as `effect-sse.ts` (encode function
 * `SseEvent.make(data)`, `bufferSize` 1024, history 1000, the `disconnect` policy, keep-alive), served with
 * `hub.serveNode(request, response)` from a Node listener instead of a route of Effect's HTTP server, as the
 * guide's "Many connections" recipe does. The other routes of the bench protocol are plain Node handlers;
 * broadcasts publish exactly as in `effect-sse.ts`.
 *
 *   PORT=8080 npx tsx bench/servers/effect-sse-node.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Array as Arr, Duration, Effect, Runtime } from "effect"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseHub from "effect-sse/SseHub"
import { createServer, type ServerResponse } from "node:http"
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

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(JSON.stringify(body))
}

const program = Effect.gen(function*() {
  const hub = yield* SseHub.make({
    name: "bench",
    encode: (data: string) => SseEvent.make(data),
    bufferSize: Protocol.bufferSize,
    history: { size: Protocol.historySize }
  })
  const run = Runtime.runFork(yield* Effect.runtime<never>())
  const server = createServer((req, res) => {
    const path = req.url === undefined ? "/" : req.url.split("?", 1)[0]
    if (req.method === "GET" && path === "/events") {
      run(hub.serveNode(req, res))
    } else if (req.method === "POST" && path === "/broadcast") {
      const params = Protocol.parseBroadcast(req.url ?? "")
      if (typeof params === "string") return json(res, 400, { error: params })
      json(res, 202, params)
      if (params.count > 0) {
        run(publishing(hub, params).pipe(Effect.catchAllCause((cause) => Effect.logError("broadcast failed", cause))))
      }
    } else if (req.method === "GET" && path === "/stats") {
      json(res, 200, Protocol.stats(Effect.runSync(hub.clients)))
    } else if (req.method === "POST" && path === "/gc") {
      json(res, Protocol.collectGarbage() ? 200 : 501, {})
    } else if (req.method === "GET" && path === "/time") {
      json(res, 200, { now: Protocol.nowMicros() })
    } else {
      json(res, 404, { error: "not found" })
    }
  })
  yield* Effect.async<void>((resume) => {
    server.listen(Protocol.port(), Protocol.host, () => resume(Effect.void))
  })
  yield* Effect.log(`effect-sse-node listening on ${Protocol.host}:${Protocol.port()}`)
  return yield* Effect.never
})

NodeRuntime.runMain(Effect.scoped(program))
