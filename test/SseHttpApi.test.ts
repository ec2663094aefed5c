/**
 * SSE endpoints in an HttpApi: the OpenAPI document (read as generated) describes them as `text/event-stream` with
 * the event schema, and a real server on port 0 serves them with effect-sse's serving while the client derived
 * from the API reads typed events, resuming with `Last-Event-ID` after the server drops its connection.
 */
import {
  FetchHttpClient,
  HttpApi,
  HttpApiBuilder,
  HttpApiClient,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpServer,
  HttpServerRequest,
  OpenApi
} from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Logger, LogLevel, Option, Schedule, Schema, Stream } from "effect"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as SseHttpApi from "../src/SseHttpApi.js"
import * as SseHub from "../src/SseHub.js"
import * as SseHubBackend from "../src/SseHubBackend.js"
import * as SseNode from "../src/SseNode.js"
import { awaitClients } from "./utils/hub.js"
import { within } from "./utils/inProcess.js"

const Tick = Schema.Struct({ n: Schema.Int }).annotations({ identifier: "Tick" })
const Message = Schema.Struct({ user: Schema.String, text: Schema.String, at: Schema.DateFromString })
type Message = typeof Message.Type

const ticks = SseHttpApi.get("ticks", "/ticks", {
  data: Tick,
  type: "tick",
  id: (tick) => String(tick.n),
  description: "A tick every few milliseconds, resumable"
})
const ask = SseHttpApi.post("ask", "/rooms/:room/ask", { data: Schema.String })
  .setPath(Schema.Struct({ room: Schema.String }))
  .setPayload(Schema.Struct({ question: Schema.String }))
  .setUrlParams(Schema.Struct({ words: Schema.NumberFromString }))
const chat = SseHttpApi.get("chat", "/chat", { data: Message, type: "message" })
const health = HttpApiEndpoint.get("health", "/health").addSuccess(Schema.Struct({ ok: Schema.Boolean }))

class Api extends HttpApi.make("api")
  .add(HttpApiGroup.make("clock").add(ticks).add(health))
  .add(HttpApiGroup.make("rooms").add(ask).add(chat))
{}

interface User {
  readonly name: string
}
class ChatHub extends Context.Tag("test/SseHttpApi/ChatHub")<ChatHub, SseHub.SseHub<Message, User, string>>() {}

describe("SseHttpApi: the OpenAPI document", () => {
  const document = OpenApi.fromApi(Api) as unknown as {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the document as JSON, read by the test
    readonly paths: Record<string, Record<string, any>>
    readonly components: { readonly schemas: Record<string, unknown> }
  }

  it("describes an SSE endpoint's success as text/event-stream, the event schema as itemSchema and as schema", () => {
    const responses = document.paths["/ticks"].get.responses
    expect(Object.keys(responses["200"].content)).toEqual(["text/event-stream"])
    expect(responses["200"].description).toBe("A tick every few milliseconds, resumable")
    const media = responses["200"].content["text/event-stream"]
    const item = {
      type: "object",
      description: "A tick every few milliseconds, resumable",
      required: ["data"],
      properties: {
        data: {
          type: "string",
          contentMediaType: "application/json",
          contentSchema: { $ref: "#/components/schemas/Tick" }
        },
        event: { type: "string", enum: ["tick"] },
        id: { type: "string" },
        retry: expect.objectContaining({ type: "integer", minimum: 0 })
      },
      additionalProperties: false
    }
    // OpenAPI 3.2 reads the schema of each event from itemSchema; a 3.1 tool reads schema.
    expect(media.itemSchema).toEqual(item)
    expect(media.schema).toEqual(item)
    expect(document.components.schemas.Tick).toEqual({
      type: "object",
      required: ["n"],
      properties: { n: { $ref: "#/components/schemas/Int" } },
      additionalProperties: false
    })
  })

  it("keeps the parameters and payload of an SSE endpoint, and leaves other endpoints as they were", () => {
    const operation = document.paths["/rooms/{room}/ask"].post
    expect(operation.parameters.map((p: { name: string; in: string }) => [p.name, p.in])).toEqual([
      ["room", "path"],
      ["words", "query"]
    ])
    expect(Object.keys(operation.requestBody.content)).toEqual(["application/json"])
    const data = operation.responses["200"].content["text/event-stream"].itemSchema.properties.data
    expect(data).toEqual({ type: "string", contentMediaType: "application/json", contentSchema: { type: "string" } })
    expect(operation.responses["200"].content["text/event-stream"].itemSchema.properties.event).toEqual({
      type: "string"
    })
    expect(Object.keys(document.paths["/health"].get.responses["200"].content)).toEqual(["application/json"])
  })

  it("names the declaration of SSE endpoints only", () => {
    expect(SseHttpApi.declaration(ticks)?.type).toBe("tick")
    expect(SseHttpApi.declaration(health)).toBeUndefined()
  })
})

/** What the server saw: the Last-Event-ID of every /ticks request. */
const seen: Array<Option.Option<string>> = []

const ClockLive = HttpApiBuilder.group(Api, "clock", (handlers) =>
  handlers
    .handle("ticks", () =>
      SseHttpApi.resumable(ticks, (lastEventId) => {
        seen.push(lastEventId)
        const from = Option.match(lastEventId, { onNone: () => 1, onSome: (id) => Number(id) + 1 })
        return Stream.iterate(from, (n) => n + 1).pipe(
          Stream.schedule(Schedule.spaced("5 millis")),
          Stream.map((n) => ({ n }))
        )
      }, { keepAlive: false }))
    .handle("health", () => Effect.succeed({ ok: true })))

const RoomsLive = HttpApiBuilder.group(Api, "rooms", (handlers) =>
  handlers
    .handle("ask", ({ path, payload, urlParams }) =>
      SseHttpApi.stream(
        ask,
        Stream.fromIterable(`${path.room}: ${payload.question}`.split(" ").slice(0, urlParams.words))
      ))
    .handle("chat", () =>
      Effect.gen(function*() {
        const hub = yield* ChatHub
        const request = yield* HttpServerRequest.HttpServerRequest
        // The client's state comes from the request: here the user it says it is.
        return yield* SseHttpApi.hub(hub, { state: { name: request.headers["x-user"] ?? "anonymous" } })
      })))

const ChatHubLive = SseHub.layer(ChatHub, {
  name: "http-api-chat",
  schema: Message,
  eventType: "message",
  keepAlive: false,
  target: { schema: Schema.String, matches: (to, user) => to === user.name }
}).pipe(Layer.provide(SseHubBackend.layerMemory))

/** The API on `SseNode`, on 127.0.0.1 and a free port; the node server's sockets, so a test can drop them. */
const serveApi = Effect.gen(function*() {
  const sockets = new Set<Net.Socket>()
  const node = Http.createServer()
  node.on("connection", (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  const context = yield* Layer.build(
    HttpApiBuilder.serve().pipe(
      Layer.provide(HttpApiBuilder.api(Api).pipe(Layer.provide([ClockLive, RoomsLive]))),
      Layer.provideMerge(ChatHubLive),
      Layer.provideMerge(SseNode.layer(() => node, { port: 0, host: "127.0.0.1" }))
    )
  )
  const address = Context.get(context, HttpServer.HttpServer).address
  if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("not a TCP server")
  return { baseUrl: `http://127.0.0.1:${address.port}`, sockets, hub: Context.get(context, ChatHub) }
})

describe("SseHttpApi: a real server and the client derived from the API", () => {
  it.scopedLive("the client reads typed events and, after the server drops it, resumes with Last-Event-ID: no gap, no duplicate", () =>
    Effect.gen(function*() {
      seen.length = 0
      const { baseUrl, sockets } = yield* serveApi
      const client = yield* SseHttpApi.client(Api, { baseUrl, options: { retry: "20 millis" } })
      let dropped = false
      const events = yield* client.clock.ticks({}).pipe(
        Stream.tap((event) =>
          Effect.sync(() => {
            // After the third event, the server side drops every connection (no clean end).
            if (event.data.n === 3 && !dropped) {
              dropped = true
              for (const socket of sockets) socket.destroy()
            }
          })
        ),
        Stream.take(8),
        Stream.runCollect,
        (effect) => within(effect, "8 ticks", "10 seconds"),
        // The client warns of the dropped connection, as it should: not printed here.
        Logger.withMinimumLogLevel(LogLevel.Error)
      )
      const all = [...events]
      expect(all.map((e) => e.data.n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
      expect(all.map((e) => e.lastEventId)).toEqual(["1", "2", "3", "4", "5", "6", "7", "8"])
      expect(all.every((e) => e.type === "tick")).toBe(true)
      expect(dropped).toBe(true)
      // The second request came back with the last id the client had (3, or one the client parsed in the same read).
      expect(seen[0]).toEqual(Option.none())
      expect(Option.map(seen[1] ?? Option.none(), Number)).toEqual(Option.some(expect.any(Number)))
      const resumedAfter = Number(Option.getOrThrow(seen[1]))
      expect(resumedAfter).toBeGreaterThanOrEqual(3)
      expect(resumedAfter).toBeLessThan(8)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scopedLive("a POST endpoint: path, URL parameters and payload go as declared; the events decode with its schema", () =>
    Effect.gen(function*() {
      const { baseUrl } = yield* serveApi
      const client = yield* SseHttpApi.client(Api, { baseUrl })
      const words = yield* client.rooms.ask({
        path: { room: "lobby room" },
        urlParams: { words: 3 },
        payload: { question: "what time is it" },
        options: { reconnect: false }
      }).pipe(Stream.runCollect, (effect) => within(effect, "the answer", "10 seconds"))
      expect([...words].map((e) => e.data)).toEqual(["lobby", "room:", "what"])
      // The API's other endpoints are HttpApiClient's, on the same API.
      const http = yield* HttpApiClient.make(Api, { baseUrl })
      expect(yield* http.clock.health()).toEqual({ ok: true })
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scopedLive("a hub endpoint: the client's state comes from the request, typed messages arrive with the hub's ids", () =>
    Effect.gen(function*() {
      const { baseUrl, hub } = yield* serveApi
      const client = yield* SseHttpApi.client(Api, { baseUrl })
      const at = new Date("2026-01-02T03:04:05.000Z")
      const received = client.rooms.chat({ options: { retry: "20 millis" } }).pipe(
        Stream.take(2),
        Stream.runCollect,
        (effect) => within(effect, "2 messages", "10 seconds")
      )
      const [events, ids] = yield* Effect.all([
        received,
        Effect.gen(function*() {
          yield* awaitClients(hub, (n) => n === 1, "1")
          expect((yield* hub.clients).map((c) => c.state)).toEqual([{ name: "anonymous" }])
          yield* hub.publish({ user: "ann", text: "for bob only", at }, { to: "bob" })
          return [
            yield* hub.publish({ user: "ann", text: "for anonymous", at }, { to: "anonymous" }),
            yield* hub.publish({ user: "ann", text: "for all", at })
          ]
        })
      ], { concurrency: "unbounded" })
      expect([...events].map((e) => [e.type, e.data.text, e.data.at.toISOString()])).toEqual([
        ["message", "for anonymous", at.toISOString()],
        ["message", "for all", at.toISOString()]
      ])
      expect([...events].map((e) => e.lastEventId)).toEqual(ids)
    }).pipe(Effect.provide(FetchHttpClient.layer)))
})
