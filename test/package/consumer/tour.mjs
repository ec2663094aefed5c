// A consumer's first steps with the published package, run by plain `node` as ESM: build an event, encode it,
// parse it back, then serve a stream with SseNode on a free port, read it over node's HTTP client and shut
// down. The process must then exit by itself: nothing of the server may outlive its layer.
import { HttpRouter, HttpServer } from "@effect/platform"
import { Effect, Either, Layer, Stream } from "effect"
import { SseParser, SseResponse } from "effect-sse"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseNode from "effect-sse/SseNode"
import * as Http from "node:http"

const event = Either.getOrThrow(
  SseEvent.make("hello\nworld").pipe(SseEvent.withType("greeting"), SseEvent.withId("1"))
)
const wire = SseEvent.encodeString(event)
console.log(`encoded ${JSON.stringify(wire)}`)

const parsed = Either.getOrThrow(SseParser.parse(wire))
console.log(`parsed ${JSON.stringify(parsed)}`)

// Reads the response until the event has arrived, then hangs up.
const read = (port) =>
  new Promise((resolve, reject) => {
    const request = Http.get({ host: "127.0.0.1", port, path: "/events" }, (response) => {
      let text = ""
      response.setEncoding("utf8")
      response.on("data", (chunk) => {
        text += chunk
        if (text.includes(wire)) {
          request.destroy()
          resolve({ status: response.statusCode, contentType: response.headers["content-type"], text })
        }
      })
      response.on("end", () => reject(new Error(`the response ended early: ${JSON.stringify(text)}`)))
    })
    request.on("error", reject)
  })

const app = HttpRouter.empty.pipe(
  HttpRouter.get("/events", SseResponse.stream(Stream.concat(Stream.make(event), Stream.never)))
)

const program = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  if (server.address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
  const response = yield* Effect.promise(() => read(server.address.port))
  console.log(`served ${response.status} ${response.contentType} ${JSON.stringify(response.text)}`)
})

const ServerLive = HttpServer.serve(app).pipe(
  Layer.provideMerge(SseNode.layer(() => Http.createServer(), { port: 0, host: "127.0.0.1" }))
)

await Effect.runPromise(Effect.provide(program, ServerLive))
console.log("shut down")
