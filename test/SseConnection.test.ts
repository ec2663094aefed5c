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
  pipe,
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
import { bodyStream, collectBody, makeLogCapture, runBody, serveBody, within } from "./utils/inProcess.js"
import { fieldNames, parse } from "./utils/parse.js"
import * as TestServer from "./utils/server.js"
import * as SseSocket from "./utils/sseSocket.js"

const connected = ": connected\n\n"
const keepAlive = ": keep-alive\n\n"

const requestWith = (headers: Record<string, string>) =>
  HttpServerRequest.fromWeb(new Request("http://127.0.0.1/events", { headers }))

/**
 * Upgrades to a connection whose handler registers a finalizer, hands the connection to the test and then
 * waits forever, so that the test decides from outside (like a hub would) what happens to the connection. The
 * handler starts when the response is served: the response is served to a client that has read `: connected`
 * and reads nothing more until the test says so (`body.read`).
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
    const body = yield* serveBody(response)
    const connection = yield* within(Deferred.await(handed), "the handler to start")
    return { response, body, connection, finalizers: Ref.get(finalizers) }
  })

/** As `open`, with a client that reads everything at once. */
const openRead = (options?: SseConnection.UpgradeOptions) =>
  Effect.gen(function*() {
    const handed = yield* Deferred.make<SseConnection.SseConnection>()
    const response = yield* SseConnection.upgrade(
      (connection) => Effect.zipRight(Deferred.succeed(handed, connection), Effect.never),
      options
    )
    const body = yield* runBody(response)
    const connection = yield* within(Deferred.await(handed), "the handler to start")
    return { body, connection }
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

  it.effect("lastEventId falls back to the lastEventId query parameter when there is no header", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<Array<Option.Option<string>>>([])
      const record = SseConnection.upgrade((connection) => Ref.update(seen, (all) => [...all, connection.lastEventId]))
      const cases = [
        new Request("http://127.0.0.1/events?lastEventId=evt-7"),
        new Request("http://127.0.0.1/events?lastEventId=evt-7", { headers: { "last-event-id": "evt-8" } })
      ]
      for (const request of cases) {
        const response = yield* Effect.provideService(
          record,
          HttpServerRequest.HttpServerRequest,
          HttpServerRequest.fromWeb(request)
        )
        yield* collectBody(response)
      }
      expect(yield* Ref.get(seen)).toEqual([Option.some("evt-7"), Option.some("evt-8")])
    }))

  it.scoped("the handler starts when the response is served, not when the route builds the response", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const response = yield* SseConnection.upgrade(() =>
        Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)
      )
      yield* TestClock.adjust("1 minute")
      expect(yield* Deferred.isDone(started)).toBe(false)
      const body = yield* serveBody(response)
      yield* within(Deferred.await(started), "the handler to start once the response is served")
      expect(yield* body.text).toBe(connected)
    }))

  it.effect("writes ': connected' first, then what the handler sends, and ends when the handler returns", () =>
    Effect.gen(function*() {
      const response = yield* SseConnection.upgrade((connection) =>
        Effect.gen(function*() {
          yield* connection.send(yield* SseEvent.make("one").pipe(SseEvent.withId("1")))
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

  it.effect("the connection's functions work detached from it (point-free, as Stream.runForEach(events, connection.send))", () =>
    Effect.gen(function*() {
      const response = yield* SseConnection.upgrade(({ sendData, sendJSON, send }) =>
        Effect.gen(function*() {
          yield* Stream.make(SseEvent.make("a"), SseEvent.make("b")).pipe(Stream.runForEach(send))
          yield* Effect.forEach(["c"], sendData)
          yield* Effect.forEach([{ d: 1 }], sendJSON)
        })
      )
      expect(yield* collectBody(response)).toBe(`${connected}data: a\n\ndata: b\n\ndata: c\n\ndata: {"d":1}\n\n`)
    }))

  it.effect("the retry option writes 'retry: N' right after ': connected'", () =>
    Effect.gen(function*() {
      const response = yield* SseConnection.upgrade((connection) => connection.sendData("x"), { retry: 1500 })
      expect(yield* collectBody(response)).toBe(`${connected}retry: 1500\n\ndata: x\n\n`)
    }))

  it.scoped("data sent before close is still delivered, then the response ends", () =>
    Effect.gen(function*() {
      const { body, connection } = yield* open()
      yield* connection.sendData("a")
      yield* connection.sendData("b")
      yield* connection.sendData("c")
      yield* connection.close
      // The client has read `: connected` and nothing since: everything sent before the close is still on its way.
      expect(yield* body.readToEnd).toBe(`${connected}data: a\n\ndata: b\n\ndata: c\n\n`)
    }))

  it.scoped("send after close fails with ConnectionClosed (Closed) at once, without the clock moving", () =>
    Effect.gen(function*() {
      const { body, connection } = yield* open()
      yield* connection.sendData("pending")
      yield* connection.close
      // Data still queued (the client is not reading) must not make later sends wait.
      expect(yield* Effect.flip(connection.send(SseEvent.make("late")))).toMatchObject(closedWith("Closed"))
      expect(yield* Effect.flip(connection.sendData("late"))).toMatchObject(closedWith("Closed"))
      expect(yield* Effect.flip(connection.sendJSON({ late: true }))).toMatchObject(closedWith("Closed"))
      expect(yield* Effect.flip(SseConnection.send(connection, SseEvent.make("late")))).toMatchObject(
        closedWith("Closed")
      )
      expect(yield* Effect.flip(pipe(connection, SseConnection.send(SseEvent.make("late"))))).toMatchObject(
        closedWith("Closed")
      )
      expect(yield* body.readToEnd).toBe(`${connected}data: pending\n\n`)
      // And once the response has ended.
      expect(yield* Effect.flip(connection.sendData("later"))).toMatchObject(closedWith("Closed"))
    }))

  it.scoped("a failed send is an instance of the exported ConnectionClosed class", () =>
    Effect.gen(function*() {
      const { connection } = yield* open()
      yield* SseConnection.close(connection)
      const error = yield* Effect.flip(connection.sendData("late"))
      expect(error).toBeInstanceOf(SseConnection.ConnectionClosed)
      expect(error[SseConnection.ErrorTypeId]).toBe(SseConnection.ErrorTypeId)
    }))

  it.scoped("close is idempotent: the response ends once and the handler's finalizer runs once", () =>
    Effect.gen(function*() {
      const { body, connection, finalizers } = yield* open()
      yield* connection.close
      yield* connection.close
      expect(yield* body.readToEnd).toBe(connected)
      yield* connection.close
      yield* within(connection.done, "done after close")
      expect(yield* finalizers).toBe(1)
    }))

  it.scoped("isOpen is true while sends are accepted and false from the moment the connection is closed", () =>
    Effect.gen(function*() {
      const { body, connection } = yield* open()
      expect(yield* connection.isOpen).toBe(true)
      yield* connection.sendData("pending")
      yield* connection.close
      expect(yield* connection.isOpen).toBe(false)
      yield* body.readToEnd
      expect(yield* connection.isOpen).toBe(false)
    }))

  it.scoped("isOpen is false after the client left", () =>
    Effect.gen(function*() {
      const { body, connection } = yield* open()
      yield* body.leave
      yield* within(connection.done, "done after the client left")
      // Sends are refused now; isOpen must say so.
      expect(yield* Effect.flip(connection.sendData("late"))).toMatchObject(closedWith("Closed"))
      expect(yield* connection.isOpen).toBe(false)
    }))

  it.scoped(
    "an invalid field is refused when the event is built, so it is never sent; sendJSON of a value with no JSON form fails with SseEventError; the connection keeps working",
    () =>
      Effect.gen(function*() {
        const { body, connection } = yield* open()
        const built = [
          SseEvent.make("x").pipe(SseEvent.withId("1\nevent: evil")),
          SseEvent.make("x").pipe(SseEvent.withId("1\0")),
          SseEvent.make("x").pipe(SseEvent.withType("t\r\nid: evil")),
          SseEvent.make("x").pipe(SseEvent.withRetry(-5))
        ]
        expect(built.map((event) => Either.isLeft(event) ? [event.left._tag, event.left.reason] : "built")).toEqual([
          ["SseEventError", "InvalidId"],
          ["SseEventError", "InvalidId"],
          ["SseEventError", "InvalidType"],
          ["SseEventError", "InvalidRetry"]
        ])
        // Sending through the Either: the refusal is the failure, and nothing reaches the connection.
        for (const event of built) {
          expect(yield* Effect.flip(Effect.flatMap(event, (e) => connection.send(e)))).toMatchObject({
            _tag: "SseEventError"
          })
        }
        const jsonError = yield* Effect.flip(connection.sendJSON(1n))
        expect(jsonError).toMatchObject({ _tag: "SseEventError", reason: "InvalidData" })
        expect(yield* connection.isOpen).toBe(true)
        yield* connection.send(yield* SseEvent.make("fine").pipe(SseEvent.withId("2")))
        yield* connection.close
        const text = yield* body.readToEnd
        expect(text).toBe(`${connected}id: 2\ndata: fine\n\n`)
        expect(fieldNames(text)).toEqual([":", "", "id", "data", ""])
      })
  )

  it.scoped.prop(
    "for any injected id or type, the bytes served contain only the valid events",
    [
      fc.string(),
      fc.constantFrom("\n", "\r", "\r\n", "\0"),
      fc.constantFrom("id", "type")
    ],
    ([rest, breaker, field]) =>
      Effect.gen(function*() {
        const injected = `x${breaker}event: evil${breaker}data: ${rest}`
        // NUL is allowed in a type (only CR and LF end it): with NUL the id is the injected field.
        const bad = field === "id" || breaker === "\0"
          ? SseEvent.make("bad").pipe(SseEvent.withId(injected))
          : SseEvent.make("bad").pipe(SseEvent.withType(injected))
        const { body, connection } = yield* open()
        yield* connection.sendData("before")
        const error = yield* Effect.flip(Effect.flatMap(bad, (event) => connection.send(event)))
        expect(error._tag).toBe("SseEventError")
        yield* connection.sendData("after")
        yield* connection.close
        const text = yield* body.readToEnd
        expect(parse([text]).events.map((event) => event.data)).toEqual(["before", "after"])
        expect(fieldNames(text).filter((name) => name !== ":" && name !== "")).toEqual(["data", "data"])
      }),
    { fastCheck: { numRuns: 50 } }
  )

  // The handler runs when the response is served: it logs with the logger of the fiber that serves it.
  it.effect("a failing handler is logged and ends the response", () => {
    const logs = makeLogCapture()
    return Effect.gen(function*() {
      const response = yield* SseConnection.upgrade((connection) =>
        Effect.zipRight(connection.sendData("before"), Effect.fail("boom"))
      )
      expect(yield* collectBody(response)).toBe(`${connected}data: before\n\n`)
      const log = logs.lines.join("\n")
      expect(log).toContain("the SSE connection handler failed")
      expect(log).toContain("boom")
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a quiet connection gets a keep-alive at the interval, and a send restarts the quiet period", () =>
    Effect.gen(function*() {
      const { body, connection } = yield* openRead({ keepAlive: "10 seconds" })
      // Quiet from the start, and ticked from the start (no SseServer): the comment comes at the interval exactly.
      yield* TestClock.adjust("9999 millis")
      expect(yield* body.text).toBe(connected)
      yield* TestClock.adjust("1 millis")
      expect(yield* body.text).toBe(connected + keepAlive)
      yield* TestClock.adjust("5 seconds")
      yield* connection.sendData("tick")
      // Checked once a second: the next comment comes between the interval and the interval + 1 s after the send.
      yield* TestClock.adjust("9999 millis")
      expect(yield* body.text).toBe(`${connected}${keepAlive}data: tick\n\n`)
      yield* TestClock.adjust("1001 millis")
      expect(yield* body.text).toBe(`${connected}${keepAlive}data: tick\n\n${keepAlive}`)
    }))

  it.effect("keepAlive: false: a quiet connection gets nothing but ': connected'", () =>
    Effect.gen(function*() {
      const { body } = yield* openRead({ keepAlive: false })
      yield* TestClock.adjust("1 hour")
      expect(yield* body.text).toBe(connected)
    }))
})

describe("SseConnection backpressure in-process (TestClock)", () => {
  it.scoped("a send waiting for room resumes as soon as the client reads", () =>
    Effect.gen(function*() {
      // The client has taken `: connected`: one 12-byte write fits under the 10-byte high-water mark (nothing is
      // waiting), the next one waits.
      const { body, connection } = yield* open({ highWaterMark: 10, writeTimeout: "1 second" })
      yield* connection.sendData("fits")
      const waiting = yield* Effect.fork(connection.sendData("waits"))
      yield* TestClock.adjust("500 millis")
      expect(yield* Fiber.poll(waiting)).toEqual(Option.none())
      expect(yield* body.read).toBe(true)
      expect(yield* within(Fiber.join(waiting), "the waiting send")).toBeUndefined()
      yield* connection.close
      expect(yield* body.readToEnd).toBe(`${connected}data: fits\n\ndata: waits\n\n`)
    }))

  it.scoped("a send waiting for room fails with Closed as soon as the client leaves, not at the write timeout", () =>
    Effect.gen(function*() {
      // Two 24-byte writes fit under the 40-byte high-water mark; a third waits.
      const { body, connection } = yield* open({ highWaterMark: 40, writeTimeout: "10 seconds" })
      yield* connection.sendData("fills the buffer")
      yield* connection.sendData("fills the buffer")
      const waiting = yield* Effect.fork(Effect.either(connection.sendData("waits")))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.poll(waiting)).toEqual(Option.none())
      // The client leaves.
      yield* body.leave
      yield* within(connection.done, "done after the client left")
      const result = yield* within(Fiber.join(waiting), "the waiting send to fail once the connection is closed")
      expect(Either.flip(result)).toEqual(Either.right(expect.objectContaining(closedWith("Closed"))))
    }))

  it.scoped(
    "a client that stops reading makes a waiting send fail with WriteTimeout, not before writeTimeout, and closes the connection",
    () =>
      Effect.gen(function*() {
        // The client takes `: connected` and nothing more: "fits" stays waiting, and the next send waits for room.
        const { connection, finalizers } = yield* open({ highWaterMark: 10, writeTimeout: "1 second" })
        yield* connection.sendData("fits")
        const waiting = yield* Effect.fork(Effect.either(connection.sendData("waits")))
        yield* TestClock.adjust("999 millis")
        expect(yield* Fiber.poll(waiting)).toEqual(Option.none())
        // The stall rule is checked once a second: the client is dropped within a second after writeTimeout.
        yield* TestClock.adjust("1001 millis")
        const result = yield* within(Fiber.join(waiting), "the waiting send")
        expect(Either.flip(result)).toEqual(Either.right(expect.objectContaining(closedWith("WriteTimeout"))))
        yield* within(connection.done, "done after the write timeout")
        expect(yield* finalizers).toBe(1)
        // A later send is refused at once, with the reason the connection was closed.
        expect(yield* Effect.flip(connection.sendData("later"))).toMatchObject(closedWith("WriteTimeout"))
        expect(yield* connection.isOpen).toBe(false)
      })
  )

  it.scoped("close flushes queued data, but a client that never reads is dropped after writeTimeout", () =>
    Effect.gen(function*() {
      const { connection, finalizers } = yield* open({ writeTimeout: "2 seconds" })
      yield* connection.sendData("queued")
      yield* connection.close
      const done = yield* Effect.fork(connection.done)
      yield* TestClock.adjust("1999 millis")
      expect(yield* Fiber.poll(done)).toEqual(Option.none())
      expect(yield* finalizers).toBe(0)
      // Nothing new is written, and the client still takes nothing: it is dropped within a second after writeTimeout.
      yield* TestClock.adjust("1001 millis")
      yield* within(Fiber.join(done), "done after the flush timed out")
      expect(yield* finalizers).toBe(1)
    }))
})

describe("SseConnection: whatever ends the connection, done completes and the handler's finalizer runs once", () => {
  const ends: ReadonlyArray<{
    readonly name: string
    readonly options?: SseConnection.UpgradeOptions
    readonly handler: (connection: SseConnection.SseConnection) => Effect.Effect<void, string>
    /** Whether the client reads the whole body; otherwise it takes `: connected` and nothing more. */
    readonly reads: boolean
    /** Why a send after the end is refused: the reason the connection was closed. */
    readonly lateReason?: "WriteTimeout"
    readonly end: (
      connection: SseConnection.SseConnection,
      body: Fiber.RuntimeFiber<unknown> | undefined
    ) => Effect.Effect<void>
  }> = [
    { name: "close", handler: () => Effect.never, reads: true, end: (connection) => connection.close },
    {
      name: "the handler returning",
      handler: (c) => c.sendData("bye").pipe(Effect.orDie),
      reads: true,
      end: () => Effect.void
    },
    { name: "the handler failing", handler: () => Effect.fail("boom"), reads: true, end: () => Effect.void },
    { name: "the handler dying", handler: () => Effect.dieMessage("kaput"), reads: true, end: () => Effect.void },
    {
      name: "the client leaving",
      handler: () => Effect.never,
      reads: true,
      end: (_, body) => (body === undefined ? Effect.void : Fiber.interrupt(body))
    },
    {
      name: "a write timeout",
      // A 1-byte high-water mark: the first send is taken into the queue, the second waits for a client that
      // does not read. The stall rule drops it within a second after writeTimeout.
      options: { highWaterMark: 1, writeTimeout: "1 second" },
      handler: (c) => Effect.ignore(Effect.zipRight(c.sendData("waiting"), c.sendData("stuck"))),
      reads: false,
      lateReason: "WriteTimeout",
      end: () => TestClock.adjust("2 seconds")
    }
  ]

  for (const { end, handler, lateReason, name, options, reads } of ends) {
    it.scoped(name, () => {
      const logs = makeLogCapture()
      return Effect.gen(function*() {
        const finalizers = yield* Ref.make(0)
        const handed = yield* Deferred.make<SseConnection.SseConnection>()
        const response = yield* SseConnection.upgrade((connection) =>
          Effect.gen(function*() {
            yield* Effect.addFinalizer(() => Ref.update(finalizers, (n) => n + 1))
            yield* Deferred.succeed(handed, connection)
            yield* handler(connection)
          }), options)
        // The handler starts when the response is served.
        const body = reads
          ? yield* bodyStream(response).pipe(Stream.runDrain, Effect.exit, Effect.forkDaemon)
          : undefined
        if (!reads) yield* serveBody(response)
        const connection = yield* within(Deferred.await(handed), "the handler to start")
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
        expect(yield* Effect.flip(connection.sendData("late"))).toMatchObject(closedWith(lateReason ?? "Closed"))
      }).pipe(Effect.provide(logs.layer))
    })
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
            // Refused where the event is built: the send never happens.
            const error = yield* Effect.flip(
              Effect.flatMap(SseEvent.make("x").pipe(SseEvent.withId("1\nevent: evil")), (e) => connection.send(e))
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

  for (const server of ["NodeHttpServer", "NodeHttpServer without SseServer", "SseNode"] as const) {
    it.live(
      `a client that stops reading makes send fail with WriteTimeout (socket backpressure), and its socket is dropped (${server})`,
      () =>
        Effect.gen(function*() {
          // 256 KiB per event: the socket buffers fill after a few MB, then the bounded buffer, then send waits.
          const big = SseEvent.make("x".repeat(256 * 1024))
          const handed = yield* Deferred.make<SseConnection.SseConnection>()
          const finalized = yield* Deferred.make<void>()
          const app = HttpRouter.empty.pipe(HttpRouter.get(
            "/events",
            SseConnection.upgrade((connection) =>
              Effect.gen(function*() {
                yield* Effect.addFinalizer(() => Deferred.succeed(finalized, undefined))
                yield* Deferred.succeed(handed, connection)
                return yield* Effect.never
              }), { writeTimeout: "300 millis" })
          ))
          const testServer = yield* TestServer.serve(app, { server })
          const client = yield* SseSocket.connect(testServer.port)
          yield* client.readUntil(connected)
          client.socket.pause()
          // The sends come from outside the handler (as a hub's do): dropping the client interrupts the handler.
          const connection = yield* Deferred.await(handed)
          let sent = 0
          let error: unknown = undefined
          // Bounded: 1000 events would be 256 MB, far more than any socket buffers.
          for (; sent < 1000 && error === undefined; sent++) {
            const result = yield* Effect.either(connection.send(big)).pipe(Effect.timeout("10 seconds"))
            if (Either.isLeft(result)) error = result.left
          }
          expect(error).toMatchObject(closedWith("WriteTimeout"))
          // Some events went into the socket buffers before the client's window closed; far from all 1000.
          expect(sent).toBeGreaterThan(1)
          expect(sent).toBeLessThan(1000)
          yield* connection.done.pipe(Effect.timeout("5 seconds"))
          yield* Deferred.await(finalized).pipe(Effect.timeout("5 seconds"))
          // The server drops the socket rather than keeping the unsent bytes for a client that does not read.
          client.socket.resume()
          expect(yield* client.awaitEnd("5 seconds")).toBe("close")
          yield* testServer.awaitNoSockets
          expect(yield* TestServer.connectionCount(testServer.node)).toBe(0)
        }).pipe(Effect.scoped)
    )
  }
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
