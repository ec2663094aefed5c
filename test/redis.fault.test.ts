/**
 * The Redis backend through faults, on private `redis-server` processes the tests control: killed (SIGKILL, the
 * port then refuses connections) and restarted on the same port and directory, stalled (SIGSTOP: connections
 * stay open, nothing is answered) and resumed (SIGCONT), or not started yet when a process starts. Each hub has
 * a backend of its own, as a process of a cluster would.
 *
 * What the tests show:
 *
 * - Redis refusing connections: `publish` fails at once with `HubUnavailable` `NotPublished` (nothing is stored);
 *   connected clients stay; new clients without a Last-Event-ID connect and wait; resuming clients are ended
 *   (`subscribe` fails with `ReadFailed`); once Redis is back, every reader continues after the last entry it
 *   delivered, so every client gets everything published before and after, once.
 * - Redis stalled: `publish` fails after `commandTimeout` with `OutcomeUnknown`, and the publish is applied when
 *   Redis resumes: delivered then, once. Retried with the same idempotency key, it is stored once and the retry
 *   returns its id. Clients (even ones that join during the stall) get everything, once.
 * - A process that starts while Redis is unreachable, or whose reader has not reached Redis yet: its clients get
 *   every entry Redis adds after they joined (or after the last event they resumed from), whatever its clock says.
 */
import { HttpServer } from "@effect/platform"
import { expect, it } from "@effect/vitest"
import { Clock, Context, Effect, Layer, Option, Schedule, Schema, type Scope } from "effect"
import { randomUUID } from "node:crypto"
import { createServer } from "node:http"
import type * as SseEvent from "../src/SseEvent.js"
import * as SseHub from "../src/SseHub.js"
import * as SseHubBackend from "../src/SseHubBackend.js"
import * as SseHubRedis from "../src/SseHubRedis.js"
import * as SseNode from "../src/SseNode.js"
import { parse } from "./utils/parse.js"
import * as R from "./utils/redis.js"
import * as SseSocket from "./utils/sseSocket.js"

const Message = Schema.Struct({ phase: Schema.String, n: Schema.Number })
type Message = typeof Message.Type
type Hub = SseHub.SseHub<Message>

const hubName = "fault"
const range = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)
const probe: Message = { phase: "probe", n: 0 }
const isProbe = (data: string | undefined) => data === JSON.stringify(probe)
const dataOf = (message: Message) => JSON.stringify(message)
const messages = (phase: string, n: number): Array<Message> => range(n).map((i) => ({ phase, n: i }))

/** A publish must end, one way or the other: a hang becomes this failure instead of a test timeout. */
const bounded = <A, E>(effect: Effect.Effect<A, E>, label: string) =>
  Effect.timeoutFail(effect, {
    duration: "5 seconds",
    onTimeout: () => new R.RedisTestError({ message: `${label} neither succeeded nor failed within 5 seconds` })
  })

/**
 * Publishes once Redis is back: `HubUnavailable` is retried (bounded) with one idempotency key, so that a try
 * whose outcome was unknown is not stored twice; anything else fails the test.
 */
const publishWhenBack = (hub: Hub, message: Message) =>
  Effect.suspend(() => {
    const idempotencyKey = randomUUID()
    return hub.publish(message, { idempotencyKey }).pipe(
      Effect.retry({
        while: (error) => error._tag === "HubUnavailable",
        schedule: Schedule.spaced("50 millis"),
        times: 100
      })
    )
  })

/** A clock `millis` ahead of the real one, as a machine's clock can be ahead of Redis's. */
const clockAhead = (millis: number): Clock.Clock => {
  const real = Clock.make()
  const now = () => real.unsafeCurrentTimeMillis() + millis
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: now,
    currentTimeMillis: Effect.sync(now),
    unsafeCurrentTimeNanos: () => real.unsafeCurrentTimeNanos() + BigInt(millis) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => real.unsafeCurrentTimeNanos() + BigInt(millis) * 1_000_000n),
    sleep: (duration) => real.sleep(duration)
  }
}

/** One process: a hub on a Redis backend of its own, its log lines captured. */
interface Process {
  readonly hub: Hub
  /** The process's log lines (a live array). */
  readonly logs: ReadonlyArray<string>
  /** Runs `effect` as this process does: with its logger (and its clock, if it has its own). */
  readonly within: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

interface ProcessOptions {
  readonly reconnect?: Schedule.Schedule<unknown, unknown> | undefined
  readonly commandTimeout?: SseHubRedis.Options["commandTimeout"]
  readonly clock?: Clock.Clock | undefined
}

const startProcess = (
  url: string,
  prefix: string,
  options: ProcessOptions = {}
): Effect.Effect<Process, never, Scope.Scope> => {
  const logs = R.captureLogs()
  const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => {
    const logged = Effect.provide(effect, logs.layer)
    return options.clock === undefined ? logged : Effect.withClock(logged, options.clock)
  }
  return within(Effect.gen(function*() {
    const backend = yield* SseHubRedis.make({
      url,
      prefix,
      reconnect: options.reconnect ?? Schedule.spaced("50 millis"),
      commandTimeout: options.commandTimeout ?? "1 second"
    }).pipe(Effect.orDie)
    const hub = yield* SseHub.make<Message>({ name: hubName, schema: Message, eventType: "msg", keepAlive: false })
      .pipe(Effect.provideService(SseHubBackend.SseHubBackend, backend))
    return { hub, logs: logs.lines, within }
  }))
}

/** Serves the process's hub on `GET /events` with `SseNode.layer` on a free port; returns the port. */
const serveNode = (process: Process) =>
  process.within(Effect.gen(function*() {
    const context = yield* Layer.build(
      HttpServer.serve(process.hub.serve()).pipe(
        Layer.provideMerge(SseNode.layer(createServer, { port: 0, host: "127.0.0.1" }))
      )
    ).pipe(Effect.orDie)
    const address = Context.get(context, HttpServer.HttpServer).address
    return address._tag === "TcpAddress" ? address.port : yield* Effect.dieMessage("expected a TCP address")
  }))

const eventsOf = (client: SseSocket.RawSseClient) => parse([client.body]).events.filter((e) => !isProbe(e.data))
const clientHas = (client: SseSocket.RawSseClient, n: number, label: string) =>
  client.waitFor((c) => eventsOf(c).length >= n, label, "10 seconds")
const withoutProbes = (events: ReadonlyArray<SseEvent.SseEvent>) => events.filter((e) => !isProbe(e.data))
const logged = (process: Process, text: string) =>
  R.eventually(Effect.sync(() => process.logs.some((line) => line.includes(text))), `a log line with ${text}`)

/** A private Redis, an admin connection to it and a key prefix of the test's own; the hubs' stream is `key`. */
const privateSetup = (label: string, options?: Parameters<typeof R.privateRedisWith>[0]) =>
  Effect.gen(function*() {
    const server = yield* R.privateRedisWith(options)
    return { server, prefix: `effect-sse-test:${label}:`, key: `effect-sse-test:${label}:${hubName}` }
  })

const streamIds = (server: R.RedisServer, key: string) =>
  Effect.scoped(Effect.flatMap(R.admin(server.url), (redis) => R.streamIds(redis, key)))
const streamData = (server: R.RedisServer, key: string) =>
  Effect.scoped(Effect.flatMap(
    R.admin(server.url),
    (redis) =>
      Effect.map(
        R.call(redis, (r) => r.xrange(key, "-", "+")),
        (entries) => entries.map(([, fields]) => JSON.parse(fields[fields.indexOf("e") + 1]).data as string)
      )
  ))

R.describeWithRedis("SseHubRedis when Redis goes away and comes back", ["private"], () => {
  it.scopedLive(
    "publishes fail with NotPublished during the outage; clients stay; nothing is lost or repeated",
    () =>
      Effect.gen(function*() {
        const { key, prefix, server } = yield* privateSetup("outage")
        // B retries more slowly, so that A usually publishes after the outage before B's reader is back: B must
        // still deliver it, from the last entry it delivered.
        const a = yield* startProcess(server.url, prefix, { reconnect: Schedule.spaced("50 millis") })
        const b = yield* startProcess(server.url, prefix, { reconnect: Schedule.spaced("300 millis") })
        yield* R.ready([a.hub, b.hub], probe)

        // A serves a client over HTTP; B has a subscriber.
        const port = yield* serveNode(a)
        const client = yield* SseSocket.connect(port)
        yield* client.readUntil(": connected")
        const subscriber = yield* R.subscribeAll(b.hub)

        const before = yield* Effect.forEach(range(5), (n) => (n % 2 === 0 ? a : b).hub.publish({ phase: "before", n }))
        yield* clientHas(client, 5, "the events before the outage")
        yield* subscriber.atLeast(5)

        // The outage: no shutdown, no save. Both readers notice, and log it once each, not once per retry.
        yield* server.kill
        for (const process of [a, b]) {
          yield* logged(process, `lost Redis at ${server.url} (the connection closed before Redis answered`)
        }
        const notPublished = (error: unknown) => {
          expect(error).toMatchObject({ _tag: "HubUnavailable", reason: "NotPublished" })
          expect(String((error as SseHub.HubUnavailable).cause)).toContain(`Redis at ${server.url}: `)
        }
        notPublished(yield* Effect.flip(bounded(a.hub.publish({ phase: "during", n: 0 }), "a publish on A")))
        notPublished(yield* Effect.flip(bounded(b.hub.publish({ phase: "during", n: 1 }), "a publish on B")))
        notPublished(
          yield* Effect.flip(bounded(a.hub.publishAll(messages("during", 2)), "a batch"))
        )
        // Resuming needs the history: a subscriber that asks for it fails, a served client is ended (it retries).
        // (SseHubRedis.test.ts checks on its own that the failed subscribe leaves no registration behind.)
        expect(
          yield* Effect.flip(Effect.scoped(b.hub.subscribe({ lastEventId: Option.some(before[0]) })))
        ).toMatchObject({ _tag: "HubUnavailable", reason: "ReadFailed" })
        const resuming = yield* SseSocket.connect(port, { headers: { "Last-Event-ID": before[0] } })
        expect(yield* resuming.awaitEnd()).toBe("end")
        // A new client without a Last-Event-ID needs no history: it connects and waits.
        const newcomer = yield* SseSocket.connect(port)
        yield* newcomer.readUntil(": connected")
        // Connected clients are still connected.
        expect({ closed: client.isClosed, end: client.end }).toEqual({ closed: false, end: undefined })
        expect(subscriber.ended()).toBeUndefined()
        expect(yield* b.hub.clientCount).toBe(1)

        // Redis comes back on the same port, with its data (AOF).
        yield* server.restart
        expect(yield* streamIds(server, key)).toEqual(expect.arrayContaining(before))
        const after: Array<string> = []
        for (const n of range(5)) {
          after.push(yield* bounded(publishWhenBack((n % 2 === 0 ? a : b).hub, { phase: "after", n }), "a publish"))
        }
        // Published last: once it is there, anything missing or repeated before it would show.
        const last = yield* bounded(publishWhenBack(b.hub, { phase: "last", n: 0 }), "the last publish")

        const expected = [...messages("before", 5), ...messages("after", 5), { phase: "last", n: 0 }].map(dataOf)
        const stream = (yield* streamIds(server, key)).filter((id) => [...before, ...after, last].includes(id))
        expect(stream).toEqual([...before, ...after, last])
        // Nothing of what failed with NotPublished was stored.
        expect((yield* streamData(server, key)).filter((data) => data.includes("during"))).toEqual([])

        yield* clientHas(client, 11, "every event on the client that stayed")
        expect(eventsOf(client).map((e) => e.data)).toEqual(expected)
        expect(eventsOf(client).map((e) => e.id)).toEqual(stream)
        expect(eventsOf(client).every((e) => e.event === "msg")).toBe(true)

        const onB = withoutProbes(yield* subscriber.atLeast(11, "10 seconds"))
        expect(onB.map((e) => e.data)).toEqual(expected)
        expect(onB.map((e) => e.id)).toEqual(stream)

        // The client that connected during the outage gets what was published after it.
        yield* clientHas(newcomer, 6, "the newcomer's events")
        expect(eventsOf(newcomer).map((e) => e.data)).toEqual(expected.slice(5))

        // Each reader reported the outage and the recovery once; an outage after a connection is "lost".
        for (const process of [a, b]) {
          expect(process.logs.filter((l) => l.includes("lost Redis"))).toHaveLength(1)
          expect(process.logs.filter((l) => l.includes("reconnected to Redis"))).toHaveLength(1)
          expect(process.logs.filter((l) => l.includes("cannot reach"))).toEqual([])
        }
      })
  )

  /**
   * Redis goes away and comes back; A publishes a burst as soon as it can, while B's reader, which retries only
   * a second after a failure, is typically not reading yet.
   */
  const slowReader = Effect.gen(function*() {
    const { prefix, server } = yield* privateSetup("slow-reader")
    const a = yield* startProcess(server.url, prefix, { reconnect: Schedule.spaced("50 millis") })
    const b = yield* startProcess(server.url, prefix, { reconnect: Schedule.spaced("1 second") })
    yield* R.ready([a.hub, b.hub], probe)
    const onB = yield* R.subscribeAll(b.hub)
    const first = yield* a.hub.publish({ phase: "before", n: 0 })
    yield* onB.seen((e) => e.id === first, "the first event on B")

    yield* server.kill
    yield* server.restart
    const burst: Array<string> = []
    for (const n of range(20)) burst.push(yield* bounded(publishWhenBack(a.hub, { phase: "burst", n }), "a burst"))
    const events = (yield* onB.atLeast(21, "10 seconds")).map((e) => e.id)
    return { logs: b.logs, first, burst, events, url: server.url }
  })

  it.scopedLive("a reader that comes back after the publishers misses nothing published meanwhile", () =>
    Effect.gen(function*() {
      const { burst, events, first } = yield* slowReader
      expect(events).toEqual([first, ...burst])
    }))

  it.scopedLive("the reconnection log names the entry the reader resumed after", () =>
    Effect.gen(function*() {
      const { first, logs, url } = yield* slowReader
      // The reader continued after `first`, the last entry it delivered before the outage.
      expect(logs.filter((l) => l.includes("reconnected to Redis"))).toEqual([
        `INFO effect-sse: hub "${hubName}" reconnected to Redis at ${url}; resuming after ${first}`
      ])
    }))

  it.scopedLive("once the connection is down, a publish fails with NotPublished, naming the refused address", () =>
    Effect.gen(function*() {
      const { key, prefix, server } = yield* privateSetup("killed")
      const a = yield* startProcess(server.url, prefix)
      yield* R.ready([a.hub], probe)
      yield* server.kill
      yield* logged(a, "lost Redis")
      // Every publish while Redis is down fails with NotPublished. Its cause is the closed connection until the
      // publisher's connection tries to reconnect (by itself), then the refusal.
      const causes: Array<string> = []
      yield* Effect.flip(bounded(a.hub.publish({ phase: "killed", n: causes.length }), "a publish")).pipe(
        Effect.tap((error) => {
          expect(error).toMatchObject({ _tag: "HubUnavailable", reason: "NotPublished" })
          expect(error.message).toContain(
            `cannot reach its backend; the message was not published: Redis at ${server.url}: `
          )
          causes.push(String(error.cause))
        }),
        Effect.repeat({
          until: (error) => String(error.cause).includes(`connect ECONNREFUSED 127.0.0.1:${server.port}`),
          schedule: Schedule.spaced("20 millis"),
          times: 100
        })
      )
      expect(causes.at(-1)).toBe(`Redis at ${server.url}: connect ECONNREFUSED 127.0.0.1:${server.port}`)
      for (const cause of causes.slice(0, -1)) expect(cause).toBe(`Redis at ${server.url}: the connection was closed`)
      yield* server.restart
      yield* bounded(publishWhenBack(a.hub, { phase: "back", n: 0 }), "a publish after the restart")
      expect(yield* streamData(server, key)).toEqual([dataOf(probe), dataOf({ phase: "back", n: 0 })])
    }))
})

R.describeWithRedis("SseHubRedis when Redis stalls (SIGSTOP) and resumes", ["private"], () => {
  const stallSetup = (label: string) =>
    Effect.gen(function*() {
      const { key, prefix, server } = yield* privateSetup(label)
      const a = yield* startProcess(server.url, prefix, { commandTimeout: "300 millis" })
      const b = yield* startProcess(server.url, prefix, { commandTimeout: "300 millis" })
      yield* R.ready([a.hub, b.hub], probe)
      return { key, server, a, b }
    })

  it.scopedLive(
    "a publish that timed out fails with OutcomeUnknown and may still happen: it is applied, and delivered once, when Redis resumes",
    () =>
      Effect.gen(function*() {
        const { a, b, key, server } = yield* stallSetup("stall")
        const onA = yield* R.subscribeAll(a.hub)
        const onB = yield* R.subscribeAll(b.hub)
        const port = yield* serveNode(a)
        const client = yield* SseSocket.connect(port)
        yield* client.readUntil(": connected")

        yield* server.pause
        // Clients join during the stall too: a subscriber and a served client on A (no history is needed).
        const joinedDuring = yield* R.subscribeAll(a.hub)
        const servedDuring = yield* SseSocket.connect(port)
        yield* servedDuring.readUntil(": connected")
        const stalled: Array<Effect.Effect<unknown, SseHub.PublishError>> = [
          b.hub.publish({ phase: "stalled", n: 0 }),
          a.hub.publishAll(messages("stalled-batch", 2))
        ]
        const timedOut = yield* Effect.forEach(
          stalled,
          (publish) => Effect.flip(bounded(publish, "a publish during the stall"))
        )
        for (const error of timedOut) {
          expect(error).toMatchObject({ _tag: "HubUnavailable", reason: "OutcomeUnknown" })
          expect(error.message).toContain("may or may not have been published")
          expect(error.message).toContain("no answer within the command timeout")
        }
        // Resuming needs the history, which cannot be read now: the subscribe fails, the served client is ended.
        expect(
          yield* Effect.flip(bounded(Effect.scoped(a.hub.subscribe({ lastEventId: Option.some("1-0") })), "a resume"))
        ).toMatchObject({ _tag: "HubUnavailable", reason: "ReadFailed" })
        const resuming = yield* SseSocket.connect(port, { headers: { "Last-Event-ID": "1-0" } })
        expect(yield* resuming.awaitEnd()).toBe("end")
        // Connected clients stay connected through the stall.
        expect({ closed: client.isClosed, end: client.end }).toEqual({ closed: false, end: undefined })
        expect(onA.ended()).toBeUndefined()

        yield* server.resume
        const last = yield* bounded(b.hub.publish({ phase: "last", n: 0 }), "the publish after the stall")
        // What timed out was written and waited in the socket: it ran when Redis resumed, before `last`.
        const expected = [{ phase: "stalled", n: 0 }, ...messages("stalled-batch", 2), { phase: "last", n: 0 }]
          .map(dataOf)
        expect((yield* streamData(server, key)).filter((data) => !isProbe(data))).toEqual(expected)
        const stream = (yield* streamIds(server, key)).slice(-4)
        expect(stream.at(-1)).toBe(last)
        for (const received of [onA, onB, joinedDuring]) {
          const events = withoutProbes(yield* received.seen((e) => e.id === last, "the last publish"))
          expect(events.map((e) => [e.id, e.data])).toEqual(stream.map((id, i) => [id, expected[i]]))
        }
        for (const served of [client, servedDuring]) {
          yield* clientHas(served, 4, "the events of the stall on a served client")
          expect(eventsOf(served).map((e) => [e.id, e.data])).toEqual(stream.map((id, i) => [id, expected[i]]))
        }
      })
  )

  it.scopedLive(
    "a stall longer than the reader's blocking read is reported once; the reader then continues where it was",
    () =>
      Effect.gen(function*() {
        const { key, prefix, server } = yield* privateSetup("long-stall")
        // The reader's reads may take their 5-second block plus the command timeout: past that, it is an outage.
        const a = yield* startProcess(server.url, prefix, { commandTimeout: "100 millis" })
        const b = yield* startProcess(server.url, prefix, { commandTimeout: "100 millis" })
        yield* R.ready([a.hub, b.hub], probe)
        const onA = yield* R.subscribeAll(a.hub)

        yield* server.pause
        const timedOut = yield* Effect.flip(b.hub.publish({ phase: "stalled", n: 0 }))
        expect(timedOut).toMatchObject({ _tag: "HubUnavailable", reason: "OutcomeUnknown" })
        yield* R.eventually(
          Effect.sync(() => a.logs.some((l) => l.includes("lost Redis"))),
          "the reader's report of the stall",
          200
        )
        expect(a.logs).toEqual([
          `WARN effect-sse: hub "${hubName}" lost Redis at ${server.url} (no answer within the command timeout); retrying`
        ])
        yield* server.resume
        const last = yield* bounded(publishWhenBack(b.hub, { phase: "last", n: 0 }), "the publish after the stall")
        const events = withoutProbes(yield* onA.seen((e) => e.id === last, "the last publish", "10 seconds"))
        expect(events.map((e) => e.data)).toEqual([dataOf({ phase: "stalled", n: 0 }), dataOf({ phase: "last", n: 0 })])
        expect(events.map((e) => e.id)).toEqual((yield* streamIds(server, key)).slice(-2))
        yield* logged(a, "reconnected to Redis")
        expect(a.logs.filter((l) => l.includes("lost Redis"))).toHaveLength(1)
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "retried with the same idempotency key after the stall, a publish that timed out is stored and delivered once, and returns its id",
    () =>
      Effect.gen(function*() {
        const { a, b, key, server } = yield* stallSetup("stall-idempotent")
        const onA = yield* R.subscribeAll(a.hub)
        const onB = yield* R.subscribeAll(b.hub)
        const message = { phase: "important", n: 1 }
        const idempotencyKey = randomUUID()

        yield* server.pause
        const error = yield* Effect.flip(bounded(a.hub.publish(message, { idempotencyKey }), "the stalled publish"))
        expect(error).toMatchObject({ _tag: "HubUnavailable", reason: "OutcomeUnknown" })
        yield* server.resume

        // The retry, on the same process and on another one: the first publish's id, nothing stored again.
        const retried = yield* bounded(a.hub.publish(message, { idempotencyKey }), "the retry on A")
        const elsewhere = yield* bounded(b.hub.publish(message, { idempotencyKey }), "the retry on B")
        expect(elsewhere).toBe(retried)
        const last = yield* bounded(b.hub.publish({ phase: "last", n: 0 }), "the last publish")
        expect((yield* streamData(server, key)).filter((data) => !isProbe(data))).toEqual([
          dataOf(message),
          dataOf({ phase: "last", n: 0 })
        ])
        expect((yield* streamIds(server, key)).slice(-2)).toEqual([retried, last])
        for (const received of [onA, onB]) {
          const events = withoutProbes(yield* received.seen((e) => e.id === last, "the last publish"))
          expect(events.map((e) => e.id)).toEqual([retried, last])
        }
      })
  )
})

R.describeWithRedis("SseHubRedis: a process whose reader has not reached Redis yet", ["private"], () => {
  it.scopedLive(
    "a process that starts while Redis is unreachable: its clients get every message published after they joined, once",
    () =>
      Effect.gen(function*() {
        const { key, prefix, server } = yield* privateSetup("start-unreachable", { started: false })
        // A's reader retries only when the test opens the gate: B publishes before A's first contact.
        const gate = yield* Effect.makeLatch(false)
        const a = yield* startProcess(server.url, prefix, { reconnect: R.gated(gate) })
        yield* logged(a, `cannot reach Redis at ${server.url} (connect ECONNREFUSED 127.0.0.1:${server.port})`)
        const subscriber = yield* R.subscribeAll(a.hub)
        const port = yield* serveNode(a)
        const client = yield* SseSocket.connect(port)
        yield* client.readUntil(": connected")

        yield* server.restart
        const b = yield* startProcess(server.url, prefix)
        const published = yield* Effect.forEach(messages("while-a-waits", 5), (m) => publishWhenBack(b.hub, m))
        yield* gate.open
        yield* logged(a, `reached Redis at ${server.url}`)
        const last = yield* b.hub.publish({ phase: "last", n: 0 })

        const stream = yield* streamIds(server, key)
        expect(stream).toEqual([...published, last])
        const events = yield* subscriber.seen((e) => e.id === last, "the last publish")
        expect(events.map((e) => e.id)).toEqual(stream)
        yield* clientHas(client, 6, "every publish on the served client")
        expect(eventsOf(client).map((e) => e.id)).toEqual(stream)
        expect(a.logs.filter((l) => l.includes("lost"))).toEqual([])
      })
  )

  it.scopedLive(
    "a client that resumes once the history is readable but before the reader's first contact gets no gap, whatever the clock",
    () =>
      Effect.gen(function*() {
        const { key, prefix, server } = yield* privateSetup("resume-before-reader", { started: false })
        const gate = yield* Effect.makeLatch(false)
        // A's clock is an hour ahead of Redis's: where its reader starts cannot come from A's clock.
        const a = yield* startProcess(server.url, prefix, { reconnect: R.gated(gate), clock: clockAhead(3_600_000) })
        yield* logged(a, "cannot reach Redis")
        const port = yield* serveNode(a)

        yield* server.restart
        const b = yield* startProcess(server.url, prefix)
        const history = yield* Effect.forEach(messages("history", 3), (m) => publishWhenBack(b.hub, m))
        // The history can be read (A's publisher connection reconnects by itself); A's reader has not read yet.
        const subscriber = yield* a.within(R.subscribeAll(a.hub, { lastEventId: Option.some(history[0]) })).pipe(
          Effect.retry({
            while: (e) => e._tag === "HubUnavailable",
            schedule: Schedule.spaced("50 millis"),
            times: 100
          })
        )
        const served = yield* SseSocket.connect(port, { headers: { "Last-Event-ID": history[0] } })
        yield* clientHas(served, 2, "the resumed events on the served client")
        const live = yield* Effect.forEach(messages("live", 2), (m) => b.hub.publish(m))
        yield* gate.open
        const last = yield* b.hub.publish({ phase: "last", n: 0 })

        const expected = [...history.slice(1), ...live, last]
        expect((yield* streamIds(server, key)).slice(1)).toEqual(expected)
        const events = yield* subscriber.seen((e) => e.id === last, "the last publish")
        expect(events.map((e) => e.id)).toEqual(expected)
        yield* clientHas(served, expected.length, "every event on the served client")
        expect(eventsOf(served).map((e) => e.id)).toEqual(expected)
      })
  )

  it.scopedLive(
    "a process whose clock is ahead of Redis's: clients that joined before its first contact, and after, get every message",
    () =>
      Effect.gen(function*() {
        const { prefix, server } = yield* privateSetup("clock-ahead", { started: false })
        const gate = yield* Effect.makeLatch(false)
        const a = yield* startProcess(server.url, prefix, { reconnect: R.gated(gate), clock: clockAhead(60_000) })
        yield* logged(a, "cannot reach Redis")
        const early = yield* a.within(R.subscribeAll(a.hub))

        yield* server.restart
        const b = yield* startProcess(server.url, prefix)
        const first = yield* Effect.forEach(messages("first", 3), (m) => publishWhenBack(b.hub, m))
        yield* gate.open
        yield* logged(a, "reached Redis")
        yield* R.ready([a.hub], probe, [b.hub])
        const later = yield* a.within(R.subscribeAll(a.hub))
        const more = yield* Effect.forEach(messages("more", 2), (m) => b.hub.publish(m))

        const onEarly = withoutProbes(yield* early.seen((e) => e.id === more[1], "the last publish on the early one"))
        expect(onEarly.map((e) => e.id)).toEqual([...first, ...more])
        const onLater = yield* later.seen((e) => e.id === more[1], "the last publish on the later one")
        expect(onLater.map((e) => e.id)).toEqual(more)
      })
  )
})

R.describeWithRedis(
  "SseHubRedis: a client that joins during an outage, on a process that was connected",
  ["private"],
  () => {
    it.scopedLive("Redis killed and restarted: the client gets everything published after it joined, once", () =>
      Effect.gen(function*() {
        const { key, prefix, server } = yield* privateSetup("join-during-outage")
        const gate = yield* Effect.makeLatch(true)
        const a = yield* startProcess(server.url, prefix, { reconnect: R.gated(gate) })
        const b = yield* startProcess(server.url, prefix)
        yield* R.ready([a.hub, b.hub], probe)
        const port = yield* serveNode(a)
        const before = yield* R.subscribeAll(a.hub)
        const seen = yield* b.hub.publish({ phase: "seen", n: 0 })
        yield* before.seen((e) => e.id === seen, "the event before the outage")

        yield* gate.close
        yield* server.kill
        yield* logged(a, "lost Redis")
        const joined = yield* R.subscribeAll(a.hub)
        const served = yield* SseSocket.connect(port)
        yield* served.readUntil(": connected")
        yield* server.restart
        // B is back before A's reader: what it publishes now is after the clients joined, and before A reads.
        const published = yield* Effect.forEach(messages("after-join", 4), (m) => publishWhenBack(b.hub, m))
        yield* gate.open
        const last = yield* bounded(publishWhenBack(b.hub, { phase: "last", n: 0 }), "the last publish")

        const expected = [...published, last]
        expect((yield* streamIds(server, key)).slice(-5)).toEqual(expected)
        const onJoined = yield* joined.seen((e) => e.id === last, "the last publish")
        expect(onJoined.map((e) => e.id)).toEqual(expected)
        yield* clientHas(served, 5, "every event on the served client")
        expect(eventsOf(served).map((e) => e.id)).toEqual(expected)
        const onBefore = withoutProbes(yield* before.seen((e) => e.id === last, "the last publish"))
        expect(onBefore.map((e) => e.id)).toEqual([seen, ...expected])
      }))
  }
)
