import { describe, expect, it } from "@effect/vitest"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseResponse from "effect-sse/SseResponse"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/testing/TestClock"

const bodyOf = (response: HttpServerResponse.HttpServerResponse): Stream.Stream<string, unknown> => {
  if (response.body._tag !== "Stream") throw new Error(`not a stream body: ${response.body._tag}`)
  return response.body.stream.pipe(Stream.map((bytes) => new TextDecoder().decode(bytes)))
}

const text = (response: HttpServerResponse.HttpServerResponse) =>
  bodyOf(response).pipe(Stream.runCollect, Effect.map((parts) => parts.join("")))

const events = Stream.make(SseEvent.make("a"), SseEvent.make("b"))

describe("SseResponse (Effect 4)", () => {
  it.effect("serves : connected, then the events, with the SSE headers", () =>
    Effect.gen(function*() {
      const response = yield* SseResponse.stream(events, {
        keepAlive: false,
        headers: [["x-extra", "1"], ["cache-control", "max-age=60"]]
      })
      expect(response.status).toBe(200)
      expect(response.headers["cache-control"]).toBe("no-cache")
      expect(response.headers["x-accel-buffering"]).toBe("no")
      expect(response.headers["x-extra"]).toBe("1")
      expect(response.body._tag === "Stream" && response.body.contentType).toBe("text/event-stream")
      expect(yield* text(response)).toBe(": connected\n\ndata: a\n\ndata: b\n\n")
    }))

  it.effect("writes the retry option after : connected, and ends after : connected for an invalid one", () =>
    Effect.gen(function*() {
      const ok = yield* events.pipe(SseResponse.stream({ keepAlive: false, retry: "2 seconds" }))
      expect(yield* text(ok)).toBe(": connected\n\nretry: 2000\n\ndata: a\n\ndata: b\n\n")
      const bad = yield* SseResponse.stream(events, { keepAlive: false, retry: 1.5 })
      expect(yield* text(bad)).toBe(": connected\n\n")
    }))

  it.effect("writes : keep-alive every interval on a quiet stream", () =>
    Effect.gen(function*() {
      const response = yield* SseResponse.stream(Stream.never, { keepAlive: "10 seconds" })
      const fiber = yield* bodyOf(response).pipe(Stream.take(3), Stream.runCollect, Effect.forkChild)
      yield* TestClock.adjust("9 seconds")
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("21 seconds")
      expect(yield* Fiber.join(fiber)).toEqual([": connected\n\n", ": keep-alive\n\n", ": keep-alive\n\n"])
    }))

  it.effect("ends the response cleanly after the events when the stream fails", () =>
    Effect.gen(function*() {
      const failing = Stream.concat(events, Stream.fail("boom"))
      expect(yield* text(yield* SseResponse.stream(failing, { keepAlive: false }))).toBe(
        ": connected\n\ndata: a\n\ndata: b\n\n"
      )
    }))

  it.effect("ends every open response when the Shutdown signal fires", () =>
    Effect.gen(function*() {
      const shutdown = yield* SseResponse.makeShutdown
      const response = yield* SseResponse.stream(Stream.concat(events, Stream.never), { keepAlive: false }).pipe(
        Effect.provideService(SseResponse.Shutdown, shutdown)
      )
      const received: Array<string> = []
      const both = yield* Deferred.make<void>()
      const fiber = yield* bodyOf(response).pipe(
        Stream.runForEach((part) => {
          received.push(part)
          return received.join("").endsWith("data: b\n\n") ? Deferred.succeed(both, undefined) : Effect.void
        }),
        Effect.forkChild
      )
      yield* Deferred.await(both)
      yield* shutdown.close("1 second")
      // The body ends (the fiber completes) rather than being interrupted or left open.
      yield* Fiber.join(fiber)
      expect(received.join("")).toBe(": connected\n\ndata: a\n\ndata: b\n\n")
    }))

  it.effect("reads Last-Event-ID, else the lastEventId query parameter", () =>
    Effect.gen(function*() {
      const read = (url: string, headers: Record<string, string>) =>
        SseResponse.lastEventId.pipe(
          Effect.provideService(
            HttpServerRequest.HttpServerRequest,
            HttpServerRequest.fromWeb(new Request(url, { headers }))
          )
        )
      expect(yield* read("http://127.0.0.1/?lastEventId=5", { "last-event-id": "7" })).toEqual(Option.some("7"))
      expect(yield* read("http://127.0.0.1/?lastEventId=5", {})).toEqual(Option.some("5"))
      expect(yield* read("http://127.0.0.1/", {})).toEqual(Option.none())
      const resumed = yield* SseResponse.resumable(
        (id) => Stream.make(SseEvent.make(`after ${Option.getOrElse(id, () => "-")}`)),
        { keepAlive: false }
      ).pipe(
        Effect.provideService(
          HttpServerRequest.HttpServerRequest,
          HttpServerRequest.fromWeb(new Request("http://127.0.0.1/", { headers: { "last-event-id": "3" } }))
        )
      )
      expect(yield* text(resumed)).toBe(": connected\n\ndata: after 3\n\n")
    }))
})
