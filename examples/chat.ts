/**
 * The seed's chat, the Effect way: messages POSTed to `/messages` are validated, stamped and broadcast
 * through a hub to every browser on `/events`; a client that reconnects resumes from its Last-Event-ID.
 *
 *   npm run chat                   # PORT=8080 by default, then open http://localhost:8080/
 */
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Chunk, Clock, Config, Context, Data, Effect, Layer, ParseResult, Schema, Stream } from "effect"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseHub from "effect-sse/SseHub"
import { readFileSync } from "node:fs"
import { createServer } from "node:http"
import { fileURLToPath } from "node:url"

const NonBlank = Schema.String.pipe(
  Schema.filter((s) => s.trim().length > 0, { message: () => "must not be empty" })
)

/** What a client POSTs. */
export const Post = Schema.Struct({ user: NonBlank, text: NonBlank })

/** What the hub broadcasts: the post, stamped by the server. */
export const ChatMessage = Schema.Struct({ user: Schema.String, text: Schema.String, timestamp: Schema.String })
export type ChatMessage = typeof ChatMessage.Type

export class ChatHub extends Context.Tag("ChatHub")<ChatHub, SseHub.SseHub<ChatMessage>>() {}

export const ChatHubLive = SseHub.layer(ChatHub, { name: "chat", schema: ChatMessage, history: { size: 1000 } })

/** Largest accepted POST body. */
export const maxBodyBytes = 64 * 1024

class BadRequest extends Data.TaggedError("BadRequest")<{ readonly message: string }> {}
class PayloadTooLarge extends Data.TaggedError("PayloadTooLarge") {}

/** Past the limit, this much more is read and thrown away so that the 413 can still be written. */
const drainBytes = 1024 * 1024

const readBody = (request: HttpServerRequest.HttpServerRequest) =>
  request.stream.pipe(
    Stream.mapError(() => new BadRequest({ message: "The request body could not be read" })),
    // Stopping the read early makes the server destroy the socket before the 413 goes out, so a body over the
    // limit is read on (and dropped) up to `drainBytes`; beyond that the connection is simply cut.
    Stream.runFoldWhile(
      { chunks: Chunk.empty<Uint8Array>(), size: 0 },
      (state) => state.size <= drainBytes,
      (state, chunk) => ({
        chunks: state.size + chunk.length <= maxBodyBytes ? Chunk.append(state.chunks, chunk) : state.chunks,
        size: state.size + chunk.length
      })
    ),
    Effect.filterOrFail((state) => state.size <= maxBodyBytes, () => new PayloadTooLarge()),
    Effect.flatMap((state) =>
      Effect.try({
        try: () => new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(Chunk.toReadonlyArray(state.chunks))),
        catch: () => new BadRequest({ message: "The body is not valid UTF-8" })
      })
    )
  )

const decodePost = (body: string) =>
  Schema.decodeUnknown(Schema.parseJson(Post))(body).pipe(
    Effect.mapError((error) =>
      new BadRequest({
        message: ParseResult.ArrayFormatter.formatErrorSync(error)
          .map((issue) => issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message)
          .join("; ")
      })
    )
  )

const stamp = (user: string, text: string) =>
  Effect.map(Clock.currentTimeMillis, (now): ChatMessage => ({ user, text, timestamp: new Date(now).toISOString() }))

const postMessage = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const contentLength = Number(request.headers["content-length"] ?? "0")
  if (contentLength > maxBodyBytes) return yield* new PayloadTooLarge()
  const post = yield* Effect.flatMap(readBody(request), decodePost)
  const hub = yield* ChatHub
  const id = yield* hub.publish(yield* stamp(post.user, post.text))
  return yield* HttpServerResponse.json({ id }, { status: 201 })
}).pipe(
  Effect.catchTags({
    BadRequest: (error) => HttpServerResponse.json({ error: error.message }, { status: 400 }),
    PayloadTooLarge: () =>
      HttpServerResponse.json({ error: `The body is larger than ${maxBodyBytes} bytes` }, { status: 413 }),
    HubClosed: () => HttpServerResponse.json({ error: "The chat is shutting down" }, { status: 503 }),
    HubUnavailable: (error) =>
      Effect.zipRight(
        Effect.logWarning("a message could not be published", error.message),
        HttpServerResponse.json({ error: "The chat is unavailable; try again shortly" }, { status: 503 })
      ),
    SseEventError: (error) => HttpServerResponse.json({ error: error.message }, { status: 500 })
  })
)

const welcome = (clients: number) =>
  Effect.flatMap(
    stamp("System", `Welcome! ${clients} ${clients === 1 ? "client is" : "clients are"} connected.`),
    (message) => Effect.orDie(SseEvent.jsonSchema(ChatMessage)(message))
  )

const events = Effect.gen(function*() {
  const hub = yield* ChatHub
  return yield* hub.serve({ onConnect: ({ clients }) => Effect.map(welcome(clients), (e) => [e]) })
}).pipe(
  Effect.catchTag("HubClosed", () => HttpServerResponse.text("The chat is shutting down", { status: 503 }))
)

const page = readFileSync(new URL("./chat.html", import.meta.url), "utf8")

export const router = HttpRouter.empty.pipe(
  HttpRouter.get("/", HttpServerResponse.html(page)),
  HttpRouter.get("/events", events),
  HttpRouter.post("/messages", postMessage)
)

export const ChatServer = HttpServer.serve(router).pipe(
  HttpServer.withLogAddress,
  Layer.provide(ChatHubLive),
  Layer.provide(NodeHttpServer.layerConfig(createServer, {
    port: Config.integer("PORT").pipe(Config.withDefault(8080)),
    host: Config.string("HOST").pipe(Config.withDefault(undefined))
  }))
)

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  NodeRuntime.runMain(Layer.launch(ChatServer))
}
