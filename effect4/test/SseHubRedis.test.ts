/**
 * The Redis backend on the Effect 4 line, against a real redis-server of the test's own (test/utils/redis.ts).
 * Two backends made with `SseHubRedis.make` are two processes: each has its own connections and its own reader.
 */
import { describe, expect, it } from "@effect/vitest"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseHub from "effect-sse/SseHub"
import * as SseHubBackend from "effect-sse/SseHubBackend"
import * as SseHubRedis from "effect-sse/SseHubRedis"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Latch from "effect/Latch"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { Redis } from "ioredis"
import * as Layout from "../../src/core/redis.js"
import { receive } from "./utils/received.js"
import { privateRedis } from "./utils/redis.js"

const dataOf = (events: ReadonlyArray<SseEvent.SseEvent>) => events.map((event) => event.data)
const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** A hub on a backend of its own (a process of its own), for as long as the scope. */
const hubOn = (backend: SseHubBackend.Backend, options?: SseHub.Options) =>
  SseHub.make(options).pipe(Effect.provide(Layer.succeed(SseHubBackend.SseHubBackend)(backend)))

/** Two processes' hubs of one name on one Redis. */
const twoProcesses = (url: string, options?: SseHub.Options) =>
  Effect.gen(function*() {
    const a = yield* hubOn(yield* SseHubRedis.make({ url }), options)
    const b = yield* hubOn(yield* SseHubRedis.make({ url }), options)
    return { a, b }
  })

/** A subscriber that has registered. */
const subscribed = (hub: SseHub.SseHub["Service"], options?: SseHub.SubscribeOptions, gate?: Latch.Latch) =>
  Effect.gen(function*() {
    const before = yield* hub.clientCount
    const received = yield* receive(hub.subscribe(options), gate)
    for (let i = 0; i < 1000 && (yield* hub.clientCount) === before; i++) yield* Effect.sleep("1 millis")
    return received
  })

describe("SseHubRedis (Effect 4)", () => {
  it.live("an event published on one process reaches the subscribers of every process, with the same stream id", () =>
    Effect.gen(function*() {
      const redis = yield* privateRedis
      const { a, b } = yield* twoProcesses(redis.url, { name: "cross" })
      const onA = yield* subscribed(a)
      const onB = yield* subscribed(b)
      const fromA = yield* a.publish(SseEvent.make("from a"), { topics: ["x"] })
      const fromB = yield* b.publishAll(["from b", "and more"].map(SseEvent.make))
      for (const id of [fromA, ...fromB]) expect(Layout.isStreamId(id)).toBe(true)
      for (const received of [onA, onB]) {
        const events = yield* received.atLeast(3)
        expect(dataOf(events)).toEqual(["from a", "from b", "and more"])
        expect(events.map((event) => event.id)).toEqual([fromA, ...fromB])
      }
      // topics hold across processes
      const onlyY = yield* subscribed(b, { topics: ["y"] })
      yield* a.publish(SseEvent.make("to x"), { topics: ["x"] })
      yield* a.publish(SseEvent.make("to y"), { topics: ["y"] })
      expect(dataOf(yield* onlyY.atLeast(1))).toEqual(["to y"])
      expect(dataOf(yield* onA.atLeast(5))).toEqual(["from a", "from b", "and more", "to x", "to y"])
    }))

  it.live("resumes after any id on another process; an unknown id, or a stream id never published, is lost", () =>
    Effect.gen(function*() {
      const redis = yield* privateRedis
      const { a, b } = yield* twoProcesses(redis.url, { name: "resume" })
      const ids = yield* a.publishAll(range(6).map((i) => SseEvent.make(`m${i}`)))
      for (let k = 0; k < ids.length; k++) {
        const rest = ids.length - 1 - k
        const resumed = rest === 0 ? [] : yield* b.subscribe({ lastEventId: ids[k] }).pipe(
          Stream.take(rest),
          Stream.runCollect
        )
        expect(resumed.map((event) => event.id)).toEqual(ids.slice(k + 1))
      }
      // after the last one: nothing replayed, the next live event comes first
      const live = yield* subscribed(b, { lastEventId: ids[5] })
      const next = yield* a.publish(SseEvent.make("next"))
      expect((yield* live.atLeast(1)).map((event) => event.id)).toEqual([next])
      for (const unknown of ["unknown", "1-0"]) {
        const events = yield* b.subscribe({ lastEventId: unknown }).pipe(Stream.take(8), Stream.runCollect)
        expect(events[0]).toEqual(SseHub.lostEvent(unknown))
        expect(events.slice(1).map((event) => event.id)).toEqual([...ids, next])
      }
    }))

  it.live("an idempotency key publishes once across processes and returns the first ids", () =>
    Effect.gen(function*() {
      const redis = yield* privateRedis
      const { a, b } = yield* twoProcesses(redis.url, { name: "idempotent" })
      const witness = yield* subscribed(b)
      const first = yield* a.publishAll(["a", "b"].map(SseEvent.make), { idempotencyKey: "order-1" })
      expect(yield* b.publishAll(["a", "b"].map(SseEvent.make), { idempotencyKey: "order-1" })).toEqual(first)
      const marker = yield* b.publish(SseEvent.make("marker"))
      expect((yield* witness.atLeast(3)).map((event) => event.id)).toEqual([...first, marker])
      expect(dataOf(witness.items)).toEqual(["a", "b", "marker"])
    }))

  it.live("the slow-client policy holds on a Redis hub: a stalled subscriber is dropped, a fast one gets everything", () =>
    Effect.gen(function*() {
      const redis = yield* privateRedis
      const { a, b } = yield* twoProcesses(redis.url, { name: "slow", bufferSize: 2 })
      const fast = yield* subscribed(b)
      const gate = yield* Latch.make(false)
      const stalled = yield* subscribed(b, undefined, gate)
      yield* a.publish(SseEvent.make("m0"))
      yield* stalled.atLeast(1)
      for (const i of range(5)) {
        yield* a.publish(SseEvent.make(`m${i + 1}`))
        yield* fast.atLeast(i + 2)
      }
      expect(dataOf(fast.items)).toEqual(range(6).map((i) => `m${i}`))
      yield* gate.open
      const exit = yield* stalled.exit
      expect(Exit.isFailure(exit)).toBe(true)
      expect(dataOf(stalled.items)).toEqual(["m0", "m1", "m2"])
      expect(yield* b.clientCount).toBe(1)
    }))

  it.live("shutdown delivers what the process published, ends its subscribers, refuses publishes; other processes go on", () =>
    Effect.gen(function*() {
      const redis = yield* privateRedis
      const { a, b } = yield* twoProcesses(redis.url, { name: "shutdown" })
      const onA = yield* subscribed(a)
      const onB = yield* subscribed(b)
      const ids = yield* a.publishAll(range(3).map((i) => SseEvent.make(`m${i}`)))
      yield* a.shutdown
      expect(Exit.isSuccess(yield* onA.exit)).toBe(true)
      expect(onA.items.map((event) => event.id)).toEqual(ids)
      expect(yield* Effect.flip(a.publish(SseEvent.make("late")))).toMatchObject({ _tag: "HubClosed" })
      const more = yield* b.publish(SseEvent.make("after"))
      expect((yield* onB.atLeast(4)).map((event) => event.id)).toEqual([...ids, more])
      // what was published stays in Redis for resumption
      const again = yield* hubOn(yield* SseHubRedis.make({ url: redis.url }), { name: "shutdown" })
      const resumed = yield* again.subscribe({ lastEventId: ids[0] }).pipe(Stream.take(3), Stream.runCollect)
      expect(resumed.map((event) => event.id)).toEqual([...ids.slice(1), more])
    }))

  it.live("while Redis is unreachable a publish fails with HubUnavailable (NotPublished) and the reader says so", () =>
    Effect.gen(function*() {
      // a port nothing listens on: the private server's, once it is gone
      const port = yield* Effect.scoped(Effect.map(privateRedis, (redis) => redis.port))
      const lines: Array<string> = []
      const capture = Logger.make(({ logLevel, message }) => {
        lines.push(`${logLevel} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
      })
      const hub = yield* hubOn(yield* SseHubRedis.make({ url: `redis://127.0.0.1:${port}` }), { name: "down" }).pipe(
        Effect.provide(Logger.layer([capture]))
      )
      const error = yield* Effect.flip(hub.publish(SseEvent.make("a")))
      expect(error).toBeInstanceOf(SseHub.HubUnavailable)
      expect(error).toMatchObject({ _tag: "HubUnavailable", reason: "NotPublished", hub: "down" })
      expect(error.message).toContain(`ECONNREFUSED 127.0.0.1:${port}`)
      for (let i = 0; i < 500 && lines.length === 0; i++) yield* Effect.sleep("10 millis")
      expect(lines[0]).toBe(
        `Warn effect-sse: hub "down" cannot reach Redis at redis://127.0.0.1:${port} (connect ECONNREFUSED 127.0.0.1:${port}); retrying`
      )
    }))

  it.live("after Redis goes away and comes back, publishes work again and the readers continue: nothing is lost", () =>
    Effect.gen(function*() {
      const redis = yield* privateRedis
      const options = { url: redis.url, reconnect: Schedule.spaced("50 millis"), commandTimeout: "1 second" } as const
      const lines: Array<string> = []
      const capture = Logger.make(({ logLevel, message }) => {
        lines.push(`${logLevel} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
      })
      const a = yield* hubOn(yield* SseHubRedis.make(options), { name: "outage" })
      const b = yield* hubOn(yield* SseHubRedis.make(options), { name: "outage" }).pipe(
        Effect.provide(Logger.layer([capture]))
      )
      const onB = yield* subscribed(b)
      const before = yield* a.publish(SseEvent.make("before"))
      yield* onB.atLeast(1)
      yield* redis.kill
      const failed = yield* Effect.flip(a.publish(SseEvent.make("during")))
      expect(failed).toBeInstanceOf(SseHub.HubUnavailable)
      yield* redis.restart
      // the publisher reconnects on its own: retried, bounded
      const after = yield* a.publish(SseEvent.make("after")).pipe(
        Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 200 })
      )
      expect((yield* onB.atLeast(2)).map((event) => event.id)).toEqual([before, after])
      expect(dataOf(onB.items)).toEqual(["before", "after"])
      // b's reader said it lost Redis, then where it continued
      expect(lines[0]).toMatch(
        /^Warn effect-sse: hub "outage" lost Redis at redis:\/\/127\.0\.0\.1:\d+ \(.+\); retrying$/
      )
      expect(lines).toContain(
        `Info effect-sse: hub "outage" reconnected to Redis at ${redis.url}; resuming after ${before}`
      )
    }))

  it.live("layerConfig reads the URL and prefix from Config; a malformed URL is a ConfigError", () =>
    Effect.gen(function*() {
      const redis = yield* privateRedis
      const provider = ConfigProvider.fromUnknown({ MY_REDIS_URL: redis.url, MY_PREFIX: "mine:" })
      const backend = SseHubRedis.layerConfig({
        url: Config.Redacted("MY_REDIS_URL"),
        prefix: Config.String("MY_PREFIX")
      })
      const id = yield* Effect.gen(function*() {
        const hub = yield* SseHub.SseHub
        return yield* hub.publish(SseEvent.make("configured"))
      }).pipe(
        Effect.provide(SseHub.layer({ name: "configured" }).pipe(Layer.provide(backend))),
        Effect.provide(ConfigProvider.layer(provider))
      )
      const client = new Redis(redis.url)
      yield* Effect.addFinalizer(() => Effect.sync(() => client.disconnect()))
      const entries = yield* Effect.promise(() => client.xrange("mine:configured", "-", "+"))
      expect(entries.map(([entryId]) => entryId)).toEqual([id])
      const invalid = yield* Effect.flip(
        Effect.scoped(SseHubRedis.make({ url: Redacted.make("http://127.0.0.1:1") }))
      )
      expect(invalid._tag).toBe("ConfigError")
      expect(invalid.message).toContain("redis://")
    }))

  it.live("an injected client lends its settings to the backend's own connections and is neither used nor closed", () =>
    Effect.gen(function*() {
      const redis = yield* privateRedis
      const client = new Redis(redis.url, { lazyConnect: true })
      yield* Effect.addFinalizer(() => Effect.sync(() => client.disconnect()))
      yield* Effect.scoped(Effect.gen(function*() {
        const { a, b } = {
          a: yield* hubOn(yield* SseHubRedis.make({ client }), { name: "injected" }),
          b: yield* hubOn(yield* SseHubRedis.make({ url: redis.url }), { name: "injected" })
        }
        const onB = yield* subscribed(b)
        const id = yield* a.publish(SseEvent.make("through a duplicate"))
        expect((yield* onB.atLeast(1)).map((event) => event.id)).toEqual([id])
      }))
      expect(client.status).toBe("wait")
    }))
})
