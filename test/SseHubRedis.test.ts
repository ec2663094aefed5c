/**
 * The Redis backend in one process: two hubs, each on a backend layer of its own (its own connections and
 * reader), sharing one Redis stream behave as the two processes of a cluster would. Everything runs against a
 * real Redis (the run's `redisUrl`, or a private `redis-server` where a test must own the server), never a mock.
 * Faults (Redis killed, stalled, not started yet) are in `redis.fault.test.ts`.
 */
import { HttpServerRequest } from "@effect/platform"
import { describe, expect, it, layer } from "@effect/vitest"
import {
  Config,
  ConfigError,
  ConfigProvider,
  Context,
  Effect,
  Exit,
  FastCheck as fc,
  Layer,
  Option,
  Schedule,
  Schema,
  Scope
} from "effect"
import { Redis } from "ioredis"
import { randomUUID } from "node:crypto"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import * as Layout from "../src/core/redis.js"
import * as SseEvent from "../src/SseEvent.js"
import * as SseHub from "../src/SseHub.js"
import * as SseHubBackend from "../src/SseHubBackend.js"
import * as SseHubRedis from "../src/SseHubRedis.js"
import * as SseNode from "../src/SseNode.js"
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

const hubName = "redis-test"
const hubOptions = (extra?: Partial<SseHub.Options.Common<Message>>): SseHub.Options<Message> => ({
  name: hubName,
  schema: Message,
  eventType: "msg",
  keepAlive: false,
  ...extra
})

/** The backend's options: a prefix of the test's own (the stream is `<prefix><hub name>`), quick retries. */
const redisOptions = (prefix: string, url: string = R.redisUrl, extra?: SseHubRedis.Options): SseHubRedis.Options => ({
  url,
  prefix,
  reconnect: Schedule.spaced("50 millis"),
  ...extra
})

interface Setup {
  readonly hub?: Partial<SseHub.Options.Common<Message>> | undefined
  readonly redis?: SseHubRedis.Options | undefined
}

/** One process's view: a hub under `tag` on a Redis backend of its own. */
const hubLayer = <I>(tag: Context.Tag<I, Hub>, prefix: string, url?: string, setup?: Setup) =>
  SseHub.layer(tag, hubOptions(setup?.hub)).pipe(
    Layer.provide(SseHubRedis.layer(redisOptions(prefix, url, setup?.redis)))
  )

/** A hub on a Redis backend of its own, for as long as the scope (the backend is closed after the hub). */
const makeHub = (prefix: string, url?: string, setup?: Setup) =>
  Effect.flatMap(
    SseHubRedis.make(redisOptions(prefix, url, setup?.redis)),
    (backend) => Effect.provideService(SseHub.make(hubOptions(setup?.hub)), SseHubBackend.SseHubBackend, backend)
  )

const range = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)
const messageOf = (event: SseEvent.SseEvent): Message => JSON.parse(event.data ?? "null")
const view = (event: SseEvent.SseEvent) => ({ id: event.id, type: event.type, data: event.data })
const dataOf = (message: Message) => JSON.stringify(message)
const after = (id: string) => ({ lastEventId: Option.some(id) })

const subscribeAll = R.subscribeAll
const probe: Message = { from: "probe", n: 0 }
/** See `R.ready`: tests about anything but the reader's start first wait until every hub delivers. */
const ready = (hubs: ReadonlyArray<Hub>, publishers?: ReadonlyArray<Hub>) => R.ready(hubs, probe, publishers)

/** An admin connection to the run's Redis, and a key prefix of the test's own; the stream is `key`. */
const withPrefix = (label: string, url: string = R.redisUrl) =>
  Effect.gen(function*() {
    const redis = yield* R.admin(url)
    const prefix = yield* R.keyPrefix(redis, label)
    return { redis, prefix, key: prefix + hubName }
  })

/** Two hubs, each on its own backend (two processes), on one stream, both ready. */
const twoHubs = (prefix: string, url: string = R.redisUrl, setup?: Setup) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(Layer.merge(
      hubLayer(HubA, prefix, url, setup),
      hubLayer(HubB, prefix, url, setup)
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

describe("SseHubRedis's stream ids", () => {
  it.prop(
    "idAt(ms) comes after every entry added before ms and before every entry added at ms or later",
    { ms: fc.integer({ min: 1, max: 2 ** 48 }), seq: fc.bigInt({ min: 0n, max: 2n ** 64n - 2n }) },
    ({ ms, seq }) => {
      expect(Layout.compareIds(`${ms}-${seq}`, Layout.idAt(ms))).toBeGreaterThan(0)
      expect(Layout.compareIds(`${ms - 1}-${seq}`, Layout.idAt(ms))).toBeLessThan(0)
    }
  )
})

describe("SseHubRedis without a reachable Redis", () => {
  /** A hub on a port nothing listens on; its reader's retry warnings are captured, not printed. */
  const unreachableHub = Effect.gen(function*() {
    const logs = R.captureLogs()
    const port = yield* R.freePort
    const hub = yield* makeHub("effect-sse-test:unreachable:", `redis://127.0.0.1:${port}`).pipe(
      Effect.provide(logs.layer)
    )
    return { hub, port, logs: logs.lines }
  })

  it.scopedLive(
    "publish fails at once with HubUnavailable NotPublished naming the cause; a subscriber without history still connects",
    () =>
      Effect.gen(function*() {
        const { hub, port } = yield* unreachableHub
        // A hang would end in the timeout's error instead, so this cannot pass by waiting forever.
        const error = yield* hub.publish({ from: "a", n: 1 }).pipe(
          Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "publish hung" as const }),
          Effect.flip
        )
        expect(error).toMatchObject({ _tag: "HubUnavailable", hub: hubName, reason: "NotPublished" })
        const message = error instanceof Error ? error.message : error
        expect(message).toContain(`The SSE hub "${hubName}" cannot reach its backend; the message was not published`)
        expect(message).toContain(`ECONNREFUSED 127.0.0.1:${port}`)
        const batch = yield* Effect.flip(hub.publishAll([{ from: "a", n: 2 }, { from: "a", n: 3 }]))
        expect(batch).toMatchObject({ _tag: "HubUnavailable", reason: "NotPublished" })
        // Resuming needs the history in Redis; a plain subscription does not.
        const resume = yield* Effect.flip(hub.subscribe(after("1-0")))
        expect(resume).toMatchObject({ _tag: "HubUnavailable", reason: "ReadFailed" })
        yield* hub.subscribe()
      })
  )

  it.scopedLive("a subscribe that fails to resume leaves no subscriber behind", () =>
    Effect.gen(function*() {
      const { hub } = yield* unreachableHub
      // The failed call's registration must not outlive the call, even while the caller's scope is open.
      yield* Effect.flip(hub.subscribe(after("1-0")))
      expect(yield* hub.clientCount, "clients after a failed subscribe").toBe(0)
    }))

  it.scopedLive("the HubUnavailable a publish fails with is an instance of the exported SseHub.HubUnavailable", () =>
    Effect.gen(function*() {
      const { hub } = yield* unreachableHub
      const error = yield* Effect.flip(hub.publish({ from: "a", n: 1 }))
      expect(error._tag).toBe("HubUnavailable")
      expect(error instanceof SseHub.HubUnavailable, "error instanceof SseHub.HubUnavailable").toBe(true)
    }))

  it.scopedLive(
    "the reader's warning names the address and the real cause, and says `cannot reach` (not `lost`) before any connection",
    () =>
      Effect.gen(function*() {
        const { logs, port } = yield* unreachableHub
        const address = `redis://127.0.0.1:${port}`
        yield* R.eventually(Effect.sync(() => logs.some((l) => l.includes("cannot reach"))), "the reader's warning")
        expect(logs.filter((l) => l.startsWith("WARN"))).toEqual([
          `WARN effect-sse: hub "${hubName}" cannot reach Redis at ${address} (connect ECONNREFUSED 127.0.0.1:${port}); retrying`
        ])
        expect(logs.some((l) => l.includes("lost"))).toBe(false)
      })
  )
})

describe("SseHubRedis configuration", () => {
  const secret = "s3cr3t-Pa55word"
  const buildWith = (config: ReadonlyArray<[string, string]>, options?: SseHubRedis.Options) =>
    Effect.scoped(Layer.build(SseHubRedis.layer(options))).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(config)))
    )

  it.effect.each([
    "redis://host:notaport",
    "redis://127.0.0.1:99999",
    "http://x",
    "not a url",
    `redis://:${secret}@host:notaport`
  ])(
    "a malformed REDIS_URL (%s) fails the layer with a ConfigError that shows no password",
    (url) =>
      Effect.gen(function*() {
        for (
          const exit of [
            yield* Effect.exit(buildWith([["REDIS_URL", url]])),
            yield* Effect.exit(buildWith([], { url }))
          ]
        ) {
          // A failure, not a defect: never a TypeError out of ioredis.
          expect(Exit.isFailure(exit) && exit.cause._tag === "Fail", String(exit)).toBe(true)
          if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
            const error = exit.cause.error
            expect(ConfigError.isConfigError(error), String(error)).toBe(true)
            expect(error).toMatchObject({ _op: "InvalidData", path: ["REDIS_URL"] })
            expect(String(error)).not.toContain(secret)
          }
        }
      })
  )

  it.scopedLive("a password in REDIS_URL (read as Config.redacted) never appears in a log line or an error", () => {
    const logs = R.captureLogs()
    return Effect.gen(function*() {
      const port = yield* R.freePort
      const url = `redis://app:${secret}@127.0.0.1:${port}`
      const scope = yield* Effect.scope
      const backend = yield* SseHubRedis.make({ reconnect: Schedule.spaced("20 millis") }).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["REDIS_URL", url]]))),
        Scope.extend(scope)
      )
      const hub = yield* SseHub.make<Message>({ name: "secret", schema: Message }).pipe(
        Effect.provideService(SseHubBackend.SseHubBackend, backend)
      )
      const errors = [
        yield* Effect.flip(hub.publish({ from: "a", n: 0 })),
        yield* Effect.flip(Effect.scoped(hub.subscribe(after("1-0"))))
      ]
      yield* R.eventually(Effect.sync(() => logs.lines.length > 0), "a warning")
      // The server answers a resuming client's failed read with a warning, too.
      const http = yield* TestServer.serve(hub.serve())
      const client = yield* SseSocket.connect(http.port, { headers: { "last-event-id": "1-0" } })
      yield* client.awaitEnd()
      yield* R.eventually(Effect.sync(() => logs.lines.some((l) => l.includes("cannot resume"))), "the resume warning")
      const texts = [...logs.lines, ...errors.map((e) => `${e.message} ${String(e.cause)}`)]
      expect(texts.filter((t) => t.includes(secret))).toEqual([])
      // The address is named, the password masked.
      expect(logs.lines.some((l) => l.includes(`redis://app:***@127.0.0.1:${port}`))).toBe(true)
      expect(errors[0].message).toContain(`redis://app:***@127.0.0.1:${port}`)
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("layerConfig reads its options from Config; a malformed URL there is a ConfigError too", () =>
    Effect.gen(function*() {
      const backend = SseHubRedis.layerConfig({
        url: Config.redacted("CHAT_REDIS_URL"),
        prefix: Config.string("CHAT_REDIS_PREFIX").pipe(Config.withDefault("chat:"))
      })
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(backend))).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["CHAT_REDIS_URL", `http://:${secret}@x`]])))
      )
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && ConfigError.isConfigError(exit.cause.error)).toBe(
        true
      )
      expect(String(exit)).not.toContain(secret)
    }))
})

R.describeWithRedis("SseHubRedis: two hubs on one Redis stream", ["shared"], () => {
  it.scopedLive(
    "every subscriber of both hubs receives every publish, from concurrent publishers on both, in the stream's order",
    () =>
      Effect.gen(function*() {
        const { key, prefix, redis } = yield* withPrefix("order")
        const [a, b] = yield* twoHubs(prefix)
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
      const { prefix } = yield* withPrefix("fresh")
      // The reader's starting point is read in the background: a publish that lands in Redis first must not be
      // taken for history. Six fresh hubs make the race show if it is there.
      const missed: Array<number> = []
      for (const n of range(6)) {
        yield* Effect.scoped(Effect.gen(function*() {
          const hub = yield* makeHub(prefix)
          const subscriber = yield* subscribeAll(hub)
          yield* hub.publish({ from: "fresh", n })
          yield* subscriber.atLeast(1, "1 second").pipe(Effect.catchAll(() => Effect.sync(() => missed.push(n))))
        }))
      }
      expect(missed, "hubs whose first publish never reached their subscriber").toEqual([])
    }))

  it.scopedLive("publishes run in SseHub.publish spans by default (a round trip to Redis); tracePublish: false turns them off", () =>
    Effect.gen(function*() {
      const { prefix } = yield* withPrefix("spans")
      const publishSpans = (tracePublish: boolean | undefined) =>
        Effect.scoped(Effect.gen(function*() {
          const hub = yield* makeHub(prefix, undefined, { hub: { tracePublish } })
          const [, spans] = yield* withRecordedSpans(Effect.zipRight(
            hub.publish({ from: "spans", n: 1 }),
            hub.publishAll([{ from: "spans", n: 2 }])
          ))
          return spans.filter((span) => span.name === "SseHub.publish").map((span) => span.attributes.get("backend"))
        }))
      expect(yield* publishSpans(undefined)).toEqual(["redis", "redis"])
      expect(yield* publishSpans(true)).toEqual(["redis", "redis"])
      expect(yield* publishSpans(false)).toEqual([])
    }))

  it.scopedLive("shutdown delivers what the hub published before it, then ends the subscribers", () =>
    Effect.gen(function*() {
      // On the shared Redis: a server with `appendfsync always` (the private ones) happens to hide the race.
      const { prefix } = yield* withPrefix("drain")
      const [helper] = yield* twoHubs(prefix)
      // SseHub.shutdown: "Delivers what was published before, then ends every subscriber". Like a process that
      // serves one request and is told to stop, each round's hub publishes once (its publisher connects then),
      // then shuts down. Ten rounds make a race between the last reads and the shutdown show.
      const delivered: Array<number> = []
      for (const round of range(10)) {
        yield* Effect.scoped(Effect.gen(function*() {
          const hub = yield* makeHub(prefix)
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
      const { key, prefix, redis } = yield* withPrefix("concurrent-first")
      // The publisher connects on first use; a second publish while it is connecting must wait, not fail.
      const hub = yield* makeHub(prefix)
      const results = yield* Effect.all(
        range(4).map((n) => Effect.either(hub.publish({ from: "first", n }))),
        { concurrency: "unbounded" }
      )
      expect(results.map((r) => r._tag === "Left" ? `${r.left._tag}: ${r.left.message}` : "published")).toEqual(
        Array(4).fill("published")
      )
      expect(yield* R.streamIds(redis, key)).toHaveLength(4)
    }))

  it.scopedLive(
    "SseNode.makeHandler on a plain node:http server delivers what another hub publishes, and resumes from Redis",
    () =>
      Effect.gen(function*() {
        const { prefix } = yield* withPrefix("node-handler")
        const [a, b] = yield* twoHubs(prefix)
        const handler = yield* SseNode.makeHandler(Effect.flatMap(HttpServerRequest.HttpServerRequest, () => a.serve()))
        const server = createServer(handler)
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
      })
  )

  it.scopedLive("topics cross hubs: a subscriber gets its topics and untopiced events, from either hub", () =>
    Effect.gen(function*() {
      const { prefix } = yield* withPrefix("topics")
      const [a, b] = yield* twoHubs(prefix)
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
      const resumed = yield* subscribeAll(a, { topics: ["x"], ...after(x) })
      yield* b.publish({ from: "x-live", n: 0 }, { topics: ["x"] })
      expect(froms(yield* resumed.atLeast(3))).toEqual(["xy", "none", "x-live"])
    }))

  it.scopedLive("resuming from an id Redis trimmed, or never had, starts with `lost`, then every retained event", () =>
    Effect.gen(function*() {
      const { key, prefix, redis } = yield* withPrefix("lost")
      const size = 5
      const [a, b] = yield* twoHubs(prefix, R.redisUrl, { hub: { history: { size } } })
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
        const subscriber = yield* subscribeAll(b, after(lastEventId))
        const live = yield* a.publish({ from: "live", n: 0 })
        const events = yield* subscriber.atLeast(history.length + 2)
        expect(view(events[0]), lastEventId).toEqual(view(SseHub.lostEvent(lastEventId)))
        expect(events[0]).toMatchObject({ type: "lost", data: JSON.stringify({ lastEventId }), id: undefined })
        expect(events.slice(1).map((e) => e.id), lastEventId).toEqual([...history, live])
      }

      // The newest id is retained: nothing is lost and nothing comes before the next live event.
      const newest = (yield* R.streamIds(redis, key)).at(-1)!
      const upToDate = yield* subscribeAll(a, after(newest))
      const next = yield* b.publish({ from: "next", n: 0 })
      expect((yield* upToDate.atLeast(1)).map((e) => e.id)).toEqual([next])
    }))

  it.scopedLive("an event whose type has a CR or LF is refused with SseEventError and never reaches Redis", () =>
    Effect.gen(function*() {
      const { key, prefix, redis } = yield* withPrefix("invalid")
      const backend = yield* SseHubRedis.make(redisOptions(prefix))
      const hub = yield* SseHub.make({
        name: hubName,
        encode: (m: { readonly type: string; readonly id?: string }) => {
          const event = SseEvent.withType(SseEvent.make("payload"), m.type)
          return m.id === undefined ? event : SseEvent.withId(event, m.id)
        },
        keepAlive: false
      }).pipe(Effect.provideService(SseHubBackend.SseHubBackend, backend))
      for (const type of ["a\nb", "a\rb", "a\r\nb"]) {
        const error = yield* Effect.flip(hub.publish({ type }))
        expect(error).toMatchObject({ _tag: "SseEventError", reason: "InvalidType", value: type })
      }
      // A batch with one bad event publishes none of them; so does a bad id.
      const batch = yield* Effect.flip(hub.publishAll([{ type: "fine" }, { type: "bad\n" }]))
      expect(batch).toMatchObject({ _tag: "SseEventError", reason: "InvalidType" })
      const badId = yield* Effect.flip(hub.publish({ type: "fine", id: "evil\nid: injected" }))
      expect(badId).toMatchObject({ _tag: "SseEventError", reason: "InvalidId" })
      expect(yield* R.call(redis, (r) => r.exists(key))).toBe(0)

      // Ids come from the stream: one the event carries is replaced by the entry's id.
      yield* R.ready([hub], { type: "probe" })
      const subscriber = yield* subscribeAll(hub)
      const id = yield* hub.publish({ type: "fine", id: "my-own-id" })
      const [event] = yield* subscriber.atLeast(1)
      expect(view(event)).toEqual({ id, type: "fine", data: "payload" })
      expect(R.isStreamId(id)).toBe(true)
    }))

  it.scopedLive("publishAll of no messages publishes nothing and returns no id, with or without an idempotency key", () =>
    Effect.gen(function*() {
      const { key, prefix, redis } = yield* withPrefix("empty")
      const hub = yield* makeHub(prefix)
      expect(yield* hub.publishAll([])).toEqual([])
      expect(yield* hub.publishAll([], { idempotencyKey: "empty" })).toEqual([])
      expect(yield* hub.publishAll([], { idempotencyKey: "empty" })).toEqual([])
      expect(yield* R.call(redis, (r) => r.exists(key))).toBe(0)
      // The hub still shuts down at once: it waits for no entry of its own to be read back.
      yield* hub.shutdown
    }))

  it.scopedLive("an idle reader is not an outage: no warning, and a publish after the wait is delivered at once", () =>
    Effect.gen(function*() {
      const logs = R.captureLogs()
      const { prefix } = yield* withPrefix("idle")
      // The reader blocks in XREAD for up to 5 seconds; a command timeout shorter than that must not cut it.
      const [a, b] = yield* twoHubs(prefix, R.redisUrl, { redis: { commandTimeout: "200 millis" } }).pipe(
        Effect.provide(logs.layer)
      )
      const onA = yield* subscribeAll(a)
      yield* Effect.sleep("1 second")
      const id = yield* b.publish({ from: "after-idle", n: 0 })
      yield* onA.seen((e) => e.id === id, "the publish after the idle second", "1 second")
      expect(logs.lines).toEqual([])
    }))
})

R.describeWithRedis("SseHubRedis: idempotency keys across processes", ["shared"], () => {
  it.scopedLive("the same key published on two backends (two processes) is stored and delivered once, with one id", () =>
    Effect.gen(function*() {
      const { key, prefix, redis } = yield* withPrefix("idempotency")
      const [a, b] = yield* twoHubs(prefix)
      const onA = yield* subscribeAll(a)
      const onB = yield* subscribeAll(b)
      const before = (yield* R.streamIds(redis, key)).length
      const idempotencyKey = randomUUID()
      const first = yield* a.publish({ from: "a", n: 1 }, { idempotencyKey })
      const again = yield* b.publish({ from: "b", n: 1 }, { idempotencyKey })
      const batch = yield* b.publishAll([{ from: "b", n: 2 }, { from: "b", n: 3 }], { idempotencyKey })
      expect(again).toBe(first)
      expect(batch).toEqual([first])
      // Concurrently on both, with another key: one of them stores it, both return its id.
      const other = randomUUID()
      const racing = yield* Effect.all(
        [a, b, a, b].map((hub, n) => hub.publish({ from: "race", n }, { idempotencyKey: other })),
        { concurrency: "unbounded" }
      )
      expect(new Set(racing).size).toBe(1)
      const last = yield* a.publish({ from: "last", n: 0 })
      const stream = (yield* R.streamIds(redis, key)).slice(before)
      expect(stream).toEqual([first, racing[0], last])
      for (const received of [onA, onB]) {
        const events = yield* received.seen((e) => e.id === last, "the last publish")
        expect(events.filter((e) => messageOf(e).from !== "probe").map((e) => e.id)).toEqual(stream)
        expect(messageOf(events.find((e) => e.id === first)!)).toEqual({ from: "a", n: 1 })
      }
    }))

  it.scopedLive("an idempotency key is forgotten after the hub's idempotencyWindow", () =>
    Effect.gen(function*() {
      const { prefix } = yield* withPrefix("idempotency-window")
      const hub = yield* makeHub(prefix, undefined, { hub: { idempotencyWindow: "200 millis" } })
      const idempotencyKey = randomUUID()
      const first = yield* hub.publish({ from: "a", n: 1 }, { idempotencyKey })
      expect(yield* hub.publish({ from: "a", n: 1 }, { idempotencyKey })).toBe(first)
      yield* Effect.sleep("400 millis")
      expect(yield* hub.publish({ from: "a", n: 1 }, { idempotencyKey })).not.toBe(first)
    }))
})

R.describeWithRedis("SseHubRedis: where the reader starts (the backend's Log)", ["shared"], () => {
  const openOptions: SseHubBackend.OpenOptions = { historySize: 1000, maxAge: undefined, idempotencyWindow: 60_000 }
  const publishOptions: SseHubBackend.PublishOptions = {
    topics: undefined,
    target: undefined,
    idempotencyKey: undefined
  }
  const events = (n: number, from: string) => range(n).map((i) => SseEvent.make(`${from}-${i}`))

  /** A log on a backend of its own (a process), and another process's log on the same stream to publish with. */
  const logs = (label: string) =>
    Effect.gen(function*() {
      const { prefix } = yield* withPrefix(label)
      const mine = yield* Effect.flatMap(SseHubRedis.make(redisOptions(prefix)), (backend) =>
        backend.open(hubName, openOptions))
      const other = yield* Effect.flatMap(SseHubRedis.make(redisOptions(prefix)), (backend) =>
        backend.open(hubName, openOptions))
      return { mine, other }
    })

  /** Starts feeding `log` and collects what it delivers, in order. */
  const feed = (log: SseHubBackend.Log) =>
    Effect.gen(function*() {
      const delivered: Array<string> = []
      yield* log.feed((batch) => {
        for (const entry of batch) delivered.push(entry.id)
        return false
      })
      const until = (id: string) =>
        R.eventually(Effect.sync(() => delivered.includes(id)), `the delivery of ${id}`).pipe(Effect.as(delivered))
      return { delivered, until }
    })

  it.scopedLive("cursors handed out before the reader's first contact make it start at the earliest of them", () =>
    Effect.gen(function*() {
      const { mine, other } = yield* logs("reader-start")
      const ids = yield* Effect.map(other.publish(events(5, "before"), publishOptions), (accepted) => accepted.ids)
      // A subscriber resumed and was handed ids[1] (its prelude ended there), another ids[3], before this
      // process's reader ever read: the reader starts after the earliest, ids[1].
      const resumed = mine.cursorOf(ids[3])
      const earlier = mine.cursorOf(ids[1])
      const reader = yield* feed(mine)
      const live = yield* Effect.map(other.publish(events(1, "live"), publishOptions), (accepted) => accepted.ids)
      expect(yield* reader.until(live[0])).toEqual([...ids.slice(2), ...live])
      // Each subscriber takes what comes after its own cursor.
      const entries = (yield* mine.resume(ids[0], undefined)).entries
      expect(entries.filter(mine.after(resumed)).map((e) => e.id)).toEqual([ids[4], live[0]])
      expect(entries.filter(mine.after(earlier)).map((e) => e.id)).toEqual([...ids.slice(2), live[0]])
    }))

  it.scopedLive("without a cursor handed out, the reader starts at the newest entry at its first contact", () =>
    Effect.gen(function*() {
      const { mine, other } = yield* logs("reader-newest")
      const history = yield* Effect.map(other.publish(events(3, "history"), publishOptions), (accepted) => accepted.ids)
      const reader = yield* feed(mine)
      // Probes until one arrives: the reader has started (asking for a position now would be a cursor handed out).
      yield* Effect.flatMap(
        Effect.map(other.publish(events(1, "probe"), publishOptions), (accepted) => accepted.ids),
        ([id]) => R.eventually(Effect.sync(() => reader.delivered.includes(id)), "a probe", 5)
      ).pipe(
        Effect.retry({ times: 20 })
      )
      const live = yield* Effect.map(other.publish(events(2, "live"), publishOptions), (accepted) => accepted.ids)
      const delivered = yield* reader.until(live[1])
      // From some probe on, every entry of the stream once, and none of the history before the start.
      const stream = (yield* other.resume(history[2], undefined)).entries.map((e) => e.id)
      expect(delivered).toEqual(stream.slice(stream.indexOf(delivered[0])))
      expect(delivered.filter((id) => history.includes(id))).toEqual([])
      expect(delivered.slice(-2)).toEqual(live)
    }))
})

R.describeWithRedis("SseHubRedis: resuming on the other hub", ["shared"], () => {
  const Hubs = Layer.unwrapScoped(Effect.gen(function*() {
    const redis = yield* R.admin(R.redisUrl)
    const prefix = yield* R.keyPrefix(redis, "resume")
    return Layer.merge(hubLayer(HubA, prefix), hubLayer(HubB, prefix))
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
          const onB = yield* subscribeAll(b, after(lastEventId))
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
  it.scopedLive("the REDIS_URL config says where Redis is; an explicit url wins over it; the key is <prefix><name>", () =>
    Effect.gen(function*() {
      const server = yield* R.privateRedis
      const redis = yield* R.admin(server.url)
      const name = `config-${randomUUID()}`
      const fromConfig = ConfigProvider.fromMap(new Map([["REDIS_URL", server.url]]))
      const scope = yield* Effect.scope
      const backend = yield* SseHubRedis.make().pipe(Effect.withConfigProvider(fromConfig), Scope.extend(scope))
      const hub = yield* SseHub.make({ name, schema: Message, keepAlive: false }).pipe(
        Effect.provideService(SseHubBackend.SseHubBackend, backend)
      )
      yield* ready([hub])
      const id = yield* hub.publish({ from: "config", n: 0 })
      // The stream is on the private server, under the default prefix: `effect-sse:<name>`.
      expect(yield* R.streamIds(redis, `effect-sse:${name}`)).toContain(id)
      expect(yield* R.otherConnections(redis)).toBe(2)
      if (R.sharedRedisProblem === undefined) {
        const shared = yield* R.admin(R.redisUrl)
        expect(yield* R.call(shared, (r) => r.exists(`effect-sse:${name}`))).toBe(0)
      }

      const unreachable = ConfigProvider.fromMap(new Map([["REDIS_URL", "redis://127.0.0.1:1"]]))
      const explicit = yield* makeHub("mine:", server.url, { hub: { name } }).pipe(
        Effect.withConfigProvider(unreachable)
      )
      yield* ready([explicit])
      const explicitId = yield* explicit.publish({ from: "explicit", n: 0 })
      expect(yield* R.streamIds(redis, `mine:${name}`)).toContain(explicitId)
    }))

  it.scopedLive.skipIf(defaultUrlProblem !== undefined)(
    "without REDIS_URL the backend uses redis://127.0.0.1:6379",
    () =>
      Effect.gen(function*() {
        const redis = yield* R.admin(R.defaultRedisUrl)
        const name = `default-url-${randomUUID()}`
        const key = `effect-sse:${name}`
        yield* Effect.addFinalizer(() => Effect.ignore(R.call(redis, (r) => r.del(key))))
        const scope = yield* Effect.scope
        const backend = yield* SseHubRedis.make().pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map())),
          Scope.extend(scope)
        )
        const hub = yield* SseHub.make({ name, schema: Message, keepAlive: false }).pipe(
          Effect.provideService(SseHubBackend.SseHubBackend, backend)
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
        const prefix = yield* R.keyPrefix(redis, "shutdown")
        expect(yield* R.otherConnections(redis)).toBe(0)

        const hubScope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(hubLayer(HubA, prefix, server.url), hubScope).pipe(
          Effect.provide(logs.layer)
        )
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

  it.scopedLive("a client of your own is duplicated (its settings shared), never used, and not closed with the layer", () =>
    Effect.gen(function*() {
      const server = yield* R.privateRedis
      const redis = yield* R.admin(server.url)
      const prefix = yield* R.keyPrefix(redis, "own-client")
      const connectionName = `users-client-${randomUUID().slice(0, 8)}`
      const client = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const client = new Redis(server.url, { connectionName, lazyConnect: true })
          await client.connect()
          return client
        }),
        (client) => Effect.sync(() => client.disconnect())
      )
      const used: Array<string> = []
      const sendCommand = client.sendCommand.bind(client)
      client.sendCommand =
        ((command: Parameters<typeof sendCommand>[0], stream?: Parameters<typeof sendCommand>[1]) => {
          used.push(command.name)
          return sendCommand(command, stream)
        }) as typeof client.sendCommand
      const named = Effect.map(
        R.call(redis, (r) => r.client("LIST")),
        (list) => String(list).split("\n").filter((line) => line.includes(` name=${connectionName} `)).length
      )

      const hubScope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        SseHub.layer(HubA, hubOptions()).pipe(Layer.provide(SseHubRedis.layer({ client, prefix }))),
        hubScope
      )
      const hub = Context.get(context, HubA)
      yield* ready([hub])
      const subscriber = yield* subscribeAll(hub)
      const id = yield* hub.publish({ from: "own", n: 0 })
      yield* subscriber.seen((e) => e.id === id, "the publish")
      expect(yield* R.streamIds(redis, prefix + hubName)).toContain(id)
      // Yours, and the backend's publisher and reader, which carry your connection name.
      expect(yield* named).toBe(3)
      yield* Scope.close(hubScope, Exit.void)
      yield* R.eventually(Effect.map(named, (n) => n === 1), "only your connection left")
      expect(used).toEqual([])
      expect(client.status).toBe("ready")
      expect(yield* Effect.promise(() => client.ping())).toBe("PONG")
    }))
})
