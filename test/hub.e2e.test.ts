/**
 * The hub over real sockets: a real Node server on 127.0.0.1 (port 0), real HTTP clients — raw sockets, Node's
 * HTTP client, the `eventsource` package's EventSource — and a client that stops reading. Every test runs on
 * `@effect/platform-node`'s own server (`NodeHttpServer.layer`, where an SSE response is a body the platform
 * pulls) and on the library's (`SseNode.layer`, where it is written straight to the socket). What only the
 * library's server does (its request fibers, `makeHandler`) is in `hub.SseNode.e2e.test.ts`.
 */
import { HttpRouter } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Either, Exit, FastCheck as fc, Fiber, Layer, Scope } from "effect"
import { EventSource } from "eventsource"
import * as SseEvent from "../src/SseEvent.js"
import * as SseHub from "../src/SseHub.js"
import * as SseHubBackend from "../src/SseHubBackend.js"
import { awaitClients, collect, hubMetric, hubMetrics, onMemory, range } from "./utils/hub.js"
import {
  awaitServerSocketClosed,
  decodeResponse,
  fullGc,
  openReader,
  openReaders,
  openStalled,
  type ReaderOptions,
  serveOnSseNode,
  Waiters
} from "./utils/hubClients.js"
import * as TestServer from "./utils/server.js"
import * as SseSocket from "./utils/sseSocket.js"

let hubCount = 0
const uniqueName = (label: string) => `e2e-${label}-${++hubCount}`

const stringHub = (options: SseHub.Options.Common<string> = {}) =>
  onMemory(SseHub.make<string>({ encode: (text) => SseEvent.make(text), keepAlive: false, ...options }))

/** The two servers every test runs on. `cuts` says whether the library owns the socket and can cut a client. */
const servers = [
  { name: "NodeHttpServer.layer", serve: TestServer.serve, cuts: false },
  { name: "SseNode.layer", serve: serveOnSseNode, cuts: true }
] as const

for (const transport of servers) {
  /**
   * GET /events serves `hub` on a real server until the scope closes. The route lets `HubClosed` through: once
   * the hub is shut down, the error answers for itself (503).
   */
  const serveOverHttp = <A>(hub: SseHub.SseHub<A>, options?: SseHub.ServeOptions) =>
    transport.serve(HttpRouter.empty.pipe(HttpRouter.get("/events", hub.serve(options))))

  /** Waits until the hub has dispatched everything published so far, as seen by an in-process subscriber. */
  const witness = <A>(hub: SseHub.SseHub<A>) => Effect.flatMap(hub.subscribe(), (stream) => collect(stream))

  describe(`SseHub.serve over HTTP (${transport.name})`, () => {
    it.scopedLive("every client receives every publish with its id, as the same bytes", () =>
      Effect.gen(function*() {
        const hub = yield* stringHub()
        const server = yield* serveOverHttp(hub)
        const a = yield* SseSocket.connect(server.port)
        const b = yield* SseSocket.connect(server.port)
        yield* awaitClients(hub, (n) => n === 2, "two clients")
        const ids = yield* hub.publishAll(["one", "two\nlines", "three"])
        const expected = `: connected\n\nid: ${ids[0]}\ndata: one\n\nid: ${ids[1]}\ndata: two\ndata: lines\n\n` +
          `id: ${ids[2]}\ndata: three\n\n`
        for (const client of [a, b]) {
          const head = yield* client.readHead()
          expect(head.status).toBe(200)
          expect(head.headers["content-type"]).toMatch(/^text\/event-stream/)
          expect(yield* client.readUntil("data: three\n\n")).toBe(expected)
        }
      }))

    it.scopedLive("a batch goes out as one HTTP/1.1 chunk per client; an HTTP/1.0 client gets the same bytes unframed", () =>
      Effect.gen(function*() {
        const hub = yield* stringHub()
        const server = yield* serveOverHttp(hub)
        const modern = yield* SseSocket.connect(server.port)
        const old = yield* SseSocket.connect(server.port, { httpVersion: "1.0" })
        yield* awaitClients(hub, (n) => n === 2, "two clients")
        const first = yield* hub.publishAll(["one", "two"])
        yield* modern.readUntil("data: two\n\n")
        const second = yield* hub.publish("three")
        const events = `id: ${first[0]}\ndata: one\n\nid: ${first[1]}\ndata: two\n\nid: ${second}\ndata: three\n\n`
        expect(yield* modern.readUntil("data: three\n\n")).toBe(`: connected\n\n${events}`)
        expect((yield* old.readHead()).headers["transfer-encoding"]).toBeUndefined()
        expect(yield* old.readUntil("data: three\n\n")).toBe(`: connected\n\n${events}`)
        // The hub writes each batch's bytes, framed once for every client, as a single chunk.
        expect(modern.bodyChunks.map((chunk) => chunk.toString()).slice(-2)).toEqual([
          `id: ${first[0]}\ndata: one\n\nid: ${first[1]}\ndata: two\n\n`,
          `id: ${second}\ndata: three\n\n`
        ])
        yield* hub.shutdown
        expect(yield* modern.awaitEnd()).toBe("end")
        expect(yield* old.awaitEnd()).toBe("close")
        expect(old.body).toBe(`: connected\n\n${events}`)
      }))

    it.scopedLive(
      "resumes from the Last-Event-ID header, or ?lastEventId= on a first request (the header wins); an unknown id gets `lost` first",
      () =>
        Effect.gen(function*() {
          const hub = yield* stringHub()
          const server = yield* serveOverHttp(hub)
          const seen = yield* witness(hub)
          const ids = yield* hub.publishAll(["a", "b", "c", "d"])
          yield* seen.atLeast(4)
          const byHeader = yield* openReader(server.port, { headers: { "last-event-id": ids[1] } })
          const byQuery = yield* openReader(server.port, { path: `/events?lastEventId=${ids[0]}` })
          const both = yield* openReader(server.port, {
            path: `/events?lastEventId=${ids[0]}`,
            headers: { "last-event-id": ids[2] }
          })
          const unknown = yield* openReader(server.port, { headers: { "last-event-id": "from-another-life" } })
          yield* byHeader.atLeast(2)
          yield* byQuery.atLeast(3)
          yield* both.atLeast(1)
          yield* unknown.atLeast(5)
          const live = yield* hub.publish("e")
          for (const reader of [byHeader, byQuery, both, unknown]) yield* reader.until((r) => r.lastId === live, "e")
          expect(byHeader.ids).toEqual([ids[2], ids[3], live])
          expect(byQuery.ids).toEqual([ids[1], ids[2], ids[3], live])
          expect(both.ids).toEqual([ids[3], live])
          expect(unknown.events[0]).toEqual({
            event: "lost",
            id: undefined,
            data: `{"lastEventId":"from-another-life"}`
          })
          expect(unknown.ids).toEqual([undefined, ...ids, live])
        })
    )

    it.scopedLive("a non-ASCII id that comes back as UTF-8 bytes in Last-Event-ID (as browsers send it) resumes after it", () =>
      Effect.gen(function*() {
        const hub = yield* onMemory(SseHub.make<string>({
          encode: (text) => SseEvent.make(text).pipe(SseEvent.withId(`café-${text}`)),
          keepAlive: false
        }))
        const server = yield* serveOverHttp(hub)
        const seen = yield* witness(hub)
        yield* hub.publishAll(["1", "2", "3"])
        yield* seen.atLeast(3)
        const client = yield* SseSocket.connect(server.port, { headers: { "last-event-id": "café-1" } }) // UTF-8 on the wire
        expect(yield* client.readUntil("data: 3\n\n")).toBe(
          ": connected\n\nid: café-2\ndata: 2\n\nid: café-3\ndata: 3\n\n"
        )
      }))

    it.scopedLive("a newcomer announced by its own onConnect gets ': connected', its greeting, then the announcement, each once", () =>
      Effect.gen(function*() {
        const hub = yield* stringHub()
        const seen = yield* witness(hub)
        let joined = 0
        const server = yield* serveOverHttp(hub, {
          // a greeting for the newcomer, and an announcement for everyone (the newcomer included), as a chat would
          onConnect: ({ clients }) =>
            Effect.gen(function*() {
              joined++
              yield* Effect.orDie(hub.publish(`client ${clients} joined`))
              yield* Effect.orDie(seen.atLeast(joined)) // the announcement is dispatched while the client connects
              return [Either.getOrThrow(SseEvent.make(`welcome, client ${clients}`).pipe(SseEvent.withType("welcome")))]
            })
        })
        const client = yield* SseSocket.connect(server.port)
        yield* client.readUntil("joined\n\n")
        const marker = yield* hub.publish("marker")
        const body = yield* client.readUntil("data: marker\n\n")
        expect(body).toBe(
          // clients: the in-process witness and the newcomer
          `: connected\n\nevent: welcome\ndata: welcome, client 2\n\nid: ${
            seen.items[0].id
          }\ndata: client 2 joined\n\n` +
            `id: ${marker}\ndata: marker\n\n`
        )
      }))

    it.scopedLive.prop(
      "an EventSource whose connection is cut reconnects with Last-Event-ID and, while publishing goes on, gets every event exactly once",
      {
        cuts: fc.uniqueArray(fc.integer({ min: 5, max: 110 }), { minLength: 1, maxLength: 3 }),
        pace: fc.constantFrom(0, 1, 2)
      },
      ({ cuts, pace }) =>
        Effect.gen(function*() {
          const total = 120
          const hub = yield* stringHub({ retry: "10 millis", history: { size: total } })
          const server = yield* serveOverHttp(hub)
          const received: Array<string> = []
          const arrivals = new Waiters()
          let lost = 0
          let opened = 0
          const source = yield* Effect.acquireRelease(
            Effect.sync(() => {
              const es = new EventSource(`http://127.0.0.1:${server.port}/events`)
              es.onmessage = (event) => {
                received.push(event.lastEventId)
                arrivals.notify()
              }
              es.onopen = () => {
                opened++
                arrivals.notify()
              }
              es.addEventListener("lost", () => lost++)
              return es
            }),
            (es) => Effect.sync(() => es.close())
          )
          yield* awaitClients(hub, (n) => n === 1, "the EventSource is connected")
          // the publisher paces itself (0, 1 or 2 ms between events) so that the cuts land mid-stream
          const publishing = yield* Effect.forEach(
            range(total),
            (i) => Effect.zipLeft(hub.publish(`m${i}`), pace === 0 ? Effect.yieldNow() : Effect.sleep(pace))
          ).pipe(Effect.fork)
          const until = (condition: () => boolean, label: string) =>
            arrivals.until(condition, () => `${label} (received ${received.length})`, "10 seconds")
          const sorted = [...cuts].sort((x, y) => x - y)
          for (const [k, cut] of sorted.entries()) {
            yield* until(() => received.length >= cut, `${cut} events received`)
            for (const socket of server.sockets) socket.destroy() // the network drops the connection
            yield* until(() => opened === k + 2, `reconnection ${k + 1}`)
          }
          const ids = yield* Fiber.join(publishing)
          yield* until(() => received.includes(ids[total - 1]), "the last event")
          expect(received).toEqual(ids)
          expect(lost).toBe(0)
          expect(source.readyState).toBe(EventSource.OPEN)
        }),
      { fastCheck: { numRuns: 5 } }
    )
  })

  describe(`SseHub shutdown over HTTP (${transport.name})`, () => {
    class Ticker extends Context.Tag("test/Ticker")<Ticker, SseHub.SseHub<string>>() {}

    it.scopedLive("releasing the hub's layer ends every served response cleanly, after what was published", () =>
      Effect.gen(function*() {
        const layerScope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(
          SseHub.layer(Ticker, { name: uniqueName("layer"), encode: (text) => SseEvent.make(text), keepAlive: false })
            .pipe(
              Layer.provide(SseHubBackend.layerMemory)
            ),
          layerScope
        )
        const hub = Context.get(context, Ticker)
        const server = yield* serveOverHttp(hub)
        const clients = yield* Effect.forEach(range(3), () => SseSocket.connect(server.port))
        yield* awaitClients(hub, (n) => n === 3, "three clients")
        const ids = yield* hub.publishAll(["last words", "really last"])
        yield* Scope.close(layerScope, Exit.void)
        for (const client of clients) {
          expect(yield* client.awaitEnd()).toBe("end") // the chunked body's final chunk: a clean end
          expect(client.body).toBe(
            `: connected\n\nid: ${ids[0]}\ndata: last words\n\nid: ${ids[1]}\ndata: really last\n\n`
          )
        }
        const late = yield* SseSocket.connect(server.port)
        expect((yield* late.readHead()).status).toBe(503)
        expect((yield* Effect.flip(hub.publish("too late")))._tag).toBe("HubClosed")
      }))

    // On NodeHttpServer the platform owns the socket and the library cannot cut it: only SseNode's writer can.
    it.scopedLive.skipIf(!transport.cuts)(
      "shutting down never waits for a client that stopped reading; closing the server then cuts it",
      () =>
        Effect.gen(function*() {
          const hub = yield* stringHub({ bufferSize: 100_000 })
          const serverScope = yield* Scope.make()
          const server = yield* serveOverHttp(hub).pipe(Scope.extend(serverScope))
          const stalled = yield* openStalled(server.port)
          yield* awaitClients(hub, (n) => n === 1, "the stalled client")
          const payload = "x".repeat(1024)
          // 8 MiB: more than the kernel buffers of a loopback connection hold, so the response is stuck mid-body
          for (const _ of range(16)) yield* hub.publishAll(range(512).map(() => payload))
          yield* hub.shutdown.pipe(
            Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("the hub's shutdown waited") })
          )
          yield* Scope.close(serverScope, Exit.void).pipe(
            Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("the server's shutdown waited") })
          )
          yield* awaitServerSocketClosed(server.sockets, stalled.localPort)
        })
    )
  })

  describe(`SseHub.serve after shutdown (${transport.name})`, () => {
    class Events extends Context.Tag("test/hub.e2e/Events")<Events, SseHub.SseHub<string>>() {}

    it.scopedLive("a route Effect.flatMap(Hub, SseHub.serve()) answers 503 with a text body naming the hub, and Retry-After", () =>
      Effect.gen(function*() {
        const name = uniqueName("closed")
        const hub = yield* stringHub({ name })
        const app = HttpRouter.empty.pipe(HttpRouter.get("/events", Effect.flatMap(Events, SseHub.serve())))
        const { port } = yield* transport.serve(Effect.provideService(app, Events, hub))
        const before = yield* SseSocket.connect(port)
        expect((yield* before.readHead()).status).toBe(200)
        yield* awaitClients(hub, (n) => n === 1, "the client")
        yield* hub.shutdown
        expect(yield* before.awaitEnd()).toBe("end")
        const after = yield* SseSocket.connect(port)
        const head = yield* after.readHead()
        expect(head.status).toBe(503)
        expect(head.headers["content-type"]).toMatch(/^text\/plain/)
        expect(head.headers["retry-after"]).toMatch(/^\d+$/)
        expect(yield* after.readUntil("shut down")).toBe(`The SSE hub "${name}" is shut down`)
      }))
  })

  describe(`SseHub slow clients over HTTP (${transport.name})`, () => {
    it.scopedLive.skipIf(!transport.cuts)(
      "one client that never reads and 50 that do: the 50 get everything, the slow one is dropped at its bound and can resume",
      () =>
        Effect.gen(function*() {
          const name = uniqueName("slow")
          const bufferSize = 256
          const batch = 64
          const eventSize = 1024
          const historySize = 4096
          const payload = (i: number) => `${i}:`.padEnd(eventSize, "x")
          const hub = yield* onMemory(SseHub.make<number>({
            name,
            encode: (i) => SseEvent.make(payload(i)),
            bufferSize,
            history: { size: historySize },
            keepAlive: false
          }))
          const server = yield* serveOverHttp(hub)
          const stalled = yield* openStalled(server.port)
          yield* awaitClients(hub, (n) => n === 1, "the stalled client")
          // Each reader checks, event by event, that the ids are consecutive and the data intact.
          const consecutive = (): ReaderOptions => {
            let previous: bigint | undefined
            return {
              keep: "none",
              check: (event) => {
                const id = BigInt(event.id ?? "0")
                const ok = (previous === undefined || id === previous + 1n) && event.data.length === eventSize
                previous = id
                return ok
              }
            }
          }
          const readers = yield* openReaders(server.port, 50, consecutive)
          yield* awaitClients(hub, (n) => n === 51, "51 clients")
          yield* Effect.forEach(readers, (r) => r.until((self) => self.comments.length > 0, "': connected'"), {
            discard: true
          })

          const ids: Array<string> = []
          const publishBatch = Effect.gen(function*() {
            ids.push(...(yield* hub.publishAll(range(batch).map((i) => ids.length + i))))
            // Publishing never waits for clients; the test waits for the 50 readers before the next batch, so
            // that only the stalled client can fall behind.
            yield* Effect.forEach(readers, (r) => r.atLeast(ids.length), { concurrency: "unbounded", discard: true })
          })

          // Until the stalled client is dropped: its kernel buffers fill up (a few MiB), then its buffer in the hub.
          const deliveredBefore = yield* hubMetric("sse_hub_events_delivered", name)
          // `delivered` counts events written to a client's response: the readers were written every event, so the
          // rest is what the stalled client was written before it was dropped.
          let atDrop: { readonly published: number; readonly writtenToStalled: number } | undefined
          for (let round = 0; round < 200 && atDrop === undefined; round++) {
            yield* publishBatch
            if ((yield* hubMetric("sse_hub_clients_dropped", name)) > 0) {
              const delivered = (yield* hubMetric("sse_hub_events_delivered", name)) - deliveredBefore
              atDrop = { published: ids.length, writtenToStalled: delivered - 50 * ids.length }
            }
          }
          expect(atDrop, "the stalled client was never dropped").toBeDefined()
          // The server closed its connection and forgot it.
          yield* awaitServerSocketClosed(server.sockets, stalled.localPort)
          yield* awaitClients(hub, (n) => n === 50, "the 50 readers are left")

          // Nothing is kept for it any more: publishing 2000 more events (2 MiB to each reader, 100 MiB in all)
          // leaves the heap where it was, give or take the history's last entries and allocator noise. (Coarse:
          // the exact per-client bound is the backlog check above.)
          fullGc()
          const heapAtDrop = process.memoryUsage().heapUsed
          const more = Math.ceil(2000 / batch)
          for (const _ of range(more)) yield* publishBatch
          fullGc()
          const growth = process.memoryUsage().heapUsed - heapAtDrop
          expect(growth).toBeLessThan(16 * 1024 * 1024)

          for (const reader of readers) {
            expect({ count: reader.count, bad: reader.bad, first: reader.firstId, last: reader.lastId }).toEqual({
              count: ids.length,
              bad: 0,
              first: ids[0],
              last: ids[ids.length - 1]
            })
          }
          expect(yield* hubMetrics(name)).toMatchObject({ clients: 50, clientsDropped: 1, published: ids.length })

          // The stalled client got a prefix of the events; reconnecting with the last id it got, it gets the rest.
          const got = yield* stalled.drain()
          expect(got.status).toBe(200)
          const gotIds = got.events.map((e) => e.id)
          expect(gotIds).toEqual(ids.slice(0, gotIds.length))
          // The bound. What its socket took reached it; the rest of what it was written was waiting in the server
          // when it was dropped: bufferSize events by the hub's count (the rule), which counts a write the socket
          // was still sending as waiting, so at least bufferSize less that one batch reached no kernel buffer; and
          // less than one batch more (the batch that found it full was not written to it at all).
          const { published, writtenToStalled } = atDrop!
          const waitingAtDrop = writtenToStalled - gotIds.length
          expect(waitingAtDrop).toBeGreaterThanOrEqual(bufferSize - batch)
          expect(waitingAtDrop).toBeLessThan(bufferSize + batch)
          expect(writtenToStalled).toBe(published - batch)
          const back = yield* openReader(server.port, {
            keep: "ids",
            headers: { "last-event-id": gotIds[gotIds.length - 1]! }
          })
          yield* back.until((r) => r.lastId === ids[ids.length - 1], "the resumed client catches up")
          expect([...gotIds, ...back.ids]).toEqual(ids)
        }),
      30_000
    )

    it.scopedLive("a burst many times bufferSize, published in a tight loop, reaches every reading client: none is taken for slow", () =>
      Effect.gen(function*() {
        const name = uniqueName("burst")
        const bufferSize = 64
        const hub = yield* stringHub({ name, bufferSize })
        const server = yield* serveOverHttp(hub)
        const readers = yield* openReaders(server.port, 20, () => ({ keep: "ids" }))
        yield* awaitClients(hub, (n) => n === 20, "20 readers")
        const payload = "x".repeat(512)
        // 2000 events (about 1 MiB per client) without ever yielding to the event loop.
        const ids = yield* Effect.forEach(range(2000), (i) => hub.publish(`${i} ${payload}`))
        yield* Effect.forEach(readers, (r) => r.atLeast(ids.length), { concurrency: "unbounded", discard: true })
        for (const reader of readers) expect(reader.ids).toEqual(ids)
        expect(yield* hubMetrics(name)).toMatchObject({ clients: 20, clientsDropped: 0, published: 2000 })
      }))

    it.scopedLive(
      "drop-oldest over a real socket: a client that stops reading gets, once it reads again, an ordered subsequence ending at the newest event; every event was written to it or counted as dropped",
      () =>
        Effect.gen(function*() {
          const name = uniqueName("drop-oldest-socket")
          const bufferSize = 64
          const hub = yield* stringHub({ name, bufferSize, slowClient: "drop-oldest" })
          const server = yield* serveOverHttp(hub)
          const stalled = yield* openStalled(server.port)
          yield* awaitClients(hub, (n) => n === 1, "the stalled client")
          const payload = "x".repeat(1024)
          const ids: Array<string> = []
          const publishRound = Effect.gen(function*() {
            ids.push(...(yield* hub.publishAll(range(64).map((i) => `${ids.length + i} ${payload}`))))
            yield* Effect.sleep("1 millis") // lets the dispatcher write
          })
          // Until its kernel buffers are full and the hub has started dropping for it (at most ~26 MiB).
          for (let round = 0; round < 400 && (yield* hubMetric("sse_hub_events_dropped", name)) === 0; round++) {
            yield* publishRound
          }
          expect(yield* hubMetric("sse_hub_events_dropped", name)).toBeGreaterThan(0)
          for (const _ of range(4)) yield* publishRound
          const last = ids[ids.length - 1]!

          // It reads again: what was held for it goes out when its socket drains.
          const received: Array<Buffer> = []
          const waiters = new Waiters()
          stalled.socket.on("data", (chunk: Buffer) => {
            received.push(chunk)
            waiters.notify()
          })
          stalled.socket.resume()
          yield* waiters.until(
            () => Buffer.concat(received).includes(`id: ${last}\n`),
            () => "the newest event",
            "20 seconds"
          )
          const got = decodeResponse(Buffer.concat(received)).events.map((e) => e.id!)
          expect(got[got.length - 1]).toBe(last)
          const positions = got.map((id) => ids.indexOf(id))
          expect(positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1]))).toBe(true)
          expect(got.length).toBeLessThan(ids.length)
          const dropped = yield* hubMetric("sse_hub_events_dropped", name)
          expect(got.length + dropped).toBe(ids.length)
        })
    )
  })
}
