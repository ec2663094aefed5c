/**
 * The chat, the Effect way: messages POSTed to `/messages` are validated, stamped and broadcast through a hub to
 * every browser on `/events`; a client that reconnects resumes from its Last-Event-ID. A POST may carry an
 * `Idempotency-Key`: retried with the same key, a message is published once.
 *
 *   npm run chat                   # PORT=8080 by default, then open http://localhost:8080/
 */
import { HttpIncomingMessage, HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { HttpServerError } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Clock, Config, Context, Effect, Layer, Option, ParseResult, Schema } from "effect"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseHub from "effect-sse/SseHub"
import * as SseHubBackend from "effect-sse/SseHubBackend"
import * as SseNode from "effect-sse/SseNode"
import { readFileSync } from "node:fs"
import { createServer } from "node:http"
import { fileURLToPath } from "node:url"

/**
 * A field of a post: a non-blank string. The messages name the field and never show the value: the formatter
 * would otherwise walk whatever the client sent (a value nested 30 000 deep overflows its stack).
 */
const Field = (name: string) =>
  Schema.String.annotations({ message: () => `${name} must be a string` }).pipe(
    Schema.filter((s) => s.trim().length > 0, { message: () => `${name} must not be empty` })
  )

/** What a client POSTs. */
export const Post = Schema.Struct({ user: Field("user"), text: Field("text") }).annotations({
  message: () => "the body must be a JSON object with the fields user and text"
})

/** What the hub broadcasts: the post, stamped by the server. */
export const ChatMessage = Schema.Struct({ user: Schema.String, text: Schema.String, timestamp: Schema.String })
export type ChatMessage = typeof ChatMessage.Type

export class ChatHub extends Context.Tag("ChatHub")<ChatHub, SseHub.SseHub<ChatMessage>>() {}

/** The chat hub's options, whatever its backend. */
export const chatHubOptions: SseHub.Options<ChatMessage> = {
  name: "chat",
  schema: ChatMessage,
  history: { size: 1000 }
}

/** The hub in this process. `cluster.ts` runs the same hub on Redis: only the backend layer differs. */
export const ChatHubLive = SseHub.layer(ChatHub, chatHubOptions).pipe(Layer.provide(SseHubBackend.layerMemory))

/** Largest accepted POST body. */
export const maxBodyBytes = 64 * 1024

const error = (status: number, message: string, headers?: Record<string, string>) =>
  HttpServerResponse.json({ error: message }, { status, ...(headers === undefined ? {} : { headers }) })

const tooLarge = () => error(413, `The body is larger than ${maxBodyBytes} bytes`)

/** The platform's body limit fails the read with this cause (`SseNode`'s server keeps reading, so the 413 arrives). */
const isTooLarge = (e: HttpServerError.RequestError) =>
  e.cause instanceof Error && e.cause.message === "maxBytes exceeded"

/** A parse error as a list of `field: problem`, never the value itself. */
const describe = (e: ParseResult.ParseError): string => {
  try {
    return ParseResult.ArrayFormatter.formatErrorSync(e)
      .map((issue) => issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message)
      .join("; ")
  } catch {
    return "the body must be a JSON object with the fields user and text"
  }
}

/** The standard `Idempotency-Key` header: a printable token of at most 255 characters, if any. */
const idempotencyKeyOf = (request: HttpServerRequest.HttpServerRequest) => {
  const key = request.headers["idempotency-key"]
  if (key === undefined) return Effect.succeed(Option.none<string>())
  return /^[\x21-\x7e]{1,255}$/.test(key)
    ? Effect.succeed(Option.some(key))
    : Effect.fail(new BadKey())
}

class BadKey extends Schema.TaggedError<BadKey>()("BadKey", {}) {}

const stamp = (user: string, text: string) =>
  Effect.map(Clock.currentTimeMillis, (now): ChatMessage => ({ user, text, timestamp: new Date(now).toISOString() }))

const postMessage = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  // A declared length over the limit is refused before anything is read.
  if (Number(request.headers["content-length"] ?? "0") > maxBodyBytes) return yield* tooLarge()
  const key = yield* idempotencyKeyOf(request)
  const post = yield* HttpServerRequest.schemaBodyJson(Post).pipe(
    HttpIncomingMessage.withMaxBodySize(Option.some(maxBodyBytes))
  )
  const hub = yield* ChatHub
  const id = yield* hub.publish(yield* stamp(post.user, post.text), { idempotencyKey: Option.getOrUndefined(key) })
  return yield* HttpServerResponse.json({ id }, { status: 201 })
}).pipe(
  Effect.catchTags({
    RequestError: (e) => isTooLarge(e) ? tooLarge() : error(400, "The body is not valid JSON"),
    ParseError: (e) => error(400, describe(e)),
    BadKey: () => error(400, "Idempotency-Key must be 1 to 255 printable ASCII characters"),
    HubClosed: () => error(503, "The chat is shutting down", { "retry-after": "5" }),
    HubUnavailable: (e) =>
      Effect.zipRight(
        Effect.logWarning("a message could not be published", e.message),
        e.reason === "OutcomeUnknown"
          // It may still be published: only a retry with the same key can make sure it is, once.
          ? error(
            504,
            "The chat did not answer in time: the message may or may not have been sent. Retry with the same Idempotency-Key."
          )
          : error(503, "The chat is unavailable and the message was not sent; try again shortly", {
            "retry-after": "2"
          })
      ),
    PublishRejected: (e) => error(409, e.message),
    SseEventError: (e) => error(400, e.message)
  })
)

const welcome = (clients: number) =>
  Effect.flatMap(
    stamp("System", `Welcome! ${clients} ${clients === 1 ? "client is" : "clients are"} connected.`),
    (message) => Effect.orDie(SseEvent.jsonSchema(ChatMessage)(message))
  )

// A shut-down hub answers 503 with a body by itself (HubClosed is Respondable).
const events = Effect.flatMap(
  ChatHub,
  SseHub.serve({ onConnect: ({ clients }) => Effect.map(welcome(clients), (e) => [e]) })
)

const page = readFileSync(new URL("./chat.html", import.meta.url), "utf8")

export const router = HttpRouter.empty.pipe(
  HttpRouter.get("/", HttpServerResponse.html(page)),
  HttpRouter.get("/events", events),
  HttpRouter.post("/messages", postMessage)
)

/** The server, on a given hub layer. */
export const serveChat = <E>(hub: Layer.Layer<ChatHub, E>) =>
  HttpServer.serve(router).pipe(
    HttpServer.withLogAddress,
    Layer.provide(hub),
    Layer.provide(SseNode.layerConfig(createServer, {
      port: Config.integer("PORT").pipe(Config.withDefault(8080)),
      host: Config.string("HOST").pipe(Config.withDefault(undefined))
    }))
  )

export const ChatServer = serveChat(ChatHubLive)

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  NodeRuntime.runMain(Layer.launch(ChatServer))
}
