/**
 * The hub's laws, in-process: no sockets, the TestClock drives time, fast-check drives the interleavings. Hubs
 * run on the in-memory backend (`SseHubBackend.layerMemory`); served clients are read from their response body,
 * or written to a recording `Writer` where a test looks at the very byte arrays a client is sent.
 */
import { HttpServerRequest, HttpServerRespondable, HttpServerResponse } from "@effect/platform"
import { describe, expect, it, vi } from "@effect/vitest"
import {
  Cause,
  Context,
  Effect,
  Either,
  Exit,
  FastCheck as fc,
  Fiber,
  Layer,
  Option,
  pipe,
  Scheduler,
  Schema,
  Scope,
  Stream,
  TestClock
} from "effect"
import * as SseEvent from "../src/SseEvent.js"
import * as SseHub from "../src/SseHub.js"
import * as SseHubBackend from "../src/SseHubBackend.js"
import {
  awaitClients,
  collect,
  commentsOf,
  eventsOf,
  eventsRequest,
  eventually,
  hubMetric,
  hubMetrics,
  onMemory,
  range,
  RecordingWriter,
  serveInProcess,
  serveOnWriter,
  withRecordedSpans,
  yieldTimes
} from "./utils/hub.js"
import type { collectBody } from "./utils/inProcess.js"
import { within } from "./utils/inProcess.js"

let hubCount = 0
/** Metrics are global and tagged by hub name: every test gets its own hub name. */
const uniqueName = (label: string) => `${label}-${++hubCount}`

/** A hub of strings, each the data of one event. Keep-alive is off unless a test is about it. */
const stringHub = (options: SseHub.Options.Common<string> = {}) =>
  onMemory(SseHub.make<string>({ encode: (text) => SseEvent.make(text), keepAlive: false, ...options }))

interface Note {
  readonly id: string
  readonly text: string
}

/** A hub whose messages may carry their own id (the empty id: the backend's next one). */
const ownIdHub = (options: SseHub.Options.Common<Note> = {}) =>
  onMemory(SseHub.make<Note>({
    encode: ({ id, text }) => id === "" ? SseEvent.make(text) : SseEvent.make(text).pipe(SseEvent.withId(id)),
    keepAlive: false,
    ...options
  }))

/** Subscribes now and reads everything, in a fiber of the current scope. */
const subscribed = <A>(hub: SseHub.SseHub<A>, options?: SseHub.SubscribeOptions) =>
  Effect.flatMap(hub.subscribe(options), (stream) => collect(stream))

const idsOf = (events: ReadonlyArray<{ readonly id?: string | undefined }>) => events.map((e) => e.id)
const dataOf = (events: ReadonlyArray<{ readonly data?: string | undefined }>) => events.map((e) => e.data)
const welcome = (text: string) => Either.getOrThrow(SseEvent.make(text).pipe(SseEvent.withType("welcome")))

/** An event as a client sees it, whatever the path: a subscribe stream's `SseEvent`, or a served body's message. */
interface Seen {
  readonly id: string | undefined
  readonly type: string | undefined
  readonly data: string | undefined
}

/** An event as a short string: `lost:<id>` for the lost marker, else its id. */
const show = (event: Seen): string =>
  event.type === "lost" ? `lost:${(JSON.parse(event.data ?? "") as { lastEventId: string }).lastEventId}` : event.id!

/** A client of the hub, on one of the two paths to it. */
interface Client {
  /** Waits until `n` events arrived; returns everything so far. */
  readonly atLeast: (n: number) => Effect.Effect<ReadonlyArray<Seen>, Error>
  readonly items: () => ReadonlyArray<Seen>
  /** Waits until it ended (the hub shut down). */
  readonly exit: Effect.Effect<Exit.Exit<void, unknown>, Error>
}

/** The two ways to follow a hub: a `subscribe` stream, and a client served in-process (`Last-Event-ID` header). */
const paths: ReadonlyArray<{
  readonly name: string
  readonly connect: <A>(
    hub: SseHub.SseHub<A>,
    lastEventId: Option.Option<string>
  ) => Effect.Effect<Client, SseHub.HubClosed | SseHub.HubUnavailable, Scope.Scope>
}> = [
  {
    name: "subscribe stream",
    connect: (hub, lastEventId) =>
      Effect.map(subscribed(hub, { lastEventId }), (c) => ({
        atLeast: (n) => c.atLeast(n),
        items: () => c.items,
        exit: c.exit
      }))
  },
  {
    name: "served client",
    connect: (hub, lastEventId) =>
      serveInProcess(
        hub,
        eventsRequest({ headers: Option.isSome(lastEventId) ? { "last-event-id": lastEventId.value } : {} })
      ).pipe(
        // The stream starts when its body is read: after its ': connected', the client is registered.
        Effect.tap((c) => Effect.orDie(eventually(() => c.chunks.length > 0, "': connected'"))),
        Effect.map((c): Client => {
          const seen = (): ReadonlyArray<Seen> =>
            eventsOf(c.received.items).map((e) => ({ id: e.id, type: e.event, data: e.data }))
          return { atLeast: (n) => Effect.map(c.events(n), seen), items: seen, exit: c.received.exit }
        })
      )
  }
]

const Message = Schema.Struct({ user: Schema.String, text: Schema.String })
type Message = typeof Message.Type

class ChatHub extends Context.Tag("test/ChatHub")<ChatHub, SseHub.SseHub<Message>>() {}

describe("SseHub: a hub of typed messages, as a service", () => {
  it.scoped("is declared as a Context.Tag and provided by SseHub.layer on a backend; a Schema makes each message a JSON event", () =>
    Effect.gen(function*() {
      const name = uniqueName("service")
      const { event, hubName, id } = yield* Effect.gen(function*() {
        const hub = yield* ChatHub
        const events = yield* subscribed(hub)
        const id = yield* hub.publish({ user: "ann", text: "hi" })
        const [event] = yield* events.atLeast(1)
        return { event, hubName: hub.name, id }
      }).pipe(Effect.provide(
        SseHub.layer(ChatHub, { name, schema: Message, eventType: "message", keepAlive: false }).pipe(
          Layer.provide(SseHubBackend.layerMemory)
        )
      ))
      expect(hubName).toBe(name)
      expect(event.type).toBe("message")
      expect(event.id).toBe(id)
      expect(JSON.parse(event.data!)).toEqual({ user: "ann", text: "hi" })
    }))

  it.scoped("the dual accessors publish, publishAll, subscribe and serve work data-first and data-last", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub()
      const events = yield* Effect.flatMap(SseHub.subscribe(hub), (stream) => collect(stream))
      const viaPipe = yield* Effect.flatMap(Effect.succeed(hub), SseHub.subscribe({ topics: ["t"] }))
      const piped = yield* collect(viaPipe)
      const a = yield* SseHub.publish(hub, "a", { topics: ["t"] })
      const b = yield* pipe(hub, SseHub.publish("b"))
      const [c, d] = yield* SseHub.publishAll(hub, ["c", "d"])
      const [e] = yield* pipe(hub, SseHub.publishAll(["e"], { topics: ["other"] }))
      expect(idsOf(yield* events.atLeast(5))).toEqual([a, b, c, d, e])
      expect(idsOf(yield* piped.atLeast(4))).toEqual([a, b, c, d])
      const served = yield* Effect.provideService(
        Effect.flatMap(Effect.succeed(hub), SseHub.serve()),
        HttpServerRequest.HttpServerRequest,
        eventsRequest()
      )
      expect(served.headers["content-type"]).toMatch(/^text\/event-stream/)
    }))

  it.scoped("the data is the JSON of the Schema's encoded side; eventType may be a function of the message", () =>
    Effect.gen(function*() {
      const Reading = Schema.Struct({ sensor: Schema.String, at: Schema.Date })
      const hub = yield* onMemory(SseHub.make({
        schema: Reading,
        eventType: (reading) => reading.sensor === "alarm" ? "alarm" : "reading",
        keepAlive: false
      }))
      const events = yield* subscribed(hub)
      yield* hub.publish({ sensor: "t1", at: new Date(0) })
      yield* hub.publish({ sensor: "alarm", at: new Date(1000) })
      const [first, second] = yield* events.atLeast(2)
      expect(first.type).toBe("reading")
      expect(first.data).toBe(`{"sensor":"t1","at":"1970-01-01T00:00:00.000Z"}`)
      expect(second.type).toBe("alarm")
    }))

  it.scoped("a message the Schema cannot encode fails publish with SseEventError and reaches nobody", () =>
    Effect.gen(function*() {
      const hub = yield* onMemory(SseHub.make({ schema: Schema.Struct({ at: Schema.Date }), keepAlive: false }))
      const events = yield* subscribed(hub)
      const error = yield* Effect.flip(hub.publish({ at: new Date(Number.NaN) }))
      expect(error._tag).toBe("SseEventError")
      yield* hub.publish({ at: new Date(0) })
      yield* hub.shutdown
      yield* events.exit
      expect(dataOf(events.items)).toEqual([`{"at":"1970-01-01T00:00:00.000Z"}`])
    }))
})

describe("SseHub ids", () => {
  it.scoped("every event gets an id: under TestClock at time 0 they are 1, 2, 3…, and publish returns it", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub()
      const events = yield* subscribed(hub)
      const a = yield* hub.publish("a")
      const rest = yield* hub.publishAll(["b", "c"])
      expect([a, ...rest]).toEqual(["1", "2", "3"])
      expect(idsOf(yield* events.atLeast(3))).toEqual(["1", "2", "3"])
    }))

  it.scoped("the sequence starts from the clock (ms × 1000): a hub made later never reuses an earlier hub's ids", () =>
    Effect.gen(function*() {
      const earlier = yield* stringHub()
      const earlierIds = yield* earlier.publishAll(range(2000).map(String))
      yield* TestClock.adjust("5 millis")
      const later = yield* stringHub()
      const first = yield* later.publish("x")
      expect(first).toBe("5001")
      expect(Number(first)).toBeGreaterThan(Number(earlierIds[earlierIds.length - 1]))
    }))

  it.scoped("an event that carries its own id keeps it; an empty id is replaced by the hub's", () =>
    Effect.gen(function*() {
      const hub = yield* onMemory(SseHub.make<Note>({
        encode: ({ id, text }) => SseEvent.make(text).pipe(SseEvent.withId(id)),
        keepAlive: false
      }))
      const events = yield* subscribed(hub)
      const own = yield* hub.publish({ id: "order-17", text: "a" })
      const assigned = yield* hub.publish({ id: "", text: "b" })
      expect(own).toBe("order-17")
      expect(assigned).toMatch(/^\d+$/)
      expect(idsOf(yield* events.atLeast(2))).toEqual(["order-17", assigned])
    }))

  it.scoped("an event the encoder refuses (an id with a line break) fails publish and publishAll; nothing is sent", () =>
    Effect.gen(function*() {
      const hub = yield* ownIdHub()
      const events = yield* subscribed(hub)
      const one = yield* Effect.flip(hub.publish({ id: "x\nevent: evil", text: "bad" }))
      expect(one._tag).toBe("SseEventError")
      const batch = yield* Effect.flip(hub.publishAll([{ id: "", text: "fine" }, { id: "y\rz", text: "bad" }]))
      expect(batch._tag).toBe("SseEventError")
      yield* hub.publish({ id: "", text: "after" })
      yield* hub.shutdown
      yield* events.exit
      expect(dataOf(events.items)).toEqual(["after"])
    }))

  it.scoped("an id already in the history is refused with PublishRejected (DuplicateId, naming it); nothing of that publish is stored or delivered", () =>
    Effect.gen(function*() {
      const name = uniqueName("duplicate")
      const hub = yield* ownIdHub({ name })
      const events = yield* subscribed(hub)
      yield* hub.publish({ id: "order-1", text: "a" })
      const again = yield* Effect.flip(hub.publish({ id: "order-1", text: "a, again" }))
      expect(again).toBeInstanceOf(SseHub.PublishRejected)
      expect(again).toMatchObject({ _tag: "PublishRejected", reason: "DuplicateId", hub: name, id: "order-1" })
      expect(again.message).toContain(`"order-1"`)
      expect(again.message).toContain(name)
      // a batch with a fresh id and a taken one: refused as a whole
      const batch = yield* Effect.flip(hub.publishAll([{ id: "order-2", text: "b" }, { id: "order-1", text: "x" }]))
      expect(batch).toMatchObject({ _tag: "PublishRejected", reason: "DuplicateId", id: "order-1" })
      // an id repeated inside one publishAll, though in no history yet
      const inner = yield* Effect.flip(hub.publishAll([{ id: "order-3", text: "c" }, { id: "order-3", text: "y" }]))
      expect(inner).toMatchObject({ _tag: "PublishRejected", reason: "DuplicateId", id: "order-3" })
      // neither order-2 nor order-3 was stored: both can be published now
      expect(yield* hub.publishAll([{ id: "order-2", text: "b" }, { id: "order-3", text: "c" }])).toEqual([
        "order-2",
        "order-3"
      ])
      const auto = yield* hub.publish({ id: "", text: "d" })
      yield* events.atLeast(4)
      expect(idsOf(events.items)).toEqual(["order-1", "order-2", "order-3", auto])
      expect(dataOf(events.items)).toEqual(["a", "b", "c", "d"])
      expect(yield* hubMetric("sse_hub_events_published", name)).toBe(4)
      // resumption from any of them stays exact
      for (const [k, id] of ["order-1", "order-2", "order-3"].entries()) {
        const resumed = yield* subscribed(hub, { lastEventId: Option.some(id) })
        expect(idsOf(yield* resumed.atLeast(3 - k))).toEqual(["order-2", "order-3", auto].slice(k))
      }
    }))

  const given = fc.oneof(
    fc.constant(""), // the backend's next id
    fc.integer({ min: 1, max: 25 }).map(String), // ids that the backend's own numbering reaches too
    fc.constantFrom("a", "b", "c")
  )

  it.effect.prop(
    "whatever the mix of given, numbered and refused ids, every accepted id is resumed from exactly",
    { publishes: fc.array(fc.array(given, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 20 }) },
    ({ publishes }) =>
      Effect.scoped(Effect.gen(function*() {
        const hub = yield* ownIdHub()
        const witness = yield* subscribed(hub)
        const accepted: Array<string> = []
        for (const [p, ids] of publishes.entries()) {
          const notes = ids.map((id, i) => ({ id, text: `p${p}-${i}` }))
          const exit = yield* Effect.exit(hub.publishAll(notes))
          const given = ids.filter((id) => id !== "")
          const refused = given.some((id, i) => accepted.includes(id) || given.indexOf(id) !== i)
          if (refused) {
            expect(exit).toEqual(Exit.fail(expect.objectContaining({ _tag: "PublishRejected", reason: "DuplicateId" })))
          } else {
            expect(Exit.isSuccess(exit)).toBe(true)
            const returned = Exit.isSuccess(exit) ? exit.value : []
            ids.forEach((id, i) => id !== "" && expect(returned[i]).toBe(id))
            expect(returned.some((id) => accepted.includes(id))).toBe(false)
            accepted.push(...returned)
          }
        }
        expect(idsOf(yield* witness.atLeast(accepted.length))).toEqual(accepted)
        const resumed = yield* Effect.forEach(accepted, (id) => subscribed(hub, { lastEventId: Option.some(id) }))
        const live = yield* hub.publish({ id: "", text: "live" })
        for (const [k, client] of resumed.entries()) {
          expect(idsOf(yield* client.atLeast(accepted.length - k))).toEqual([...accepted.slice(k + 1), live])
        }
      })),
    { fastCheck: { numRuns: 200 } }
  )

  it.scoped("Options.id takes the id from the message (a Schema hub); it is checked like withId and refused when taken", () =>
    Effect.gen(function*() {
      const Order = Schema.Struct({ id: Schema.String, item: Schema.String })
      const hub = yield* onMemory(
        SseHub.make({ schema: Order, id: (order) => order.id, eventType: "order", keepAlive: false })
      )
      const events = yield* subscribed(hub)
      expect(yield* hub.publish({ id: "o-1", item: "tea" })).toBe("o-1")
      const [first] = yield* events.atLeast(1)
      expect({ id: first.id, type: first.type, data: JSON.parse(first.data!) }).toEqual({
        id: "o-1",
        type: "order",
        data: { id: "o-1", item: "tea" }
      })
      const taken = yield* Effect.flip(hub.publish({ id: "o-1", item: "more tea" }))
      expect(taken).toMatchObject({ _tag: "PublishRejected", reason: "DuplicateId", id: "o-1" })
      const broken = yield* Effect.flip(hub.publish({ id: "o-2\nevent: evil", item: "cake" }))
      expect(broken).toBeInstanceOf(SseEvent.SseEventError)
      expect(broken).toMatchObject({ _tag: "SseEventError", reason: "InvalidId", value: "o-2\nevent: evil" })
      const inBatch = yield* Effect.flip(hub.publishAll([{ id: "o-3", item: "scone" }, { id: "o-4\r", item: "jam" }]))
      expect(inBatch).toMatchObject({ _tag: "SseEventError", reason: "InvalidId" })
      expect(yield* hub.publishAll([{ id: "o-3", item: "scone" }, { id: "o-4", item: "jam" }])).toEqual(["o-3", "o-4"])
      expect(idsOf(yield* events.atLeast(3))).toEqual(["o-1", "o-3", "o-4"])
      const resumed = yield* subscribed(hub, { lastEventId: Option.some("o-1") })
      expect(idsOf(yield* resumed.atLeast(2))).toEqual(["o-3", "o-4"])
    }))

  it.scoped("each event is encoded once per publish, however many clients: served clients get the very same bytes", () =>
    Effect.gen(function*() {
      let encoderCalls = 0
      const hub = yield* onMemory(SseHub.make<string>({
        encode: (text) => {
          encoderCalls++
          return SseEvent.make(text)
        },
        keepAlive: false
      }))
      const served = yield* Effect.forEach(range(10), () => serveInProcess(hub))
      const streams = yield* Effect.forEach(range(3), () => subscribed(hub))
      // every served client has taken its ": connected" first, so the next chunk is the event alone
      yield* eventually(() => served.every((client) => client.chunks.length === 1), "': connected' taken")
      const textEncoder = vi.spyOn(TextEncoder.prototype, "encode")
      let bytesEncodings: number
      try {
        yield* hub.publish("hello")
        yield* Effect.forEach(served, (client) => client.events(1))
        yield* Effect.forEach(streams, (stream) => stream.atLeast(1))
      } finally {
        bytesEncodings = textEncoder.mock.calls.length
        textEncoder.mockRestore()
      }
      // One encoding for 13 subscribers: the message was turned into an event once, and into bytes once.
      expect(encoderCalls).toBe(1)
      expect(bytesEncodings).toBe(1)
      const bytes = served.map((client) => client.chunks[1])
      for (const b of bytes) expect(b).toBe(bytes[0])
      expect(new TextDecoder().decode(bytes[0])).toBe("id: 1\ndata: hello\n\n")
      const events = streams.map((stream) => stream.items[0])
      for (const e of events) expect(e).toBe(events[0])
    }))
})

describe("SseHub idempotency keys", () => {
  it.scoped("the same key within the window is stored and delivered once and returns the first ids; after the window it publishes again", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub()
      const witness = yield* subscribed(hub)
      const first = yield* hub.publish("a", { idempotencyKey: "k1" })
      expect(yield* hub.publish("a, retried", { idempotencyKey: "k1" })).toBe(first)
      const batch = yield* hub.publishAll(["b", "c"], { idempotencyKey: "k2" })
      expect(yield* hub.publishAll(["b", "c"], { idempotencyKey: "k2" })).toEqual(batch)
      // the key of a publishAll, retried by publish, returns its first id
      expect(yield* hub.publish("b", { idempotencyKey: "k2" })).toBe(batch[0])
      // another key, or none, publishes
      const other = yield* hub.publish("d", { idempotencyKey: "k3" })
      const plain = yield* hub.publish("e")
      // the default window is 10 minutes
      yield* TestClock.adjust("9 minutes")
      expect(yield* hub.publish("a, much later", { idempotencyKey: "k1" })).toBe(first)
      yield* TestClock.adjust("1 minute")
      const fresh = yield* hub.publish("a, after the window", { idempotencyKey: "k1" })
      const freshBatch = yield* hub.publishAll(["b2", "c2"], { idempotencyKey: "k2" })
      expect([fresh, ...freshBatch].some((id) => [first, ...batch, other, plain].includes(id))).toBe(false)
      yield* witness.atLeast(8)
      expect(dataOf(witness.items)).toEqual(["a", "b", "c", "d", "e", "a, after the window", "b2", "c2"])
      expect(idsOf(witness.items)).toEqual([first, ...batch, other, plain, fresh, ...freshBatch])
      // the history holds each once: a resumed client sees no repeat either
      const resumed = yield* subscribed(hub, { lastEventId: Option.some(first) })
      expect(idsOf(yield* resumed.atLeast(7))).toEqual(idsOf(witness.items).slice(1))
    }))

  it.scoped("idempotencyWindow sets how long a key is remembered", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub({ idempotencyWindow: "30 seconds" })
      const first = yield* hub.publish("a", { idempotencyKey: "k" })
      yield* TestClock.adjust("29 seconds")
      expect(yield* hub.publish("a", { idempotencyKey: "k" })).toBe(first)
      yield* TestClock.adjust("1 second")
      expect(yield* hub.publish("a", { idempotencyKey: "k" })).not.toBe(first)
    }))

  it.scoped("a publish refused for a duplicate id remembers nothing: its key publishes once the id is fixed", () =>
    Effect.gen(function*() {
      const hub = yield* ownIdHub()
      yield* hub.publish({ id: "x", text: "a" })
      const refused = yield* Effect.flip(hub.publish({ id: "x", text: "b" }, { idempotencyKey: "k" }))
      expect(refused._tag).toBe("PublishRejected")
      expect(yield* hub.publish({ id: "y", text: "b" }, { idempotencyKey: "k" })).toBe("y")
      expect(yield* hub.publish({ id: "z", text: "b" }, { idempotencyKey: "k" })).toBe("y")
    }))
})

describe("SseHub delivery laws", () => {
  it.effect.prop(
    "every subscriber sees every publish, in the order of the ids, each publisher's messages in its own order",
    {
      publishers: fc.array(fc.array(fc.nat(3), { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 4 }),
      subscribers: fc.integer({ min: 1, max: 4 }),
      late: fc.array(fc.nat(40), { maxLength: 3 })
    },
    ({ late, publishers, subscribers }) =>
      Effect.scoped(Effect.gen(function*() {
        const hub = yield* stringHub({ history: { size: 0 } })
        const early = yield* Effect.forEach(range(subscribers), () => subscribed(hub))
        // late subscribers (without a last event id) join while the publishers run
        const joining = yield* Effect.forEach(late, (yields) => Effect.zipRight(yieldTimes(yields), subscribed(hub)), {
          concurrency: "unbounded"
        }).pipe(Effect.fork)
        const returned = yield* Effect.forEach(
          publishers,
          (yields, p) => Effect.forEach(yields, (y, i) => Effect.zipRight(yieldTimes(y), hub.publish(`p${p}-${i}`))),
          { concurrency: "unbounded" }
        )
        const lateSubscribers = yield* Fiber.join(joining)
        yield* hub.shutdown
        for (const s of [...early, ...lateSubscribers]) expect(Exit.isSuccess(yield* s.exit)).toBe(true)

        const all = early[0].items
        const total = publishers.reduce((n, p) => n + p.length, 0)
        expect(all.length).toBe(total)
        // ids count up with the order of delivery, and are the ids publish returned
        const numeric = idsOf(all).map(Number)
        expect(numeric).toEqual([...numeric].sort((a, b) => a - b))
        expect(new Set(idsOf(all))).toEqual(new Set(returned.flat()))
        publishers.forEach((yields, p) => {
          const mine = dataOf(all).filter((d) => d!.startsWith(`p${p}-`))
          expect(mine).toEqual(yields.map((_, i) => `p${p}-${i}`))
        })
        for (const s of early) expect(idsOf(s.items)).toEqual(idsOf(all))
        // a late subscriber sees a contiguous suffix: from its subscription on, nothing is missing
        for (const s of lateSubscribers) expect(idsOf(s.items)).toEqual(idsOf(all).slice(total - s.items.length))
      })),
    { fastCheck: { numRuns: 100 } }
  )

  it.effect.prop(
    "publishAll is atomic: a batch arrives contiguous and in order, whatever the other publishers do",
    {
      batches: fc.array(fc.tuple(fc.nat(3), fc.integer({ min: 1, max: 6 })), { minLength: 2, maxLength: 5 })
    },
    ({ batches }) =>
      Effect.scoped(Effect.gen(function*() {
        const hub = yield* stringHub()
        const events = yield* subscribed(hub)
        const ids = yield* Effect.forEach(
          batches,
          ([yields, size], b) =>
            Effect.zipRight(yieldTimes(yields), hub.publishAll(range(size).map((i) => `b${b}-${i}`))),
          { concurrency: "unbounded" }
        )
        yield* hub.shutdown
        yield* events.exit
        const all = idsOf(events.items)
        batches.forEach(([, size], b) => {
          const start = all.indexOf(ids[b][0])
          expect(all.slice(start, start + size)).toEqual(ids[b])
          expect(dataOf(events.items.slice(start, start + size))).toEqual(range(size).map((i) => `b${b}-${i}`))
        })
      })),
    { fastCheck: { numRuns: 100 } }
  )
})

describe("SseHub topics", () => {
  it.scoped("a subscriber that asks for topics gets what is published to one of them, and what has no topics", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub()
      const kitchen = yield* subscribed(hub, { topics: ["kitchen"] })
      const house = yield* subscribed(hub, { topics: ["kitchen", "garden"] })
      const everything = yield* subscribed(hub)
      yield* hub.publish("k", { topics: ["kitchen"] })
      yield* hub.publish("g", { topics: ["garden"] })
      yield* hub.publish("kg", { topics: ["garden", "kitchen"] })
      yield* hub.publish("fire")
      yield* hub.publish("attic", { topics: ["attic"] })
      yield* hub.shutdown
      yield* Effect.forEach([kitchen, house, everything], (s) => s.exit)
      expect(dataOf(kitchen.items)).toEqual(["k", "kg", "fire"])
      expect(dataOf(house.items)).toEqual(["k", "g", "kg", "fire"])
      expect(dataOf(everything.items)).toEqual(["k", "g", "kg", "fire", "attic"])
    }))

  const topic = fc.constantFrom("a", "b", "c")
  const topics = fc.option(fc.uniqueArray(topic, { minLength: 1, maxLength: 3 }), { nil: undefined })

  it.effect.prop(
    "for any publishes and filters, live and resumed subscribers get exactly the matching events, in order",
    {
      published: fc.array(topics, { minLength: 1, maxLength: 25 }),
      filters: fc.array(topics, { maxLength: 4 }),
      at: fc.nat()
    },
    ({ at, filters, published }) =>
      Effect.scoped(Effect.gen(function*() {
        const matches = (filter: ReadonlyArray<string> | undefined, on: ReadonlyArray<string> | undefined) =>
          filter === undefined || on === undefined || on.some((t) => filter.includes(t))
        const hub = yield* stringHub()
        const witness = yield* subscribed(hub)
        const live = yield* Effect.forEach(filters, (filter) => subscribed(hub, { topics: filter }))
        const ids = yield* Effect.forEach(published, (on, i) => hub.publish(`m${i}`, { topics: on }))
        yield* witness.atLeast(ids.length)
        const k = at % ids.length
        const resumed = yield* Effect.forEach(filters, (filter) =>
          subscribed(hub, { topics: filter, lastEventId: Option.some(ids[k]) }))
        yield* hub.shutdown
        yield* Effect.forEach([...live, ...resumed], (s) =>
          s.exit)
        filters.forEach((filter, s) => {
          const expected = ids.filter((_, i) => matches(filter, published[i]))
          expect(idsOf(live[s].items)).toEqual(expected)
          expect(idsOf(resumed[s].items)).toEqual(ids.filter((_, i) => i > k && matches(filter, published[i])))
        })
      })),
    { fastCheck: { numRuns: 100 } }
  )
})

describe("SseHub history and resumption", () => {
  for (const path of paths) {
    it.effect.prop(
      `${path.name}: resuming after any id yields exactly the retained events after it, then live ones; an evicted id is reported lost`,
      {
        n: fc.integer({ min: 1, max: 40 }),
        size: fc.integer({ min: 1, max: 50 }),
        at: fc.nat(),
        live: fc.integer({ min: 0, max: 5 })
      },
      ({ at, live, n, size }) =>
        Effect.scoped(Effect.gen(function*() {
          const hub = yield* stringHub({ history: { size } })
          const witness = yield* subscribed(hub)
          const ids = yield* Effect.forEach(range(n), (i) => hub.publish(`m${i}`))
          yield* witness.atLeast(n) // dispatched: these ids are ones a client could have seen
          const k = at % n
          const resumed = yield* path.connect(hub, Option.some(ids[k]))
          const retainedFrom = Math.max(0, n - size)
          const expected = k >= retainedFrom
            ? ids.slice(k + 1)
            : [`lost:${ids[k]}`, ...ids.slice(retainedFrom)]
          yield* resumed.atLeast(expected.length) // a served client starts when its body is read
          const liveIds = yield* Effect.forEach(range(live), (i) => hub.publish(`live${i}`))
          yield* hub.shutdown
          yield* resumed.exit
          expect(resumed.items().map(show)).toEqual([...expected, ...liveIds])
        })),
      { fastCheck: { numRuns: 100 } }
    )

    it.effect.prop(
      `${path.name}: a client that reconnects with the last id it saw, while publishers race, gets every event once and in order`,
      {
        publishers: fc.array(fc.array(fc.nat(3), { minLength: 2, maxLength: 12 }), { minLength: 1, maxLength: 3 }),
        cut: fc.nat(),
        away: fc.nat(6)
      },
      ({ away, cut, publishers }) =>
        Effect.scoped(Effect.gen(function*() {
          const total = publishers.reduce((n, p) => n + p.length, 0)
          const k = 1 + (cut % (total - 1)) // the client disconnects after k events, 1 ≤ k < total
          const hub = yield* stringHub({ history: { size: total } })
          const witness = yield* subscribed(hub)
          const connection = yield* Scope.make()
          const first = yield* path.connect(hub, Option.none()).pipe(Scope.extend(connection))
          const publishing = yield* Effect.forEach(
            publishers,
            (yields, p) => Effect.forEach(yields, (y, i) => Effect.zipRight(yieldTimes(y), hub.publish(`p${p}-${i}`))),
            { concurrency: "unbounded", discard: true }
          ).pipe(Effect.fork)
          const seen = (yield* first.atLeast(k)).slice(0, k)
          yield* Scope.close(connection, Exit.void) // the connection drops
          yield* yieldTimes(away)
          const second = yield* path.connect(hub, Option.some(seen[k - 1].id!))
          yield* Fiber.join(publishing)
          yield* hub.shutdown
          yield* second.exit
          yield* witness.exit
          expect(witness.items.length).toBe(total)
          expect([...seen, ...second.items()].map(show)).toEqual(witness.items.map(show))
        })),
      { fastCheck: { numRuns: 200 } }
    )
  }

  it.scoped("resuming from the id publish just returned replays nothing and sends that event no second time", () =>
    Effect.gen(function*() {
      // The publish and the subscription race: the dispatcher may not have handed the event over yet.
      const hub = yield* stringHub()
      yield* hub.publish("a")
      const id = yield* hub.publish("b")
      const resumed = yield* subscribed(hub, { lastEventId: Option.some(id) })
      yield* hub.publish("c")
      yield* hub.shutdown
      yield* resumed.exit
      expect(dataOf(resumed.items)).toEqual(["c"])
    }))

  it.scoped("an unknown id: first a `lost` event with data {\"lastEventId\":…}, then every retained event", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub()
      const witness = yield* subscribed(hub)
      const ids = yield* hub.publishAll(["a", "b"])
      yield* witness.atLeast(2)
      const resumed = yield* subscribed(hub, { lastEventId: Option.some("never-sent \"quoted\"") })
      yield* hub.shutdown
      yield* resumed.exit
      const [lost, ...rest] = resumed.items
      expect(lost.type).toBe("lost")
      expect(lost.id).toBeUndefined()
      expect(JSON.parse(lost.data!)).toEqual({ lastEventId: "never-sent \"quoted\"" })
      expect(lost).toEqual(SseHub.lostEvent("never-sent \"quoted\""))
      expect(idsOf(rest)).toEqual(ids)
    }))

  it.scoped("by default the last 1000 events are kept: resuming from the 1001st-newest reports it lost", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub()
      const witness = yield* subscribed(hub)
      const ids = yield* hub.publishAll(range(1001).map(String))
      yield* witness.atLeast(1001)
      const fromOldest = yield* subscribed(hub, { lastEventId: Option.some(ids[0]) })
      const fromSecond = yield* subscribed(hub, { lastEventId: Option.some(ids[1]) })
      yield* hub.shutdown
      yield* fromOldest.exit
      expect(fromOldest.items.map(show)).toEqual([`lost:${ids[0]}`, ...ids.slice(1)])
      expect(idsOf(fromSecond.items)).toEqual(ids.slice(2))
    }))

  it.scoped("history.maxAge: an event older than maxAge is evicted, and resuming from it reports it lost", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub({ history: { maxAge: "10 seconds" } })
      const witness = yield* subscribed(hub)
      const old = yield* hub.publish("old")
      yield* TestClock.adjust("11 seconds")
      const recent = yield* hub.publishAll(["r1", "r2"])
      yield* witness.atLeast(3)
      const resumed = yield* subscribed(hub, { lastEventId: Option.some(old) })
      const fromRecent = yield* subscribed(hub, { lastEventId: Option.some(recent[0]) })
      yield* hub.shutdown
      yield* resumed.exit
      expect(resumed.items.map(show)).toEqual([`lost:${old}`, ...recent])
      expect(idsOf(fromRecent.items)).toEqual([recent[1]])
    }))

  it.scoped("history.maxAge: events older than maxAge are not replayed, even when nothing was published since", () =>
    Effect.gen(function*() {
      // "none older than maxAge" is kept for resumption: a quiet hub must not replay stale events.
      const hub = yield* stringHub({ history: { maxAge: "10 seconds" } })
      const witness = yield* subscribed(hub)
      const [a] = yield* hub.publishAll(["a", "b"])
      yield* witness.atLeast(2)
      yield* TestClock.adjust("11 seconds")
      const resumed = yield* subscribed(hub, { lastEventId: Option.some(a) })
      yield* hub.shutdown
      yield* resumed.exit
      expect(resumed.items.map(show)).toEqual([`lost:${a}`])
    }))

  it.scoped("resumption stays exact after a publishAll that the encoder refused", () =>
    Effect.gen(function*() {
      const hub = yield* ownIdHub()
      const witness = yield* subscribed(hub)
      yield* hub.publish({ id: "", text: "one" })
      yield* Effect.flip(hub.publishAll([{ id: "", text: "never" }, { id: "bad\nid", text: "never" }]))
      const three = yield* hub.publish({ id: "", text: "three" })
      yield* hub.publish({ id: "", text: "four" })
      yield* witness.atLeast(3)
      const resumed = yield* subscribed(hub, { lastEventId: Option.some(three) })
      yield* hub.shutdown
      yield* resumed.exit
      expect(dataOf(resumed.items)).toEqual(["four"])
    }))

  it.scoped("lastEventId is an Option: None, or Some of the empty string, means a fresh subscription (no replay)", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub()
      const witness = yield* subscribed(hub)
      const ids = yield* hub.publishAll(["a", "b", "c"])
      yield* witness.atLeast(3)
      const some = yield* subscribed(hub, { lastEventId: Option.some(ids[0]) })
      const none = yield* subscribed(hub, { lastEventId: Option.none() })
      const empty = yield* subscribed(hub, { lastEventId: Option.some("") })
      const absent = yield* subscribed(hub)
      const live = yield* hub.publish("d")
      yield* hub.shutdown
      yield* Effect.forEach([some, none, empty, absent], (s) => s.exit)
      expect(idsOf(some.items)).toEqual([ids[1], ids[2], live])
      expect(idsOf(none.items)).toEqual([live])
      expect(idsOf(empty.items)).toEqual([live])
      expect(idsOf(absent.items)).toEqual([live])
    }))

  it.scoped("serve resumes from the Last-Event-ID header, else from ?lastEventId=; the header wins", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub()
      const witness = yield* subscribed(hub)
      const ids = yield* hub.publishAll(["a", "b", "c", "d"])
      yield* witness.atLeast(4)
      const byHeader = yield* serveInProcess(hub, eventsRequest({ headers: { "last-event-id": ids[1] } }))
      const byQuery = yield* serveInProcess(hub, eventsRequest({ query: `?lastEventId=${ids[0]}` }))
      const both = yield* serveInProcess(
        hub,
        eventsRequest({ query: `?lastEventId=${ids[0]}`, headers: { "last-event-id": ids[2] } })
      )
      expect(idsOf(yield* byHeader.events(2))).toEqual(ids.slice(2))
      expect(idsOf(yield* byQuery.events(3))).toEqual(ids.slice(1))
      expect(idsOf(yield* both.events(1))).toEqual(ids.slice(3))
      const live = yield* hub.publish("e")
      yield* hub.shutdown
      for (const client of [byHeader, byQuery, both]) {
        yield* client.received.exit
        expect(idsOf(eventsOf(client.received.items)).slice(-1)).toEqual([live])
      }
    }))
})

describe("SseHub replay: a resumed client is written the history's own buffers", () => {
  it.scoped("the bytes a resumed served client is sent are the very byte arrays of the history's events, shared by every client", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub()
      const live = new RecordingWriter()
      yield* serveOnWriter(hub, live)
      const witness = yield* subscribed(hub)
      // one publish at a time: each live batch is one event, written as its own bytes
      const ids = yield* Effect.forEach(range(5), (i) => Effect.zipLeft(hub.publish(`m${i}`), witness.atLeast(i + 1)))
      // The history keeps each event with its bytes, encoded once (by the first delivery).
      const history = witness.items.map(SseEvent.encode)
      expect(live.writes.slice(1).map((w) => w._tag === "writeShared" && w.bytes)).toEqual(history)
      for (const [i, w] of live.writes.slice(1).entries()) expect(w._tag === "writeShared" && w.bytes).toBe(history[i])

      const resumed = [new RecordingWriter(), new RecordingWriter(), new RecordingWriter("stalled")]
      yield* serveOnWriter(hub, resumed[0], eventsRequest({ headers: { "last-event-id": ids[0] } }))
      yield* serveOnWriter(hub, resumed[1], eventsRequest({ query: `?lastEventId=${ids[0]}` }))
      yield* serveOnWriter(hub, resumed[2], eventsRequest({ headers: { "last-event-id": "unknown" } }))
      for (const writer of resumed) {
        const replays = writer.writes.filter((w) => w._tag === "writeAll")
        expect(replays).toHaveLength(1)
        const parts = replays[0]._tag === "writeAll" ? replays[0].parts : []
        const expected = writer === resumed[2] ? history : history.slice(1)
        expect(parts).toHaveLength(expected.length)
        // identity, not equality: nothing of the replay is a copy made for this client
        for (const [i, part] of parts.entries()) expect(part).toBe(expected[i])
      }
      expect(resumed[0].text).toBe(
        `: connected\n\n${ids.slice(1).map((id, i) => `id: ${id}\ndata: m${i + 1}\n\n`).join("")}`
      )
      expect(resumed[2].text).toBe(
        `: connected\n\nevent: lost\ndata: {"lastEventId":"unknown"}\n\n${
          ids.map((id, i) => `id: ${id}\ndata: m${i}\n\n`).join("")
        }`
      )
    }))

  it.scoped("a served client that takes nothing for writeTimeout is dropped, even when nothing is published", () =>
    Effect.gen(function*() {
      const name = uniqueName("stalled")
      const hub = yield* stringHub({ name, writeTimeout: "4 seconds" })
      const witness = yield* subscribed(hub)
      const ids = yield* hub.publishAll(range(100).map((i) => `m${i}`))
      yield* witness.atLeast(100)
      const stalled = yield* Effect.forEach(range(3), () => Effect.succeed(new RecordingWriter("stalled")))
      for (const writer of stalled) {
        yield* serveOnWriter(hub, writer, eventsRequest({ headers: { "last-event-id": ids[0] } }))
      }
      const reading = new RecordingWriter()
      yield* serveOnWriter(hub, reading, eventsRequest({ headers: { "last-event-id": ids[0] } }))
      expect(yield* hub.clientCount).toBe(5)
      yield* TestClock.adjust("3900 millis")
      expect(stalled.map((w) => w.destroyed)).toEqual([false, false, false])
      // the stall rule is checked once a second: dropped within [writeTimeout, writeTimeout + 1 s]
      yield* TestClock.adjust("1100 millis")
      expect(stalled.map((w) => w.destroyed)).toEqual([true, true, true])
      expect(reading.isClosed()).toBe(false)
      expect(yield* hub.clientCount).toBe(2)
      expect(yield* hubMetric("sse_hub_events_published", name)).toBe(100)
    }))

  it.scoped("the default writeTimeout is 10 seconds", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub()
      const stalled = new RecordingWriter("stalled")
      yield* serveOnWriter(hub, stalled)
      yield* TestClock.adjust("9900 millis")
      expect(stalled.destroyed).toBe(false)
      yield* TestClock.adjust("1100 millis")
      expect(stalled.destroyed).toBe(true)
      expect(yield* hub.clientCount).toBe(0)
    }))
})

describe("SseHub serving: the hand-over before the body is read", () => {
  it.scoped("a served client gets its greeting and resumed events once, even when a publish lands before its body is read", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub()
      const witness = yield* subscribed(hub)
      const ids = yield* hub.publishAll(["a", "b"])
      yield* witness.atLeast(2)
      const response = yield* Effect.provideService(
        hub.serve({ onConnect: () => Effect.succeed([welcome("hello")]) }),
        HttpServerRequest.HttpServerRequest,
        eventsRequest({ headers: { "last-event-id": ids[0] } })
      )
      // the server has not started writing the body yet (as between a handler's return and the first write)
      const c = yield* hub.publish("c")
      yield* witness.atLeast(3)
      const body = yield* runPartialBody(response, `data: c\n\n`)
      expect(body).toBe(`: connected\n\nevent: welcome\ndata: hello\n\nid: ${ids[1]}\ndata: b\n\nid: ${c}\ndata: c\n\n`)
    }))

  it.scoped("the stream starts when the body is read: a response never read registers no client", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub()
      yield* Effect.provideService(hub.serve(), HttpServerRequest.HttpServerRequest, eventsRequest())
      expect(yield* hub.clientCount).toBe(0)
    }))
})

/** Reads a response body until it contains `text`; returns the body so far. */
const runPartialBody = (response: Parameters<typeof collectBody>[0], text: string) =>
  Effect.gen(function*() {
    const client = yield* collect(Stream.map(
      response.body._tag === "Stream" ? response.body.stream : Stream.empty,
      (bytes) => new TextDecoder().decode(bytes as Uint8Array)
    ))
    yield* eventually(() => client.items.join("").includes(text), `the body to contain ${JSON.stringify(text)}`)
    return client.items.join("")
  })

describe("SseHub clients", () => {
  it.effect.prop(
    "clients tracks subscribe and unsubscribe, and clientsChanges emits every count",
    { ops: fc.array(fc.boolean(), { maxLength: 30 }) },
    ({ ops }) =>
      Effect.scoped(Effect.gen(function*() {
        const hub = yield* stringHub()
        const changes = yield* collect(hub.clientsChanges)
        yield* changes.atLeast(1) // the current count: from here on every change is seen
        const open: Array<Scope.CloseableScope> = []
        const expected = [0]
        for (const subscribe of ops) {
          if (subscribe) {
            const scope = yield* Scope.make()
            yield* Scope.extend(hub.subscribe(), scope)
            open.push(scope)
          } else if (open.length > 0) {
            yield* Scope.close(open.shift()!, Exit.void)
          } else {
            continue
          }
          expected.push(open.length)
          expect(yield* hub.clientCount).toBe(open.length)
        }
        expect(yield* changes.atLeast(expected.length)).toEqual(expected)
      })),
    { fastCheck: { numRuns: 100 } }
  )

  it.scoped("a served client counts from the start of its response until its response ends", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub()
      const client = yield* serveInProcess(hub)
      yield* eventually(() => client.chunks.length === 1, "': connected'")
      expect(yield* hub.clientCount).toBe(1)
      yield* client.received.interrupt // the client goes away
      yield* awaitClients(hub, (n) => n === 0, "back to 0")
    }))

  it.scoped("a subscribe refused by a shut-down hub leaves clients unchanged", () =>
    Effect.gen(function*() {
      const name = uniqueName("refused")
      const hub = yield* stringHub({ name })
      yield* hub.shutdown
      const error = yield* Effect.flip(Effect.scoped(hub.subscribe()))
      expect(error._tag).toBe("HubClosed")
      expect(yield* hub.clientCount).toBe(0)
      expect(yield* hubMetric("sse_hub_clients", name)).toBe(0)
    }))
})

describe("SseHub shutdown", () => {
  it.scoped("delivers what was already published, then ends every subscribe stream and served response", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub()
      const stream = yield* subscribed(hub)
      const served = yield* serveInProcess(hub)
      yield* eventually(() => served.chunks.length === 1, "': connected'")
      yield* hub.publishAll(["a", "b"])
      yield* hub.publish("c")
      yield* hub.shutdown
      expect(Exit.isSuccess(yield* stream.exit)).toBe(true)
      expect(Exit.isSuccess(yield* served.received.exit)).toBe(true)
      expect(dataOf(stream.items)).toEqual(["a", "b", "c"])
      expect(dataOf(eventsOf(served.received.items))).toEqual(["a", "b", "c"])
      yield* awaitClients(hub, (n) => n === 0, "every client is gone")
    }))

  it.scoped("afterwards publish, publishAll, subscribe and serve fail with HubClosed, naming the hub", () =>
    Effect.gen(function*() {
      const name = uniqueName("closed")
      const hub = yield* stringHub({ name })
      yield* hub.shutdown
      const errors = [
        yield* Effect.flip(hub.publish("x")),
        yield* Effect.flip(hub.publishAll(["x"])),
        yield* Effect.flip(Effect.scoped(hub.subscribe())),
        yield* Effect.flip(serveInProcess(hub))
      ]
      for (const error of errors) {
        expect(error._tag).toBe("HubClosed")
        expect(error).toMatchObject({ hub: name, reason: "Shutdown" })
        expect(error.message).toContain(name)
      }
    }))

  it.scoped("HubClosed is Respondable: as a route's failure it becomes a 503 with a text body naming the hub, and Retry-After", () =>
    Effect.gen(function*() {
      const name = uniqueName("respondable")
      const hub = yield* stringHub({ name })
      yield* hub.shutdown
      const error = yield* Effect.flip(
        Effect.provideService(hub.serve(), HttpServerRequest.HttpServerRequest, eventsRequest())
      )
      expect(HttpServerRespondable.isRespondable(error)).toBe(true)
      const response = yield* HttpServerRespondable.toResponseOrElse(error, HttpServerResponse.empty({ status: 500 }))
      expect(response.status).toBe(503)
      expect(response.headers["retry-after"]).toMatch(/^\d+$/)
      expect(response.body._tag === "Uint8Array" && new TextDecoder().decode(response.body.body)).toContain(name)
    }))

  it.scoped("the errors raised are instances of the exported classes SseHub.HubClosed and SseHub.SubscriberDropped", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub({ bufferSize: 1 })
      const stalled = yield* hub.subscribe()
      const reader = yield* subscribed(hub)
      yield* hub.publish("a")
      yield* reader.atLeast(1)
      yield* hub.publish("b")
      yield* reader.atLeast(2)
      const dropped = yield* Effect.flip(Stream.runDrain(stalled))
      yield* hub.shutdown
      const closed = yield* Effect.flip(hub.publish("c"))
      // `instanceof` is how plain TypeScript (and Effect.catchIf, Predicate guards) tell errors apart
      expect(dropped._tag).toBe("SubscriberDropped")
      expect(dropped instanceof SseHub.SubscriberDropped).toBe(true)
      expect(closed._tag).toBe("HubClosed")
      expect(closed instanceof SseHub.HubClosed).toBe(true)
    }))

  it.scoped("is idempotent and never waits for a subscriber that does not read", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub({ bufferSize: 100_000 })
      yield* hub.subscribe() // never read
      yield* serveOnWriter(hub, new RecordingWriter("stalled")) // never takes a byte
      yield* hub.publishAll(range(5000).map(String))
      yield* within(hub.shutdown, "the first shutdown")
      yield* within(hub.shutdown, "a second shutdown")
      expect(Exit.isFailure(yield* Effect.exit(hub.publish("late")))).toBe(true)
    }))

  it.scoped("releasing the layer shuts the hub down", () =>
    Effect.gen(function*() {
      const layerScope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        SseHub.layer(ChatHub, { name: uniqueName("layer"), schema: Message, keepAlive: false }).pipe(
          Layer.provide(SseHubBackend.layerMemory)
        ),
        layerScope
      )
      const hub = Context.get(context, ChatHub)
      const stream = yield* subscribed(hub)
      const served = yield* serveInProcess(hub)
      yield* eventually(() => served.chunks.length === 1, "': connected'")
      yield* hub.publish({ user: "ann", text: "bye" })
      yield* Scope.close(layerScope, Exit.void)
      expect(Exit.isSuccess(yield* stream.exit)).toBe(true)
      expect(Exit.isSuccess(yield* served.received.exit)).toBe(true)
      expect(stream.items.length).toBe(1)
      expect(eventsOf(served.received.items).length).toBe(1)
      expect((yield* Effect.flip(hub.publish({ user: "ann", text: "late" })))._tag).toBe("HubClosed")
    }))
})

describe("SseHub slow subscribers", () => {
  it.scoped("disconnect (default): more than bufferSize behind ends the stream with SubscriberDropped", () =>
    Effect.gen(function*() {
      const name = uniqueName("disconnect")
      const hub = yield* stringHub({ name, bufferSize: 4 })
      const reader = yield* subscribed(hub)
      const stalled = yield* hub.subscribe() // not read until the end
      // one publish at a time, each read by the reader before the next: only the stalled one falls behind
      const publishRead = (i: number) => Effect.zipRight(hub.publish(`m${i}`), reader.atLeast(i + 1))
      yield* Effect.forEach(range(4), publishRead)
      expect(yield* hubMetric("sse_hub_clients_dropped", name)).toBe(0) // exactly bufferSize behind: kept
      yield* publishRead(4)
      expect(yield* hubMetric("sse_hub_clients_dropped", name)).toBe(1)
      // publish and the reader carry on
      yield* Effect.forEach([5, 6, 7], publishRead)
      expect(dataOf(reader.items)).toEqual(range(8).map((i) => `m${i}`))
      // the stalled consumer gets what it had buffered, then the error
      const late = yield* collect(stalled)
      const exit = yield* late.exit
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      expect(Option.getOrUndefined(error)).toBeInstanceOf(SseHub.SubscriberDropped)
      expect(Option.getOrUndefined(error)).toMatchObject({
        _tag: "SubscriberDropped",
        reason: "SlowClient",
        hub: name,
        bufferSize: 4
      })
      const got = dataOf(late.items)
      expect(got).toEqual(range(got.length).map((i) => `m${i}`))
      expect(got.length).toBeGreaterThanOrEqual(4)
      // and it can resume from history with the last id it got
      const back = yield* subscribed(hub, { lastEventId: Option.some(late.items[late.items.length - 1].id!) })
      yield* hub.shutdown
      yield* back.exit
      expect(dataOf([...late.items, ...back.items])).toEqual(range(8).map((i) => `m${i}`))
    }))

  it.scoped("drop-oldest: the stalled subscriber keeps its newest bufferSize events; the drops are counted", () =>
    Effect.gen(function*() {
      const name = uniqueName("drop-oldest")
      const hub = yield* stringHub({ name, bufferSize: 3, slowClient: "drop-oldest" })
      const reader = yield* subscribed(hub)
      const stalled = yield* hub.subscribe()
      yield* Effect.forEach(range(10), (i) => Effect.zipRight(hub.publish(`m${i}`), reader.atLeast(i + 1)))
      expect(dataOf(reader.items)).toEqual(range(10).map((i) => `m${i}`))
      expect(yield* hubMetrics(name)).toMatchObject({ clientsDropped: 0, eventsDropped: 7 })
      const late = yield* collect(stalled)
      expect(dataOf(yield* late.atLeast(3))).toEqual(["m7", "m8", "m9"])
      yield* hub.publish("m10") // still subscribed
      expect(dataOf(yield* late.atLeast(4))).toEqual(["m7", "m8", "m9", "m10"])
    }))

  it.scoped("a served client that stops reading is dropped at bufferSize events waiting: its connection is cut and it is no longer counted", () =>
    Effect.gen(function*() {
      const name = uniqueName("served-slow")
      const hub = yield* stringHub({ name, bufferSize: 4 })
      const reader = yield* subscribed(hub)
      const stalled = new RecordingWriter("stalled")
      yield* serveOnWriter(hub, stalled)
      expect(yield* hub.clientCount).toBe(2)
      const publishRead = (i: number) => Effect.zipRight(hub.publish(`m${i}`), reader.atLeast(i + 1))
      yield* Effect.forEach(range(4), publishRead)
      expect(stalled.destroyed).toBe(false) // bufferSize waiting: kept
      yield* publishRead(4)
      expect(stalled.destroyed).toBe(true)
      expect(yield* hubMetric("sse_hub_clients_dropped", name)).toBe(1)
      expect(stalled.text).toBe(`: connected\n\n${range(4).map((i) => `id: ${i + 1}\ndata: m${i}\n\n`).join("")}`)
      yield* Effect.forEach([5, 6, 7, 8, 9], publishRead)
      yield* awaitClients(hub, (n) => n === 1, "only the reader is left")
    }))
})

describe("SseHub costs", () => {
  it.effect("an idle hub does no work: none of its fibers is scheduled until something is published", () =>
    Effect.scoped(Effect.gen(function*() {
      // Every time one of the hub's fibers runs (or yields and runs again), it goes through its scheduler.
      let scheduled = 0
      const scheduler: Scheduler.Scheduler = {
        shouldYield: (fiber) => Scheduler.defaultScheduler.shouldYield(fiber),
        scheduleTask: (task, priority, fiber) => {
          scheduled++
          Scheduler.defaultScheduler.scheduleTask(task, priority, fiber)
        }
      }
      const hub = yield* Effect.withScheduler(stringHub(), scheduler)
      const reader = yield* subscribed(hub)
      yield* hub.publish("warm-up")
      yield* reader.atLeast(1)
      yield* yieldTimes(10)
      const before = scheduled
      yield* yieldTimes(200) // the test fiber lets everyone else run 200 times; nothing is published
      expect(scheduled - before).toBeLessThanOrEqual(2)
      yield* hub.publish("still works")
      expect(dataOf(yield* reader.atLeast(2))).toEqual(["warm-up", "still works"])
    })))
})

describe("SseHub metrics and spans", () => {
  it.scoped("published, the clients gauge and dropped clients, tagged hub=<name>", () =>
    Effect.gen(function*() {
      const name = uniqueName("metrics")
      const hub = yield* stringHub({ name, bufferSize: 2 })
      const reader = yield* subscribed(hub)
      yield* hub.subscribe() // stalls
      expect(yield* hubMetrics(name)).toMatchObject({ clients: 2, published: 0, clientsDropped: 0 })
      yield* hub.publish("a")
      yield* reader.atLeast(1)
      yield* hub.publish("b")
      yield* reader.atLeast(2)
      yield* hub.publish("c") // the stalled subscriber is now 3 behind
      yield* reader.atLeast(3)
      expect(yield* hubMetrics(name)).toMatchObject({ clients: 1, published: 3, clientsDropped: 1 })
      yield* reader.interrupt
      expect(yield* hubMetric("sse_hub_events_published", uniqueName("other"))).toBe(0)
    }))

  it.scoped("events delivered counts every event a subscribe stream hands out, replayed ones included", () =>
    Effect.gen(function*() {
      const name = uniqueName("delivered-subscribe")
      const hub = yield* stringHub({ name })
      const witness = yield* subscribed(hub)
      const ids = yield* hub.publishAll(["a", "b", "c"])
      yield* witness.atLeast(3)
      const resumed = yield* subscribed(hub, { lastEventId: Option.some(ids[0]) })
      yield* resumed.atLeast(2) // b, c replayed
      yield* hub.publish("d")
      yield* resumed.atLeast(3)
      yield* witness.atLeast(4)
      // witness: 4 live; resumed: 2 replayed + 1 live
      expect(yield* hubMetric("sse_hub_events_delivered", name)).toBe(7)
    }))

  it.scoped("events delivered counts each published event written to a served client, not ': connected'", () =>
    Effect.gen(function*() {
      const name = uniqueName("delivered-served")
      const hub = yield* stringHub({ name })
      const client = yield* serveInProcess(hub)
      yield* eventually(() => client.chunks.length === 1, "': connected'")
      yield* hub.publishAll(["a", "b", "c"])
      yield* client.events(3)
      expect(yield* hubMetric("sse_hub_events_delivered", name)).toBe(3)
    }))

  it.scoped("events delivered counts replayed events written to a served client once", () =>
    Effect.gen(function*() {
      const name = uniqueName("delivered-replay")
      const hub = yield* stringHub({ name })
      const witness = yield* subscribed(hub)
      const ids = yield* hub.publishAll(["a", "b", "c", "d"])
      yield* witness.atLeast(4)
      const before = yield* hubMetric("sse_hub_events_delivered", name)
      const client = yield* serveInProcess(hub, eventsRequest({ headers: { "last-event-id": ids[0] } }))
      yield* client.events(3) // b, c, d replayed
      expect((yield* hubMetric("sse_hub_events_delivered", name)) - before).toBe(3)
    }))

  it.scoped("subscribe and serve run in spans SseHub.subscribe / .serve, publish too with tracePublish, with the hub's name", () =>
    Effect.gen(function*() {
      const record = (tracePublish: boolean | undefined) =>
        Effect.gen(function*() {
          const name = uniqueName("spans")
          const hub = yield* stringHub({ name, tracePublish })
          const [, spans] = yield* withRecordedSpans(Effect.gen(function*() {
            yield* hub.publish("a")
            yield* hub.publishAll(["b", "c"])
            yield* hub.subscribe()
            const client = yield* serveInProcess(hub)
            yield* eventually(() => client.chunks.length === 1, "the served client is live")
          }))
          return spans.filter((span) => span.name.startsWith("SseHub."))
            .map((span) => [span.name, span.attributes.get("hub") === name, span.status._tag])
        })
      expect(yield* record(true)).toEqual([
        ["SseHub.publish", true, "Ended"],
        ["SseHub.publish", true, "Ended"],
        ["SseHub.subscribe", true, "Ended"],
        ["SseHub.serve", true, "Ended"]
      ])
      // By default an in-memory publish records no span: it would cost more than the publish.
      for (const tracePublish of [undefined, false]) {
        expect(yield* record(tracePublish)).toEqual([
          ["SseHub.subscribe", true, "Ended"],
          ["SseHub.serve", true, "Ended"]
        ])
      }
    }))
})

describe("SseHub serving: keep-alive, retry, onConnect", () => {
  it.scoped("a served client that heard nothing for the keep-alive interval gets ': keep-alive' within [interval, interval + 1 s]", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub({ keepAlive: "15 seconds" })
      const client = yield* serveInProcess(hub)
      yield* eventually(() => client.chunks.length >= 1, "': connected'")
      const keepAlives = () => commentsOf(client.received.items).filter((c) => c === "keep-alive").length
      yield* TestClock.adjust("14900 millis")
      yield* yieldTimes(100)
      expect(commentsOf(client.received.items)).toEqual(["connected"])
      yield* TestClock.adjust("1100 millis") // 16 s
      yield* eventually(() => keepAlives() >= 1, "a keep-alive")
      expect(commentsOf(client.received.items)).toEqual(["connected", "keep-alive"])
      // the quiet period restarts with the keep-alive: the next one comes 15 s later, not at the next tick
      yield* TestClock.adjust("13900 millis") // 29.9 s
      yield* yieldTimes(100)
      expect(keepAlives()).toBe(1)
      yield* TestClock.adjust("1100 millis") // 31 s
      yield* eventually(() => keepAlives() >= 2, "a second keep-alive")
      expect(keepAlives()).toBe(2)
    }))

  it.scoped("a served client that keeps receiving events gets no keep-alive", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub({ keepAlive: "15 seconds" })
      const client = yield* serveInProcess(hub)
      yield* eventually(() => client.chunks.length >= 1, "': connected'")
      for (const i of range(12)) {
        yield* TestClock.adjust("5 seconds")
        yield* hub.publish(`m${i}`)
        yield* client.events(i + 1)
      }
      expect(commentsOf(client.received.items)).toEqual(["connected"])
    }))

  it.scoped("retry is sent after ': connected'; onConnect events come next, before resumed events", () =>
    Effect.gen(function*() {
      const hub = yield* stringHub({ retry: "3 seconds" })
      const witness = yield* subscribed(hub)
      const ids = yield* hub.publishAll(["a", "b"])
      yield* witness.atLeast(2)
      const infos: Array<{ clients: number; lastEventId: Option.Option<string> }> = []
      const onConnect: SseHub.ServeOptions["onConnect"] = (info) =>
        Effect.sync(() => {
          infos.push(info)
          return [welcome(`welcome, client ${info.clients}`)]
        })
      const client = yield* serveInProcess(hub, eventsRequest({ headers: { "last-event-id": ids[0] } }), {
        onConnect
      })
      yield* client.events(2)
      const text = new TextDecoder().decode(Buffer.concat(client.chunks))
      expect(text).toBe(
        `: connected\n\nretry: 3000\n\nevent: welcome\ndata: welcome, client 2\n\nid: ${ids[1]}\ndata: b\n\n`
      )
      expect(infos).toEqual([{ clients: 2, lastEventId: Option.some(ids[0]) }])
    }))
})
