import { HttpRouter } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Either, Exit, Ref, Scope, Stream, SubscriptionRef } from "effect"
import * as SseConnection from "../src/SseConnection.js"
import * as SseEvent from "../src/SseEvent.js"
import * as SseResponse from "../src/SseResponse.js"
import { freePort } from "./utils/ports.js"
import * as TestServer from "./utils/server.js"
import { spawnExample } from "./utils/spawn.js"
import * as SseSocket from "./utils/sseSocket.js"

const connected = ": connected\n\n"

/**
 * Closes the server's scope, failing if that takes longer than `bound`. Disconnected, so that a close that
 * hangs (Node's `server.close` waiting for responses that never end) fails the test instead of hanging it.
 */
const closeWithin = (scope: Scope.CloseableScope, bound: Duration.DurationInput) =>
  Scope.close(scope, Exit.void).pipe(
    Effect.disconnect,
    Effect.timeoutFail({
      duration: bound,
      onTimeout: () => new Error(`closing the server did not complete within ${Duration.format(bound)}`)
    })
  )

const occurrences = (text: string, part: string): number => text.split(part).length - 1

describe("graceful shutdown of the time example, as a real process", () => {
  it.live(
    "on SIGINT with three clients connected, every response ends and the process exits with code 0",
    () =>
      Effect.gen(function*() {
        const port = yield* freePort
        const example = yield* spawnExample("examples/time.ts", { PORT: String(port), HOST: "127.0.0.1" })
        yield* example.waitForOutput("Listening on", "20 seconds")
        const clients = yield* Effect.forEach([1, 2, 3], () => SseSocket.connect(port))
        yield* Effect.forEach(clients, (client) => client.readUntil("id: evt-1\n", "10 seconds"), { concurrency: 3 })

        const signalled = Date.now()
        example.child.kill("SIGINT")
        // A bound, not a measurement: the target is 2 s; 5 s means the shutdown hook is not doing its job.
        const exit = yield* example.exited.pipe(
          Effect.timeoutFail({
            duration: "5 seconds",
            onTimeout: () => new Error(`the process did not exit within 5 s of SIGINT:\n${example.output()}`)
          })
        )
        console.log(`time example exited ${Date.now() - signalled} ms after SIGINT`)
        // NodeRuntime.runMain interrupts the main fiber on SIGINT and then calls process.exit(0).
        expect(exit).toEqual({ code: 0, signal: null })
        const ends = yield* Effect.forEach(clients, (client) => client.awaitEnd("2 seconds"))
        expect(ends).toEqual(["end", "end", "end"])
        for (const client of clients) expect(client.body.startsWith(`${connected}event: time\nid: evt-1\n`)).toBe(true)
        // The example's per-connection finalizer ran for every client before the process went away.
        expect(occurrences(example.output(), "client disconnected")).toBe(3)
      }).pipe(Effect.scoped),
    { timeout: 60_000 }
  )
})

// On NodeHttpServer the streams end at shutdown through the SseServer provided to HttpServer.serve; SseNode has its own.
for (const kind of ["NodeHttpServer", "SseNode"] as const) {
  describe(`graceful shutdown in-process (${kind})`, () => {
    it.live("closing the server's scope with open SSE connections completes, and every response ends cleanly", () =>
      Effect.gen(function*() {
        const streamFinalizers = yield* Ref.make(0)
        const handlerFinalizers = yield* Ref.make(0)
        const connectionsDone = yield* SubscriptionRef.make(0)
        const app = HttpRouter.empty.pipe(
          HttpRouter.get(
            "/stream",
            SseResponse.stream(
              Stream.make(SseEvent.make("ready")).pipe(
                Stream.concat(Stream.never),
                Stream.ensuring(Ref.update(streamFinalizers, (n) => n + 1))
              )
            )
          ),
          HttpRouter.get(
            "/connection",
            SseConnection.upgrade((connection) =>
              Effect.gen(function*() {
                yield* Effect.addFinalizer(() => Ref.update(handlerFinalizers, (n) => n + 1))
                yield* Effect.forkDaemon(
                  Effect.zipRight(connection.done, SubscriptionRef.update(connectionsDone, (n) => n + 1))
                )
                yield* connection.sendData("ready")
                return yield* Effect.never
              })
            )
          )
        )
        const serverScope = yield* Scope.make()
        const server = yield* TestServer.serve(app, { server: kind }).pipe(Scope.extend(serverScope))
        const clients = yield* Effect.forEach(
          ["/stream", "/stream", "/connection", "/connection"],
          (path) => SseSocket.connect(server.port, { path })
        )
        yield* Effect.forEach(clients, (client) => client.readUntil(`${connected}data: ready\n\n`))

        yield* closeWithin(serverScope, "5 seconds")
        expect(server.node.listening).toBe(false)
        expect(yield* Effect.forEach(clients, (client) => client.awaitEnd("2 seconds"))).toEqual([
          "end",
          "end",
          "end",
          "end"
        ])
        expect(yield* Ref.get(streamFinalizers)).toBe(2)
        expect(yield* Ref.get(handlerFinalizers)).toBe(2)
        // Both connections' `done` completed.
        yield* connectionsDone.changes.pipe(
          Stream.takeUntil((n) => n === 2),
          Stream.runDrain,
          Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => new Error("done did not complete") })
        )
      }).pipe(Effect.scoped))

    it.live("a client that stopped reading does not hold the shutdown: its socket is dropped", () =>
      Effect.gen(function*() {
        const big = SseEvent.make("x".repeat(256 * 1024))
        const blocked = yield* Deferred.make<void>()
        const app = HttpRouter.empty.pipe(HttpRouter.get(
          "/events",
          SseConnection.upgrade((connection) =>
            Effect.gen(function*() {
              // Fill the socket until a send has to wait; a long write timeout keeps the connection waiting.
              for (let i = 0; i < 1000; i++) {
                const sent = yield* connection.send(big).pipe(Effect.timeout("200 millis"), Effect.either)
                if (Either.isLeft(sent)) break
              }
              yield* Deferred.succeed(blocked, undefined)
              return yield* Effect.never
            }), { writeTimeout: "1 minute" })
        ))
        const serverScope = yield* Scope.make()
        const server = yield* TestServer.serve(app, { server: kind }).pipe(Scope.extend(serverScope))
        const client = yield* SseSocket.connect(server.port)
        yield* client.readUntil(connected)
        client.socket.pause()
        yield* Deferred.await(blocked).pipe(Effect.timeout("10 seconds"))

        yield* closeWithin(serverScope, "5 seconds")
        client.socket.resume()
        expect(yield* client.awaitEnd("5 seconds")).toBe("close")
        expect(server.node.listening).toBe(false)
      }).pipe(Effect.scoped))
  })
}
