import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, FastCheck as fc, Fiber, Option, Queue, Ref, Stream, TestClock } from "effect"
import * as SseEvent from "../src/SseEvent.js"
import * as SseResponse from "../src/SseResponse.js"
import { collectBody, makeLogCapture, runBody, serveBody, within } from "./utils/inProcess.js"
import { fieldNames } from "./utils/parse.js"
import * as TestServer from "./utils/server.js"
import * as SseSocket from "./utils/sseSocket.js"

const connected = ": connected\n\n"
const keepAlive = ": keep-alive\n\n"

const count = (text: string, part: string): number => text.split(part).length - 1

const servers = ["NodeHttpServer", "NodeHttpServer without SseServer", "SseNode"] as const

const requestWith = (headers: Record<string, string>) =>
  HttpServerRequest.fromWeb(new Request("http://127.0.0.1/events", { headers }))

describe("SseResponse.stream in-process", () => {
  it.effect("answers with the SSE headers and writes ': connected' before anything else", () =>
    Effect.gen(function*() {
      const response = yield* SseResponse.stream(Stream.never)
      expect(response.status).toBe(200)
      expect(response.body._tag).toBe("Stream")
      expect(response.body._tag === "Stream" && response.body.contentType).toBe("text/event-stream")
      expect(response.headers["cache-control"]).toBe("no-cache")
      expect(response.headers["x-accel-buffering"]).toBe("no")
      // Not an HTTP/1.1 request (here: none at all), so no connection-specific header.
      expect(response.headers["connection"]).toBeUndefined()
      const body = yield* runBody(response)
      yield* TestClock.adjust("1 second")
      expect(yield* body.text).toBe(connected)
    }))

  it.scoped("the stream starts when the response is served, not when the route builds the response", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const events = Stream.fromEffect(Deferred.succeed(started, undefined)).pipe(
        Stream.as(SseEvent.make("first")),
        Stream.concat(Stream.never)
      )
      const response = yield* SseResponse.stream(events)
      yield* TestClock.adjust("1 minute")
      expect(yield* Deferred.isDone(started)).toBe(false)
      const body = yield* serveBody(response)
      yield* within(Deferred.await(started), "the stream to start once the response is served")
      yield* body.read
      expect(yield* body.text).toBe(`${connected}data: first\n\n`)
    }))

  it.effect("adds extra headers given as an option", () =>
    Effect.gen(function*() {
      const response = yield* SseResponse.stream(Stream.never, { headers: { "x-stream": "time" } })
      expect(response.headers["x-stream"]).toBe("time")
      expect(response.headers["cache-control"]).toBe("no-cache")
    }))

  it.effect("the retry option writes 'retry: N' right after ': connected'", () =>
    Effect.gen(function*() {
      const response = yield* SseResponse.stream(Stream.make(SseEvent.make("first")), { retry: "3 seconds" })
      expect(yield* collectBody(response)).toBe(`${connected}retry: 3000\n\ndata: first\n\n`)
    }))

  it.effect("an invalid retry option is logged and ends the response after ': connected'", () => {
    const logs = makeLogCapture()
    return Effect.gen(function*() {
      const response = yield* SseResponse.stream(Stream.make(SseEvent.make("first")), { retry: -1 })
      const body = yield* collectBody(response)
      expect(body).toBe(connected)
      const log = logs.lines.join("\n")
      expect(log).toContain("invalid retry option")
      expect(log).toContain("the \"retry\" field")
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("serves every event of a finite stream, then ends the response", () =>
    Effect.gen(function*() {
      const events = [SseEvent.make("a"), yield* SseEvent.make("b\nc").pipe(SseEvent.withType("t")), SseEvent.make("")]
      const body = yield* collectBody(yield* SseResponse.stream(Stream.fromIterable(events)))
      expect(body).toBe(`${connected}data: a\n\nevent: t\ndata: b\ndata: c\n\ndata: \n\n`)
    }))

  // The stream runs when the response is served: it logs with the logger of the fiber that serves it.
  it.effect("a stream that fails after the response started is logged and the response ends cleanly", () => {
    const logs = makeLogCapture()
    return Effect.gen(function*() {
      const events = Stream.make(SseEvent.make("before")).pipe(Stream.concat(Stream.fail("boom")))
      const response = yield* SseResponse.stream(events)
      // collectBody fails if the body fails: a clean end is a successful end of the body stream.
      expect(yield* collectBody(response)).toBe(`${connected}data: before\n\n`)
      expect(logs.lines.join("\n")).toContain("boom")
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a stream that dies is logged and the response ends cleanly", () => {
    const logs = makeLogCapture()
    return Effect.gen(function*() {
      const events = Stream.make(SseEvent.make("before")).pipe(Stream.concat(Stream.dieMessage("kaput")))
      const response = yield* SseResponse.stream(events)
      expect(yield* collectBody(response)).toBe(`${connected}data: before\n\n`)
      expect(logs.lines.join("\n")).toContain("kaput")
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect.prop(
    "an event with an injected id or type never reaches the wire: building it fails the stream, the events before it are served",
    [
      fc.oneof(
        fc.string().map((rest) => SseEvent.make("x").pipe(SseEvent.withId(`1\nevent: evil\ndata: ${rest}`))),
        fc.string().map((rest) => SseEvent.make("x").pipe(SseEvent.withId(`1\r${rest}`))),
        fc.string().map((rest) => SseEvent.make("x").pipe(SseEvent.withId(`1\0${rest}`))),
        fc.string().map((rest) => SseEvent.make("x").pipe(SseEvent.withType(`t\r\nid: evil${rest}`))),
        fc.string().map((rest) => SseEvent.make("x").pipe(SseEvent.withType(`t\r${rest}`))),
        fc.constantFrom(-1, 0.5, Number.NaN, Infinity).map((retry) =>
          SseEvent.make("x").pipe(SseEvent.withRetry(retry))
        )
      )
    ],
    ([bad]) => {
      const logs = makeLogCapture()
      return Effect.gen(function*() {
        expect(Either.isLeft(bad)).toBe(true)
        // The events as an application builds them: each step checked, the stream failing at a refused one.
        const events = Stream.make(Either.right(SseEvent.make("good")), bad, Either.right(SseEvent.make("after"))).pipe(
          Stream.mapEffect((event) => event)
        )
        const response = yield* SseResponse.stream(events)
        const body = yield* collectBody(response)
        expect(body).toBe(`${connected}data: good\n\n`)
        expect(fieldNames(body)).toEqual([":", "", "data", ""])
        expect(logs.lines.join("\n")).toMatch(/SseEventError[\s\S]*the "(id|event|retry)" field/)
      }).pipe(Effect.provide(logs.layer))
    },
    { fastCheck: { numRuns: 50 } }
  )

  it.effect("when the client leaves, the event stream is interrupted and its finalizer runs once", () =>
    Effect.gen(function*() {
      const finalized = yield* Ref.make(0)
      const started = yield* Deferred.make<void>()
      const events = Stream.fromEffect(Deferred.succeed(started, undefined)).pipe(
        Stream.as(SseEvent.make("hello")),
        Stream.concat(Stream.never),
        Stream.ensuring(Ref.update(finalized, (n) => n + 1))
      )
      const body = yield* runBody(yield* SseResponse.stream(events))
      yield* Deferred.await(started)
      // Interrupting the reader returns once the response has been torn down.
      yield* within(Fiber.interrupt(body.fiber), "the response to stop after the client left")
      expect(yield* Ref.get(finalized)).toBe(1)
    }))
})

describe("SseResponse keep-alive (TestClock)", () => {
  it.effect("a quiet stream gets no keep-alive before 15 s, one at 15 s, and one every 15 s after", () =>
    Effect.gen(function*() {
      const body = yield* runBody(yield* SseResponse.stream(Stream.never, { keepAlive: "15 seconds" }))
      yield* TestClock.adjust("14999 millis")
      expect(yield* body.text).toBe(connected)
      yield* TestClock.adjust("1 millis")
      expect(yield* body.text).toBe(connected + keepAlive)
      yield* TestClock.adjust("14999 millis")
      expect(yield* body.text).toBe(connected + keepAlive)
      yield* TestClock.adjust("1 millis")
      expect(yield* body.text).toBe(connected + keepAlive + keepAlive)
    }))

  it.effect("the default interval is 15 seconds", () =>
    Effect.gen(function*() {
      const body = yield* runBody(yield* SseResponse.stream(Stream.never))
      yield* TestClock.adjust("14999 millis")
      expect(yield* body.text).toBe(connected)
      yield* TestClock.adjust("1 millis")
      expect(yield* body.text).toBe(connected + keepAlive)
    }))

  it.effect.prop(
    "for any interval and any quiet time t, exactly floor(t / interval) keep-alives are written",
    [fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 90 })],
    ([intervalSeconds, quietSeconds]) =>
      Effect.gen(function*() {
        const body = yield* runBody(
          yield* SseResponse.stream(Stream.never, { keepAlive: `${intervalSeconds} seconds` })
        )
        yield* TestClock.adjust(`${quietSeconds} seconds`)
        const text = yield* body.text
        expect(text.startsWith(connected)).toBe(true)
        expect(count(text, keepAlive)).toBe(Math.floor(quietSeconds / intervalSeconds))
        expect(text).toBe(connected + keepAlive.repeat(Math.floor(quietSeconds / intervalSeconds)))
      }),
    { fastCheck: { numRuns: 30 } }
  )

  it.effect("data traffic resets the keep-alive timer: the next comment comes in [interval, interval + 1 s] after it", () =>
    Effect.gen(function*() {
      const queue = yield* Queue.unbounded<SseEvent.SseEvent>()
      const body = yield* runBody(yield* SseResponse.stream(Stream.fromQueue(queue), { keepAlive: "15 seconds" }))
      yield* TestClock.adjust("10 seconds")
      yield* Queue.offer(queue, SseEvent.make("tick"))
      yield* TestClock.adjust("0 millis")
      expect(yield* body.text).toBe(`${connected}data: tick\n\n`)
      // 20 s since the start, 10 s since the data: without the reset a keep-alive would have gone out at 15 s.
      yield* TestClock.adjust("10 seconds")
      expect(yield* body.text).toBe(`${connected}data: tick\n\n`)
      // Not before the interval has passed since the data…
      yield* TestClock.adjust("4999 millis")
      expect(yield* body.text).toBe(`${connected}data: tick\n\n`)
      // …and by the next tick after it (the rule is checked once a second).
      yield* TestClock.adjust("1001 millis")
      expect(yield* body.text).toBe(`${connected}data: tick\n\n${keepAlive}`)
    }))

  it.effect("a stream with data at least every interval never gets a keep-alive", () =>
    Effect.gen(function*() {
      const ticks = Stream.repeatEffect(Effect.as(Effect.sleep("14 seconds"), SseEvent.make("tick")))
      const body = yield* runBody(yield* SseResponse.stream(ticks, { keepAlive: "15 seconds" }))
      yield* TestClock.adjust("10 minutes")
      const text = yield* body.text
      expect(count(text, "data: tick\n\n")).toBe(Math.floor(600 / 14))
      expect(count(text, keepAlive)).toBe(0)
    }))

  // An hour of once-a-second ticks under the TestClock takes a few seconds of real time.
  it.effect("keepAlive: false writes no keep-alive at all", () =>
    Effect.gen(function*() {
      const body = yield* runBody(yield* SseResponse.stream(Stream.never, { keepAlive: false }))
      yield* TestClock.adjust("1 hour")
      expect(yield* body.text).toBe(connected)
    }), 60_000)
})

describe("SseResponse.resumable and lastEventId", () => {
  it.effect("give the request's Last-Event-ID, or None when it is absent or empty", () =>
    Effect.gen(function*() {
      const ids = yield* Effect.forEach(
        [{ "last-event-id": "evt-41" }, {}, { "last-event-id": "" }],
        (headers) =>
          Effect.provideService(SseResponse.lastEventId, HttpServerRequest.HttpServerRequest, requestWith(headers))
      )
      expect(ids).toEqual([Option.some("evt-41"), Option.none(), Option.none()])
    }))

  it.effect("fall back to the lastEventId query parameter when there is no Last-Event-ID header", () =>
    Effect.gen(function*() {
      const ids = yield* Effect.forEach(
        [
          new Request("http://127.0.0.1/events?lastEventId=evt-7"),
          new Request("http://127.0.0.1/events?lastEventId=evt-7", { headers: { "last-event-id": "evt-8" } }),
          new Request("http://127.0.0.1/events?lastEventId=")
        ],
        (request) =>
          Effect.provideService(
            SseResponse.lastEventId,
            HttpServerRequest.HttpServerRequest,
            HttpServerRequest.fromWeb(request)
          )
      )
      expect(ids).toEqual([Option.some("evt-7"), Option.some("evt-8"), Option.none()])
    }))

  it.effect("resumable builds the stream from the Last-Event-ID", () =>
    Effect.gen(function*() {
      const response = yield* SseResponse.resumable((lastEventId) =>
        Stream.make(SseEvent.make(Option.getOrElse(lastEventId, () => "from the start")))
      ).pipe(Effect.provideService(HttpServerRequest.HttpServerRequest, requestWith({ "last-event-id": "evt-41" })))
      expect(yield* collectBody(response)).toBe(`${connected}data: evt-41\n\n`)
    }))
})

describe("SseResponse.stream over a real socket", () => {
  for (const kind of servers) {
    it.live(`a stream that fails after the headers went out ends the body cleanly, and the server keeps serving (${kind})`, () =>
      Effect.gen(function*() {
        const logs = makeLogCapture()
        const app = HttpRouter.empty.pipe(
          HttpRouter.get(
            "/fail",
            SseResponse.stream(Stream.make(SseEvent.make("before")).pipe(Stream.concat(Stream.fail("boom"))))
          ),
          HttpRouter.get(
            "/die",
            SseResponse.stream(Stream.make(SseEvent.make("before")).pipe(Stream.concat(Stream.dieMessage("kaput"))))
          ),
          HttpRouter.get("/ok", SseResponse.stream(Stream.make(SseEvent.make("still here")))),
          HttpRouter.get("/plain", HttpServerResponse.text("plain"))
        )
        const server = yield* TestServer.serve(app, { server: kind }).pipe(Effect.provide(logs.layer))
        for (const path of ["/fail", "/die", "/fail"]) {
          const client = yield* SseSocket.connect(server.port, { path })
          expect(yield* client.awaitEnd()).toBe("end")
          expect(client.head?.status).toBe(200)
          expect(client.body).toBe(`${connected}data: before\n\n`)
        }
        const ok = yield* SseSocket.connect(server.port, { path: "/ok" })
        expect(yield* ok.awaitEnd()).toBe("end")
        expect(ok.body).toBe(`${connected}data: still here\n\n`)
        const plain = yield* SseSocket.connect(server.port, { path: "/plain" })
        yield* plain.readUntil("plain")
        const log = logs.lines.join("\n")
        expect(log).toContain("boom")
        expect(log).toContain("kaput")
      }).pipe(Effect.scoped))

    it.live(`when the client goes away, the event stream is interrupted and its finalizer runs (${kind})`, () =>
      Effect.gen(function*() {
        const started = yield* Deferred.make<void>()
        const finalized = yield* Deferred.make<void>()
        const finalizerRuns = yield* Ref.make(0)
        const events = Stream.fromEffect(Deferred.succeed(started, undefined)).pipe(
          Stream.as(SseEvent.make("hello")),
          Stream.concat(Stream.never),
          Stream.ensuring(
            Effect.zipRight(Ref.update(finalizerRuns, (n) => n + 1), Deferred.succeed(finalized, undefined))
          )
        )
        const server = yield* TestServer.serve(
          HttpRouter.empty.pipe(HttpRouter.get("/events", SseResponse.stream(events))),
          { server: kind }
        )
        const client = yield* SseSocket.connect(server.port)
        yield* client.readUntil("data: hello\n\n")
        yield* Deferred.await(started)
        expect(yield* Deferred.isDone(finalized)).toBe(false)
        client.destroy()
        yield* Deferred.await(finalized).pipe(Effect.timeout("5 seconds"))
        expect(yield* Ref.get(finalizerRuns)).toBe(1)
      }).pipe(Effect.scoped))
  }
})
