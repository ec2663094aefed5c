/**
 * The baseline for a served stream: hand-written `node:http` doing what `effect-sse-stream.ts` does, the plain way.
 *
 * - `GET /events`: the head and `: connected`, then nothing (as `SseResponse.stream(Stream.never)`): no timer.
 * - `GET /ticks`: the same, then a `time` event every second from a `setInterval` of its own (as the time
 *   example's `Stream.fromSchedule(Schedule.spaced("1 second"))`), ids `evt-1`, `evt-2`, … per connection.
 * - One timer for all streams, once a second, keeps the two rules `SseServer` keeps: a `: keep-alive` comment after
 *   15 s of quiet, and a stream whose client took none of its waiting bytes for 10 s is destroyed.
 * - SIGTERM (or SIGINT): every stream is ended cleanly (its last chunk written), the server closes, idle keep-alive
 *   sockets are closed until it has, every connection is cut after a 1 s grace period, and the process exits.
 *
 *   PORT=8080 npx tsx bench/servers/node-stream.ts
 */
import { createServer, type ServerResponse } from "node:http"
import * as Protocol from "./protocol.js"

const keepAliveMs = 15_000
const writeTimeoutMs = 10_000
const gracePeriodMs = 1000

const formatTime = (millis: number): string => new Date(millis).toISOString().replace(/\.\d+Z$/, "Z")

/** One open stream: its response, its timer (`/ticks`), and what the keep-alive and stall rules need. */
class OpenStream {
  written = 0
  lastActivity = Date.now()
  seenTaken = 0
  lastProgress = Date.now()
  timer: NodeJS.Timeout | undefined
  ticks = 0

  constructor(readonly res: ServerResponse) {}

  write(text: string): void {
    this.written += Buffer.byteLength(text)
    this.lastActivity = Date.now()
    this.res.write(text)
  }

  tick(now: number): void {
    const buffered = this.res.writableLength
    const taken = this.written - buffered
    if (buffered === 0 || taken !== this.seenTaken) {
      this.seenTaken = taken
      this.lastProgress = now
    } else if (now - this.lastProgress >= writeTimeoutMs) {
      this.res.destroy()
      return
    }
    if (now - this.lastActivity >= keepAliveMs) {
      if (buffered === 0) this.write(": keep-alive\n\n")
      this.lastActivity = now
    }
  }

  end(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.res.end()
  }
}

const streams = new Set<OpenStream>()
let closing = false

const openStream = (res: ServerResponse, ticking: boolean) => {
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
    connection: "keep-alive"
  })
  const stream = new OpenStream(res)
  stream.write(": connected\n\n")
  if (closing) return stream.end()
  streams.add(stream)
  if (ticking) {
    stream.timer = setInterval(() => {
      stream.ticks++
      stream.write(`event: time\nid: evt-${stream.ticks}\ndata: ${formatTime(Date.now())}\n\n`)
    }, 1000)
  }
  res.on("close", () => {
    if (stream.timer !== undefined) clearInterval(stream.timer)
    streams.delete(stream)
  })
}

const ticker = setInterval(() => {
  const now = Date.now()
  for (const stream of streams) stream.tick(now)
}, 1000)

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(JSON.stringify(body))
}

const server = createServer((req, res) => {
  const path = req.url === undefined ? "/" : req.url.split("?", 1)[0]
  if (req.method === "GET" && (path === "/events" || path === "/ticks")) {
    openStream(res, path === "/ticks")
  } else if (req.method === "GET" && path === "/stats") {
    json(res, 200, Protocol.stats(streams.size))
  } else if (req.method === "POST" && path === "/gc") {
    json(res, Protocol.collectGarbage() ? 200 : 501, {})
  } else if (req.method === "GET" && path === "/time") {
    json(res, 200, { now: Protocol.nowMicros() })
  } else {
    json(res, 404, { error: "not found" })
  }
})

const shutdown = () => {
  if (closing) return
  closing = true
  clearInterval(ticker)
  for (const stream of streams) stream.end()
  const idle = setInterval(() => server.closeIdleConnections(), 20)
  const grace = setTimeout(() => server.closeAllConnections(), gracePeriodMs)
  server.close(() => {
    clearInterval(idle)
    clearTimeout(grace)
    process.exit(0)
  })
  server.closeIdleConnections()
}

for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, shutdown)

server.listen(
  Protocol.port(),
  Protocol.host,
  () => console.log(`node-stream listening on ${Protocol.host}:${Protocol.port()}`)
)
