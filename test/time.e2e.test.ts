import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, FastCheck as fc, Logger, Option, Ref, Stream, TestClock } from "effect"
import { EventSource } from "eventsource"
import { router, timeEvents } from "../examples/time.js"
import * as SseEvent from "../src/SseEvent.js"
import * as SseResponse from "../src/SseResponse.js"
import { launchChromium } from "./utils/browser.js"
import { runBody } from "./utils/inProcess.js"
import * as TestServer from "./utils/server.js"
import * as SseSocket from "./utils/sseSocket.js"

/** RFC 3339 in UTC, whole seconds, computed independently of the example's `formatTime`. */
const rfc3339 = (millis: number): string => {
  const date = new Date(millis)
  const pad = (n: number, width = 2) => String(n).padStart(width, "0")
  return `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}T${
    pad(date.getUTCHours())
  }:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}Z`
}

const rfc3339Pattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/

/** Any instant between 1970 and 2100, with milliseconds, so that dropping the fraction is exercised. */
const startTime = fc.integer({ min: 0, max: 4_102_444_800_000 })

describe("timeEvents (TestClock)", () => {
  it.effect.prop(
    "after n seconds exactly n events: ids evt-1…evt-n, type time, data the clock time in RFC 3339 UTC",
    [fc.integer({ min: 0, max: 50 }), startTime],
    ([n, start]) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(start)
        const seen = yield* Ref.make<ReadonlyArray<SseEvent.SseEvent>>([])
        yield* timeEvents.pipe(Stream.runForEach((event) => Ref.update(seen, (all) => [...all, event])), Effect.fork)
        yield* TestClock.adjust(`${n} seconds`)
        const events = yield* Ref.get(seen)
        expect(events.map((event) => [event.type, event.id, event.data])).toEqual(
          Array.from({ length: n }, (_, i) => ["time", `evt-${i + 1}`, rfc3339(start + (i + 1) * 1000)])
        )
        for (const event of events) expect(event.data).toMatch(rfc3339Pattern)
      }),
    { fastCheck: { numRuns: 40 } }
  )

  it.effect("nothing is emitted before the first second", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make(0)
      yield* timeEvents.pipe(Stream.runForEach(() => Ref.update(seen, (n) => n + 1)), Effect.fork)
      yield* TestClock.adjust("999 millis")
      expect(yield* Ref.get(seen)).toBe(0)
      yield* TestClock.adjust("1 millis")
      expect(yield* Ref.get(seen)).toBe(1)
    }))

  it.effect.prop(
    "served as an SSE response, a client parses exactly n time events after n seconds",
    [fc.integer({ min: 0, max: 50 }), startTime],
    ([n, start]) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(start)
        const body = yield* runBody(yield* SseResponse.stream(timeEvents))
        yield* TestClock.adjust(`${n} seconds`)
        const parsed = yield* body.parsed
        expect(parsed.events).toEqual(
          Array.from(
            { length: n },
            (_, i) => ({ event: "time", id: `evt-${i + 1}`, data: rfc3339(start + (i + 1) * 1000) })
          )
        )
        expect(parsed.comments).toEqual(["connected"])
      }),
    { fastCheck: { numRuns: 20 } }
  )
})

// The example serves on SseNode.layerConfig; its router serves the same on Effect's NodeHttpServer.
for (const kind of ["SseNode", "NodeHttpServer"] as const) {
  describe(`the time example over a real socket (${kind})`, () => {
    const timeEvent = /event: time\nid: evt-(\d+)\ndata: (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)\n\n/g

    it.live("answers with the SSE headers, writes ': connected' at once, then time events in the seed's format", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.serve(router, { server: kind })
        const client = yield* SseSocket.connect(server.port)
        const head = yield* client.readHead()
        expect(head.status).toBe(200)
        expect(head.httpVersion).toBe("1.1")
        expect(head.headers["content-type"]).toBe("text/event-stream")
        expect(head.headers["cache-control"]).toBe("no-cache")
        expect(head.headers["x-accel-buffering"]).toBe("no")
        expect(head.headers["connection"]).toBe("keep-alive")
        // The first write of the body is `: connected` alone, before any event.
        yield* client.readUntil(": connected\n\n")
        expect(client.bodyChunks[0].toString("utf8")).toBe(": connected\n\n")
        const body = yield* client.readUntil(/(event: time\nid: evt-\d+\ndata: [^\n]*\n\n){3}/, "10 seconds")
        expect(body).toMatch(
          /^: connected\n\n(event: time\nid: evt-\d+\ndata: \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\n\n){3}$/
        )
        const events = Array.from(
          body.matchAll(timeEvent),
          ([, id, time]) => ({ id: Number(id), time: Date.parse(time) })
        )
        expect(events.map((event) => event.id)).toEqual([1, 2, 3])
        // One second apart at least, so the whole-second times strictly increase.
        expect(events[1].time).toBeGreaterThan(events[0].time)
        expect(events[2].time).toBeGreaterThan(events[1].time)
      }).pipe(Effect.scoped))

    it.live("when the client goes away, the example's stream finalizer runs (it logs the disconnection)", () =>
      Effect.gen(function*() {
        const disconnected = yield* Deferred.make<void>()
        const logger = Logger.make<unknown, void>(({ message }) => {
          const text = Array.isArray(message) ? message.join(" ") : String(message)
          if (text.includes("client disconnected")) Deferred.unsafeDone(disconnected, Exit.void)
        })
        const server = yield* TestServer.serve(router, { server: kind }).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, logger))
        )
        const client = yield* SseSocket.connect(server.port)
        yield* client.readUntil("id: evt-1\n", "10 seconds")
        expect(yield* Deferred.isDone(disconnected)).toBe(false)
        client.destroy()
        yield* Deferred.await(disconnected).pipe(Effect.timeout("5 seconds"))
        yield* server.awaitNoSockets
      }).pipe(Effect.scoped))
  })
}

describe("the eventsource npm client", () => {
  it.live("receives time events with lastEventId evt-1, evt-2, evt-3 from the time example", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.serve(router)
      const source = yield* Effect.acquireRelease(
        Effect.sync(() => new EventSource(`http://127.0.0.1:${server.port}/events`)),
        (source) => Effect.sync(() => source.close())
      )
      const received = yield* Effect.async<ReadonlyArray<{ type: string; lastEventId: string; data: string }>, Error>(
        (resume) => {
          const events: Array<{ type: string; lastEventId: string; data: string }> = []
          source.addEventListener("time", (event) => {
            events.push({ type: event.type, lastEventId: event.lastEventId, data: event.data })
            if (events.length === 3) resume(Effect.succeed(events))
          })
          source.addEventListener("error", (error) => {
            if (source.readyState === EventSource.CLOSED) resume(Effect.fail(new Error(String(error.message))))
          })
        }
      ).pipe(Effect.timeout("10 seconds"))
      expect(received.map((event) => [event.type, event.lastEventId])).toEqual([
        ["time", "evt-1"],
        ["time", "evt-2"],
        ["time", "evt-3"]
      ])
      for (const event of received) expect(event.data).toMatch(rfc3339Pattern)
      expect(source.readyState).toBe(EventSource.OPEN)
    }).pipe(Effect.scoped))

  it.live("reconnects after a clean end, sending Last-Event-ID, and SseResponse.resumable resumes from it", () =>
    Effect.gen(function*() {
      const seenIds = yield* Ref.make<ReadonlyArray<Option.Option<string>>>([])
      const app = HttpRouter.empty.pipe(HttpRouter.get(
        "/events",
        SseResponse.resumable(
          (lastEventId) =>
            Stream.fromEffect(Ref.update(seenIds, (all) => [...all, lastEventId])).pipe(
              Stream.mapEffect(() =>
                Option.match(lastEventId, {
                  onNone: () => SseEvent.make("first").pipe(SseEvent.withId("evt-1")),
                  onSome: (id) => SseEvent.make(`resumed after ${id}`).pipe(SseEvent.withId("evt-2"))
                })
              )
            ),
          { retry: 50 }
        )
      ))
      const server = yield* TestServer.serve(app)
      const source = yield* Effect.acquireRelease(
        Effect.sync(() => new EventSource(`http://127.0.0.1:${server.port}/events`)),
        (source) => Effect.sync(() => source.close())
      )
      const received = yield* Effect.async<ReadonlyArray<readonly [string, string]>>((resume) => {
        const events: Array<readonly [string, string]> = []
        source.addEventListener("message", (event) => {
          events.push([event.lastEventId, event.data])
          if (events.length === 2) resume(Effect.succeed(events))
        })
      }).pipe(Effect.timeout("10 seconds"))
      expect(received).toEqual([["evt-1", "first"], ["evt-2", "resumed after evt-1"]])
      expect((yield* Ref.get(seenIds)).slice(0, 2)).toEqual([Option.none(), Option.some("evt-1")])
    }).pipe(Effect.scoped))
})

describe("a browser's EventSource", () => {
  const page = `<!doctype html><meta charset="utf-8"><title>time</title><script>
    window.received = []
    window.opened = false
    const source = new EventSource("/events")
    source.onopen = () => { window.opened = true }
    source.addEventListener("time", (e) => { window.received.push({ data: e.data, id: e.lastEventId }) })
  </script>`

  it.live(
    "in headless Chromium, opens at once and receives time events evt-1, evt-2 as the seed shows",
    () =>
      Effect.gen(function*() {
        const app = HttpRouter.get(router, "/", HttpServerResponse.html(page))
        const server = yield* TestServer.serve(app)
        const browser = yield* launchChromium
        const tab = yield* Effect.promise(() => browser.newPage())
        yield* Effect.promise(() => tab.goto(`http://127.0.0.1:${server.port}/`))
        // `: connected` is written at once, so `open` fires before the first event (a second later).
        yield* Effect.promise(() => tab.waitForFunction(() => (window as unknown as { opened: boolean }).opened))
        expect(
          yield* Effect.promise(() => tab.evaluate(() => (window as unknown as { received: Array<unknown> }).received))
        )
          .toEqual([])
        yield* Effect.promise(() =>
          tab.waitForFunction(() => (window as unknown as { received: Array<unknown> }).received.length >= 2, null, {
            timeout: 10_000
          })
        )
        const received = yield* Effect.promise(() =>
          tab.evaluate(() => (window as unknown as { received: Array<{ data: string; id: string }> }).received)
        )
        expect(received.slice(0, 2).map((e) => e.id)).toEqual(["evt-1", "evt-2"])
        for (const e of received) expect(e.data).toMatch(rfc3339Pattern)
      }).pipe(Effect.scoped),
    { timeout: 30_000 }
  )
})
