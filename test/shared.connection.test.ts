/**
 * The shared connection spec (test/shared/connection.ts) against the Effect 3 line's SseConnection, on SseNode;
 * effect4/test/SseConnection.test.ts runs it on Effect 4.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Scope } from "effect"
import * as SseConnection from "../src/SseConnection.js"
import * as SseEvent from "../src/SseEvent.js"
import type { ConnectionLine, Scenario } from "./shared/connection.js"
import { connectionSpec } from "./shared/connection.js"
import * as TestServer from "./utils/server.js"

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
      const scope = yield* Scope.make()
      const server = yield* TestServer.serve(scenario(name, finalized), { server: "SseNode" }).pipe(Scope.extend(scope))
      return {
        port: server.port,
        finalized: Effect.runPromise(Deferred.await(finalized)),
        stop: () => Effect.runPromise(Scope.close(scope, Exit.void))
      }
    }))
}

connectionSpec(line, { describe, expect, it })
