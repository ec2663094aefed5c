/**
 * `SseClient.connect`: the client's state, each transition against a scripted `node:http` server on port 0, and
 * the delays it announces on the test clock.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Fiber, Schedule, Schema, Stream, TestClock } from "effect"
import * as SseClient from "../src/SseClient.js"
import type * as SseParser from "../src/SseParser.js"
import { awaitSleep, event, type Handler, noContent, scripted, sse, sseThenBreak, status } from "./SseClientScript.js"

const layer = NodeHttpClient.layerUndici
const fast = { retry: "1 millis" } as const

/** A handler that waits for `open()` before it answers, so a test can watch the state before the answer. */
const gated = (handler: Handler) => {
  let release = () => {}
  const gate = new Promise<void>((resolve) => release = resolve)
  const gatedHandler: Handler = (seen, res, index) => void gate.then(() => handler(seen, res, index))
  return { handler: gatedHandler, open: () => release() }
}

/** Records every state the client goes through, from the current one on. */
const recordStates = (client: SseClient.Client<unknown>) =>
  Effect.gen(function*() {
    const states: Array<SseClient.State> = []
    yield* client.changes.pipe(Stream.runForEach((state) => Effect.sync(() => states.push(state))), Effect.forkScoped)
    return states
  })

/** Waits (on state changes, not on a clock) until the client is in a state that `predicate` accepts. */
const until = (client: SseClient.Client<unknown>, predicate: (state: SseClient.State) => boolean) =>
  client.changes.pipe(Stream.filter(predicate), Stream.runHead, Effect.flatten, Effect.orDie)

/** The next `Reconnecting` state after `previous`. */
const nextReconnecting = (client: SseClient.Client<unknown>, previous?: SseClient.State) =>
  until(client, (s) => s._tag === "Reconnecting" && s !== previous).pipe(
    Effect.map((s) => s as Extract<SseClient.State, { _tag: "Reconnecting" }>)
  )

const collectEvents = <A>(client: SseClient.Client<A>) =>
  Stream.runCollect(client.events).pipe(Effect.map(Chunk.toReadonlyArray))

const tags = (states: ReadonlyArray<SseClient.State>) => states.map((state) => state._tag)

describe("SseClient.connect: the state", () => {
  it.live(
    "Connecting, Open with the status and headers, Reconnecting with the network error, Open again with Last-Event-ID, Stopped on 204",
    () =>
      Effect.gen(function*() {
        const first = gated((_, res) => {
          res.writeHead(200, { "content-type": "text/event-stream", "x-served-by": "one" })
          res.write("id: 1\ndata: a\n\n", () => res.destroy())
        })
        const server = yield* scripted(first.handler, sse("data: b\n\n"), noContent)
        const client = yield* SseClient.connect(server.origin, fast)
        const states = yield* recordStates(client)
        yield* server.awaitRequests(1)
        assert.deepStrictEqual(yield* client.state, SseClient.State.Connecting())
        assert.strictEqual(yield* client.readyState, SseClient.CONNECTING)
        first.open()

        const events = yield* collectEvents(client)
        assert.deepStrictEqual(events, [event("a", "1"), event("b", "1")])
        assert.deepStrictEqual(tags(states), [
          "Connecting",
          "Open",
          "Reconnecting",
          "Open",
          "Reconnecting",
          "Stopped"
        ])
        const [, open, dropped, , ended, stopped] = states
        assert(open._tag === "Open")
        assert.strictEqual(open.status, 200)
        assert.strictEqual(open.headers["x-served-by"], "one")
        assert(dropped._tag === "Reconnecting")
        assert.strictEqual(dropped.cause?.reason, "Transport")
        assert.instanceOf(dropped.cause, SseClient.SseClientError)
        assert.strictEqual(dropped.attempt, 1)
        assert.strictEqual(dropped.lastEventId, "1")
        assert.isTrue(Duration.equals(dropped.delay, Duration.millis(1)))
        // The server ended the second body cleanly: no error behind that reconnection.
        assert(ended._tag === "Reconnecting")
        assert.isUndefined(ended.cause)
        assert.deepStrictEqual(stopped, SseClient.State.Stopped({ reason: "NoContent" }))
        assert.deepStrictEqual(states.map(SseClient.readyStateOf), [0, 1, 0, 1, 0, 2])
        assert.strictEqual(yield* client.readyState, SseClient.CLOSED)
        assert.deepStrictEqual(server.requests.map((r) => r.lastEventId), [undefined, "1", "1"])
        // The changes end with the final state.
        assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Stream.runCollect(client.changes)), [stopped])
      }).pipe(Effect.scoped, Effect.provide(layer))
  )

  it.live("readyState is OPEN while a connection is open; close aborts it: Closed, the events end, CLOSED", () =>
    Effect.gen(function*() {
      const server = yield* scripted(sse("id: 1\ndata: a\n\n", { stayOpen: true }))
      const client = yield* SseClient.connect(server.origin, fast)
      const first = yield* client.events.pipe(Stream.take(1), Stream.runCollect)
      assert.deepStrictEqual(Chunk.toReadonlyArray(first), [event("a", "1")])
      assert.strictEqual(yield* client.readyState, SseClient.OPEN)
      yield* client.close
      assert.deepStrictEqual(yield* client.state, SseClient.State.Closed())
      assert.strictEqual(yield* client.readyState, SseClient.CLOSED)
      // The rest of the events: none, and no error.
      assert.deepStrictEqual(yield* collectEvents(client), [])
      // Bounded by the test timeout: the server sees its response closed.
      yield* Effect.promise(() => server.requests[0].closed)
      assert.strictEqual(server.requests.length, 1)
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.live("closing the client's scope closes it", () =>
    Effect.gen(function*() {
      const server = yield* scripted(sse(": hello\n\n", { stayOpen: true }))
      const client = yield* Effect.scoped(
        Effect.gen(function*() {
          const client = yield* SseClient.connect(server.origin, fast)
          yield* until(client, (s) => s._tag === "Open")
          return client
        })
      )
      assert.deepStrictEqual(yield* client.state, SseClient.State.Closed())
      yield* Effect.promise(() => server.requests[0].closed)
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.live("500: Failed with the Status error, which the events fail with; no reconnection", () =>
    Effect.gen(function*() {
      const server = yield* scripted(status(500))
      const client = yield* SseClient.connect(server.origin, fast)
      const error = yield* Effect.flip(collectEvents(client))
      assert.strictEqual(error.reason, "Status")
      assert.strictEqual(error.status, 500)
      assert.deepStrictEqual(yield* client.state, SseClient.State.Failed({ error }))
      assert.strictEqual(yield* client.readyState, SseClient.CLOSED)
      // Final: closing does not turn it into Closed.
      yield* client.close
      assert.strictEqual((yield* client.state)._tag, "Failed")
      assert.strictEqual(server.requests.length, 1)
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.live("a Content-Type that is not text/event-stream: Failed with the ContentType error", () =>
    Effect.gen(function*() {
      const server = yield* scripted(sse("data: a\n\n", { contentType: "text/html" }))
      const client = yield* SseClient.connect(server.origin, fast)
      const state = yield* until(client, (s) => s._tag === "Failed")
      assert(state._tag === "Failed")
      assert.strictEqual(state.error.reason, "ContentType")
      assert.strictEqual(state.error.contentType, "text/html")
      assert.strictEqual((yield* Effect.flip(collectEvents(client))).reason, "ContentType")
      assert.strictEqual(server.requests.length, 1)
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.live("with reconnect off, a clean end is Stopped (End) and a network error Failed (Transport)", () =>
    Effect.gen(function*() {
      const server = yield* scripted(sse("data: a\n\n"), sseThenBreak("data: b\n\n"))
      const ended = yield* SseClient.connect(server.origin, { reconnect: false })
      assert.deepStrictEqual(yield* collectEvents(ended), [event("a")])
      assert.deepStrictEqual(yield* ended.state, SseClient.State.Stopped({ reason: "End" }))
      const broken = yield* SseClient.connect(server.origin, { reconnect: false })
      const seen: Array<SseParser.Event> = []
      const error = yield* broken.events.pipe(Stream.runForEach((e) => Effect.sync(() => seen.push(e))), Effect.flip)
      assert.deepStrictEqual(seen, [event("b")])
      assert.strictEqual(error.reason, "Transport")
      assert.deepStrictEqual(yield* broken.state, SseClient.State.Failed({ error }))
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.live("connectSchema: data that does not decode is Failed with the Decode error", () =>
    Effect.gen(function*() {
      const server = yield* scripted(sse("id: 1\ndata: {\"n\":1}\n\nid: 2\ndata: {\"n\":\"two\"}\n\n"))
      const client = yield* SseClient.connectSchema(Schema.Struct({ n: Schema.Number }))(server.origin, fast)
      const seen: Array<number> = []
      const error = yield* client.events.pipe(
        Stream.runForEach((e) => Effect.sync(() => seen.push(e.data.n))),
        Effect.flip
      )
      assert.deepStrictEqual(seen, [1])
      assert.strictEqual(error.reason, "Decode")
      assert.strictEqual(error.lastEventId, "2")
      assert.deepStrictEqual(yield* client.state, SseClient.State.Failed({ error }))
    }).pipe(Effect.scoped, Effect.provide(layer)))
})

describe("SseClient.connect: the delays it announces, on the test clock", () => {
  it.effect("Reconnecting's delay is the initial reconnection time, then the one set by `retry:`; it sleeps that", () =>
    Effect.gen(function*() {
      const server = yield* scripted(sse("data: a\n\n"), sse("retry: 5000\ndata: b\n\n"), noContent)
      const client = yield* SseClient.connect(server.origin)
      const events = yield* Effect.fork(collectEvents(client))
      const first = yield* nextReconnecting(client)
      assert.isTrue(Duration.equals(first.delay, SseClient.defaultRetry))
      assert.strictEqual(yield* awaitSleep, 3000)
      yield* TestClock.adjust("3 seconds")
      const second = yield* nextReconnecting(client, first)
      assert.strictEqual(second.attempt, 1)
      assert.isTrue(Duration.equals(second.delay, Duration.seconds(5)))
      assert.strictEqual(yield* awaitSleep, 5000)
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(yield* Fiber.join(events), [event("a"), event("b")])
      assert.deepStrictEqual(yield* client.state, SseClient.State.Stopped({ reason: "NoContent" }))
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.effect("with a backoff schedule, the delay is the reconnection time plus its wait; attempts count until Open", () =>
    Effect.gen(function*() {
      const server = yield* scripted(
        (_, res) => res.socket?.destroy(),
        (_, res) => res.socket?.destroy(),
        sse("data: a\n\n"),
        noContent
      )
      const client = yield* SseClient.connect(server.origin, {
        retry: "1 second",
        backoff: Schedule.exponential("10 seconds")
      })
      const states = yield* recordStates(client)
      const events = yield* Effect.fork(collectEvents(client))
      const announced: Array<readonly [number, number, string | undefined]> = []
      let previous: SseClient.State | undefined
      for (let request = 2; request <= 4; request++) {
        const state = yield* nextReconnecting(client, previous)
        previous = state
        announced.push([Duration.toMillis(state.delay), state.attempt, state.cause?.reason])
        // It sleeps what it announced: the reconnection time, then the schedule's wait.
        const reconnectionTime = yield* awaitSleep
        yield* TestClock.adjust(`${reconnectionTime} millis`)
        const extra = yield* awaitSleep
        assert.strictEqual(reconnectionTime + extra, Duration.toMillis(state.delay))
        yield* TestClock.adjust(`${extra} millis`)
        yield* server.awaitRequests(request)
      }
      // The third connection opened, so the schedule and the attempts start over.
      assert.deepStrictEqual(announced, [[11_000, 1, "Transport"], [21_000, 2, "Transport"], [11_000, 1, undefined]])
      assert.deepStrictEqual(yield* Fiber.join(events), [event("a")])
      assert.deepStrictEqual(tags(states), [
        "Connecting",
        "Reconnecting",
        "Reconnecting",
        "Open",
        "Reconnecting",
        "Stopped"
      ])
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.effect("when the backoff schedule ends: Failed after a network error, Stopped (End) after a clean close", () =>
    Effect.gen(function*() {
      const broken = yield* scripted((_, res) => res.socket?.destroy())
      const failing = yield* SseClient.connect(broken.origin, { backoff: Schedule.recurs(0) })
      const failed = yield* until(failing, (s) => s._tag === "Failed")
      assert(failed._tag === "Failed")
      assert.strictEqual(failed.error.reason, "Transport")
      assert.strictEqual(broken.requests.length, 1)

      const ending = yield* scripted(sse("data: a\n\n"))
      const client = yield* SseClient.connect(ending.origin, { backoff: Schedule.recurs(0) })
      assert.deepStrictEqual(yield* collectEvents(client), [event("a")])
      assert.deepStrictEqual(yield* client.state, SseClient.State.Stopped({ reason: "End" }))
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.effect("close while it waits to reconnect: Closed, the events end, and no further request", () =>
    Effect.gen(function*() {
      const server = yield* scripted(sseThenBreak("id: 1\ndata: a\n\n"))
      const client = yield* SseClient.connect(server.origin, { retry: "10 seconds" })
      const events = yield* Effect.fork(collectEvents(client))
      yield* until(client, (s) => s._tag === "Reconnecting")
      assert.strictEqual(yield* client.readyState, SseClient.CONNECTING)
      yield* client.close
      assert.deepStrictEqual(yield* client.state, SseClient.State.Closed())
      assert.deepStrictEqual(yield* Fiber.join(events), [event("a", "1")])
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(server.requests.length, 1)
    }).pipe(Effect.scoped, Effect.provide(layer)))
})
