/**
 * Effect 4's typed SSE endpoints (HttpApiSchema.StreamSse) implemented with SseHttpApi, on a real SseNode server
 * on 127.0.0.1 (port 0), read with node's HTTP client and with effect's own HttpApiClient.
 */
import { describe, expect, it } from "@effect/vitest"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseHttpApi from "effect-sse/SseHttpApi"
import * as SseHub from "effect-sse/SseHub"
import * as SseNode from "effect-sse/SseNode"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HttpApi from "effect/http-api/HttpApi"
import * as HttpApiBuilder from "effect/http-api/HttpApiBuilder"
import * as HttpApiClient from "effect/http-api/HttpApiClient"
import * as HttpApiEndpoint from "effect/http-api/HttpApiEndpoint"
import * as HttpApiGroup from "effect/http-api/HttpApiGroup"
import * as HttpApiSchema from "effect/http-api/HttpApiSchema"
import * as OpenApi from "effect/http-api/OpenApi"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
import { get } from "./utils/http.js"

const Tick = Schema.Struct({ n: Schema.Number, label: Schema.String })
const Ticks = HttpApiSchema.StreamSse({ data: Tick })
class Rejected extends Schema.TaggedError<Rejected>()("Rejected", { why: Schema.String }) {}
const Failing = HttpApiSchema.StreamSse({ data: Tick, error: Rejected })
const Note = HttpApiSchema.StreamSse({
  events: Schema.Struct({ id: Schema.optional(Schema.String), event: Schema.String, data: Schema.String })
})

class Api extends HttpApi.make("api").add(
  HttpApiGroup.make("clock")
    .add(HttpApiEndpoint.get("ticks", "/ticks", { success: Ticks }))
    .add(HttpApiEndpoint.get("injected", "/injected", { success: Ticks }))
    .add(HttpApiEndpoint.get("failing", "/failing", { success: Failing }))
    .add(HttpApiEndpoint.get("notes", "/notes", { success: Note }))
    .add(HttpApiEndpoint.get("quiet", "/quiet", { success: Ticks }))
    .add(HttpApiEndpoint.get("hub", "/hub", { success: Ticks }))
    .add(HttpApiEndpoint.get("open", "/open", { success: Ticks }))
) {}

const tick = (n: number, label = `tick ${n}`) => ({ n, label })
const byN = { id: (value: { readonly n: number }) => String(value.n), type: "tick" }

const ClockLive = HttpApiBuilder.group(Api, "clock", (handlers) =>
  Effect.gen(function*() {
    const hub = yield* SseHub.SseHub
    return handlers
      // Three ticks after the request's last event id.
      .handle("ticks", ({ endpoint }) =>
        SseHttpApi.resumable(
          endpoint,
          (lastEventId) => {
            const after = Number(Option.getOrElse(lastEventId, () => "0"))
            return Stream.range(after + 1, after + 3).pipe(Stream.map((n) => tick(n)))
          },
          { ...byN, keepAlive: false }
        ))
      // The second tick's id would inject an `event:` field, the third a `data:` line through the type.
      .handle("injected", () =>
        SseHttpApi.stream(
          Ticks,
          Stream.make(tick(1), tick(2, "2\nevent: admin"), tick(3)),
          { id: (value) => value.label === "tick 1" ? "1" : value.label, keepAlive: false }
        ))
      // An events StreamSse: the second event's type would inject a `data:` line and dispatch it.
      .handle("notes", () =>
        SseHttpApi.stream(
          Note,
          Stream.make(
            { id: "n1", event: "note", data: "first" },
            { event: "note\ndata: evil\n", data: "second" },
            { event: "note", data: "third" }
          ),
          { keepAlive: false }
        ))
      .handle("failing", () =>
        SseHttpApi.stream(
          Failing,
          Stream.concat(Stream.make(tick(1)), Stream.fail(new Rejected({ why: "no more" }))),
          { ...byN, keepAlive: false }
        ))
      .handle("quiet", () => SseHttpApi.stream(Ticks, Stream.never, { keepAlive: "20 millis" }))
      .handle("hub", () => SseHttpApi.hub(hub, { keepAlive: false }))
      .handle("open", () =>
        SseHttpApi.stream(Ticks, Stream.concat(Stream.make(tick(1)), Stream.never), { ...byN, keepAlive: false }))
  }))

/** The API on an SseNode server (gracefulShutdownTimeout 10 minutes), until `scope` closes. */
const serveApi = (hub: SseHub.SseHub["Service"], scope: Scope.Scope) =>
  Effect.gen(function*() {
    const app = HttpApiBuilder.layer(Api, { openapiPath: "/openapi.json" }).pipe(
      Layer.provide(ClockLive),
      Layer.provide(Layer.succeed(SseHub.SseHub, hub))
    )
    const server = SseNode.layer(() => Http.createServer(), {
      port: 0,
      host: "127.0.0.1",
      gracefulShutdownTimeout: "10 minutes"
    })
    const context = yield* Layer.buildWithScope(
      HttpRouter.serve(app, { disableListenLog: true, disableLogger: true }).pipe(Layer.provideMerge(server)),
      scope
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag === "UnixPathAddress") throw new Error("not a TCP address")
    return address.port
  })

const withServer = <A, E>(body: (port: number, hub: SseHub.SseHub["Service"]) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const hub = yield* SseHub.make().pipe(Scope.provide(scope))
    const port = yield* serveApi(hub, scope)
    return yield* body(port, hub).pipe(Effect.ensuring(Scope.close(scope, Exit.void)))
  })

const wire = (n: number) => `event: tick\nid: ${n}\ndata: ${JSON.stringify(tick(n))}\n\n`

describe("SseHttpApi (Effect 4): a StreamSse endpoint served with effect-sse", () => {
  it.live("writes the SSE headers, ': connected', then the typed values as events with their ids and type", () =>
    withServer((port) =>
      Effect.gen(function*() {
        const received = yield* Effect.promise(() => get(port, "/ticks").done)
        expect(received.status).toBe(200)
        expect(received.headers["content-type"]).toBe("text/event-stream")
        expect(received.headers["cache-control"]).toBe("no-cache")
        expect(received.headers["x-accel-buffering"]).toBe("no")
        expect(received.body).toBe(`: connected\n\n${wire(1)}${wire(2)}${wire(3)}`)
      })
    ))

  it.live("resumes after Last-Event-ID, else after the lastEventId query parameter; the header wins", () =>
    withServer((port) =>
      Effect.gen(function*() {
        const fromHeader = yield* Effect.promise(() => get(port, "/ticks", { "last-event-id": "5" }).done)
        expect(fromHeader.body).toBe(`: connected\n\n${wire(6)}${wire(7)}${wire(8)}`)
        const fromQuery = yield* Effect.promise(() => get(port, "/ticks?lastEventId=10").done)
        expect(fromQuery.body).toBe(`: connected\n\n${wire(11)}${wire(12)}${wire(13)}`)
        const both = yield* Effect.promise(() => get(port, "/ticks?lastEventId=10", { "last-event-id": "20" }).done)
        expect(both.body).toBe(`: connected\n\n${wire(21)}${wire(22)}${wire(23)}`)
      })
    ))

  it.live("effect's HttpApiClient reads the events as the endpoint's typed values", () =>
    withServer((port) =>
      Effect.gen(function*() {
        const client = yield* HttpApiClient.make(Api, { baseUrl: `http://127.0.0.1:${port}` })
        const ticks = yield* client.clock.ticks()
        expect(yield* Stream.runCollect(ticks)).toEqual([tick(1), tick(2), tick(3)])
      }).pipe(Effect.provide(FetchHttpClient.layer))
    ))

  it.live("refuses an id that would inject a field: not written, the response ends with effect's failure event", () =>
    withServer((port) =>
      Effect.gen(function*() {
        const received = yield* Effect.promise(() => get(port, "/injected").done)
        expect(received.complete).toBe(true)
        const [head, failure] = received.body.split("event: effect/http-api/stream/failure\n")
        expect(head).toBe(`: connected\n\nid: 1\ndata: ${JSON.stringify(tick(1))}\n\n`)
        // No line of the response is the injected field (the refusal's message quotes it, escaped, as JSON data).
        expect(received.body).not.toMatch(/^event: admin$/m)
        expect(received.body).not.toContain("tick 3")
        expect(failure).toMatch(
          /^data: \[\{"_tag":"Die","defect":\{"name":"SseEventError","message":"the \\"id\\" field/
        )
        expect(failure.endsWith("\n\n")).toBe(true)
        // effect's client sees the refusal as the stream's defect, after the first value.
        const client = yield* HttpApiClient.make(Api, { baseUrl: `http://127.0.0.1:${port}` })
        const seen: Array<unknown> = []
        const exit = yield* client.clock.injected().pipe(
          Effect.flatMap((events) => Stream.runForEach(events, (value) => Effect.sync(() => seen.push(value)))),
          Effect.exit
        )
        expect(seen).toEqual([tick(1)])
        expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
      }).pipe(Effect.provide(FetchHttpClient.layer))
    ))

  it.live("refuses an event type that would inject a line in an events StreamSse: not written, the response ends", () =>
    withServer((port) =>
      Effect.gen(function*() {
        const received = yield* Effect.promise(() => get(port, "/notes").done)
        expect(received.complete).toBe(true)
        const [head, failure] = received.body.split("event: effect/http-api/stream/failure\n")
        expect(head).toBe(": connected\n\nevent: note\nid: n1\ndata: first\n\n")
        expect(received.body).not.toMatch(/^data: (evil|second|third)$/m)
        expect(failure).toMatch(
          /^data: \[\{"_tag":"Die","defect":\{"name":"SseEventError","message":"the \\"event\\" field/
        )
      })
    ))

  it.live("a failure the endpoint declares reaches effect's HttpApiClient typed, after the values before it", () =>
    withServer((port) =>
      Effect.gen(function*() {
        const client = yield* HttpApiClient.make(Api, { baseUrl: `http://127.0.0.1:${port}` })
        const seen: Array<unknown> = []
        const exit = yield* client.clock.failing().pipe(
          Effect.flatMap((events) => Stream.runForEach(events, (value) => Effect.sync(() => seen.push(value)))),
          Effect.exit
        )
        expect(seen).toEqual([tick(1)])
        expect(exit).toEqual(Exit.fail(new Rejected({ why: "no more" })))
      }).pipe(Effect.provide(FetchHttpClient.layer))
    ))

  it.live("writes ': keep-alive' comments on a quiet stream", () =>
    withServer((port) =>
      Effect.gen(function*() {
        const reading = get(port, "/quiet")
        const body = yield* Effect.promise(() => reading.until(": keep-alive\n\n: keep-alive\n\n"))
        reading.close()
        expect(body.startsWith(": connected\n\n: keep-alive\n\n")).toBe(true)
      })
    ))

  it.live("serves a hub: published values with the hub's ids; Last-Event-ID resumes with no gap and no duplicate", () =>
    withServer((port, hub) =>
      Effect.gen(function*() {
        // The hub's own ids (counted on from the clock at start-up, so never those of an earlier run).
        const ids: Array<string> = []
        for (const n of [1, 2, 3]) ids.push(yield* SseHttpApi.publish(hub, Ticks, tick(n)))
        expect(new Set(ids).size).toBe(3)
        const reading = get(port, "/hub", { "last-event-id": ids[0] })
        const plain = (n: number) => `id: ${ids[n - 1]}\ndata: ${JSON.stringify(tick(n))}\n\n`
        yield* Effect.promise(() => reading.until(plain(3)))
        ids.push(yield* SseHttpApi.publish(hub, Ticks, tick(4)))
        const body = yield* Effect.promise(() => reading.until(plain(4)))
        reading.close()
        expect(body).toBe(`: connected\n\n${plain(2)}${plain(3)}${plain(4)}`)
        const fromQuery = get(port, `/hub?lastEventId=${ids[2]}`)
        expect(yield* Effect.promise(() => fromQuery.until(plain(4)))).toBe(`: connected\n\n${plain(4)}`)
        fromQuery.close()
      })
    ))

  it.live(
    "serves a hub subscribed before ': connected': an event published the moment it arrives is delivered",
    () =>
      withServer((port, hub) =>
        Effect.gen(function*() {
          // Each client publishes as soon as it reads `: connected`; a subscription made only when the body starts
          // would miss some of these.
          for (let n = 1; n <= 30; n++) {
            const reading = get(port, "/hub")
            yield* Effect.promise(() => reading.until(": connected\n\n"))
            const id = yield* SseHttpApi.publish(hub, Ticks, tick(n))
            yield* Effect.promise(() => reading.until(`id: ${id}\ndata: ${JSON.stringify(tick(n))}\n\n`))
            reading.close()
          }
        })
      ),
    30_000
  )

  it.live(
    "ends an open stream cleanly and at once when the server shuts down (not at gracefulShutdownTimeout)",
    () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const hub = yield* SseHub.make().pipe(Scope.provide(scope))
        const port = yield* serveApi(hub, scope)
        const reading = get(port, "/open")
        yield* Effect.promise(() => reading.until(wire(1)))
        yield* Scope.close(scope, Exit.void)
        const received = yield* Effect.promise(() => reading.done)
        expect(received.complete).toBe(true)
        expect(received.body).toBe(`: connected\n\n${wire(1)}`)
      }),
    20_000
  )

  it.live("the endpoints stay in the OpenAPI document, as text/event-stream, also as served", () =>
    withServer((port) =>
      Effect.gen(function*() {
        const document = OpenApi.fromApi(Api)
        for (const path of ["/ticks", "/hub"]) {
          const content = document.paths[path]?.get?.responses?.["200"]?.content
          expect(Object.keys(content ?? {})).toEqual(["text/event-stream"])
        }
        const served = yield* Effect.promise(() => get(port, "/openapi.json").done)
        expect(JSON.parse(served.body)).toEqual(JSON.parse(JSON.stringify(document)))
      })
    ))
})

describe("SseHttpApi.event (Effect 4): the checks, without a server", () => {
  it.effect("a value becomes an event with the given id and type; an events StreamSse keeps each event's own", () =>
    Effect.gen(function*() {
      const event = yield* SseHttpApi.event(Ticks, tick(1), byN)
      expect(SseEvent.encodeString(event)).toBe(wire(1))
      const note = yield* SseHttpApi.event(Note, { id: "n1", event: "note", data: "a\nb" })
      expect(SseEvent.encodeString(note)).toBe("event: note\nid: n1\ndata: a\ndata: b\n\n")
    }))

  it.effect("refuses CR, LF or NUL in an id and CR or LF in a type with SseEventError, for both kinds", () =>
    Effect.gen(function*() {
      const refused = (effect: Effect.Effect<SseEvent.SseEvent, SseEvent.SseEventError>) =>
        Effect.map(Effect.result(effect), (result) => Result.isFailure(result) ? result.failure.reason : "accepted")
      for (const id of ["a\nid: b", "a\rb", "a\r\nb", "a\u0000b"]) {
        expect(yield* refused(SseHttpApi.event(Ticks, tick(1), { id: () => id }))).toBe("InvalidId")
        expect(yield* refused(SseHttpApi.event(Note, { id, event: "note", data: "x" }))).toBe("InvalidId")
      }
      for (const type of ["a\nevent: b", "a\rb", "a\r\ndata: x"]) {
        expect(yield* refused(SseHttpApi.event(Ticks, tick(1), { type }))).toBe("InvalidType")
        expect(yield* refused(SseHttpApi.event(Note, { event: type, data: "x" }))).toBe("InvalidType")
      }
      // A value the schema does not encode.
      expect(yield* refused(SseHttpApi.event(Ticks, { n: "one" } as never))).toBe("InvalidData")
    }))

  it.effect("encode fails a stream at the first refused value, after the values before it", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const exit = yield* Stream.make(tick(1), tick(2), tick(3)).pipe(
        SseHttpApi.encode(Ticks, { id: (value) => value.n === 2 ? "2\n" : String(value.n) }),
        Stream.runForEach((event) => Effect.sync(() => seen.push(SseEvent.encodeString(event)))),
        Effect.exit
      )
      expect(seen).toEqual([`id: 1\ndata: ${JSON.stringify(tick(1))}\n\n`])
      expect(exit).toEqual(Exit.fail(new SseEvent.SseEventError({ reason: "InvalidId", value: "2\n" })))
    }))
})
