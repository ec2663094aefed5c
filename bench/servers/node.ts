/**
 * The baseline: a hand-written `node:http` SSE server, the practical upper bound for Node.
 *
 * Each event is encoded once into a Buffer and `res.write` to every response. Publishing as fast as possible
 * gives the event loop a turn after each event, so every event is its own write per socket (no batching).
 * Backpressure the simple way: a response holding more than `maxBufferedBytes` (1 MiB) unsent is destroyed.
 * `POST /broadcast` answers 202 at once and publishes afterwards.
 *
 *   PORT=8080 npx tsx bench/servers/node.ts
 */
import { createServer, type ServerResponse } from "node:http"
import * as Protocol from "./protocol.js"

Protocol.exitOnSignals()

const clients = new Set<ServerResponse>()

const broadcast = (data: string, seq: number) => {
  const bytes = Buffer.from(`id: ${seq}\ndata: ${data}\n\n`)
  for (const res of clients) {
    if (res.writableLength > Protocol.maxBufferedBytes) {
      clients.delete(res)
      res.destroy()
    } else {
      res.write(bytes)
    }
  }
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(JSON.stringify(body))
}

const server = createServer((req, res) => {
  const path = req.url === undefined ? "/" : req.url.split("?", 1)[0]
  if (req.method === "GET" && path === "/events") {
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      connection: "keep-alive"
    })
    res.write(": connected\n\n")
    clients.add(res)
    res.on("close", () => clients.delete(res))
  } else if (req.method === "POST" && path === "/broadcast") {
    const params = Protocol.parseBroadcast(req.url ?? "")
    if (typeof params === "string") return json(res, 400, { error: params })
    json(res, 202, params)
    Protocol.runBroadcast(params, broadcast).catch((error) => console.error("broadcast failed", error))
  } else if (req.method === "GET" && path === "/stats") {
    json(res, 200, Protocol.stats(clients.size))
  } else if (req.method === "POST" && path === "/gc") {
    json(res, Protocol.collectGarbage() ? 200 : 501, {})
  } else if (req.method === "GET" && path === "/time") {
    json(res, 200, { now: Protocol.nowMicros() })
  } else {
    json(res, 404, { error: "not found" })
  }
})

server.listen(
  Protocol.port(),
  Protocol.host,
  () => console.log(`node listening on ${Protocol.host}:${Protocol.port()}`)
)
