/**
 * The HTTP/2 baseline: `node.ts`'s hand-written broadcaster (each event encoded once, `res.write` to every
 * response, a response holding over `maxBufferedBytes` unsent destroyed) with one request listener on a
 * `node:http` server on `PORT` (control requests, HTTP/1.1 clients) and on a cleartext HTTP/2 (h2c) `node:http2`
 * server on `H2_PORT` (through its compatibility API), both feeding one set of clients. HTTP/2 responses carry no
 * `connection` header (RFC 9113, 8.2.2). 10 000 concurrent streams per session, as `effect-sse-h2.ts`.
 *
 *   PORT=8080 H2_PORT=8081 npx tsx bench/servers/node-h2.ts
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import * as Http2 from "node:http2"
import * as Protocol from "./protocol.js"

Protocol.exitOnSignals()

type Request = IncomingMessage | Http2.Http2ServerRequest
type Response = ServerResponse | Http2.Http2ServerResponse

/** What the broadcast needs of a response, HTTP/1.1 or HTTP/2 alike. */
interface Sink {
  readonly writableLength: number
  write(chunk: Buffer | string): boolean
  destroy(): void
}

const clients = new Set<Sink>()

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

const json = (res: Response, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(JSON.stringify(body))
}

const handler = (req: Request, res: Response) => {
  const path = req.url === undefined ? "/" : req.url.split("?", 1)[0]
  if (req.method === "GET" && path === "/events") {
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      ...(req.httpVersionMajor === 2 ? {} : { connection: "keep-alive" })
    })
    const sink = res as Sink
    sink.write(": connected\n\n")
    clients.add(sink)
    res.on("close", () => clients.delete(sink))
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
}

// HTTP/2 first: the harness starts the clients once `PORT` answers.
Http2.createServer({ settings: { maxConcurrentStreams: 10_000 } }, handler).listen(
  Protocol.h2Port(),
  Protocol.host,
  () => {
    createServer(handler).listen(
      Protocol.port(),
      Protocol.host,
      () =>
        console.log(`node-h2 listening on ${Protocol.host}:${Protocol.port()} (HTTP/1.1), :${Protocol.h2Port()} (h2c)`)
    )
  }
)
