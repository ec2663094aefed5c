/**
 * The floor under any SSE library on Effect's HTTP server: a hand-written `@effect/platform` server with no
 * library at all. `GET /events` answers with a raw `Readable` body that the broadcast writes each event into
 * (encoded once, pushed to every client). What it costs per connection and per connect is what
 * `@effect/platform-node` itself costs (its request fiber, scope, request object and response pipeline):
 * effect-sse cannot go below it without leaving Effect's server.
 *
 *   PORT=8080 npx tsx bench/servers/effect-platform.ts
 */
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer } from "effect"
import { createServer } from "node:http"
import { Readable } from "node:stream"
import * as Protocol from "./protocol.js"

Protocol.exitOnSignals()

const clients = new Set<Readable>()

const broadcast = (data: string, seq: number) => {
  const bytes = Buffer.from(`id: ${seq}\ndata: ${data}\n\n`)
  for (const body of clients) body.push(bytes)
}

const events = Effect.sync(() => {
  const body = new Readable({ read() {} })
  body.push(": connected\n\n")
  clients.add(body)
  body.on("close", () => clients.delete(body))
  return HttpServerResponse.raw(body, {
    contentType: "text/event-stream",
    headers: { "cache-control": "no-cache", connection: "keep-alive" }
  })
})

const broadcastRoute = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const params = Protocol.parseBroadcast(request.url)
  if (typeof params === "string") return yield* HttpServerResponse.json({ error: params }, { status: 400 })
  Protocol.runBroadcast(params, broadcast).catch((error) => console.error("broadcast failed", error))
  return yield* HttpServerResponse.json(params, { status: 202 })
})

const router = HttpRouter.empty.pipe(
  HttpRouter.get("/events", events),
  HttpRouter.post("/broadcast", broadcastRoute),
  HttpRouter.get("/stats", Effect.suspend(() => HttpServerResponse.json(Protocol.stats(clients.size)))),
  HttpRouter.post(
    "/gc",
    Effect.suspend(() => HttpServerResponse.json({}, { status: Protocol.collectGarbage() ? 200 : 501 }))
  ),
  HttpRouter.get("/time", Effect.suspend(() => HttpServerResponse.json({ now: Protocol.nowMicros() })))
)

NodeRuntime.runMain(Layer.launch(
  HttpServer.serve(router).pipe(
    Layer.provide(NodeHttpServer.layerConfig(createServer, {
      port: Config.integer("PORT"),
      host: Config.succeed(Protocol.host)
    }))
  )
))
