/** The shared client spec (test/shared/client.ts) against the Effect 3 line; effect4/test/SseClient.test.ts runs it on Effect 4. */
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Logger, LogLevel, Stream } from "effect"
import * as SseClient from "../src/SseClient.js"
import type { ClientLine, Run, StateView } from "./shared/client.js"
import { clientSpec } from "./shared/client.js"

const view = (state: SseClient.State): StateView => {
  switch (state._tag) {
    case "Reconnecting":
      return {
        _tag: "Reconnecting",
        delayMillis: Duration.toMillis(state.delay),
        attempt: state.attempt,
        lastEventId: state.lastEventId,
        cause: state.cause?.reason
      }
    case "Stopped":
      return { _tag: "Stopped", reason: state.reason }
    case "Failed":
      return { _tag: "Failed", reason: state.error.reason }
    default:
      return { _tag: state._tag }
  }
}

const line: ClientLine = {
  run: (url, options) =>
    Effect.gen(function*() {
      const client = yield* SseClient.connect(url, {
        retry: Duration.millis(options.retry),
        lastEventId: options.lastEventId,
        reconnect: options.reconnect
      })
      const states: Array<StateView> = []
      const recording = yield* client.changes.pipe(
        Stream.runForEach((state) => Effect.sync(() => states.push(view(state)))),
        Effect.forkScoped
      )
      const events: Array<{ type: string; data: string; lastEventId: string }> = []
      const end = yield* client.events.pipe(
        Stream.runForEach((event) => {
          events.push({ type: event.type, data: event.data, lastEventId: event.lastEventId })
          return events.length === options.closeAfter ? client.close : Effect.void
        }),
        Effect.match({
          onSuccess: (): Run["end"] => ({ _tag: "End" }),
          onFailure: (error): Run["end"] => ({
            _tag: "Error",
            reason: error.reason,
            status: error.status,
            contentType: error.contentType
          })
        })
      )
      yield* Fiber.join(recording)
      return { events, end, states, readyState: yield* client.readyState }
    }).pipe(
      Effect.scoped,
      Effect.provide(NodeHttpClient.layerUndici),
      // Reconnections are logged at Warning; the spec reads the states instead.
      Logger.withMinimumLogLevel(LogLevel.Error),
      Effect.runPromise
    )
}

clientSpec(line, { describe, expect, it })
