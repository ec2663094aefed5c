/**
 * better-sse: a session per request (`createSession`), registered with one channel; events go out through
 * `channel.broadcast`, which serializes and writes the event for each session.
 *
 * Sessions use better-sse's defaults (keep-alive every 10 s, `retry: 2000` on connect) except the serializer:
 * our data is already a string, so it is sent as is instead of as JSON. better-sse has no slow-client policy:
 * a response that stops draining keeps buffering. Publishing as fast as possible gives the event loop a turn
 * after each event, like the plain node server. `POST /broadcast` answers 202 at once.
 *
 *   PORT=8080 npx tsx bench/servers/better-sse.ts
 */
import { createChannel, createSession } from "better-sse"
import { createServer, type ServerResponse } from "node:http"
import * as Protocol from "./protocol.js"

Protocol.exitOnSignals()

const channel = createChannel()

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(JSON.stringify(body))
}

const server = createServer((req, res) => {
  const path = req.url === undefined ? "/" : req.url.split("?", 1)[0]
  if (req.method === "GET" && path === "/events") {
    createSession(req, res, { serializer: (data) => String(data) }).then(
      (session) => channel.register(session),
      (error) => console.error("createSession failed", error)
    )
  } else if (req.method === "POST" && path === "/broadcast") {
    const params = Protocol.parseBroadcast(req.url ?? "")
    if (typeof params === "string") return json(res, 400, { error: params })
    json(res, 202, params)
    Protocol.runBroadcast(params, (data) => channel.broadcast(data)).catch((error) =>
      console.error("broadcast failed", error)
    )
  } else if (req.method === "GET" && path === "/stats") {
    json(res, 200, Protocol.stats(channel.sessionCount))
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
  () => console.log(`better-sse listening on ${Protocol.host}:${Protocol.port()}`)
)
