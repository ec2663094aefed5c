/**
 * SseWeb's Fetch handler, called as a runtime calls it (`Request` in, `Response` out, its body read as a Web
 * stream): every kind of SSE response (a `Stream`, a connection, a resumable stream), keep-alive, the request's
 * `Last-Event-ID`, a client that stops reading, a client that leaves, and `dispose` ending every open stream.
 * The handler runs its own runtime on the live clock; every wait is bounded.
 */
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, type Duration, Effect, Option, Stream } from "effect"
import * as SseConnection from "../src/SseConnection.js"
import * as SseEvent from "../src/SseEvent.js"
import * as SseResponse from "../src/SseResponse.js"
import * as SseWeb from "../src/SseWeb.js"

const decoder = new TextDecoder()

/** Reads a body until `until` holds of the text or the body ends, bounded by `timeout`. */
const reading = (response: Response) => {
  const reader = response.body!.getReader()
  const state = {
    text: "",
    done: false,
    until: (until: (text: string) => boolean, timeout: Duration.DurationInput = "10 seconds") =>
      Effect.promise(async () => {
        while (!state.done && !until(state.text)) {
          const { done, value } = await reader.read()
          if (done) state.done = true
          else state.text += decoder.decode(value, { stream: true })
        }
        return state.text
      }).pipe(Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error(`timed out; got ${state.text}`) })),
    cancel: () => Effect.promise(() => reader.cancel())
  }
  return state
}

const handlerFor = <E>(app: Parameters<typeof SseWeb.toWebHandler<E>>[0]) =>
  Effect.acquireRelease(Effect.sync(() => SseWeb.toWebHandler(app)), (web) => Effect.promise(() => web.dispose()))

const call = (web: SseWeb.WebHandler, path: string, init?: RequestInit) =>
  Effect.promise(() => web.handler(new Request(`http://localhost${path}`, init)))

describe("SseWeb.toWebHandler", () => {
  it.scopedLive("a Stream: SSE headers, `: connected`, the events; other routes answer as usual", () =>
    Effect.gen(function*() {
      const web = yield* handlerFor(HttpRouter.empty.pipe(
        HttpRouter.get("/events", SseResponse.stream(Stream.make(SseEvent.make("a"), SseEvent.make("b")))),
        HttpRouter.get("/json", HttpServerResponse.json({ ok: true }))
      ))
      const response = yield* call(web, "/events")
      expect(response.status).toBe(200)
      expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/)
      expect(response.headers.get("cache-control")).toBe("no-cache")
      const body = reading(response)
      expect(yield* body.until(() => false)).toBe(": connected\n\ndata: a\n\ndata: b\n\n")
      expect(body.done).toBe(true)
      const json = yield* call(web, "/json")
      expect(yield* Effect.promise(() => json.json())).toEqual({ ok: true })
    }))

  it.scopedLive("a connection: events sent by the handler, and its `lastEventId` from the request", () =>
    Effect.gen(function*() {
      const web = yield* handlerFor(HttpRouter.empty.pipe(HttpRouter.get(
        "/connection",
        SseConnection.upgrade((connection) =>
          Effect.gen(function*() {
            const id = Option.getOrElse(connection.lastEventId, () => "none")
            yield* connection.send(SseEvent.make(`resumed after ${id}`))
            yield* connection.close
          })
        )
      )))
      const fresh = reading(yield* call(web, "/connection"))
      expect(yield* fresh.until(() => false)).toBe(": connected\n\ndata: resumed after none\n\n")
      const resumed = reading(yield* call(web, "/connection", { headers: { "last-event-id": "e-7" } }))
      expect(yield* resumed.until(() => false)).toBe(": connected\n\ndata: resumed after e-7\n\n")
    }))

  it.scopedLive("a resumable stream built from Last-Event-ID", () =>
    Effect.gen(function*() {
      const all = ["1", "2", "3", "4"]
      const web = yield* handlerFor(HttpRouter.empty.pipe(HttpRouter.get(
        "/log",
        SseResponse.resumable((last) =>
          Stream.fromIterable(Option.match(last, { onNone: () => all, onSome: (id) => all.filter((n) => n > id) }))
            .pipe(
              Stream.mapEffect((n) => Effect.orDie(SseEvent.withId(SseEvent.make(`n${n}`), n)))
            )
        )
      )))
      const body = reading(yield* call(web, "/log", { headers: { "last-event-id": "2" } }))
      expect(yield* body.until(() => false)).toBe(": connected\n\nid: 3\ndata: n3\n\nid: 4\ndata: n4\n\n")
    }))

  it.scopedLive("a quiet stream gets `: keep-alive` comments", () =>
    Effect.gen(function*() {
      const web = yield* handlerFor(HttpRouter.empty.pipe(
        HttpRouter.get("/quiet", SseResponse.stream(Stream.never, { keepAlive: "1 second" }))
      ))
      const body = reading(yield* call(web, "/quiet"))
      expect(yield* body.until((text) => text.includes(": keep-alive\n\n"))).toBe(": connected\n\n: keep-alive\n\n")
    }))

  it.scopedLive("a client that stops reading is dropped: its stream stops, and its response ends", () =>
    Effect.gen(function*() {
      const over = yield* Deferred.make<void>()
      const flood = Stream.repeatEffect(Effect.succeed(SseEvent.make("x".repeat(4096)))).pipe(
        Stream.ensuring(Deferred.succeed(over, undefined))
      )
      const web = yield* handlerFor(HttpRouter.empty.pipe(
        HttpRouter.get("/flood", SseResponse.stream(flood, { writeTimeout: "1 second" }))
      ))
      const response = yield* call(web, "/flood")
      // Nothing is read: the stall rule ends the stream after its write timeout (ticked once a second).
      yield* Deferred.await(over).pipe(
        Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("the stalled stream went on") })
      )
      const body = reading(response)
      yield* body.until(() => false)
      expect(body.done).toBe(true)
    }))

  it.scopedLive("a client that leaves (the body cancelled) ends the stream on the server", () =>
    Effect.gen(function*() {
      const over = yield* Deferred.make<void>()
      const web = yield* handlerFor(HttpRouter.empty.pipe(HttpRouter.get(
        "/events",
        SseResponse.stream(
          Stream.make(SseEvent.make("a")).pipe(
            Stream.concat(Stream.never),
            Stream.ensuring(Deferred.succeed(over, undefined))
          )
        )
      )))
      const body = reading(yield* call(web, "/events"))
      yield* body.until((text) => text.includes("data: a\n\n"))
      yield* body.cancel()
      yield* Deferred.await(over).pipe(
        Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("the stream outlived its client") })
      )
    }))

  it.live("dispose ends every open stream cleanly, after what was written", () =>
    Effect.gen(function*() {
      const web = SseWeb.toWebHandler(HttpRouter.empty.pipe(HttpRouter.get(
        "/events",
        SseResponse.stream(Stream.make(SseEvent.make("a")).pipe(Stream.concat(Stream.never)))
      )))
      const bodies = yield* Effect.forEach([1, 2, 3], () => Effect.map(call(web, "/events"), reading))
      yield* Effect.forEach(bodies, (body) => body.until((text) => text.includes("data: a\n\n")))
      yield* Effect.promise(() => web.dispose()).pipe(
        Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("dispose hung") })
      )
      for (const body of bodies) {
        expect(yield* body.until(() => false)).toBe(": connected\n\ndata: a\n\n")
        expect(body.done).toBe(true)
      }
    }))
})
