import { HttpRouter, HttpServerRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import {
  Cause,
  Deferred,
  Effect,
  Either,
  Exit,
  FastCheck as fc,
  Fiber,
  Option,
  Ref,
  Schedule,
  Stream,
  SubscriptionRef,
  Supervisor,
  TestClock
} from "effect"
import * as SseConnection from "../src/SseConnection.js"
import * as SseEvent from "../src/SseEvent.js"
import * as SseResponse from "../src/SseResponse.js"
import { bodyStream, collectBody, makeLogCapture, runBody, within } from "./utils/inProcess.js"
import { fieldNames, parse } from "./utils/parse.js"
import * as TestServer from "./utils/server.js"
import * as SseSocket from "./utils/sseSocket.js"

const connected = ": connected\n\n"
const keepAlive = ": keep-alive\n\n"

const requestWith = (headers: Record<string, string>) =>
  HttpServerRequest.fromWeb(new Request("http://127.0.0.1/events", { headers }))

/**
 * Upgrades to a connection whose handler registers a finalizer, hands the connection to the test and then
 * waits forever, so that the test decides from outside (like a hub would) what happens to the connection.
 */
const open = (options?: SseConnection.UpgradeOptions) =>
  Effect.gen(function*() {
    const handed = yield* Deferred.make<SseConnection.SseConnection>()
    const finalizers = yield* Ref.make(0)
    const response = yield* SseConnection.upgrade((connection) =>
      Effect.gen(function*() {
        yield* Effect.addFinalizer(() => Ref.update(finalizers, (n) => n + 1))
        yield* Deferred.succeed(handed, connection)
        return yield* Effect.never
      }), options)
    const connection = yield* Deferred.await(handed)
    return { response, connection, finalizers: Ref.get(finalizers) }
  })

const closedWith = (reason: "Closed" | "WriteTimeout") => ({ _tag: "ConnectionClosed", reason })

describe("SseConnection.upgrade in-process", () => {
  it.effect("lastEventId is the request's Last-Event-ID header, None when it is absent or empty", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<Array<Option.Option<string>>>([])
      const record = SseConnection.upgrade((connection) => Ref.update(seen, (all) => [...all, connection.lastEventId]))
      for (const headers of [{ "last-event-id": "evt-41" }, {}, { "last-event-id": "" }]) {
        const response = yield* Effect.provideService(record, HttpServerRequest.HttpServerRequest, requestWith(headers))
        yield* collectBody(response)
      }
      // Outside an HTTP server there is no request at all.
      yield* collectBody(yield* record)
      expect(yield* Ref.get(seen)).toEqual([Option.some("evt-41"), Option.none(), Option.none(), Option.none()])
    }))

  it.effect("writes ': connected' first, then what the handler sends, and ends when the handler returns", () =>
    Effect.gen(function*() {
      const response = yield* SseConnection.upgrade((connection) =>
        Effect.gen(function*() {
          yield* connection.send(SseEvent.make("one").pipe(SseEvent.withId("1")))
          yield* connection.sendData("two\nlines")
          yield* connection.sendJSON({ n: 3 })
        })
      )
      expect(response.headers["cache-control"]).toBe("no-cache")
      expect(response.body._tag === "Stream" && response.body.contentType).toBe("text/event-stream")
      expect(yield* collectBody(response)).toBe(
        `${connected}id: 1\ndata: one\n\ndata: two\ndata: lines\n\ndata: {"n":3}\n\n`
      )
    }))

  it.effect("the retry option writes 'retry: N' right after ': connected'", () =>
    Effect.gen(function*() {
      const response = yield* SseConnection.upgrade((connection) => connection.sendData("x"), { retry: 1500 })
      expect(yield* collectBody(response)).toBe(`${connected}retry: 1500\n\ndata: x\n\n`)
    }))

  it.effect("data sent before close is still delivered, then the response ends", () =>
    Effect.gen(function*() {
      const { connection, response } = yield* open()
      yield* connection.sendData("a")
      yield* connection.sendData("b")
      yield* connection.sendData("c")
      yield* connection.close
      // The body has not been read at all yet: everything sent before the close is still on its way.
      expect(yield* collectBody(response)).toBe(`${connected}data: a\n\ndata: b\n\ndata: c\n\n`)
    }))

  it.effect("send after close fails with ConnectionClosed (Closed) at once, without the clock moving", () =>
    Effect.gen(function*() {
      const { connection, response } = yield* open()
      yield* connection.sendData("pending")
      yield* connection.close
      // Data still queued (the body is not read yet) must not make later sends wait.
      expect(yield* Effect.flip(connection.send(SseEvent.make("late")))).toMatchObject(closedWith("Closed"))
      expect(yield* Effect.flip(connection.sendData("late"))).toMatchObject(closedWith("Closed"))
      expect(yield* Effect.flip(connection.sendJSON({ late: true }))).toMatchObject(closedWith("Closed"))
      expect(yield* Effect.flip(SseConnection.send(connection, SseEvent.make("late")))).toMatchObject(
        closedWith("Closed")
      )
      expect(yield* collectBody(response)).toBe(`${connected}data: pending\n\n`)
      // And once the response has ended.
      expect(yield* Effect.flip(connection.sendData("later"))).toMatchObject(closedWith("Closed"))
    }))

  it.effect("a failed send is an instance of the exported ConnectionClosed class", () =>
    Effect.gen(function*() {
      const { connection } = yield* open()
      yield* connection.close
      const error = yield* Effect.flip(connection.sendData("late"))
      expect(error).toBeInstanceOf(SseConnection.ConnectionClosed)
    }))

  it.effect("close is idempotent: the response ends once and the handler's finalizer runs once", () =>
    Effect.gen(function*() {
      const { connection, finalizers, response } = yield* open()
      yield* connection.close
      yield* connection.close
      expect(yield* collectBody(response)).toBe(connected)
      yield* connection.close
      yield* within(connection.done, "done after close")
      expect(yield* finalizers).toBe(1)
    }))

  it.effect("isOpen is true while sends are accepted and false from the moment the connection is closed", () =>
    Effect.gen(function*() {
      const { connection, response } = yield* open()
      expect(yield* connection.isOpen).toBe(true)
      yield* connection.sendData("pending")
      yield* connection.close
      expect(yield* connection.isOpen).toBe(false)
      yield* collectBody(response)
      expect(yield* connection.isOpen).toBe(false)
    }))

  it.effect("isOpen is false after the client left", () =>
    Effect.gen(function*() {
      const { connection, response } = yield* open()
      const body = yield* runBody(response)
      yield* TestClock.adjust("0 millis")
      yield* Fiber.interrupt(body.fiber)
      yield* within(connection.done, "done after the client left")
      // Sends are refused now; isOpen must say so.
      expect(yield* Effect.flip(connection.sendData("late"))).toMatchObject(closedWith("Closed"))
      expect(yield* connection.isOpen).toBe(false)
    }))

  it.effect("an invalid event fails send with SseEventError, is never written, and the connection keeps working", () =>
    Effect.gen(function*() {
      const { connection, response } = yield* open()
      const refused = yield* Effect.forEach(
        [
          SseEvent.make("x").pipe(SseEvent.withId("1\nevent: evil")),
          SseEvent.make("x").pipe(SseEvent.withId("1\0")),
          SseEvent.make("x").pipe(SseEvent.withType("t\r\nid: evil")),
          SseEvent.make("x").pipe(SseEvent.withRetry(-5))
        ],
        (event) => Effect.flip(connection.send(event))
      )
      expect(refused.map((error) => [error._tag, "reason" in error ? error.reason : undefined])).toEqual([
        ["SseEventError", "InvalidId"],
        ["SseEventError", "InvalidId"],
        ["SseEventError", "InvalidType"],
        ["SseEventError", "InvalidRetry"]
      ])
      const jsonError = yield* Effect.flip(connection.sendJSON(1n))
      expect(jsonError).toMatchObject({ _tag: "SseEventError", reason: "InvalidData" })
      expect(yield* connection.isOpen).toBe(true)
      yield* connection.send(SseEvent.make("fine").pipe(SseEvent.withId("2")))
      yield* connection.close
      const body = yield* collectBody(response)
      expect(body).toBe(`${connected}id: 2\ndata: fine\n\n`)
      expect(fieldNames(body)).toEqual([":", "", "id", "data", ""])
    }))

  it.effect.prop(
    "for any injected id or type, the bytes served contain only the valid events",
    [
      fc.string(),
      fc.constantFrom("\n", "\r", "\r\n", "\0"),
      fc.constantFrom("id", "type")
    ],
    ([rest, breaker, field]) =>
      Effect.gen(function*() {
        const injected = `x${breaker}event: evil${breaker}data: ${rest}`
        const bad = field === "id" || breaker !== "\0"
          ? SseEvent.make("bad").pipe(field === "id" ? SseEvent.withId(injected) : SseEvent.withType(injected))
          : SseEvent.make("bad").pipe(SseEvent.withId(injected))
        const { connection, response } = yield* open()
        yield* connection.sendData("before")
        const error = yield* Effect.flip(connection.send(bad))
        expect(error._tag).toBe("SseEventError")
        yield* connection.sendData("after")
        yield* connection.close
        const body = yield* collectBody(response)
        expect(parse([body]).events.map((event) => event.data)).toEqual(["before", "after"])
        expect(fieldNames(body).filter((name) => name !== ":" && name !== "")).toEqual(["data", "data"])
      }),
    { fastCheck: { numRuns: 50 } }
  )

  it.effect("a failing handler is logged and ends the response", () =>
    Effect.gen(function*() {
      const logs = makeLogCapture()
      const response = yield* SseConnection.upgrade((connection) =>
        Effect.zipRight(connection.sendData("before"), Effect.fail("boom"))
      ).pipe(Effect.provide(logs.layer))
      expect(yield* collectBody(response)).toBe(`${connected}data: before\n\n`)
      const log = logs.lines.join("\n")
      expect(log).toContain("the SSE connection handler failed")
      expect(log).toContain("boom")
    }))

  it.effect("a quiet connection gets a keep-alive at the interval, and sends reset the timer", () =>
    Effect.gen(function*() {
      const { connection, response } = yield* open({ keepAlive: "10 seconds" })
      const body = yield* runBody(response)
      yield* TestClock.adjust("9999 millis")
      expect(yield* body.text).toBe(connected)
      yield* TestClock.adjust("1 millis")
      expect(yield* body.text).toBe(connected + keepAlive)
      yield* TestClock.adjust("5 seconds")
      yield* connection.sendData("tick")
      yield* TestClock.adjust("9999 millis")
      expect(yield* body.text).toBe(`${connected}${keepAlive}data: tick\n\n`)
      yield* TestClock.adjust("1 millis")
      expect(yield* body.text).toBe(`${connected}${keepAlive}data: tick\n\n${keepAlive}`)
    }))

  it.effect("keepAlive: false: a quiet connection gets nothing but ': connected'", () =>
    Effect.gen(function*() {
      const { response } = yield* open({ keepAlive: false })
      const body = yield* runBody(response)
      yield* TestClock.adjust("1 hour")
      expect(yield* body.text).toBe(connected)
    }))
})

describe("SseConnection backpressure in-process (TestClock)", () => {
  it.effect("a send waiting for room resumes as soon as the client reads", () =>
    Effect.gen(function*() {
      // `: connected` (13 bytes) leaves room under the 20-byte high-water mark for one more write, not two.
      const { connection, response } = yield* open({ highWaterMark: 20, writeTimeout: "1 second" })
      yield* connection.sendData("fits")
      const waiting = yield* Effect.fork(connection.sendData("waits"))
      yield* TestClock.adjust("500 millis")
      expect(yield* Fiber.poll(waiting)).toEqual(Option.none())
      const body = yield* runBody(response)
      expect(yield* within(Fiber.join(waiting), "the waiting send")).toBeUndefined()
      yield* connection.close
      yield* within(Fiber.join(body.fiber), "the body to end after close")
      expect(yield* body.text).toBe(`${connected}data: fits\n\ndata: waits\n\n`)
    }))

  it.effect("a send waiting for room fails with Closed as soon as the client leaves, not at the write timeout", () =>
    Effect.gen(function*() {
      // Two 24-byte writes fit under the 40-byte high-water mark once `: connected` was taken; a third waits.
      const { connection, response } = yield* open({ highWaterMark: 40, writeTimeout: "10 seconds" })
      // A client that took the first write and then stopped reading (as a socket whose buffers are full).
      const firstWrite = yield* Deferred.make<void>()
      const client = yield* bodyStream(response).pipe(
        Stream.runForEach(() => Effect.zipRight(Deferred.succeed(firstWrite, undefined), Effect.never)),
        Effect.forkDaemon
      )
      yield* Deferred.await(firstWrite)
      yield* connection.sendData("fills the buffer")
      yield* connection.sendData("fills the buffer")
      const waiting = yield* Effect.fork(Effect.either(connection.sendData("waits")))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.poll(waiting)).toEqual(Option.none())
      // The client leaves.
      yield* Fiber.interruptFork(client)
      yield* within(connection.done, "done after the client left")
      const result = yield* within(Fiber.join(waiting), "the waiting send to fail once the connection is closed")
      expect(Either.flip(result)).toEqual(Either.right(expect.objectContaining(closedWith("Closed"))))
    }))

  it.effect("a client that never reads makes send fail with WriteTimeout at writeTimeout, not before, and closes the connection", () =>
    Effect.gen(function*() {
      // `: connected` (13 bytes) and "fits" (12) reach the 20-byte high-water mark: the next send waits.
      const { connection, finalizers } = yield* open({ highWaterMark: 20, writeTimeout: "1 second" })
      yield* connection.sendData("fits")
      const waiting = yield* Effect.fork(Effect.either(connection.sendData("waits")))
      yield* TestClock.adjust("999 millis")
      expect(yield* Fiber.poll(waiting)).toEqual(Option.none())
      yield* TestClock.adjust("1 millis")
      const result = yield* within(Fiber.join(waiting), "the waiting send")
      expect(Either.flip(result)).toEqual(Either.right(expect.objectContaining(closedWith("WriteTimeout"))))
      yield* within(connection.done, "done after the write timeout")
      expect(yield* finalizers).toBe(1)
      expect(yield* Effect.flip(connection.sendData("later"))).toMatchObject(closedWith("Closed"))
      expect(yield* connection.isOpen).toBe(false)
    }))

  it.effect("close flushes queued data, but a client that never reads is dropped after writeTimeout", () =>
    Effect.gen(function*() {
      const { connection, finalizers } = yield* open({ writeTimeout: "2 seconds" })
      yield* connection.sendData("queued")
      yield* connection.close
      const done = yield* Effect.fork(connection.done)
      yield* TestClock.adjust("1999 millis")
      expect(yield* Fiber.poll(done)).toEqual(Option.none())
      expect(yield* finalizers).toBe(0)
      yield* TestClock.adjust("1 millis")
      yield* within(Fiber.join(done), "done after the flush timed out")
      expect(yield* finalizers).toBe(1)
    }))
})

describe("SseConnection: whatever ends the connection, done completes and the handler's finalizer runs once", () => {
  const ends: ReadonlyArray<{
    readonly name: string
    readonly options?: SseConnection.UpgradeOptions
    readonly handler: (connection: SseConnection.SseConnection) => Effect.Effect<void, string>
    readonly readBody: boolean
    readonly end: (
      connection: SseConnection.SseConnection,
      body: Fiber.RuntimeFiber<unknown> | undefined
    ) => Effect.Effect<void>
  }> = [
    { name: "close", handler: () => Effect.never, readBody: true, end: (connection) => connection.close },
    {
      name: "the handler returning",
      handler: (c) => c.sendData("bye").pipe(Effect.orDie),
      readBody: true,
      end: () => Effect.void
    },
    { name: "the handler failing", handler: () => Effect.fail("boom"), readBody: true, end: () => Effect.void },
    { name: "the handler dying", handler: () => Effect.dieMessage("kaput"), readBody: true, end: () => Effect.void },
    {
      name: "the client leaving",
      handler: () => Effect.never,
      readBody: true,
      end: (_, body) => (body === undefined ? Effect.void : Fiber.interrupt(body))
    },
    {
      name: "a write timeout",
      // `: connected` alone fills a 1-byte high-water mark: the send waits from the start.
      options: { highWaterMark: 1, writeTimeout: "1 second" },
      handler: (c) => Effect.ignore(c.sendData("stuck")),
      readBody: false,
      end: () => TestClock.adjust("1 second")
    }
  ]

  for (const { end, handler, name, options, readBody } of ends) {
    it.effect(name, () =>
      Effect.gen(function*() {
        const logs = makeLogCapture()
        const finalizers = yield* Ref.make(0)
        const handed = yield* Deferred.make<SseConnection.SseConnection>()
        const response = yield* SseConnection.upgrade((connection) =>
          Effect.gen(function*() {
            yield* Effect.addFinalizer(() => Ref.update(finalizers, (n) => n + 1))
            yield* Deferred.succeed(handed, connection)
            yield* handler(connection)
          }), options).pipe(Effect.provide(logs.layer))
        const connection = yield* Deferred.await(handed)
        const body = readBody
          ? yield* bodyStream(response).pipe(Stream.runDrain, Effect.exit, Effect.forkDaemon)
          : undefined
        yield* TestClock.adjust("0 millis")
        yield* end(connection, body)
        yield* within(connection.done, `done after ${name}`)
        if (body !== undefined) {
          const exit = yield* within(Fiber.await(body), `the body to end after ${name}`)
          // The body ends without a failure: either completed or interrupted by the client leaving.
          expect(Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)).toBe(true)
        }
        expect(yield* Ref.get(finalizers)).toBe(1)
        // Ending it again changes nothing.
        yield* connection.close
        yield* connection.close
        if (body !== undefined) yield* Fiber.interrupt(body)
        yield* TestClock.adjust("1 minute")
        expect(yield* Ref.get(finalizers)).toBe(1)
        expect(yield* Effect.flip(connection.sendData("late"))).toMatchObject(closedWith("Closed"))
      }))
  }
})

// -----------------------------------------------------------------------------
// over a real socket
// -----------------------------------------------------------------------------

describe("SseConnection over a real socket", () => {
  it.live("lastEventId reflects the Last-Event-ID request header (None when absent or empty)", () =>
    Effect.gen(function*() {
      const app = HttpRouter.empty.pipe(HttpRouter.get(
        "/events",
        SseConnection.upgrade((connection) =>
          connection.sendData(
            Option.match(connection.lastEventId, { onNone: () => "none", onSome: (id) => `some ${id}` })
          )
        )
      ))
      const server = yield* TestServer.serve(app)
      const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
        [{ "Last-Event-ID": "evt-41" }, "some evt-41"],
        // EventSource sends the id's UTF-8 bytes.
        [{ "Last-Event-ID": "évt-☃-😀" }, "some évt-☃-😀"],
        [{}, "none"],
        [{ "Last-Event-ID": "" }, "none"]
      ]
      for (const [headers, expected] of cases) {
        const client = yield* SseSocket.connect(server.port, { headers })
        expect(yield* client.awaitEnd()).toBe("end")
        expect(client.body).toBe(`${connected}data: ${expected}\n\n`)
      }
    }).pipe(Effect.scoped))

  it.live("a handler that returns ends the response cleanly, without waiting for the write timeout", () =>
    Effect.gen(function*() {
      const app = HttpRouter.empty.pipe(HttpRouter.get(
        "/events",
        SseConnection.upgrade((connection) => connection.sendData("bye"), { writeTimeout: "1 minute" })
      ))
      const server = yield* TestServer.serve(app)
      const client = yield* SseSocket.connect(server.port)
      yield* client.readUntil(`${connected}data: bye\n\n`)
      // Everything was delivered, so the body ends with the final chunk at once: not after the write timeout,
      // and not by dropping the socket (which a client sees as a network error, not the end of the stream).
      expect(yield* client.awaitEnd("5 seconds")).toBe("end")
      expect(client.body).toBe(`${connected}data: bye\n\n`)
    }).pipe(Effect.scoped))

  it.live("when the client goes away, done completes and the handler's finalizer runs once", () =>
    Effect.gen(function*() {
      const finalizers = yield* Ref.make(0)
      const finalized = yield* Deferred.make<void>()
      const done = yield* Deferred.make<void>()
      const app = HttpRouter.empty.pipe(HttpRouter.get(
        "/events",
        SseConnection.upgrade((connection) =>
          Effect.gen(function*() {
            yield* Effect.addFinalizer(() =>
              Effect.zipRight(Ref.update(finalizers, (n) => n + 1), Deferred.succeed(finalized, undefined))
            )
            yield* Effect.forkDaemon(Effect.zipRight(connection.done, Deferred.succeed(done, undefined)))
            yield* connection.sendData("hello")
            return yield* Effect.never
          })
        )
      ))
      const server = yield* TestServer.serve(app)
      const client = yield* SseSocket.connect(server.port)
      yield* client.readUntil("data: hello\n\n")
      expect(yield* Deferred.isDone(done)).toBe(false)
      client.destroy()
      yield* Deferred.await(done).pipe(Effect.timeout("5 seconds"))
      yield* Deferred.await(finalized).pipe(Effect.timeout("5 seconds"))
      expect(yield* Ref.get(finalizers)).toBe(1)
    }).pipe(Effect.scoped))

  it.live("an invalid event is refused and the client sees only the valid events", () =>
    Effect.gen(function*() {
      const refused = yield* Deferred.make<unknown>()
      const app = HttpRouter.empty.pipe(HttpRouter.get(
        "/events",
        SseConnection.upgrade((connection) =>
          Effect.gen(function*() {
            yield* connection.sendData("before")
            const error = yield* Effect.flip(
              connection.send(SseEvent.make("x").pipe(SseEvent.withId("1\nevent: evil")))
            )
            yield* Deferred.succeed(refused, error)
            yield* connection.sendData("after")
          })
        )
      ))
      const server = yield* TestServer.serve(app)
      const client = yield* SseSocket.connect(server.port)
      expect(yield* client.awaitEnd()).toBe("end")
      expect(client.body).toBe(`${connected}data: before\n\ndata: after\n\n`)
      expect(yield* Deferred.await(refused)).toMatchObject({ _tag: "SseEventError", reason: "InvalidId" })
    }).pipe(Effect.scoped))

  it.live(
    "a client that stops reading makes send fail with WriteTimeout (socket backpressure), and is dropped",
    () =>
      Effect.gen(function*() {
        // 256 KiB per event: the socket buffers fill after a few MB, then the bounded buffer, then send waits.
        const big = SseEvent.make("x".repeat(256 * 1024))
        const outcome = yield* Deferred.make<{ readonly sent: number; readonly error: unknown }>()
        const done = yield* Deferred.make<void>()
        const finalized = yield* Deferred.make<void>()
        const app = HttpRouter.empty.pipe(HttpRouter.get(
          "/events",
          SseConnection.upgrade((connection) =>
            Effect.gen(function*() {
              yield* Effect.addFinalizer(() => Deferred.succeed(finalized, undefined))
              yield* Effect.forkDaemon(Effect.zipRight(connection.done, Deferred.succeed(done, undefined)))
              // Bounded: 1000 events would be 256 MB, far more than any socket buffers.
              for (let sent = 0; sent < 1000; sent++) {
                const result = yield* Effect.either(connection.send(big))
                if (Either.isLeft(result)) return yield* Deferred.succeed(outcome, { sent, error: result.left })
              }
              yield* Deferred.succeed(outcome, { sent: 1000, error: undefined })
            }), { writeTimeout: "300 millis" })
        ))
        const server = yield* TestServer.serve(app)
        const client = yield* SseSocket.connect(server.port)
        yield* client.readUntil(connected)
        client.socket.pause()
        const { error, sent } = yield* Deferred.await(outcome).pipe(Effect.timeout("10 seconds"))
        expect(error).toMatchObject(closedWith("WriteTimeout"))
        // Some events went into the socket buffers before the client's window closed; far from all 1000.
        expect(sent).toBeGreaterThan(0)
        expect(sent).toBeLessThan(1000)
        yield* Deferred.await(done).pipe(Effect.timeout("5 seconds"))
        yield* Deferred.await(finalized).pipe(Effect.timeout("5 seconds"))
        // The server drops the socket rather than keeping the unsent bytes for a client that does not read.
        client.socket.resume()
        expect(yield* client.awaitEnd("5 seconds")).toBe("close")
        expect(yield* TestServer.connectionCount(server.node)).toBe(0)
      }).pipe(Effect.scoped)
  )
})

describe("no leaked fibers, connections or listeners", () => {
  /** A counter that tells when it is back to zero. */
  const backToZero = (counter: SubscriptionRef.SubscriptionRef<number>, label: string) =>
    counter.changes.pipe(
      Stream.takeUntil((n) => n === 0),
      Stream.runDrain,
      Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error(`${label} did not get back to 0`) })
    )

  const listenerCounts = (emitter: NodeJS.EventEmitter) =>
    Object.fromEntries(emitter.eventNames().map((name) => [String(name), emitter.listenerCount(name)]))

  it.live(
    "2000 connect, read, disconnect cycles leave no handler, stream, fiber, socket or listener behind",
    () =>
      Effect.gen(function*() {
        const cycles = 2000
        const handlersOpen = yield* SubscriptionRef.make(0)
        const streamsOpen = yield* SubscriptionRef.make(0)
        const handlersRun = yield* Ref.make(0)
        const finalizersRun = yield* Ref.make(0)
        const app = HttpRouter.empty.pipe(
          HttpRouter.get(
            "/connection",
            SseConnection.upgrade((connection) =>
              Effect.gen(function*() {
                yield* Ref.update(handlersRun, (n) => n + 1)
                yield* SubscriptionRef.update(handlersOpen, (n) => n + 1)
                yield* Effect.addFinalizer(() =>
                  Effect.zipRight(
                    Ref.update(finalizersRun, (n) => n + 1),
                    SubscriptionRef.update(handlersOpen, (n) => n - 1)
                  )
                )
                yield* connection.sendData("ready")
                return yield* Effect.never
              })
            )
          ),
          HttpRouter.get(
            "/stream",
            SseResponse.stream(
              Stream.fromEffect(SubscriptionRef.update(streamsOpen, (n) => n + 1)).pipe(
                Stream.as(SseEvent.make("ready")),
                Stream.concat(Stream.never),
                Stream.ensuring(SubscriptionRef.update(streamsOpen, (n) => n - 1))
              )
            )
          )
        )
        // Every fiber the server forks (request fibers, handlers, producers, keep-alives) is tracked.
        const supervisor = yield* Supervisor.track
        const server = yield* TestServer.serve(app).pipe(Effect.supervised(supervisor))
        const listenersBefore = listenerCounts(server.node)
        const fibersBefore = (yield* supervisor.value).length

        yield* Effect.forEach(
          Array.from({ length: cycles }, (_, i) => i),
          (i) =>
            Effect.scoped(Effect.gen(function*() {
              const client = yield* SseSocket.connect(server.port, { path: i % 2 === 0 ? "/connection" : "/stream" })
              yield* client.readUntil(`${connected}data: ready\n\n`)
            })),
          { concurrency: 20, discard: true }
        )

        yield* backToZero(handlersOpen, "open handlers")
        yield* backToZero(streamsOpen, "open streams")
        expect(yield* Ref.get(handlersRun)).toBe(cycles / 2)
        expect(yield* Ref.get(finalizersRun)).toBe(cycles / 2)
        yield* server.awaitNoSockets
        expect(yield* TestServer.connectionCount(server.node)).toBe(0)
        expect(listenerCounts(server.node)).toEqual(listenersBefore)
        yield* Effect.repeat(supervisor.value, {
          until: (fibers) => fibers.length <= fibersBefore,
          schedule: Schedule.spaced("10 millis"),
          times: 500
        })
        expect((yield* supervisor.value).length).toBeLessThanOrEqual(fibersBefore)
      }).pipe(Effect.scoped),
    { timeout: 60_000 }
  )
})
