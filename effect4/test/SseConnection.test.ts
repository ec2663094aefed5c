/**
 * SseConnection on Effect 4, end to end: a real effect/http server (`SseNode.layer`, Node 22) on 127.0.0.1, port 0,
 * read with node's HTTP client: first the shared connection spec (../test/shared/connection.ts, which the root runs
 * on Effect 3 too), then this line's own cases. What ends a connection (the handler, `close`, the client leaving,
 * the server shutting down, a stalled client) closes its scope once.
 */
import { describe, expect, it } from "@effect/vitest"
import * as SseConnection from "effect-sse/SseConnection"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseNode from "effect-sse/SseNode"
import * as SseResponse from "effect-sse/SseResponse"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HttpServer from "effect/http/HttpServer"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/testing/TestClock"
import * as Http from "node:http"
import * as Net from "node:net"
import { type ConnectionLine, connectionSpec, type Scenario } from "../../test/shared/connection.js"

interface Received {
  readonly status: number | undefined
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
  readonly complete: boolean
}

/** A GET on the server; `until(text)` resolves once the body holds `text`, `done` at the end of the response. */
const get = (port: number, options?: { readonly path?: string; readonly headers?: Http.OutgoingHttpHeaders }) => {
  let body = ""
  const waiting: Array<{ readonly text: string; readonly resolve: () => void }> = []
  let request: Http.ClientRequest | undefined
  const done = new Promise<Received>((resolve, reject) => {
    request = Http.get({ host: "127.0.0.1", port, path: options?.path ?? "/", headers: options?.headers }, (res) => {
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => {
        body += chunk
        for (const w of waiting.filter((w) => body.includes(w.text))) {
          waiting.splice(waiting.indexOf(w), 1)
          w.resolve()
        }
      })
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body, complete: res.complete }))
      res.on("error", reject)
      res.on("aborted", () => reject(new Error(`aborted after ${JSON.stringify(body)}`)))
    })
    request.on("error", reject)
  })
  const until = (text: string) =>
    Effect.promise(() =>
      body.includes(text) ? Promise.resolve() : new Promise<void>((resolve) => waiting.push({ text, resolve }))
    )
  // A test that leaves does not wait for the end: its rejection is expected.
  done.catch(() => {})
  return { done: Effect.promise(() => done), until, leave: Effect.sync(() => request?.destroy()) }
}

/** Serves `app` with SseNode.layer in a scope of its own; `stop` shuts the server down. */
const serve = (app: Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const server = SseNode.layer(() => Http.createServer(), { port: 0, host: "127.0.0.1" })
    const context = yield* Layer.buildWithScope(HttpServer.serve(app).pipe(Layer.provideMerge(server)), scope)
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag === "UnixPathAddress") return yield* Effect.die("not a TCP address")
    return { port: address.port, stop: Scope.close(scope, Exit.void) }
  })

/** The shared connection spec's scenarios, on this line. */
const scenario = (name: Scenario, finalized: Deferred.Deferred<void>) => {
  const handler = (connection: SseConnection.SseConnection) =>
    Effect.gen(function*() {
      yield* Effect.addFinalizer(() => Deferred.succeed(finalized, undefined))
      switch (name) {
        case "events":
          yield* connection.send(SseEvent.make("a"))
          yield* SseConnection.send(connection, SseEvent.make("b"))
          yield* connection.sendData("c")
          return yield* Effect.orDie(connection.sendJSON({ n: 1 }))
        case "echoLastEventId":
          return yield* connection.sendData(connection.lastEventId._tag === "Some" ? connection.lastEventId.value : "-")
        case "retry":
          return yield* connection.sendData("x")
        case "close":
          yield* connection.sendData("a")
          yield* connection.close
          return yield* Effect.never
        case "stayOpen":
          yield* connection.sendData("a")
          return yield* Effect.never
      }
    })
  return SseConnection.upgrade(handler, { keepAlive: false, ...(name === "retry" ? { retry: "1500 millis" } : {}) })
}

const line: ConnectionLine = {
  serve: (name) =>
    Effect.runPromise(Effect.gen(function*() {
      const finalized = yield* Deferred.make<void>()
      const server = yield* serve(scenario(name, finalized))
      return {
        port: server.port,
        finalized: Effect.runPromise(Deferred.await(finalized)),
        stop: () => Effect.runPromise(server.stop)
      }
    }))
}

connectionSpec(line, { describe, expect, it })

describe("SseConnection (Effect 4)", () => {
  it.live("has the same headers as SseResponse.stream, extra ones included", () =>
    Effect.gen(function*() {
      const options = { headers: { "x-extra": "1", "content-type": "text/plain" }, keepAlive: false } as const
      const a = yield* serve(SseConnection.upgrade(() => Effect.void, options))
      const b = yield* serve(SseResponse.stream(Stream.empty, options))
      const [ra, rb] = [yield* get(a.port).done, yield* get(b.port).done]
      const pick = (r: Received) =>
        ["content-type", "cache-control", "x-accel-buffering", "x-extra"].map((name) => r.headers[name])
      expect(pick(ra)).toEqual(["text/event-stream", "no-cache", "no", "1"])
      expect(pick(ra)).toEqual(pick(rb))
      expect(ra.body).toBe(rb.body)
      yield* a.stop
      yield* b.stop
    }))

  it.live("an invalid retry option is logged and ends the response after `: connected`", () =>
    Effect.gen(function*() {
      const bad = yield* serve(SseConnection.upgrade((c) => c.sendData("x"), { retry: -1 }))
      expect((yield* get(bad.port).done).body).toBe(": connected\n\n")
      yield* bad.stop
    }))

  it.live("close: what was sent is delivered, the response ends, the scope closes; later sends fail with Closed", () =>
    Effect.gen(function*() {
      const handle = yield* Deferred.make<SseConnection.SseConnection>()
      const finalized = yield* Deferred.make<void>()
      const server = yield* serve(SseConnection.upgrade((connection) =>
        Effect.gen(function*() {
          yield* Effect.addFinalizer(() => Deferred.succeed(finalized, undefined))
          yield* Deferred.succeed(handle, connection)
          yield* connection.sendData("a")
          yield* SseConnection.close(connection)
          yield* connection.close
          return yield* Effect.never
        })
      ))
      const received = yield* get(server.port).done
      yield* Deferred.await(finalized)
      expect([received.body, received.complete]).toEqual([": connected\n\ndata: a\n\n", true])
      const connection = yield* Deferred.await(handle)
      const error = yield* Effect.flip(connection.sendData("b"))
      expect([error._tag, error.reason, yield* connection.isOpen]).toEqual(["ConnectionClosed", "Closed", false])
      yield* connection.done
      yield* server.stop
    }))

  it.live("the client leaving closes the connection's scope: the handler is interrupted, done completes", () =>
    Effect.gen(function*() {
      const finalized = yield* Deferred.make<void>()
      const doneSeen = yield* Deferred.make<void>()
      const server = yield* serve(SseConnection.upgrade((connection) =>
        Effect.gen(function*() {
          yield* Effect.addFinalizer(() => Deferred.succeed(finalized, undefined))
          yield* Effect.forkDetach(Effect.andThen(connection.done, Deferred.succeed(doneSeen, undefined)))
          yield* connection.sendData("a")
          return yield* Effect.never
        })
      ))
      const client = get(server.port)
      yield* client.until("data: a\n\n")
      yield* client.leave
      yield* Deferred.await(finalized)
      yield* Deferred.await(doneSeen)
      yield* server.stop
    }))

  it.live("the server shutting down (SseNode) ends an open connection cleanly and closes its scope", () =>
    Effect.gen(function*() {
      const finalized = yield* Deferred.make<void>()
      const server = yield* serve(SseConnection.upgrade((connection) =>
        Effect.gen(function*() {
          yield* Effect.addFinalizer(() => Deferred.succeed(finalized, undefined))
          yield* connection.sendData("a")
          yield* connection.done
        })
      ))
      const client = get(server.port)
      yield* client.until("data: a\n\n")
      yield* server.stop
      const received = yield* client.done
      yield* Deferred.await(finalized)
      expect([received.body, received.complete]).toEqual([": connected\n\ndata: a\n\n", true])
    }))

  it.effect("writes `: keep-alive` on a quiet connection, on the Effect clock", () =>
    Effect.gen(function*() {
      const server = yield* serve(SseConnection.upgrade((connection) => connection.done, { keepAlive: "5 seconds" }))
      const client = get(server.port)
      yield* client.until(": connected\n\n")
      yield* TestClock.adjust("5 seconds")
      yield* client.until(": keep-alive\n\n")
      yield* TestClock.adjust("5 seconds")
      yield* client.until(": keep-alive\n\n: keep-alive\n\n")
      yield* client.leave
      yield* server.stop
    }))

  it.effect("drops a client that takes nothing within writeTimeout: sends fail with WriteTimeout, the socket is cut", () =>
    Effect.gen(function*() {
      const failed = yield* Deferred.make<string>()
      const finalized = yield* Deferred.make<void>()
      const big = SseEvent.make("x".repeat(256 * 1024))
      const server = yield* serve(SseConnection.upgrade((connection) =>
        Effect.gen(function*() {
          yield* Effect.addFinalizer(() => Deferred.succeed(finalized, undefined))
          // Bounded: far more than the socket buffers hold, so that a client that reads nothing stalls it.
          for (let i = 0; i < 400; i++) {
            const sent = yield* Effect.result(connection.send(big))
            if (sent._tag === "Failure") return yield* Deferred.succeed(failed, sent.failure.reason)
          }
        }), { keepAlive: false, writeTimeout: "10 seconds", highWaterMark: 1024 }))
      // A client that never reads its response: the bytes pile up in the socket buffers.
      const socket = Net.connect(server.port, "127.0.0.1")
      const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()))
      socket.on("error", () => {})
      let tail = ""
      socket.on("data", (chunk: Buffer) => tail = (tail + chunk.toString("latin1")).slice(-16))
      socket.pause()
      socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
      // The clock moves a second at a time (bounded), the real event loop running in between, until the rule fires.
      for (let i = 0; i < 600 && !(yield* Deferred.isDone(failed)); i++) {
        yield* TestClock.adjust("1 second")
        yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
      }
      expect(yield* Deferred.await(failed)).toBe("WriteTimeout")
      yield* Deferred.await(finalized)
      // Read now: the socket was cut, so the response never got its last chunk (a response that merely ended would).
      socket.resume()
      yield* Effect.promise(() => closed)
      expect(tail.length).toBeGreaterThan(0)
      expect(tail.endsWith("\r\n0\r\n\r\n")).toBe(false)
      yield* server.stop
    }))
})
