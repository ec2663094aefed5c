/**
 * The Effect 4 SseClient against raw `node:http` servers on 127.0.0.1, port 0, read with Node 22's fetch
 * (`FetchHttpClient`): the shared client spec (../test/shared/client.ts, which the root runs on Effect 3 too), then
 * what is this line's own (the events stream, Schema 4 decoding, the backoff schedule).
 */
import { describe, expect, it } from "@effect/vitest"
import * as SseClient from "effect-sse/SseClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as References from "effect/References"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import {
  type ClientLine,
  clientSpec,
  noContent,
  type Run,
  scripted,
  type Server,
  sse,
  type StateView
} from "../../test/shared/client.js"

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

// Reconnections are logged at Warning; the tests read the states instead.
const quiet = Effect.provideService(References.MinimumLogLevel, "Error")

const line: ClientLine = {
  run: (url, options) =>
    Effect.gen(function*() {
      const client = yield* SseClient.connect(url, {
        retry: Duration.millis(options.retry),
        lastEventId: options.lastEventId,
        reconnect: options.reconnect
      })
      const states: Array<StateView> = []
      // Started at once, so that it subscribes before the first change.
      const recording = yield* client.changes.pipe(
        Stream.runForEach((state) => Effect.sync(() => states.push(view(state)))),
        Effect.forkScoped({ startImmediately: true })
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
    }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer), quiet, Effect.runPromise)
}

clientSpec(line, { describe, expect, it })

/** Runs `f` against a scripted server, closing the server at the end. */
const withServer = <A, E, R>(
  server: Promise<Server>,
  f: (server: Server) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.acquireUseRelease(Effect.promise(() => server), f, (s) => Effect.promise(() => s.close()))

const fast = { retry: Duration.millis(1) }

describe("SseClient (Effect 4)", () => {
  it.live("connect starts Connecting (readyState CONNECTING) until the server answers, then Open (OPEN)", () => {
    let answer = () => {}
    const gate = new Promise<void>((resolve) => answer = resolve)
    return withServer(
      scripted((res, seen, index) => void gate.then(() => sse("data: a\n\n", { stayOpen: true })(res, seen, index))),
      (server) =>
        Effect.gen(function*() {
          const client = yield* SseClient.connect(server.origin, fast)
          expect([(yield* client.state)._tag, yield* client.readyState]).toEqual(["Connecting", SseClient.CONNECTING])
          answer()
          const open = yield* client.changes.pipe(Stream.filter((s) => s._tag === "Open"), Stream.runHead)
          expect(open._tag === "Some" && open.value._tag === "Open" ? open.value.status : undefined).toBe(200)
          expect(yield* client.readyState).toBe(SseClient.OPEN)
          expect(SseClient.readyStateOf(SseClient.State.Closed())).toBe(SseClient.CLOSED)
          yield* client.close
          expect([(yield* client.state)._tag, yield* client.readyState]).toEqual(["Closed", SseClient.CLOSED])
        }).pipe(Effect.scoped)
    ).pipe(Effect.provide(FetchHttpClient.layer), quiet)
  })

  it.live("a request that cannot be made fails with Request, and is not retried", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Stream.runDrain(SseClient.events("not a url", fast)))
      expect([error._tag, error.reason, error.url]).toEqual(["SseClientError", "Request", "not a url"])
      expect(error.message).toContain("could not be made")
    }).pipe(Effect.provide(FetchHttpClient.layer), quiet))

  it.live("events: the same reconnections as a Stream, ending on 204", () =>
    withServer(
      scripted(sse("id: 1\ndata: a\n\n"), sse("id: 2\ndata: b\n\n"), noContent),
      (server) =>
        Effect.gen(function*() {
          const events = yield* Stream.runCollect(SseClient.events(`${server.origin}/`, fast))
          expect(events.map((e) => [e.data, e.lastEventId])).toEqual([["a", "1"], ["b", "2"]])
          expect(server.requests.map((r) => r.lastEventId)).toEqual([undefined, "1", "2"])
        })
    ).pipe(Effect.provide(FetchHttpClient.layer), quiet))

  it.live("events: interrupting the stream early (Stream.take) aborts the request", () =>
    withServer(
      scripted(sse("data: a\n\n", { stayOpen: true })),
      (server) =>
        Effect.gen(function*() {
          const events = yield* Stream.runCollect(Stream.take(SseClient.events(server.origin, fast), 1))
          expect(events.map((e) => e.data)).toEqual(["a"])
          yield* Effect.promise(() => server.requests[0].closed)
          expect(server.requests.length).toBe(1)
        })
    ).pipe(Effect.provide(FetchHttpClient.layer), quiet))

  const Message = Schema.Struct({ user: Schema.String, text: Schema.String })

  it.live("eventsSchema decodes JSON data with Schema 4; data that does not decode fails with Decode", () =>
    withServer(
      scripted(
        sse(`id: 1\ndata: {"user":"ann","text":"hi"}\n\nid: 2\nevent: chat\ndata: {"user":1}\n\n`),
        noContent
      ),
      (server) =>
        Effect.gen(function*() {
          const seen: Array<{ readonly user: string; readonly text: string }> = []
          const error = yield* SseClient.eventsSchema(Message)(server.origin, fast).pipe(
            Stream.runForEach((event) => Effect.sync(() => seen.push(event.data))),
            Effect.flip
          )
          expect(seen).toEqual([{ user: "ann", text: "hi" }])
          expect([error.reason, error.lastEventId, error.eventType]).toEqual(["Decode", "2", "chat"])
        })
    ).pipe(Effect.provide(FetchHttpClient.layer), quiet))

  it.live("connectSchema: typed events, then Failed with the Decode error on data that is not JSON", () =>
    withServer(
      scripted(sse(`data: {"user":"bo","text":"yo"}\n\nid: 7\ndata: not json\n\n`), noContent),
      (server) =>
        Effect.gen(function*() {
          const client = yield* SseClient.connectSchema(Message)(server.origin, fast)
          const seen: Array<string> = []
          const error = yield* client.events.pipe(
            Stream.runForEach((event) => Effect.sync(() => seen.push(event.data.text))),
            Effect.flip
          )
          expect(seen).toEqual(["yo"])
          expect([error.reason, error.lastEventId]).toEqual(["Decode", "7"])
          const state = yield* client.state
          expect(state._tag === "Failed" ? state.error : undefined).toBe(error)
          expect(yield* client.readyState).toBe(SseClient.CLOSED)
        }).pipe(Effect.scoped)
    ).pipe(Effect.provide(FetchHttpClient.layer), quiet))

  it.live("a backoff schedule adds its wait to the reconnection time; when it ends the client gives up", () =>
    withServer(
      // The connection breaks before any answer: none opens, so the schedule is never started over.
      scripted((res) => res.socket?.destroy()),
      (server) =>
        Effect.gen(function*() {
          const client = yield* SseClient.connect(server.origin, {
            retry: Duration.millis(2),
            backoff: Schedule.spaced(Duration.millis(3)).pipe(Schedule.upTo({ times: 2 }))
          })
          const delays: Array<[number, number, string | undefined]> = []
          const recording = yield* client.changes.pipe(
            Stream.runForEach((state) =>
              Effect.sync(() => {
                if (state._tag === "Reconnecting") {
                  delays.push([state.attempt, Duration.toMillis(state.delay), state.cause?.reason])
                }
              })
            ),
            Effect.forkScoped({ startImmediately: true })
          )
          const error = yield* Effect.flip(Stream.runDrain(client.events))
          yield* Fiber.join(recording)
          expect(error.reason).toBe("Transport")
          expect(delays).toEqual([[1, 5, "Transport"], [2, 5, "Transport"]])
          expect(server.requests.length).toBe(3)
          expect((yield* client.state)._tag).toBe("Failed")
        }).pipe(Effect.scoped)
    ).pipe(Effect.provide(FetchHttpClient.layer), quiet))
})
