import { describe, expect, it } from "@effect/vitest"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseHub from "effect-sse/SseHub"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"

const wire = (events: ReadonlyArray<SseEvent.SseEvent>) => events.map(SseEvent.encodeString).join("")

describe("SseHub (Effect 4, in memory)", () => {
  it.effect("gives ids, resumes after Last-Event-ID, then goes live without a loss or a duplicate", () =>
    Effect.gen(function*() {
      const hub = yield* SseHub.make()
      expect(yield* hub.publish(SseEvent.make("a"))).toBe("1")
      expect(yield* hub.publish(SseEvent.make("b"))).toBe("2")
      const subscribed = yield* Deferred.make<void>()
      const fiber = yield* hub.subscribe({ lastEventId: "1" }).pipe(
        // The first event is the resumed one: by then the subscription exists.
        Stream.tap(() => Deferred.succeed(subscribed, undefined)),
        Stream.take(3),
        Stream.runCollect,
        Effect.forkChild
      )
      yield* Deferred.await(subscribed)
      yield* hub.publish(SseEvent.make("c"))
      yield* hub.publish(SseEvent.make("d"))
      expect(wire(yield* Fiber.join(fiber))).toBe("id: 2\ndata: b\n\nid: 3\ndata: c\n\nid: 4\ndata: d\n\n")
    }))

  it.effect("sends every retained event for an unknown or evicted id, within historySize", () =>
    Effect.gen(function*() {
      const hub = yield* SseHub.make({ historySize: 2 })
      for (const data of ["a", "b", "c"]) yield* hub.publish(SseEvent.make(data))
      for (const lastEventId of ["1", "unknown"]) {
        const events = yield* hub.subscribe({ lastEventId }).pipe(Stream.take(2), Stream.runCollect)
        expect(wire(events)).toBe("id: 2\ndata: b\n\nid: 3\ndata: c\n\n")
      }
    }))

  it.effect("delivers to the subscribers of an event's topics, and an event without topics to all", () =>
    Effect.gen(function*() {
      const hub = yield* SseHub.make()
      yield* hub.publish(SseEvent.make("to x"), { topics: ["x"] })
      yield* hub.publish(SseEvent.make("to y"), { topics: ["y"] })
      yield* hub.publish(SseEvent.make("to all"))
      const subscribed = yield* Deferred.make<void>()
      const fiber = yield* hub.subscribe({ lastEventId: "unknown", topics: ["x"] }).pipe(
        Stream.tap(() => Deferred.succeed(subscribed, undefined)),
        Stream.take(3),
        Stream.runCollect,
        Effect.forkChild
      )
      yield* Deferred.await(subscribed)
      yield* hub.publish(SseEvent.make("live to y"), { topics: ["y"] })
      yield* hub.publish(SseEvent.make("live to x and y"), { topics: ["x", "y"] })
      expect((yield* Fiber.join(fiber)).map((event) => event.data)).toEqual(["to x", "to all", "live to x and y"])
    }))

  it.effect("keeps no history with historySize 0: a resumed subscriber starts with live events", () =>
    Effect.gen(function*() {
      const hub = yield* SseHub.make({ historySize: 0 })
      yield* hub.publish(SseEvent.make("a"))
      const fiber = yield* hub.subscribe({ lastEventId: "1" }).pipe(Stream.take(1), Stream.runCollect, Effect.forkChild)
      // Publishes until the subscriber (subscribed at some point) has one; bounded.
      for (let i = 0; i < 1000 && fiber.pollUnsafe() === undefined; i++) {
        yield* hub.publish(SseEvent.make("live"))
        yield* Effect.yieldNow
      }
      expect((yield* Fiber.join(fiber)).map((event) => event.data)).toEqual(["live"])
    }))
})
