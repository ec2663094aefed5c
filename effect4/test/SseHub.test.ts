import { describe, expect, it } from "@effect/vitest"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseHub from "effect-sse/SseHub"
import * as SseHubBackend from "effect-sse/SseHubBackend"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import { receive } from "./utils/received.js"

const wire = (events: ReadonlyArray<SseEvent.SseEvent>) => events.map(SseEvent.encodeString).join("")
const dataOf = (events: ReadonlyArray<SseEvent.SseEvent>) => events.map((event) => event.data)
const range = (n: number) => Array.from({ length: n }, (_, i) => i)
const lost = (id: string) => JSON.stringify({ lastEventId: id })

let hubs = 0
const uniqueName = (label: string) => `${label}-${++hubs}`

const counter = (metric: Metric.Counter<number>, hub: string) =>
  Effect.map(Metric.value(Metric.withAttributes(metric, { hub })), (state) => state.count)

const metricsOf = (hub: string) =>
  Effect.all({
    clients: Effect.map(
      Metric.value(Metric.withAttributes(SseHub.metrics.clients, { hub })),
      (state) => state.value
    ),
    published: counter(SseHub.metrics.published, hub),
    delivered: counter(SseHub.metrics.delivered, hub),
    droppedClients: counter(SseHub.metrics.droppedClients, hub),
    droppedEvents: counter(SseHub.metrics.droppedEvents, hub)
  })

/** A subscriber that has registered: it waits for the count of the hub's subscribers to reach `clients`. */
const subscribed = (
  hub: SseHub.SseHub["Service"],
  clients: number,
  options?: SseHub.SubscribeOptions,
  gate?: Latch.Latch
) =>
  Effect.gen(function*() {
    const received = yield* receive(hub.subscribe(options), gate)
    for (let i = 0; i < 1000 && (yield* hub.clientCount) < clients; i++) yield* Effect.yieldNow
    expect(yield* hub.clientCount).toBe(clients)
    return received
  })

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

  it.effect("sends the lost event, then every retained event, for an unknown or evicted id, within historySize", () =>
    Effect.gen(function*() {
      const hub = yield* SseHub.make({ historySize: 2 })
      for (const data of ["a", "b", "c"]) yield* hub.publish(SseEvent.make(data))
      for (const lastEventId of ["1", "unknown"]) {
        const events = yield* hub.subscribe({ lastEventId }).pipe(Stream.take(3), Stream.runCollect)
        expect(wire(events)).toBe(`event: lost\ndata: ${lost(lastEventId)}\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\n`)
        expect(events[0]).toEqual(SseHub.lostEvent(lastEventId))
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
        Stream.take(4),
        Stream.runCollect,
        Effect.forkChild
      )
      yield* Deferred.await(subscribed)
      yield* hub.publish(SseEvent.make("live to y"), { topics: ["y"] })
      yield* hub.publish(SseEvent.make("live to x and y"), { topics: ["x", "y"] })
      expect(dataOf(yield* Fiber.join(fiber))).toEqual([lost("unknown"), "to x", "to all", "live to x and y"])
    }))

  it.effect("keeps no history with historySize 0: a resumed subscriber gets the lost event, then live events", () =>
    Effect.gen(function*() {
      const hub = yield* SseHub.make({ historySize: 0 })
      yield* hub.publish(SseEvent.make("a"))
      yield* hub.publish(SseEvent.make("b"))
      const fiber = yield* hub.subscribe({ lastEventId: "1" }).pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
      // Publishes until the subscriber (subscribed at some point) has one; bounded.
      for (let i = 0; i < 1000 && fiber.pollUnsafe() === undefined; i++) {
        yield* hub.publish(SseEvent.make("live"))
        yield* Effect.yieldNow
      }
      expect(dataOf(yield* Fiber.join(fiber))).toEqual([lost("1"), "live"])
    }))

  it.effect("keeps an event's own id, refuses one already in the history or repeated in a publishAll, storing nothing", () =>
    Effect.gen(function*() {
      const hub = yield* SseHub.make()
      const withId = (data: string, id: string) => Result.getOrThrow(SseEvent.withId(SseEvent.make(data), id))
      expect(yield* hub.publish(withId("a", "x"))).toBe("x")
      const again = yield* Effect.flip(hub.publish(withId("b", "x")))
      expect(again).toBeInstanceOf(SseHub.PublishRejected)
      expect(again).toMatchObject({ _tag: "PublishRejected", reason: "DuplicateId", id: "x" })
      const twice = yield* Effect.flip(hub.publishAll([withId("c", "y"), withId("d", "y")]))
      expect(twice).toMatchObject({ _tag: "PublishRejected", id: "y" })
      // nothing of the refused publishes is stored: after "x", only what comes next
      expect(yield* hub.publishAll([withId("c", "y"), SseEvent.make("d")])).toEqual(["y", "1"])
      const resumed = yield* hub.subscribe({ lastEventId: "x" }).pipe(Stream.take(2), Stream.runCollect)
      expect(wire(resumed)).toBe("id: y\ndata: c\n\nid: 1\ndata: d\n\n")
    }))

  it.effect("publishAll delivers a batch in order, with consecutive ids", () =>
    Effect.gen(function*() {
      const hub = yield* SseHub.make()
      const reader = yield* subscribed(hub, 1)
      expect(yield* hub.publishAll(["a", "b", "c"].map(SseEvent.make))).toEqual(["1", "2", "3"])
      expect(dataOf(yield* reader.atLeast(3))).toEqual(["a", "b", "c"])
    }))
})

describe("SseHub (Effect 4) slow subscribers", () => {
  it.effect("disconnect (default): a subscriber more than bufferSize behind is dropped while a fast one gets everything", () =>
    Effect.gen(function*() {
      const name = uniqueName("disconnect")
      const hub = yield* SseHub.make({ name, bufferSize: 4 })
      const reader = yield* subscribed(hub, 1)
      const gate = yield* Latch.make(false)
      const stalled = yield* subscribed(hub, 2, undefined, gate)
      // one publish at a time, each read by the reader before the next: only the stalled one falls behind
      const publishRead = (i: number) => Effect.andThen(hub.publish(SseEvent.make(`m${i}`)), reader.atLeast(i + 1))
      yield* publishRead(0)
      yield* stalled.atLeast(1) // it took m0 and reads no more
      yield* Effect.forEach([1, 2, 3, 4], publishRead)
      expect((yield* metricsOf(name)).droppedClients).toBe(0) // exactly bufferSize waiting: kept
      yield* publishRead(5)
      expect(yield* metricsOf(name)).toMatchObject({ droppedClients: 1, clients: 1 })
      yield* Effect.forEach([6, 7], publishRead)
      expect(dataOf(reader.items)).toEqual(range(8).map((i) => `m${i}`))
      // the stalled consumer gets what it had buffered, then the error
      yield* gate.open
      const exit = yield* stalled.exit
      expect(dataOf(stalled.items)).toEqual(range(5).map((i) => `m${i}`))
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
      expect(error).toBeInstanceOf(SseHub.SubscriberDropped)
      expect(error).toMatchObject({ _tag: "SubscriberDropped", reason: "SlowClient", hub: name, bufferSize: 4 })
      // it resumes from the history with the last id it got
      const back = yield* hub.subscribe({ lastEventId: stalled.items[4].id }).pipe(Stream.take(3), Stream.runCollect)
      expect(dataOf(back)).toEqual(["m5", "m6", "m7"])
    }))

  it.effect("drop-oldest: the stalled subscriber keeps its newest bufferSize events; the drops are counted", () =>
    Effect.gen(function*() {
      const name = uniqueName("drop-oldest")
      const hub = yield* SseHub.make({ name, bufferSize: 3, slowClient: "drop-oldest" })
      const reader = yield* subscribed(hub, 1)
      const gate = yield* Latch.make(false)
      const stalled = yield* subscribed(hub, 2, undefined, gate)
      const publishRead = (i: number) => Effect.andThen(hub.publish(SseEvent.make(`m${i}`)), reader.atLeast(i + 1))
      yield* publishRead(0)
      yield* stalled.atLeast(1)
      yield* Effect.forEach(range(9).map((i) => i + 1), publishRead)
      expect(dataOf(reader.items)).toEqual(range(10).map((i) => `m${i}`))
      // m1..m9 came while it held m0: the newest 3 wait, 6 were dropped
      expect(yield* metricsOf(name)).toMatchObject({ droppedClients: 0, droppedEvents: 6, clients: 2 })
      yield* gate.open
      expect(dataOf(yield* stalled.atLeast(4))).toEqual(["m0", "m7", "m8", "m9"])
      yield* publishRead(10) // still subscribed
      expect(dataOf(yield* stalled.atLeast(5))).toEqual(["m0", "m7", "m8", "m9", "m10"])
    }))
})

describe("SseHub (Effect 4) metrics", () => {
  it.effect("count subscribers, events published (a repeat by idempotency key is none), delivered and dropped", () =>
    Effect.gen(function*() {
      const name = uniqueName("metrics")
      const hub = yield* SseHub.make({ name })
      expect(yield* metricsOf(name)).toEqual({
        clients: 0,
        published: 0,
        delivered: 0,
        droppedClients: 0,
        droppedEvents: 0
      })
      const one = yield* subscribed(hub, 1)
      const two = yield* subscribed(hub, 2, { topics: ["x"] })
      expect((yield* metricsOf(name)).clients).toBe(2)
      yield* hub.publishAll(["a", "b"].map(SseEvent.make), { idempotencyKey: "k" })
      yield* hub.publishAll(["a", "b"].map(SseEvent.make), { idempotencyKey: "k" })
      yield* hub.publish(SseEvent.make("to x"), { topics: ["x"] })
      yield* hub.publish(SseEvent.make("to y"), { topics: ["y"] })
      yield* one.atLeast(3)
      yield* two.atLeast(3)
      // 4 published; one took all 4, two took 3 (not "to y")
      expect(yield* metricsOf(name)).toMatchObject({ published: 4, delivered: 7, droppedClients: 0 })
      // a resumed subscriber's replay counts as delivered
      yield* hub.subscribe({ lastEventId: "2" }).pipe(Stream.take(2), Stream.runCollect)
      expect((yield* metricsOf(name)).delivered).toBe(9)
      yield* hub.shutdown
      expect((yield* metricsOf(name)).clients).toBe(0)
    }))
})

describe("SseHub (Effect 4) idempotency keys", () => {
  it.effect("the same key within the window is stored and delivered once and returns the first ids; after the window it publishes again", () =>
    Effect.gen(function*() {
      const hub = yield* SseHub.make({ idempotencyWindow: "30 seconds" })
      const witness = yield* subscribed(hub, 1)
      const first = yield* hub.publish(SseEvent.make("a"), { idempotencyKey: "k1" })
      expect(yield* hub.publish(SseEvent.make("a, retried"), { idempotencyKey: "k1" })).toBe(first)
      const batch = yield* hub.publishAll(["b", "c"].map(SseEvent.make), { idempotencyKey: "k2" })
      expect(yield* hub.publishAll(["b", "c"].map(SseEvent.make), { idempotencyKey: "k2" })).toEqual(batch)
      // the key of a publishAll, retried by publish, returns its first id
      expect(yield* hub.publish(SseEvent.make("b"), { idempotencyKey: "k2" })).toBe(batch[0])
      const other = yield* hub.publish(SseEvent.make("d"), { idempotencyKey: "k3" })
      yield* TestClock.adjust("29 seconds")
      expect(yield* hub.publish(SseEvent.make("a, later"), { idempotencyKey: "k1" })).toBe(first)
      yield* TestClock.adjust("1 second")
      const fresh = yield* hub.publish(SseEvent.make("a, after the window"), { idempotencyKey: "k1" })
      expect([first, ...batch, other]).not.toContain(fresh)
      expect(dataOf(yield* witness.atLeast(5))).toEqual(["a", "b", "c", "d", "a, after the window"])
      expect(witness.items.map((event) => event.id)).toEqual([first, ...batch, other, fresh])
      // the history holds each once: a resumed subscriber sees no repeat either
      const resumed = yield* hub.subscribe({ lastEventId: first }).pipe(Stream.take(4), Stream.runCollect)
      expect(resumed.map((event) => event.id)).toEqual([...batch, other, fresh])
    }))
})

describe("SseHub (Effect 4) shutdown and backends", () => {
  it.effect("shutdown delivers what was published, ends every subscriber, then refuses publishes and subscriptions", () =>
    Effect.gen(function*() {
      const name = uniqueName("shutdown")
      const hub = yield* SseHub.make({ name })
      const reader = yield* subscribed(hub, 1)
      yield* hub.publishAll(range(5).map((i) => SseEvent.make(`m${i}`)))
      yield* hub.shutdown
      expect(Exit.isSuccess(yield* reader.exit)).toBe(true)
      expect(dataOf(reader.items)).toEqual(range(5).map((i) => `m${i}`))
      expect(yield* Effect.flip(hub.publish(SseEvent.make("late")))).toBeInstanceOf(SseHub.HubClosed)
      const refused = yield* Effect.flip(Stream.runCollect(hub.subscribe()))
      expect(refused).toMatchObject({ _tag: "HubClosed", reason: "Shutdown", hub: name })
      yield* hub.shutdown // idempotent
    }))

  it.effect("a hub runs on the backend provided as SseHubBackend: a backend of one's own, through make", () =>
    Effect.gen(function*() {
      const opened: Array<string> = []
      const spy = SseHubBackend.make({
        kind: "spy",
        open: (name, options) => {
          opened.push(`${name}:${options.historySize}`)
          return SseHubBackend.memory.open(name, options)
        }
      })
      const hub = yield* SseHub.make({ name: "spied", historySize: 7 }).pipe(
        Effect.provide(Layer.succeed(SseHubBackend.SseHubBackend)(spy))
      )
      expect(opened).toEqual(["spied:7"])
      expect(yield* hub.publish(SseEvent.make("a"))).toBe("1")
    }))

  it.effect("SseHub.layer and layerMemory provide the hub", () =>
    Effect.gen(function*() {
      const hub = yield* SseHub.SseHub
      expect(hub.name).toBe("from-layer")
      const reader = yield* subscribed(hub, 1)
      yield* hub.publish(SseEvent.make("a"))
      expect(dataOf(yield* reader.atLeast(1))).toEqual(["a"])
    }).pipe(Effect.provide(SseHub.layerMemory({ name: "from-layer" }))))
})
