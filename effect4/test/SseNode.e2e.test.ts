/**
 * A real Node server on 127.0.0.1, port 0, read with node's HTTP client: SseNode.layer ends open event streams
 * with their last chunk when its scope closes, long before NodeHttpServer's gracefulShutdownTimeout (set to
 * 10 minutes here, so a cut at that time would fail the test by its own timeout).
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { describe, expect, it } from "@effect/vitest"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseNode from "effect-sse/SseNode"
import * as SseResponse from "effect-sse/SseResponse"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HttpServer from "effect/http/HttpServer"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Http from "node:http"

interface Received {
  readonly status: number | undefined
  readonly contentType: string | undefined
  readonly body: string
  readonly complete: boolean
}

/** A GET whose body is handed over at its end; `started` resolves once `until` has been read. */
const get = (port: number, until: string) => {
  let onStarted: () => void = () => {}
  const started = new Promise<void>((resolve) => onStarted = resolve)
  const done = new Promise<Received>((resolve, reject) => {
    const request = Http.get({ host: "127.0.0.1", port, path: "/", headers: { "last-event-id": "41" } }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => {
        body += chunk
        if (body.includes(until)) onStarted()
      })
      res.on(
        "end",
        () =>
          resolve({ status: res.statusCode, contentType: res.headers["content-type"], body, complete: res.complete })
      )
      res.on("error", reject)
      res.on("aborted", () => reject(new Error(`aborted after ${JSON.stringify(body)}`)))
    })
    request.on("error", reject)
  })
  return { started, done }
}

const app = SseResponse.resumable(
  (id) =>
    Stream.concat(Stream.make(SseEvent.make(`resumed after ${id._tag === "Some" ? id.value : "-"}`)), Stream.never),
  { keepAlive: false }
)

describe("SseNode (Effect 4)", () => {
  it.live("serves a stream, then ends it cleanly and at once when the server shuts down", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = SseNode.layer(() => Http.createServer(), {
        port: 0,
        host: "127.0.0.1",
        gracefulShutdownTimeout: "10 minutes"
      })
      const context = yield* Layer.buildWithScope(
        HttpServer.serve(app).pipe(Layer.provideMerge(server)),
        scope
      )
      const address = Context.get(context, HttpServer.HttpServer).address
      if (address._tag === "UnixPathAddress") throw new Error("not a TCP address")
      const client = get(address.port, "resumed after 41")
      yield* Effect.promise(() => client.started)
      yield* Scope.close(scope, Exit.void)
      const received = yield* Effect.promise(() => client.done)
      expect(received).toEqual({
        status: 200,
        contentType: "text/event-stream",
        body: ": connected\n\ndata: resumed after 41\n\n",
        complete: true
      })
      // The server no longer listens.
      const refused = yield* Effect.promise(() =>
        get(address.port, "").done.then(() => "served", (e: Error) => e.message)
      )
      expect(refused).toContain("ECONNREFUSED")
    }), 20_000)

  // What effect 4 does without SseNode: the open stream is held until gracefulShutdownTimeout, then cut.
  it.live(
    "(without SseNode) NodeHttpServer cuts the open stream at gracefulShutdownTimeout instead of ending it",
    () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const server = NodeHttpServer.layer(() => Http.createServer(), {
          port: 0,
          host: "127.0.0.1",
          gracefulShutdownTimeout: "200 millis"
        })
        const context = yield* Layer.buildWithScope(HttpServer.serve(app).pipe(Layer.provideMerge(server)), scope)
        const address = Context.get(context, HttpServer.HttpServer).address
        if (address._tag === "UnixPathAddress") throw new Error("not a TCP address")
        const client = get(address.port, "resumed after 41")
        yield* Effect.promise(() => client.started)
        yield* Scope.close(scope, Exit.void)
        const outcome = yield* Effect.promise(() =>
          client.done.then((received) => `ended ${received.complete}`, (e: Error) => e.message)
        )
        expect(outcome).not.toBe("ended true")
      }),
    20_000
  )
})
