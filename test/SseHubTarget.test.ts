/**
 * Targeting beyond topics: each client carries a typed state given when it connects, a publish `to` a target
 * reaches the clients whose state matches it (live and on resumption), and `hub.clients` lists the connected
 * clients with their state — on the in-memory backend and on Redis (two hubs on one stream, as two processes),
 * where the target travels as data and is matched where the client is connected.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, FastCheck as fc, Layer, Option, Schedule, Schema, Scope } from "effect"
import * as SseEvent from "../src/SseEvent.js"
import * as SseHub from "../src/SseHub.js"
import * as SseHubRedis from "../src/SseHubRedis.js"
import { awaitClients, eventsRequest, onMemory, serveInProcess } from "./utils/hub.js"
import * as R from "./utils/redis.js"

interface User {
  readonly user: string
  readonly role: "admin" | "member"
}

/** A target: one user, or every client of a role. */
const Target = Schema.Union(
  Schema.Struct({ user: Schema.NonEmptyString }),
  Schema.Struct({ role: Schema.Literal("admin", "member") })
)
type Target = typeof Target.Type

const target: SseHub.Options.Target<User, Target> = {
  schema: Target,
  matches: (to, state) => "user" in to ? to.user === state.user : to.role === state.role
}

type Hub = SseHub.SseHub<string, User, Target>

const hubOptions = (name = "target"): SseHub.Options<string, never, User, Target> => ({
  name,
  encode: SseEvent.make,
  keepAlive: false,
  target
})

const ann: User = { user: "ann", role: "admin" }
const bob: User = { user: "bob", role: "member" }
const cid: User = { user: "cid", role: "member" }

const datas = (events: ReadonlyArray<{ readonly data?: string | undefined }>) => events.map((e) => e.data)

describe("SseHub targeting (in memory)", () => {
  it.scopedLive("a targeted publish reaches the matching clients only; an untargeted one reaches everyone", () =>
    Effect.gen(function*() {
      const hub: Hub = yield* onMemory(SseHub.make(hubOptions()))
      const annStream = yield* R.subscribeAll(hub, { state: ann })
      const bobServed = yield* serveInProcess(hub, eventsRequest(), { state: bob })
      const cidStream = yield* R.subscribeAll(hub, { state: cid })
      const anonymous = yield* R.subscribeAll(hub)
      // A served client registers once its response is being written.
      yield* awaitClients(hub, (n) => n === 4, "4")

      yield* hub.publish("for ann", { to: { user: "ann" } })
      yield* hub.publish("for members", { to: { role: "member" } })
      yield* hub.publish("for bob", { to: { user: "bob" } })
      yield* hub.publish("for everyone")

      expect(datas(yield* annStream.atLeast(2))).toEqual(["for ann", "for everyone"])
      expect(datas(yield* bobServed.events(3))).toEqual(["for members", "for bob", "for everyone"])
      expect(datas(yield* cidStream.atLeast(2))).toEqual(["for members", "for everyone"])
      // A client without a state never gets a targeted event.
      expect(datas(yield* anonymous.atLeast(1))).toEqual(["for everyone"])
      // Nothing more arrives later: the last publish is untargeted and everyone had it last.
      expect(annStream.items.length + cidStream.items.length + anonymous.items.length).toBe(5)
    }))

  it.scopedLive("hub.clients lists the connected clients with their state and topics, in the order they connected", () =>
    Effect.gen(function*() {
      const hub: Hub = yield* onMemory(SseHub.make(hubOptions()))
      expect(yield* hub.clients).toEqual([])
      const annScope = yield* Scope.make()
      yield* Scope.extend(hub.subscribe({ state: ann, topics: ["news"] }), annScope)
      yield* hub.subscribe({ state: bob })
      yield* serveInProcess(hub, eventsRequest(), { state: cid })
      yield* awaitClients(hub, (n) => n === 3, "3")
      yield* hub.subscribe()

      const clients = yield* hub.clients
      expect(clients.map(({ kind, state, topics }) => ({ kind, state, topics }))).toEqual([
        { kind: "subscribe", state: ann, topics: ["news"] },
        { kind: "subscribe", state: bob, topics: undefined },
        { kind: "serve", state: cid, topics: undefined },
        { kind: "subscribe", state: undefined, topics: undefined }
      ])
      expect(new Set(clients.map((c) => c.id)).size).toBe(4)
      expect(yield* hub.clientCount).toBe(4)

      yield* Scope.close(annScope, Exit.void)
      expect((yield* hub.clients).map((c) => c.state?.user)).toEqual(["bob", "cid", undefined])
      expect(yield* hub.clientCount).toBe(3)
    }))

  it.scopedLive("resumption honours targets: a client never gets history published to others", () =>
    Effect.gen(function*() {
      const hub: Hub = yield* onMemory(SseHub.make(hubOptions()))
      const first = yield* hub.publish("before")
      yield* hub.publish("ann's secret", { to: { user: "ann" } })
      yield* hub.publish("admins only", { to: { role: "admin" } })
      yield* hub.publish("bob's note", { to: { user: "bob" } })
      const last = yield* hub.publish("after")

      // From a known id: the retained events after it, less those targeted at others.
      const bobStream = yield* R.subscribeAll(hub, { state: bob, lastEventId: Option.some(first) })
      expect(datas(yield* bobStream.atLeast(2))).toEqual(["bob's note", "after"])
      const annServed = yield* serveInProcess(hub, eventsRequest({ headers: { "last-event-id": first } }), {
        state: ann
      })
      expect(datas(yield* annServed.events(3))).toEqual(["ann's secret", "admins only", "after"])

      // From an unknown id: `lost`, then all of the history, still filtered.
      const lost = yield* R.subscribeAll(hub, { state: cid, lastEventId: Option.some("unknown") })
      const events = yield* lost.atLeast(3)
      expect(events.map((e) => e.type)).toEqual(["lost", undefined, undefined])
      expect(datas(events.slice(1))).toEqual(["before", "after"])

      // And then live, with no gap and no duplicate.
      const next = yield* hub.publish("for bob, live", { to: { user: "bob" } })
      const bobLive = yield* bobStream.atLeast(3)
      expect(bobLive.map((e) => e.id)).toEqual([bobLive[0].id, last, next])
    }))

  it.scoped("a target that does not encode is refused with PublishRejected (InvalidTarget), and nothing is published", () =>
    Effect.gen(function*() {
      const hub: Hub = yield* onMemory(SseHub.make(hubOptions()))
      const before = yield* hub.publish("one")
      const error = yield* Effect.flip(hub.publish("bad", { to: { user: "" } }))
      expect(error._tag).toBe("PublishRejected")
      expect(error).toMatchObject({ reason: "InvalidTarget", hub: "target" })
      expect(error.message).toContain("target schema")
      const all = yield* Effect.flip(hub.publishAll(["x", "y"], { to: { role: "owner" } as unknown as Target }))
      expect(all).toMatchObject({ _tag: "PublishRejected", reason: "InvalidTarget" })
      // Nothing was stored: resuming from the first event finds only what came after it.
      yield* hub.publish("two")
      const stream = yield* hub.subscribe({ state: ann, lastEventId: Option.some(before) })
      const resumed = yield* R.receive(stream).pipe(Effect.flatMap((r) => r.atLeast(1)))
      expect(datas(resumed)).toEqual(["two"])
    }))

  it.effect.prop(
    "every client gets exactly the untargeted events and those whose target matches its state, in order",
    {
      clients: fc.array(
        fc.record({ user: fc.constantFrom("ann", "bob", "cid"), role: fc.constantFrom("admin", "member") }),
        {
          minLength: 1,
          maxLength: 4
        }
      ),
      publishes: fc.array(
        fc.option(
          fc.oneof(
            fc.record({ user: fc.constantFrom("ann", "bob", "cid", "dan") }),
            fc.record({ role: fc.constantFrom("admin", "member") })
          ),
          { nil: undefined }
        ),
        { maxLength: 12 }
      )
    },
    ({ clients, publishes }) =>
      Effect.gen(function*() {
        const hub: Hub = yield* onMemory(SseHub.make(hubOptions()))
        const received = yield* Effect.forEach(clients, (state) => R.subscribeAll(hub, { state: state as User }))
        for (let i = 0; i < publishes.length; i++) {
          const to = publishes[i]
          yield* hub.publish(String(i), to === undefined ? undefined : { to: to as Target })
        }
        yield* hub.publish("end")
        for (let c = 0; c < clients.length; c++) {
          const expected = publishes.flatMap((to, i) =>
            to === undefined || target.matches(to as Target, clients[c] as User) ? [String(i)] : []
          )
          const got = yield* received[c].atLeast(expected.length + 1)
          expect(datas(got)).toEqual([...expected, "end"])
        }
      }).pipe(Effect.scoped),
    { fastCheck: { numRuns: 30 } }
  )
})

class HubA extends Context.Tag("test/SseHubTarget/HubA")<HubA, Hub>() {}
class HubB extends Context.Tag("test/SseHubTarget/HubB")<HubB, Hub>() {}

R.describeWithRedis("SseHub targeting on Redis", ["shared"], () => {
  /** Two hubs on one stream, each on a backend of its own (two processes), both ready. */
  const twoHubs = Effect.gen(function*() {
    const redis = yield* R.admin(R.redisUrl)
    const prefix = yield* R.keyPrefix(redis, "target")
    const backend = SseHubRedis.layer({ url: R.redisUrl, prefix, reconnect: Schedule.spaced("50 millis") })
    const context = yield* Layer.build(Layer.merge(
      SseHub.layer(HubA, hubOptions("redis-target")).pipe(Layer.provide(backend)),
      SseHub.layer(HubB, hubOptions("redis-target")).pipe(Layer.provide(backend))
    )).pipe(Effect.orDie)
    const hubs = [Context.get(context, HubA), Context.get(context, HubB)] as const
    yield* R.ready(hubs, "probe")
    return hubs
  })

  it.scopedLive("a target published on one process reaches the matching clients of the other, live and on resumption", () =>
    Effect.gen(function*() {
      const [a, b] = yield* twoHubs
      const annOnB = yield* R.subscribeAll(b, { state: ann })
      const bobOnB = yield* serveInProcess(b, eventsRequest(), { state: bob })
      const cidOnA = yield* R.subscribeAll(a, { state: cid })
      yield* awaitClients(b, (n) => n === 2, "2 on b")

      const first = yield* a.publish("for ann", { to: { user: "ann" } })
      yield* a.publish("for members", { to: { role: "member" } })
      const last = yield* a.publish("for everyone")

      expect(datas(yield* annOnB.seen((e) => e.id === last, "the last publish"))).toEqual(["for ann", "for everyone"])
      expect(datas(yield* bobOnB.events(2))).toEqual(["for members", "for everyone"])
      expect(datas(yield* cidOnA.seen((e) => e.id === last, "the last publish"))).toEqual([
        "for members",
        "for everyone"
      ])

      // The target came back from Redis as data: resuming on the other process filters the history the same way.
      const bobResumed = yield* R.subscribeAll(b, { state: bob, lastEventId: Option.some(first) })
      expect(datas(yield* bobResumed.atLeast(2))).toEqual(["for members", "for everyone"])
      const annResumed = yield* R.subscribeAll(a, { state: ann, lastEventId: Option.some(first) })
      expect(datas(yield* annResumed.atLeast(1))).toEqual(["for everyone"])

      // Each process lists its own clients.
      expect((yield* b.clients).map((c) => c.state?.user)).toEqual(["ann", "bob", "bob"])
      expect((yield* a.clients).map((c) => c.state?.user)).toEqual(["cid", "ann"])

      const error = yield* Effect.flip(a.publish("bad", { to: { user: "" } }))
      expect(error).toMatchObject({ _tag: "PublishRejected", reason: "InvalidTarget" })
    }))
})
