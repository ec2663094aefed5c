/**
 * The Redis hub in one process: two hubs, each built from its own layer, sharing one Redis stream behave as
 * the two processes of a cluster would. Everything runs against a real Redis (`REDIS_URL`, or a private
 * `redis-server` where a test must own the server), never a mock.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Exit, FastCheck as fc, Layer, Runtime, Schedule, Schema, Scope } from "effect"
import { randomUUID } from "node:crypto"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import * as SseEvent from "../src/SseEvent.js"
import * as SseHub from "../src/SseHub.js"
import * as SseHubRedis from "../src/SseHubRedis.js"
import { withRecordedSpans } from "./utils/hub.js"
import { parse } from "./utils/parse.js"
import * as R from "./utils/redis.js"
import * as TestServer from "./utils/server.js"
import * as SseSocket from "./utils/sseSocket.js"

const Message = Schema.Struct({ from: Schema.String, n: Schema.Number })
type Message = typeof Message.Type
type Hub = SseHub.SseHub<Message>

class HubA extends Context.Tag("test/SseHubRedis/HubA")<HubA, Hub>() {}
class HubB extends Context.Tag("test/SseHubRedis/HubB")<HubB, Hub>() {}

const options = (key: string, url: string = R.redisUrl, name = "redis-test"): SseHubRedis.Options<Message> => ({
  name,
  schema: Message,
  eventType: "msg",
  keepAlive: false,
  redis: { url, key, reconnect: Schedule.spaced("50 millis") }
})

const range = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)
const messageOf = (event: SseEvent.SseEvent): Message => JSON.parse(event.data ?? "null")
const view = (event: SseEvent.SseEvent) => ({ id: event.id, type: event.type, data: event.data })
const dataOf = (message: Message) => JSON.stringify(message)

const subscribeAll = R.subscribeAll
const probe: Message = { from: "probe", n: 0 }
/** See `R.ready`: tests about anything but the reader's start first wait until every hub delivers. */
const ready = (hubs: ReadonlyArray<Hub>, publishers?: ReadonlyArray<Hub>) => R.ready(hubs, probe, publishers)

/** Two hubs, each from its own layer (its own connections and reader), on one stream, both ready. */
const twoHubs = (key: string, url: string = R.redisUrl, extra?: Partial<SseHubRedis.Options<Message>>) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(Layer.merge(
      SseHubRedis.layer(HubA, { ...options(key, url), ...extra } as SseHubRedis.Options<Message>),
      SseHubRedis.layer(HubB, { ...options(key, url), ...extra } as SseHubRedis.Options<Message>)
    )).pipe(Effect.orDie)
    const hubs = [Context.get(context, HubA), Context.get(context, HubB)] as const
    yield* ready(hubs)
    return hubs
  })

/** Whether something answers at the default URL, for the one test about the default. */
const defaultUrlProblem = R.redisUrl === R.defaultRedisUrl ? R.sharedRedisProblem : await R.ping(R.defaultRedisUrl)
if (defaultUrlProblem !== undefined) {
  console.warn(`[effect-sse] not testing the default Redis URL: nothing answers at ${R.defaultRedisUrl}`)
}

describe("SseHubRedis without a reachable Redis", () => {
  /** A hub on a port nothing listens on; its reader's retry warnings are captured, not printed. */
  const unreachableHub = Effect.gen(function*() {
    const logs = R.captureLogs()
    const port = yield* R.freePort
    return yield* SseHubRedis.make(options("effect-sse-test:unreachable", `redis://127.0.0.1:${port}`))
      .pipe(Effect.provide(logs.layer))
  })

  it.scopedLive("publish fails at once with the typed HubUnavailable; a subscriber without history still connects", () =>
    Effect.gen(function*() {
      const hub = yield* unreachableHub
      // A hang would end in the timeout's error instead, so this cannot pass by waiting forever.
      const error = yield* hub.publish({ from: "a", n: 1 }).pipe(
        Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "publish hung" as const }),
        Effect.flip
      )
      expect(error).toMatchObject({ _tag: "HubUnavailable", hub: "redis-test" })
      expect(error instanceof Error ? error.message : error).toContain(`The SSE hub "redis-test" cannot reach`)
      const batch = yield* Effect.flip(hub.publishAll([{ from: "a", n: 2 }, { from: "a", n: 3 }]))
      expect(batch._tag).toBe("HubUnavailable")
      // Resuming needs the history in Redis; a plain subscription does not.
      const resume = yield* Effect.flip(hub.subscribe({ lastEventId: "1-0" }))
      expect(resume._tag).toBe("HubUnavailable")
      yield* hub.subscribe()
    }))

  it.scopedLive("a subscribe that fails to resume leaves no subscriber behind", () =>
    Effect.gen(function*() {
      const hub = yield* unreachableHub
      // The failed call's registration must not outlive the call, even while the caller's scope is open.
      yield* Effect.flip(hub.subscribe({ lastEventId: "1-0" }))
      expect(yield* hub.clients, "clients after a failed subscribe").toBe(0)
    }))

  it.scopedLive("the HubUnavailable a publish fails with is an instance of the exported SseHub.HubUnavailable", () =>
    Effect.gen(function*() {
      const hub = yield* unreachableHub
      const error = yield* Effect.flip(hub.publish({ from: "a", n: 1 }))
      expect(error._tag).toBe("HubUnavailable")
      expect(error instanceof SseHub.HubUnavailable, "error instanceof SseHub.HubUnavailable").toBe(true)
    }))
})

R.describeWithRedis("SseHubRedis: two hubs on one Redis stream", ["shared"], () => {
  const withKey = (label: string) =>
    Effect.gen(function*() {
      const redis = yield* R.admin(R.redisUrl)
      const key = yield* R.streamKey(redis, label)
      return { redis, key }
    })

  it.scopedLive(
    "every subscriber of both hubs receives every publish, from concurrent publishers on both, in the stream's order",
    () =>
      Effect.gen(function*() {
        const { key, redis } = yield* withKey("order")
        const [a, b] = yield* twoHubs(key)
        const subscribers = yield* Effect.forEach([a, a, b, b], (hub) => subscribeAll(hub))
        const probes = (yield* R.streamIds(redis, key)).length

        const [fromA, fromB, batchC, batchD] = yield* Effect.all([
          Effect.forEach(range(10), (n) => a.publish({ from: "a", n })),
          Effect.forEach(range(10), (n) => b.publish({ from: "b", n })),
          a.publishAll(range(5).map((n) => ({ from: "c", n }))),
          b.publishAll(range(5).map((n) => ({ from: "d", n })))
        ], { concurrency: "unbounded" })
        const stream = (yield* R.streamIds(redis, key)).slice(probes)
        // A last publish after all the others: once it arrives, anything missing or repeated before it shows.
        const last = yield* a.publish({ from: "last", n: 0 })
        const received = yield* Effect.forEach(subscribers, (s) => Effect.map(s.atLeast(31), (all) => all.map(view)))

        // One global order, the stream's, the same on every subscriber of every hub, and nothing twice.
        expect(stream).toHaveLength(30)
        for (const events of received) {
          expect(events.map((e) => e.id)).toEqual([...stream, last])
          expect(events).toEqual(received[0])
        }
        const events = received[0]
        // Ids are the stream entry ids, increasing; each publish returned the id its event carries.
        expect(events.every((e) => R.isStreamId(e.id))).toBe(true)
        for (let i = 1; i < events.length; i++) expect(R.compareStreamIds(events[i - 1].id!, events[i].id!)).toBe(-1)
        expect([...fromA, ...fromB, ...batchC, ...batchD].sort(R.compareStreamIds)).toEqual(stream)
        expect(events.every((e) => e.type === "msg")).toBe(true)
        // Each publisher's messages in its own order, with the ids it got back; a batch is never interleaved.
        const messages = events.map((e) => JSON.parse(e.data!) as Message)
        for (const [from, ids] of [["a", fromA], ["b", fromB], ["c", batchC], ["d", batchD]] as const) {
          const mine = events.filter((_, i) => messages[i].from === from)
          expect(mine.map((e) => JSON.parse(e.data!).n)).toEqual(range(ids.length))
          expect(mine.map((e) => e.id)).toEqual(ids)
        }
        for (const batch of ["c", "d"]) {
          const at = messages.findIndex((m) => m.from === batch)
          expect(messages.slice(at, at + 5).map((m) => m.from)).toEqual(Array(5).fill(batch))
        }
      })
  )

  it.scopedLive("a publish right after the hub is built reaches the hub's own subscribers", () =>
    Effect.gen(function*() {
      const { key } = yield* withKey("fresh")
      // The reader's starting point is read in the background: a publish that lands in Redis first is taken
      // for history and never delivered. Six fresh hubs make the race show if it is there.
      const missed: Array<number> = []
      for (const n of range(6)) {
        yield* Effect.scoped(Effect.gen(function*() {
          const hub = yield* SseHubRedis.make(options(key))
          const subscriber = yield* subscribeAll(hub)
          yield* hub.publish({ from: "fresh", n })
          yield* subscriber.atLeast(1, "1 second").pipe(Effect.catchAll(() => Effect.sync(() => missed.push(n))))
        }))
      }
      expect(missed, "hubs whose first publish never reached their subscriber").toEqual([])
    }))

  it.scopedLive("publishes run in SseHub.publish spans by default (a round trip to Redis); tracePublish: false turns them off", () =>
    Effect.gen(function*() {
      const { key } = yield* withKey("spans")
      const publishSpans = (tracePublish: boolean | undefined) =>
        Effect.scoped(Effect.gen(function*() {
          const hub = yield* SseHubRedis.make({ ...options(key), tracePublish })
          const [, spans] = yield* withRecordedSpans(Effect.zipRight(
            hub.publish({ from: "spans", n: 1 }),
            hub.publishAll([{ from: "spans", n: 2 }])
          ))
          return spans.filter((span) => span.name === "SseHub.publish").length
        }))
      expect(yield* publishSpans(undefined)).toBe(2)
      expect(yield* publishSpans(true)).toBe(2)
      expect(yield* publishSpans(false)).toBe(0)
    }))

  it.scopedLive("shutdown delivers what the hub published before it, then ends the subscribers", () =>
    Effect.gen(function*() {
      // On the shared Redis: a server with `appendfsync always` (the private ones) happens to hide the race.
      const { key } = yield* withKey("drain")
      const [helper] = yield* twoHubs(key)
      // SseHub.shutdown: "Delivers what was published before, then ends every subscriber". Like a process that
      // serves one request and is told to stop, each round's hub publishes once (its publisher connects then),
      // then shuts down. Ten rounds make a race between the last reads and the shutdown show.
      const delivered: Array<number> = []
      for (const round of range(10)) {
        yield* Effect.scoped(Effect.gen(function*() {
          const hub = yield* SseHubRedis.make(options(key))
          yield* ready([hub], [helper])
          const subscriber = yield* subscribeAll(hub)
          yield* hub.publishAll(range(5).map((n) => ({ from: `round-${round}`, n })))
          yield* hub.shutdown
          expect(Exit.isSuccess(yield* subscriber.end)).toBe(true)
          delivered.push(subscriber.items.length)
        }))
      }
      expect(delivered, "events each round's subscriber got before its stream ended").toEqual(Array(10).fill(5))
    }))

  it.scopedLive("concurrent first publishes on a fresh hub all succeed", () =>
    Effect.gen(function*() {
      const { key, redis } = yield* withKey("concurrent-first")
      // The publisher connects on first use; a second publish while it is connecting must wait, not fail.
      const hub = yield* SseHubRedis.make(options(key))
      const results = yield* Effect.all(
        range(4).map((n) => Effect.either(hub.publish({ from: "first", n }))),
        { concurrency: "unbounded" }
      )
      expect(results.map((r) => r._tag === "Left" ? `${r.left._tag}: ${r.left.message}` : "published")).toEqual(
        Array(4).fill("published")
      )
      expect(yield* R.streamIds(redis, key)).toHaveLength(4)
    }))

  it.scopedLive("serveNode on a plain node:http server delivers what another hub publishes, and resumes from Redis", () =>
    Effect.gen(function*() {
      const { key } = yield* withKey("serve-node")
      const [a, b] = yield* twoHubs(key)
      const run = Runtime.runFork(yield* Effect.runtime<never>())
      const server = createServer((request, response) => {
        run(a.serveNode(request, response))
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
      const port = (server.address() as AddressInfo).port
      const live = yield* SseSocket.connect(port)
      yield* live.readUntil(": connected")
      const first = yield* b.publish({ from: "b", n: 1 })
      yield* live.readUntil(`id: ${first}`)
      const second = yield* b.publish({ from: "b", n: 2 })
      // A client that last saw the first event gets the second from Redis history.
      const resumed = yield* SseSocket.connect(port, { headers: { "last-event-id": first } })
      yield* resumed.readUntil(`id: ${second}`)
      expect(parse([resumed.body]).events.map((e) => e.id)).toEqual([second])
      yield* live.readUntil(`id: ${second}`)
      expect(parse([live.body]).events.map((e) => e.id)).toEqual([first, second])
    }))

  it.scopedLive("topics cross hubs: a subscriber gets its topics and untopiced events, from either hub", () =>
    Effect.gen(function*() {
      const { key } = yield* withKey("topics")
      const [a, b] = yield* twoHubs(key)
      const xOnB = yield* subscribeAll(b, { topics: ["x"] })
      const yOnA = yield* subscribeAll(a, { topics: ["y"] })
      const allOnB = yield* subscribeAll(b)
      const x = yield* a.publish({ from: "x", n: 0 }, { topics: ["x"] })
      yield* b.publish({ from: "y", n: 0 }, { topics: ["y"] })
      yield* a.publish({ from: "xy", n: 0 }, { topics: ["x", "y"] })
      yield* b.publish({ from: "none", n: 0 })
      const froms = (events: ReadonlyArray<SseEvent.SseEvent>) => events.map((e) => messageOf(e).from)
      expect(froms(yield* xOnB.atLeast(3))).toEqual(["x", "xy", "none"])
      expect(froms(yield* yOnA.atLeast(3))).toEqual(["y", "xy", "none"])
      expect(froms(yield* allOnB.atLeast(4))).toEqual(["x", "y", "xy", "none"])
      // Resuming on the other hub applies the same filter to the history.
      const resumed = yield* subscribeAll(a, { topics: ["x"], lastEventId: x })
      yield* b.publish({ from: "x-live", n: 0 }, { topics: ["x"] })
      expect(froms(yield* resumed.atLeast(3))).toEqual(["xy", "none", "x-live"])
    }))

  it.scopedLive("resuming from an id Redis trimmed, or never had, starts with `lost`, then every retained event", () =>
    Effect.gen(function*() {
      const { key, redis } = yield* withKey("lost")
      const size = 5
      const [a, b] = yield* twoHubs(key, R.redisUrl, { history: { size } })
      // MAXLEN ~ trims whole radix-tree nodes only (stream-node-max-entries each), so the stream keeps between
      // `size` and `size + perNode` entries: past two full nodes, the first entry is certainly gone.
      const [, perNodeText] = (yield* R.call(redis, (r) => r.config("GET", "stream-node-max-entries"))) as Array<string>
      const perNode = Number(perNodeText) > 0 ? Number(perNodeText) : 1000
      const ids = yield* a.publishAll(range(2 * perNode + size + 1).map((n) => ({ from: "fill", n })))
      const retained = yield* R.streamIds(redis, key)
      expect(retained).not.toContain(ids[0])
      expect(retained.length).toBeGreaterThanOrEqual(size)
      expect(retained.length).toBeLessThanOrEqual(size + perNode)
      expect(retained.at(-1)).toBe(ids.at(-1))

      for (const lastEventId of [ids[0], "0-1", "99999999999999-0", "not-a-stream-id"]) {
        const history = yield* R.streamIds(redis, key)
        const subscriber = yield* subscribeAll(b, { lastEventId })
        const live = yield* a.publish({ from: "live", n: 0 })
        const events = yield* subscriber.atLeast(history.length + 2)
        expect(view(events[0]), lastEventId).toEqual(view(SseHub.lostEvent(lastEventId)))
        expect(events[0]).toMatchObject({ type: "lost", data: JSON.stringify({ lastEventId }), id: undefined })
        expect(events.slice(1).map((e) => e.id), lastEventId).toEqual([...history, live])
      }

      // The newest id is retained: nothing is lost and nothing comes before the next live event.
      const newest = (yield* R.streamIds(redis, key)).at(-1)!
      const upToDate = yield* subscribeAll(a, { lastEventId: newest })
      const next = yield* b.publish({ from: "next", n: 0 })
      expect((yield* upToDate.atLeast(1)).map((e) => e.id)).toEqual([next])
    }))

  it.scopedLive("an event whose type has a CR or LF is refused with SseEventError and never reaches Redis", () =>
    Effect.gen(function*() {
      const { key, redis } = yield* withKey("invalid")
      const hub = yield* SseHubRedis.make({
        name: "invalid",
        encode: (m: { readonly type: string; readonly id?: string }) => {
          const event = SseEvent.withType(SseEvent.make("payload"), m.type)
          return m.id === undefined ? event : SseEvent.withId(event, m.id)
        },
        keepAlive: false,
        redis: { url: R.redisUrl, key }
      })
      for (const type of ["a\nb", "a\rb", "a\r\nb"]) {
        const error = yield* Effect.flip(hub.publish({ type }))
        expect(error).toMatchObject({ _tag: "SseEventError", reason: "InvalidType", value: type })
      }
      // A batch with one bad event publishes none of them.
      const batch = yield* Effect.flip(hub.publishAll([{ type: "fine" }, { type: "bad\n" }]))
      expect(batch).toMatchObject({ _tag: "SseEventError", reason: "InvalidType" })
      expect(yield* R.call(redis, (r) => r.exists(key))).toBe(0)

      // Ids come from the stream: one the encoded event carries is replaced, so even a broken one never
      // reaches a client (the in-memory hub refuses it instead).
      yield* R.ready([hub], { type: "probe" })
      const subscriber = yield* subscribeAll(hub)
      const id = yield* hub.publish({ type: "fine", id: "evil\nid: injected" })
      const [event] = yield* subscriber.atLeast(1)
      expect(view(event)).toEqual({ id, type: "fine", data: "payload" })
      expect(R.isStreamId(id)).toBe(true)
    }))
})

R.describeWithRedis("SseHubRedis: resuming on the other hub", ["shared"], () => {
  const Hubs = Layer.unwrapScoped(Effect.gen(function*() {
    const redis = yield* R.admin(R.redisUrl)
    const key = yield* R.streamKey(redis, "resume")
    return Layer.merge(SseHubRedis.layer(HubA, options(key)), SseHubRedis.layer(HubB, options(key)))
  })).pipe(
    Layer.tap((context) => ready([Context.get(context, HubA), Context.get(context, HubB)])),
    Layer.orDie
  )

  layer(Hubs, { excludeTestServices: true })((it) => {
    it.effect.prop(
      "a client that saw hub A up to any event and resumes on hub B gets exactly the events after it, then live ones",
      {
        seen: fc.integer({ min: 1, max: 8 }),
        cut: fc.nat(),
        missed: fc.integer({ min: 0, max: 4 }),
        missedOnA: fc.boolean()
      },
      ({ cut, missed, missedOnA, seen }) =>
        Effect.gen(function*() {
          const [a, b] = [yield* HubA, yield* HubB]
          const run = randomUUID()
          const msg = (n: number) => ({ from: run, n })
          // On A: the client reads `seen` events (published on both hubs), then goes away after one of them.
          const first = yield* Effect.scoped(Effect.gen(function*() {
            const onA = yield* subscribeAll(a)
            for (const n of range(seen)) yield* (n % 2 === 0 ? a : b).publish(msg(n))
            return (yield* onA.atLeast(seen)).map(view)
          }))
          const at = cut % seen
          const lastEventId = first[at].id!
          // While it is away, more is published, on either hub.
          for (const n of range(missed)) yield* (missedOnA ? a : b).publish(msg(seen + n))
          // On B: the rest of what it saw, what it missed, then live events; nothing twice.
          const onB = yield* subscribeAll(b, { lastEventId })
          const live = yield* a.publish(msg(seen + missed))
          const expected = [
            ...first.slice(at + 1).map((e) => e.data),
            ...range(missed + 1).map((n) => dataOf(msg(seen + n)))
          ]
          const events = (yield* onB.atLeast(expected.length)).map(view)
          expect(events.map((e) => e.data)).toEqual(expected)
          expect(events.at(-1)?.id).toBe(live)
          expect(events.slice(0, seen - at - 1)).toEqual(first.slice(at + 1))
        }).pipe(Effect.scoped),
      { fastCheck: { numRuns: 15 } }
    )
  })
})

R.describeWithRedis("SseHubRedis: configuration and shutdown, on a private redis-server", ["private"], () => {
  it.scopedLive("the REDIS_URL config says where Redis is; an explicit redis.url wins over it", () =>
    Effect.gen(function*() {
      const server = yield* R.privateRedis
      const redis = yield* R.admin(server.url)
      const name = `config-${randomUUID()}`
      const key = `effect-sse:${name}`
      const fromConfig = ConfigProvider.fromMap(new Map([["REDIS_URL", server.url]]))
      const hub = yield* SseHubRedis.make({ name, schema: Message, keepAlive: false }).pipe(
        Effect.withConfigProvider(fromConfig)
      )
      yield* ready([hub])
      const id = yield* hub.publish({ from: "config", n: 0 })
      // The stream is on the private server, under the default key `effect-sse:<name>`.
      expect(yield* R.streamIds(redis, key)).toContain(id)
      expect(yield* R.otherConnections(redis)).toBe(2)
      if (R.sharedRedisProblem === undefined) {
        const shared = yield* R.admin(R.redisUrl)
        expect(yield* R.call(shared, (r) => r.exists(key))).toBe(0)
      }

      const unreachable = ConfigProvider.fromMap(new Map([["REDIS_URL", "redis://127.0.0.1:1"]]))
      const explicit = yield* SseHubRedis.make({ ...options(key, server.url), name }).pipe(
        Effect.withConfigProvider(unreachable)
      )
      yield* ready([explicit])
      const explicitId = yield* explicit.publish({ from: "explicit", n: 0 })
      expect(yield* R.streamIds(redis, key)).toContain(explicitId)
    }))

  it.scopedLive.skipIf(defaultUrlProblem !== undefined)(
    "without REDIS_URL the hub uses redis://127.0.0.1:6379",
    () =>
      Effect.gen(function*() {
        const redis = yield* R.admin(R.defaultRedisUrl)
        const name = `default-url-${randomUUID()}`
        const key = `effect-sse:${name}`
        yield* Effect.addFinalizer(() => Effect.ignore(R.call(redis, (r) => r.del(key))))
        const hub = yield* SseHubRedis.make({ name, schema: Message, keepAlive: false }).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
        )
        yield* ready([hub])
        const id = yield* hub.publish({ from: "default", n: 0 })
        expect(yield* R.streamIds(redis, key)).toContain(id)
      })
  )

  it.scopedLive(
    "releasing the layer ends subscriber streams and served responses, refuses later calls, and closes both Redis connections",
    () =>
      Effect.gen(function*() {
        const logs = R.captureLogs()
        const server = yield* R.privateRedis
        const redis = yield* R.admin(server.url)
        const key = yield* R.streamKey(redis, "shutdown")
        expect(yield* R.otherConnections(redis)).toBe(0)

        const hubScope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(SseHubRedis.layer(HubA, options(key, server.url)), hubScope)
          .pipe(Effect.provide(logs.layer))
        const hub = Context.get(context, HubA)
        yield* ready([hub])
        // A publisher connection and a reader connection.
        yield* R.eventually(Effect.map(R.otherConnections(redis), (n) => n === 2), "two connections")

        const subscriber = yield* subscribeAll(hub)
        const http = yield* TestServer.serve(hub.serve())
        const client = yield* SseSocket.connect(http.port)
        yield* client.readUntil(": connected")
        const id = yield* hub.publish({ from: "before", n: 0 })
        yield* subscriber.atLeast(1)
        yield* client.readUntil(`id: ${id}`)

        yield* Scope.close(hubScope, Exit.void)

        expect(Exit.isSuccess(yield* subscriber.end)).toBe(true)
        expect(yield* client.awaitEnd()).toBe("end")
        expect(parse([client.body]).events.map((e) => e.id)).toEqual([id])
        expect(yield* Effect.flip(hub.publish({ from: "after", n: 0 }))).toMatchObject({ _tag: "HubClosed" })
        expect(yield* Effect.flip(hub.subscribe())).toMatchObject({ _tag: "HubClosed" })
        yield* R.eventually(Effect.map(R.otherConnections(redis), (n) => n === 0), "no connection left")
        // Closing its own connections is not an outage.
        expect(logs.lines.filter((line) => line.includes("lost Redis"))).toEqual([])
      })
  )
})
