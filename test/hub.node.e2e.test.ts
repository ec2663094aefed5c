/**
 * `hub.serveNode` over real sockets: the hub served from a plain `node:http` listener, outside Effect's HTTP
 * server. The request's fiber ends once the client is live; the connection belongs to the hub.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Runtime, Schedule, Scope } from "effect"
import { EventSource } from "eventsource"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import * as SseEvent from "../src/SseEvent.js"
import * as SseHub from "../src/SseHub.js"
import { awaitClients, hubMetric, range } from "./utils/hub.js"
import { openReader, openStalled } from "./utils/hubClients.js"
import * as SseSocket from "./utils/sseSocket.js"

let hubCount = 0
const uniqueName = (label: string) => `node-${label}-${++hubCount}`

const stringHub = (options: SseHub.Options.Common<string> = {}) =>
  SseHub.make<string>({ encode: (text) => SseEvent.make(text), keepAlive: false, ...options })

interface NodeServer {
  readonly port: number
  readonly server: Server
  /** The fibers `serveNode` ran in, one per request. */
  readonly fibers: Array<Fiber.RuntimeFiber<void>>
}

/** A plain `node:http` server whose `/events` is `hub.serveNode`; everything else is a 404. */
const serveNodeOver = <A>(hub: SseHub.SseHub<A>, options?: SseHub.ServeOptions) =>
  Effect.gen(function*() {
    const run = Runtime.runFork(yield* Effect.runtime<never>())
    const fibers: Array<Fiber.RuntimeFiber<void>> = []
    const server = createServer((request, response) => {
      if (request.url?.startsWith("/events") === true) fibers.push(run(hub.serveNode(request, response, options)))
      else response.writeHead(404).end()
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.void))
      }),
      () =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )
    return { port: (server.address() as AddressInfo).port, server, fibers } satisfies NodeServer
  })

describe("SseHub.serveNode over a plain node:http server", () => {
  it.scopedLive("writes the SSE head and ': connected', then every publish; the request's fiber is done once the client is live", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub()
      const { fibers, port } = yield* serveNodeOver(hub)
      const client = yield* SseSocket.connect(port)
      const head = yield* client.readHead()
      expect(head.status).toBe(200)
      expect(head.headers["content-type"]).toBe("text/event-stream")
      expect(head.headers["cache-control"]).toBe("no-cache")
      expect(head.headers["connection"]).toBe("keep-alive")
      yield* awaitClients(hub, (n) => n === 1, "one client")
      // The connection is open and registered, and no fiber waits on it.
      expect(fibers).toHaveLength(1)
      expect(yield* Fiber.await(fibers[0])).toEqual(Exit.void)
      const ids = yield* hub.publishAll(["one", "two\nlines"])
      expect(yield* client.readUntil("data: lines\n\n")).toBe(
        `: connected\n\nid: ${ids[0]}\ndata: one\n\nid: ${ids[1]}\ndata: two\ndata: lines\n\n`
      )
    }))

  it.scopedLive("the eventsource package's EventSource receives the events", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub()
      const { port } = yield* serveNodeOver(hub)
      const received: Array<{ id: string; data: string }> = []
      const source = new EventSource(`http://127.0.0.1:${port}/events`)
      yield* Effect.addFinalizer(() => Effect.sync(() => source.close()))
      source.onmessage = (message) => received.push({ id: message.lastEventId, data: message.data })
      yield* awaitClients(hub, (n) => n === 1, "the EventSource")
      const ids = yield* hub.publishAll(["one", "two\nlines"])
      yield* Effect.repeat(Effect.sync(() => received.length), {
        until: (n) => n >= 2,
        schedule: Schedule.spaced("10 millis")
      }).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "EventSource got too little" }))
      expect(received).toEqual([{ id: ids[0], data: "one" }, { id: ids[1], data: "two\nlines" }])
    }))

  it.scopedLive("resumes from Last-Event-ID, or ?lastEventId= on a first request; an unknown id gets `lost` first", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub()
      const { port } = yield* serveNodeOver(hub)
      const ids = yield* hub.publishAll(["a", "b", "c"])
      const byHeader = yield* openReader(port, { headers: { "last-event-id": ids[0] } })
      const byQuery = yield* openReader(port, { path: `/events?lastEventId=${ids[1]}` })
      const unknown = yield* openReader(port, { headers: { "last-event-id": "from-another-life" } })
      yield* byHeader.atLeast(2)
      yield* byQuery.atLeast(1)
      yield* unknown.atLeast(4)
      expect(byHeader.ids).toEqual([ids[1], ids[2]])
      expect(byQuery.ids).toEqual([ids[2]])
      expect(unknown.events[0]).toEqual({ event: "lost", id: undefined, data: `{"lastEventId":"from-another-life"}` })
      expect(unknown.ids).toEqual([undefined, ...ids])
    }))

  it.scopedLive("clients that leave are unregistered: their scopes close without any fiber of theirs", () =>
    Effect.gen(function*() {
      const name = uniqueName("leave")
      const hub = yield* stringHub({ name })
      const { port } = yield* serveNodeOver(hub)
      const clients = yield* Effect.forEach(range(5), () => SseSocket.connectUnscoped(port))
      yield* awaitClients(hub, (n) => n === 5, "five clients")
      for (const client of clients) client.destroy()
      yield* awaitClients(hub, (n) => n === 0, "no client left")
      yield* hub.publish("to nobody")
      expect(yield* hubMetric("sse_hub_clients", name)).toBe(0)
    }))

  it.scopedLive("shutting the hub down ends every response cleanly; a later request is answered 503", () =>
    Effect.gen(function*() {
      const hubScope = yield* Scope.make()
      const hub = yield* stringHub().pipe(Scope.extend(hubScope))
      const { port } = yield* serveNodeOver(hub)
      const clients = yield* Effect.forEach(range(3), () => SseSocket.connect(port))
      yield* awaitClients(hub, (n) => n === 3, "three clients")
      const id = yield* hub.publish("last words")
      yield* Scope.close(hubScope, Exit.void)
      for (const client of clients) {
        expect(yield* client.awaitEnd()).toBe("end")
        expect(client.body).toBe(`: connected\n\nid: ${id}\ndata: last words\n\n`)
      }
      const late = yield* SseSocket.connect(port)
      expect((yield* late.readHead()).status).toBe(503)
    }))

  it.scopedLive("closing the node server ends the SSE responses, so that close completes", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub()
      const { port, server } = yield* serveNodeOver(hub)
      const clients = yield* Effect.forEach(range(3), () => SseSocket.connect(port))
      yield* awaitClients(hub, (n) => n === 3, "three clients")
      const closed = Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
      yield* closed.pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "server.close hung" }))
      for (const client of clients) expect(yield* client.awaitEnd()).toBe("end")
      yield* awaitClients(hub, (n) => n === 0, "no client left")
    }))

  it.scopedLive("a client that stops reading is dropped by the slow-client rule; readers get everything", () =>
    Effect.gen(function*() {
      const name = uniqueName("slow")
      const hub = yield* stringHub({ name, bufferSize: 32 })
      const { port } = yield* serveNodeOver(hub)
      yield* openStalled(port)
      const reader = yield* openReader(port, { keep: "ids" })
      yield* awaitClients(hub, (n) => n === 2, "two clients")
      const payload = "x".repeat(1024)
      const ids: Array<string> = []
      for (let round = 0; round < 400 && (yield* hubMetric("sse_hub_clients_dropped", name)) === 0; round++) {
        ids.push(...(yield* hub.publishAll(range(32).map((i) => `${ids.length + i} ${payload}`))))
        yield* reader.atLeast(ids.length)
      }
      expect(yield* hubMetric("sse_hub_clients_dropped", name)).toBe(1)
      yield* awaitClients(hub, (n) => n === 1, "the reader is left")
      expect(reader.ids).toEqual(ids)
    }))
})
