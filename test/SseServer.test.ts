/**
 * SseServer in-process, under the TestClock: the open streams of a server, ticked once a second by the server
 * (keep-alive, stall rule), counted, and ended together when the service is released.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, Ref, Scope, Stream, TestClock } from "effect"
import * as SseConnection from "../src/SseConnection.js"
import * as SseEvent from "../src/SseEvent.js"
import * as SseResponse from "../src/SseResponse.js"
import * as SseServer from "../src/SseServer.js"
import { runBody, serveBody, within } from "./utils/inProcess.js"

const connected = ": connected\n\n"
const keepAlive = ": keep-alive\n\n"

/** A stream that counts how often it was finalized, and never ends by itself. */
const quiet = Effect.map(Ref.make(0), (finalized) => ({
  events: Stream.never.pipe(Stream.ensuring(Ref.update(finalized, (n) => n + 1))) as Stream.Stream<SseEvent.SseEvent>,
  finalized: Ref.get(finalized)
}))

/**
 * One event, written once `send` runs (after the client has read `: connected`, so that the event is what waits
 * for it, whatever order the fibers run in), then quiet; finalizations counted.
 */
const oneThenQuiet = (data: string) =>
  Effect.map(Effect.zip(Ref.make(0), Deferred.make<void>()), ([finalized, go]) => ({
    events: Stream.fromEffect(Effect.as(Deferred.await(go), SseEvent.make(data))).pipe(
      Stream.concat(Stream.never),
      Stream.ensuring(Ref.update(finalized, (n) => n + 1))
    ),
    send: Deferred.succeed(go, undefined),
    finalized: Ref.get(finalized)
  }))

const open = Effect.flatMap(SseServer.SseServer, (server) => server.open)

/**
 * Runs a test under an `SseServer`: the test's clients (its scope) leave first, then the server is released, as
 * when a process stops its listener after its clients are gone. (Released with clients still connected, it would
 * wait for its grace period on the TestClock.)
 */
const underServer = <A, E, R>(test: Effect.Effect<A, E, R>) =>
  Effect.scoped(test).pipe(Effect.provide(SseServer.layer()))

describe("SseServer keep-alive (TestClock)", () => {
  it.effect("a quiet stream under the server hears ': keep-alive' between the interval and the interval + 1 s after its last write", () =>
    Effect.gen(function*() {
      // Served at 0 s: the server's ticker starts with its first stream, so its ticks fall on whole seconds.
      const first = yield* runBody(yield* SseResponse.stream(Stream.never, { keepAlive: "15 seconds" }))
      yield* TestClock.adjust("3500 millis")
      // Served at 3.5 s: ticked with the others, at 4 s, 5 s, …
      const second = yield* runBody(yield* SseResponse.stream(Stream.never, { keepAlive: "15 seconds" }))
      yield* TestClock.adjust("11499 millis")
      // 14.999 s
      expect(yield* first.text).toBe(connected)
      yield* TestClock.adjust("1 millis")
      // 15 s: the first stream has been quiet for exactly its interval at a tick.
      expect(yield* first.text).toBe(connected + keepAlive)
      expect(yield* second.text).toBe(connected)
      // 18.499 s: the second has not been quiet for 15 s yet.
      yield* TestClock.adjust("3499 millis")
      expect(yield* second.text).toBe(connected)
      // 19.5 s: it heard its keep-alive at the tick after 18.5 s.
      yield* TestClock.adjust("1001 millis")
      expect(yield* second.text).toBe(connected + keepAlive)
      expect(yield* first.text).toBe(connected + keepAlive)
    }).pipe(underServer))

  it.effect("writes restart the quiet period of their own stream only", () =>
    Effect.gen(function*() {
      const handed = yield* Deferred.make<SseConnection.SseConnection>()
      const talking = yield* runBody(
        yield* SseConnection.upgrade(
          (connection) => Effect.zipRight(Deferred.succeed(handed, connection), Effect.never),
          {
            keepAlive: "10 seconds"
          }
        )
      )
      const silent = yield* runBody(yield* SseResponse.stream(Stream.never, { keepAlive: "10 seconds" }))
      const connection = yield* within(Deferred.await(handed), "the handler to start")
      yield* TestClock.adjust("5 seconds")
      yield* connection.sendData("news")
      yield* TestClock.adjust("5 seconds")
      // 10 s: the silent stream's interval is over, the talking one wrote 5 s ago.
      expect(yield* silent.text).toBe(connected + keepAlive)
      expect(yield* talking.text).toBe(`${connected}data: news\n\n`)
      yield* TestClock.adjust("4999 millis")
      expect(yield* talking.text).toBe(`${connected}data: news\n\n`)
      yield* TestClock.adjust("1001 millis")
      expect(yield* talking.text).toBe(`${connected}data: news\n\n${keepAlive}`)
    }).pipe(underServer))
})

describe("SseServer drops a client that takes nothing for writeTimeout (TestClock)", () => {
  it.effect("even when nothing more is written: one event waiting, then quiet; dropped within a second after writeTimeout (default 10 s)", () =>
    Effect.gen(function*() {
      const stream = yield* oneThenQuiet("never read")
      // The client takes `: connected` (serving the response reads it) and nothing more.
      const body = yield* serveBody(yield* SseResponse.stream(stream.events, { keepAlive: false }))
      yield* stream.send
      yield* TestClock.adjust("9999 millis")
      expect(yield* open).toBe(1)
      expect(yield* stream.finalized).toBe(0)
      yield* TestClock.adjust("1001 millis")
      expect(yield* open).toBe(0)
      expect(yield* stream.finalized).toBe(1)
      // The unsent event was discarded and the body is over.
      expect(yield* within(body.read, "the body to end")).toBe(false)
      expect(yield* body.text).toBe(connected)
    }).pipe(underServer))

  it.effect("even when the application publishes nothing at all: the keep-alive waits, and the client is dropped", () =>
    Effect.gen(function*() {
      const stream = yield* quiet
      const body = yield* serveBody(
        yield* SseResponse.stream(stream.events, { keepAlive: "15 seconds", writeTimeout: "10 seconds" })
      )
      // 15 s: the keep-alive is written, and the client does not take it.
      yield* TestClock.adjust("15 seconds")
      expect(yield* open).toBe(1)
      // Not before writeTimeout after the keep-alive…
      yield* TestClock.adjust("9999 millis")
      expect(yield* open).toBe(1)
      expect(yield* stream.finalized).toBe(0)
      // …and within a second after it.
      yield* TestClock.adjust("1001 millis")
      expect(yield* open).toBe(0)
      expect(yield* stream.finalized).toBe(1)
      expect(yield* within(body.read, "the body to end")).toBe(false)
    }).pipe(underServer))

  it.effect("an SseConnection whose client stopped reading is closed too, and its handler's finalizer runs", () =>
    Effect.gen(function*() {
      const finalized = yield* Deferred.make<void>()
      const handed = yield* Deferred.make<SseConnection.SseConnection>()
      // The event is sent once the client has read `: connected`, whatever order the fibers run in.
      const send = yield* Deferred.make<void>()
      const response = yield* SseConnection.upgrade((connection) =>
        Effect.gen(function*() {
          yield* Effect.addFinalizer(() => Deferred.succeed(finalized, undefined))
          yield* Deferred.succeed(handed, connection)
          yield* Deferred.await(send)
          yield* connection.sendData("never read")
          return yield* Effect.never
        }), { writeTimeout: "3 seconds", keepAlive: false })
      yield* serveBody(response)
      yield* Deferred.succeed(send, undefined)
      const connection = yield* within(Deferred.await(handed), "the handler to start")
      yield* TestClock.adjust("2999 millis")
      expect(yield* connection.isOpen).toBe(true)
      yield* TestClock.adjust("1001 millis")
      yield* within(connection.done, "the connection to be dropped")
      yield* within(Deferred.await(finalized), "the handler's finalizer")
      expect(yield* Effect.flip(connection.sendData("late"))).toMatchObject({ reason: "WriteTimeout" })
    }).pipe(underServer))

  it.effect("a client with nothing waiting for it is never dropped, however long it takes nothing", () =>
    Effect.gen(function*() {
      const stream = yield* quiet
      yield* serveBody(yield* SseResponse.stream(stream.events, { keepAlive: false, writeTimeout: "1 second" }))
      yield* TestClock.adjust("1 minute")
      expect(yield* open).toBe(1)
      expect(yield* stream.finalized).toBe(0)
    }).pipe(underServer))
})

describe("SseServer's release (TestClock)", () => {
  it.scoped("ends every stream cleanly at once, and after the grace period (default 1 s) cuts those that could not finish", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* SseServer.make().pipe(Scope.extend(scope))
      const serveUnder = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.provideService(effect, SseServer.SseServer, server)

      // A client that reads a quiet stream, one that reads a connection, and one that stopped reading with an
      // event still waiting for it.
      const reading = yield* quiet
      const readingBody = yield* runBody(yield* serveUnder(SseResponse.stream(reading.events)))
      const handlerFinalized = yield* Deferred.make<void>()
      const handed = yield* Deferred.make<SseConnection.SseConnection>()
      const connectionBody = yield* runBody(
        yield* serveUnder(SseConnection.upgrade((connection) =>
          Effect.gen(function*() {
            yield* Effect.addFinalizer(() => Deferred.succeed(handlerFinalized, undefined))
            yield* Deferred.succeed(handed, connection)
            yield* connection.sendData("hello")
            return yield* Effect.never
          })
        ))
      )
      const connection = yield* within(Deferred.await(handed), "the handler to start")
      const stalled = yield* oneThenQuiet("never read")
      const stalledBody = yield* serveBody(yield* serveUnder(SseResponse.stream(stalled.events)))
      yield* stalled.send
      yield* TestClock.adjust("0 millis")
      expect(yield* server.open).toBe(3)

      const release = yield* Effect.fork(Scope.close(scope, Exit.void))
      // The streams whose clients read end at once: their bodies complete (a clean end, not a failure).
      expect(yield* within(Fiber.join(readingBody.fiber), "the reading client's body to end")).toBeUndefined()
      expect(yield* readingBody.text).toBe(connected)
      expect(yield* within(Fiber.join(connectionBody.fiber), "the connection's body to end")).toBeUndefined()
      expect(yield* connectionBody.text).toBe(`${connected}data: hello\n\n`)
      yield* within(connection.done, "the connection to end")
      yield* within(Deferred.await(handlerFinalized), "the handler's finalizer")
      expect(yield* reading.finalized).toBe(1)
      // The stalled one is given the grace period to take what waits for it.
      yield* TestClock.adjust("999 millis")
      expect(yield* server.open).toBe(1)
      expect(yield* stalled.finalized).toBe(0)
      expect(yield* Fiber.poll(release)).toEqual(Option.none())
      yield* TestClock.adjust("1 millis")
      yield* within(Fiber.join(release), "the release to complete after the grace period")
      expect(yield* server.open).toBe(0)
      expect(yield* stalled.finalized).toBe(1)
      // Cut: what was waiting is discarded, and the body is over.
      expect(yield* within(stalledBody.read, "the stalled body to end")).toBe(false)
      expect(yield* stalledBody.text).toBe(connected)
    }))

  it.scoped("gracePeriod sets how long streams may take to finish", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* SseServer.make({ gracePeriod: "5 seconds" }).pipe(Scope.extend(scope))
      const stalled = yield* oneThenQuiet("never read")
      yield* serveBody(
        yield* SseResponse.stream(stalled.events, { writeTimeout: "1 minute" }).pipe(
          Effect.provideService(SseServer.SseServer, server)
        )
      )
      yield* stalled.send
      const release = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("4999 millis")
      expect(yield* Fiber.poll(release)).toEqual(Option.none())
      expect(yield* stalled.finalized).toBe(0)
      yield* TestClock.adjust("1 millis")
      yield* within(Fiber.join(release), "the release to complete after the grace period")
      expect(yield* stalled.finalized).toBe(1)
    }))

  it.scoped("with no stream open, the release completes at once", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* SseServer.make().pipe(Scope.extend(scope))
      yield* within(Scope.close(scope, Exit.void), "the release")
    }))

  it.scoped("a response served while the server shuts down gets ': connected' and ends", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* SseServer.make().pipe(Scope.extend(scope))
      const stalled = yield* oneThenQuiet("never read")
      yield* serveBody(
        yield* SseResponse.stream(stalled.events).pipe(Effect.provideService(SseServer.SseServer, server))
      )
      yield* stalled.send
      // Built before the shutdown, served during it (within the grace period the stalled stream holds it open).
      const late = yield* SseResponse.stream(Stream.never).pipe(Effect.provideService(SseServer.SseServer, server))
      const release = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("0 millis")
      const lateBody = yield* runBody(late)
      yield* within(Fiber.join(lateBody.fiber), "the late response to end")
      expect(yield* lateBody.text).toBe(connected)
      yield* TestClock.adjust("1 second")
      yield* within(Fiber.join(release), "the release")
    }))
})

describe("SseServer.open", () => {
  it.effect("counts the streams being served: not a response built and not served, not a stream that is over", () =>
    Effect.gen(function*() {
      expect(yield* open).toBe(0)
      const notServed = yield* SseResponse.stream(Stream.never)
      expect(notServed.status).toBe(200)
      expect(yield* open).toBe(0)

      const leaving = yield* serveBody(yield* SseResponse.stream(Stream.never))
      yield* serveBody(yield* SseResponse.stream(Stream.never))
      const finite = yield* Deferred.make<void>()
      const finiteBody = yield* runBody(
        yield* SseResponse.stream(Stream.fromEffect(Deferred.await(finite)).pipe(Stream.as(SseEvent.make("last"))))
      )
      const handed = yield* Deferred.make<SseConnection.SseConnection>()
      yield* runBody(
        yield* SseConnection.upgrade((connection) =>
          Effect.zipRight(Deferred.succeed(handed, connection), Effect.never)
        )
      )
      const connection = yield* within(Deferred.await(handed), "the handler to start")
      expect(yield* open).toBe(4)

      // A client leaves.
      yield* leaving.leave
      expect(yield* open).toBe(3)
      // A finite stream ends.
      yield* Deferred.succeed(finite, undefined)
      yield* within(Fiber.join(finiteBody.fiber), "the finite stream to end")
      expect(yield* open).toBe(2)
      // A connection is closed (its client reads: nothing is left waiting).
      yield* connection.close
      yield* within(connection.done, "the connection to end")
      expect(yield* open).toBe(1)
    }).pipe(underServer))
})
