/**
 * The Redis hub through a Redis outage: a private `redis-server` that the test SIGKILLs and restarts on the same
 * port and directory. Publishes during the outage fail with the typed `HubUnavailable` (never hang, never drop
 * silently), connected clients stay connected, and once Redis is back every subscriber gets everything that
 * was published before and after the outage, once each, in order.
 */
import { expect, it } from "@effect/vitest"
import { Effect, Schedule, Schema } from "effect"
import type * as SseEvent from "../src/SseEvent.js"
import type * as SseHub from "../src/SseHub.js"
import * as SseHubRedis from "../src/SseHubRedis.js"
import { parse } from "./utils/parse.js"
import * as R from "./utils/redis.js"
import * as TestServer from "./utils/server.js"
import * as SseSocket from "./utils/sseSocket.js"

const Message = Schema.Struct({ phase: Schema.String, n: Schema.Number })
type Message = typeof Message.Type

const range = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)
const probe: Message = { phase: "probe", n: 0 }
const isProbe = (data: string | undefined) => data === JSON.stringify(probe)

/** A publish must end, one way or the other: a hang becomes this failure instead of a test timeout. */
const bounded = <A, E>(effect: Effect.Effect<A, E>, label: string) =>
  Effect.timeoutFail(effect, {
    duration: "5 seconds",
    onTimeout: () => new R.RedisTestError({ message: `${label} neither succeeded nor failed within 5 seconds` })
  })

/** Publishes once Redis is back: `HubUnavailable` is retried (bounded), anything else fails the test. */
const publishWhenBack = (hub: SseHub.SseHub<Message>, message: Message) =>
  hub.publish(message).pipe(
    Effect.retry({
      while: (error) => error._tag === "HubUnavailable",
      schedule: Schedule.spaced("50 millis"),
      times: 100
    })
  )

R.describeWithRedis("SseHubRedis when Redis goes away and comes back", ["private"], () => {
  it.scopedLive("publishes fail with HubUnavailable during the outage; clients stay; nothing is lost or repeated", () =>
    Effect.gen(function*() {
      const logs = R.captureLogs()
      const server = yield* R.privateRedis
      const redis = yield* R.admin(server.url)
      const key = yield* R.streamKey(redis, "fault")
      const make = (name: string, reconnect: Schedule.Schedule<unknown, unknown>) =>
        SseHubRedis.make({
          name,
          schema: Message,
          eventType: "msg",
          keepAlive: false,
          redis: { url: server.url, key, reconnect, commandTimeout: "1 second" }
        }).pipe(Effect.provide(logs.layer))
      // B retries more slowly, so that A usually publishes after the outage before B's reader is back: B must
      // still deliver it, from the last entry it delivered.
      const a = yield* make("fault-a", Schedule.spaced("50 millis"))
      const b = yield* make("fault-b", Schedule.spaced("300 millis"))
      yield* R.ready([a, b], probe)

      // A serves a client over HTTP; B has a subscriber.
      const http = yield* TestServer.serve(a.serve())
      const client = yield* SseSocket.connect(http.port)
      yield* client.readUntil(": connected")
      const subscriber = yield* R.subscribeAll(b)
      const eventsOf = (body: string) => parse([body]).events.filter((e) => !isProbe(e.data))
      const clientHas = (n: number, label: string) =>
        client.waitFor((c) => eventsOf(c.body).length >= n, label, "10 seconds")

      const before = yield* Effect.forEach(range(5), (n) => (n % 2 === 0 ? a : b).publish({ phase: "before", n }))
      yield* clientHas(5, "the events before the outage")
      yield* subscriber.atLeast(5)

      // The outage: no shutdown, no save.
      yield* server.kill
      const unavailable = (error: unknown) => expect(error).toMatchObject({ _tag: "HubUnavailable" })
      unavailable(yield* Effect.flip(bounded(a.publish({ phase: "during", n: 0 }), "a publish on A")))
      unavailable(yield* Effect.flip(bounded(b.publish({ phase: "during", n: 1 }), "a publish on B")))
      unavailable(
        yield* Effect.flip(bounded(a.publishAll([{ phase: "during", n: 2 }, { phase: "during", n: 3 }]), "a batch"))
      )
      // Both readers noticed, and logged it once each, not once per retry.
      yield* R.eventually(
        Effect.sync(() =>
          ["fault-a", "fault-b"].every((hub) => logs.lines.some((l) => l.includes(`"${hub}" lost Redis`)))
        ),
        "both readers report the outage"
      )
      unavailable(yield* Effect.flip(bounded(b.publish({ phase: "during", n: 4 }), "a later publish on B")))
      // Resuming needs the history: a subscriber that asks for it fails, a served client is ended (it retries).
      // (SseHubRedis.test.ts checks on its own that the failed subscribe leaves no registration behind.)
      unavailable(yield* Effect.flip(Effect.scoped(b.subscribe({ lastEventId: before[0] }))))
      const resuming = yield* SseSocket.connect(http.port, { headers: { "Last-Event-ID": before[0] } })
      expect(yield* resuming.awaitEnd()).toBe("end")
      // A new client without a Last-Event-ID needs no history: it connects and waits.
      const newcomer = yield* SseSocket.connect(http.port)
      yield* newcomer.readUntil(": connected")
      // Connected clients are still connected.
      expect({ closed: client.isClosed, end: client.end }).toEqual({ closed: false, end: undefined })
      expect(subscriber.ended()).toBeUndefined()
      expect(yield* b.clients).toBe(1)

      // Redis comes back on the same port, with its data (AOF).
      yield* server.restart
      expect(yield* R.streamIds(redis, key)).toEqual(expect.arrayContaining(before))
      const after: Array<string> = []
      for (const n of range(5)) {
        after.push(
          yield* bounded(publishWhenBack(n % 2 === 0 ? a : b, { phase: "after", n }), "a publish after the outage")
        )
      }
      // Published last: once it is there, anything missing or repeated before it would show.
      const last = yield* bounded(publishWhenBack(b, { phase: "last", n: 0 }), "the last publish")

      const expected = [
        ...range(5).map((n) => JSON.stringify({ phase: "before", n })),
        ...range(5).map((n) => JSON.stringify({ phase: "after", n })),
        JSON.stringify({ phase: "last", n: 0 })
      ]
      const stream = (yield* R.streamIds(redis, key)).filter((id) => [...before, ...after, last].includes(id))
      expect(stream).toEqual([...before, ...after, last])

      yield* clientHas(11, "every event on the client that stayed")
      const onClient = eventsOf(client.body)
      expect(onClient.map((e) => e.data)).toEqual(expected)
      expect(onClient.map((e) => e.id)).toEqual(stream)
      expect(onClient.every((e) => e.event === "msg")).toBe(true)

      const onB = (yield* subscriber.atLeast(11, "10 seconds")).filter((e: SseEvent.SseEvent) => !isProbe(e.data))
      expect(onB.map((e) => e.data)).toEqual(expected)
      expect(onB.map((e) => e.id)).toEqual(stream)

      // The client that connected during the outage gets what was published after it.
      yield* newcomer.waitFor((c) => eventsOf(c.body).length >= 6, "the newcomer's events", "10 seconds")
      expect(eventsOf(newcomer.body).map((e) => e.data)).toEqual(expected.slice(5))

      // Each reader reported the recovery once.
      for (const hub of ["fault-a", "fault-b"]) {
        expect(logs.lines.filter((l) => l.includes(`"${hub}" lost Redis`)), hub).toHaveLength(1)
        expect(logs.lines.filter((l) => l.includes(`"${hub}" reconnected to Redis`)), hub).toHaveLength(1)
      }
    }))

  /**
   * Redis goes away and comes back; A publishes a burst as soon as it can, while B's reader, which retries only
   * a second after a failure, is typically not reading yet.
   */
  const slowReader = Effect.gen(function*() {
    const logs = R.captureLogs()
    const server = yield* R.privateRedis
    const redis = yield* R.admin(server.url)
    const key = yield* R.streamKey(redis, "slow-reader")
    const make = (name: string, reconnect: Schedule.Schedule<unknown, unknown>) =>
      SseHubRedis.make({ name, schema: Message, keepAlive: false, redis: { url: server.url, key, reconnect } })
        .pipe(Effect.provide(logs.layer))
    const a = yield* make("reader-a", Schedule.spaced("50 millis"))
    const b = yield* make("reader-b", Schedule.spaced("1 second"))
    yield* R.ready([a, b], probe)
    const onB = yield* R.subscribeAll(b)
    const first = yield* a.publish({ phase: "before", n: 0 })
    yield* onB.seen((e) => e.id === first, "the first event on B")

    yield* server.kill
    yield* server.restart
    const burst: Array<string> = []
    for (const n of range(20)) burst.push(yield* bounded(publishWhenBack(a, { phase: "burst", n }), "a burst publish"))
    const events = (yield* onB.atLeast(21, "10 seconds")).map((e) => e.id)
    return { logs: logs.lines, first, burst, events }
  })

  it.scopedLive("a reader that comes back after the publishers misses nothing published meanwhile", () =>
    Effect.gen(function*() {
      const { burst, events, first } = yield* slowReader
      expect(events).toEqual([first, ...burst])
    }))

  it.scopedLive("the reconnection log names the entry the reader resumed after", () =>
    Effect.gen(function*() {
      const { first, logs } = yield* slowReader
      // The reader continued after `first`, the last entry it delivered before the outage.
      expect(logs.filter((l) => l.includes(`"reader-b" reconnected to Redis`))).toEqual([
        `INFO effect-sse: hub "reader-b" reconnected to Redis; resuming after ${first}`
      ])
    }))
})
