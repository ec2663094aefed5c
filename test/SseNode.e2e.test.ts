/**
 * SseNode end to end: real servers on port 0, real sockets. The layer is a drop-in for `NodeHttpServer.layer`
 * (ordinary routes are answered exactly as Effect's server answers them), writes SSE responses straight to the
 * socket (the request's fiber ends once the stream is live, its scope stays open until the stream ends), fails
 * to listen with a typed `ServeError`, and ends every stream cleanly when it is released. `SseNode.makeHandler`
 * serves the same on a `node:http` server of one's own.
 */
import {
  HttpClient,
  HttpRouter,
  HttpServer,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import {
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  FiberRef,
  HashMap,
  Layer,
  Option,
  Ref,
  Schema,
  Scope,
  Stream,
  SubscriptionRef
} from "effect"
import * as Http from "node:http"
import * as Net from "node:net"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import * as SseConnection from "../src/SseConnection.js"
import * as SseEvent from "../src/SseEvent.js"
import * as SseNode from "../src/SseNode.js"
import * as SseResponse from "../src/SseResponse.js"
import * as SseServer from "../src/SseServer.js"
import * as TestServer from "./utils/server.js"
import * as SseSocket from "./utils/sseSocket.js"

const connected = ": connected\n\n"

// -----------------------------------------------------------------------------
// an HTTP client for ordinary responses (node:http, one connection per request)
// -----------------------------------------------------------------------------

interface Exchange {
  readonly status: number
  /** Response headers as the client parsed them, without `date` (which differs from one response to the next). */
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly body: string
}

const exchange = (
  port: number,
  request: {
    readonly method?: string
    readonly path: string
    readonly headers?: Readonly<Record<string, string>>
    readonly body?: string
  }
): Effect.Effect<Exchange, Error> =>
  Effect.async<Exchange, Error>((resume) => {
    const req = Http.request(
      {
        host: "127.0.0.1",
        port,
        method: request.method ?? "GET",
        path: request.path,
        headers: request.headers,
        agent: false
      },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (chunk: Buffer) => chunks.push(chunk))
        res.once("error", (error) => resume(Effect.fail(error)))
        res.once("end", () => {
          const { date: _date, ...headers } = res.headers
          resume(Effect.succeed({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString("utf8") }))
        })
      }
    )
    req.once("error", (error) => resume(Effect.fail(error)))
    req.end(request.body)
    return Effect.sync(() => req.destroy())
  }).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error(`no answer to ${request.path}`) }))

// -----------------------------------------------------------------------------
// the app every server serves
// -----------------------------------------------------------------------------

const Person = Schema.Struct({ name: Schema.String, age: Schema.Number })

/** Ordinary routes, of every body kind. */
const ordinary = HttpRouter.empty.pipe(
  HttpRouter.get("/text", HttpServerResponse.text("hello")),
  HttpRouter.get("/json", HttpServerResponse.json({ a: 1, b: [true, null], c: "ü" })),
  HttpRouter.get(
    "/stream",
    HttpServerResponse.stream(Stream.make("a", "b", "c").pipe(Stream.encodeText), { contentType: "text/plain" })
  ),
  HttpRouter.get(
    "/custom",
    HttpServerResponse.text("created", { status: 201, headers: { "x-custom": "yes" } }).pipe(
      HttpServerResponse.unsafeSetCookie("session", "abc", { path: "/" })
    )
  ),
  HttpRouter.get("/empty", HttpServerResponse.empty({ status: 204 })),
  HttpRouter.post(
    "/echo",
    Effect.flatMap(
      HttpServerRequest.schemaBodyJson(Person),
      (person) => HttpServerResponse.json({ hello: person.name, next: person.age + 1 })
    )
  )
)

/** The ordinary requests, each sent to every server. */
const requests: ReadonlyArray<Parameters<typeof exchange>[1]> = [
  { path: "/text" },
  { path: "/json" },
  { path: "/stream" },
  { path: "/custom" },
  { path: "/empty" },
  { path: "/missing" },
  { method: "HEAD", path: "/text" },
  { method: "HEAD", path: "/json" },
  {
    method: "POST",
    path: "/echo",
    headers: { "content-type": "application/json" },
    body: "{\"name\":\"Ann\",\"age\":41}"
  },
  { method: "POST", path: "/echo", headers: { "content-type": "application/json" }, body: "{\"name\":\"Ann\"}" },
  { method: "POST", path: "/echo", headers: { "content-type": "application/json" }, body: "not json" }
]

/** An event built with the checked combinators: an `Either`, which is an effect. */
const hello = SseEvent.make("hello").pipe(SseEvent.withId("1"))

/** SSE routes: a served stream and a connection, each saying hello and then staying open. */
const sse = HttpRouter.empty.pipe(
  HttpRouter.get("/events", SseResponse.stream(Stream.fromEffect(hello).pipe(Stream.concat(Stream.never)))),
  HttpRouter.get(
    "/connection",
    SseConnection.upgrade((connection) =>
      Effect.zipRight(Effect.flatMap(hello, (event) => connection.send(event)), Effect.never)
    )
  )
)

/** Serves `app` through `SseNode.makeHandler` on `http.createServer(handler)`, with an SseServer provided to it. */
const serveWithHandler = <E>(
  app: Parameters<typeof SseNode.makeHandler<E, HttpServerRequest.HttpServerRequest | Scope.Scope>>[0]
): Effect.Effect<TestServer.TestServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const sseScope = yield* Scope.make()
    const sseServer = yield* SseServer.make().pipe(Scope.extend(sseScope))
    const handler = yield* SseNode.makeHandler(Effect.provideService(app, SseServer.SseServer, sseServer))
    const node = Http.createServer(handler)
    const tracked = TestServer.trackSockets(node)
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => {
        node.listen(0, "127.0.0.1", () => resume(Effect.void))
      }),
      () =>
        Effect.async<void>((resume) => {
          node.close(() => resume(Effect.void))
          node.closeIdleConnections()
        })
    )
    // Runs before the server closes: the streams end first, so that `close` completes.
    yield* Effect.addFinalizer(() => Scope.close(sseScope, Exit.void))
    return { port: (node.address() as Net.AddressInfo).port, node, ...tracked, sse: sseServer }
  })

type Serve = <E>(
  app: HttpRouter.HttpRouter<E, never>
) => Effect.Effect<TestServer.TestServer, never, Scope.Scope>

const sseServers: ReadonlyArray<{ readonly name: string; readonly serve: Serve }> = [
  { name: "SseNode.layer", serve: (app) => TestServer.serve(app, { server: "SseNode" }) },
  { name: "SseNode.makeHandler", serve: serveWithHandler }
]

// -----------------------------------------------------------------------------

describe("ordinary routes are answered exactly as NodeHttpServer answers them", () => {
  for (const { name, serve } of sseServers) {
    it.live(`${name}: text, JSON, a Stream body, custom status, headers and cookies, 204, 404, HEAD, a JSON body`, () =>
      Effect.gen(function*() {
        const reference = yield* TestServer.serve(ordinary, { server: "NodeHttpServer" })
        const server = yield* serve(ordinary)
        for (const request of requests) {
          const expected = yield* exchange(reference.port, request)
          const actual = yield* exchange(server.port, request)
          expect({ request, ...actual }).toEqual({ request, ...expected })
        }
        // And what NodeHttpServer answers is what the routes say.
        const answers = yield* Effect.forEach(requests, (request) => exchange(server.port, request))
        expect(answers.map((answer) => [answer.status, answer.body])).toEqual([
          [200, "hello"],
          [200, "{\"a\":1,\"b\":[true,null],\"c\":\"ü\"}"],
          [200, "abc"],
          [201, "created"],
          [204, ""],
          [404, ""],
          [200, ""],
          [200, ""],
          [200, "{\"hello\":\"Ann\",\"next\":42}"],
          [400, ""],
          [400, ""]
        ])
        expect(answers[0].headers["content-type"]).toBe("text/plain")
        expect(answers[0].headers["content-length"]).toBe("5")
        expect(answers[3].headers["x-custom"]).toBe("yes")
        expect(answers[3].headers["set-cookie"]).toEqual(["session=abc; Path=/"])
        expect(answers[6].headers["content-length"]).toBe("5")
      }).pipe(Effect.scoped))
  }
})

for (const { name, serve } of sseServers) {
  describe(`SSE responses on ${name}`, () => {
    it.live("get the SSE headers (Connection: keep-alive on HTTP/1.1) and ': connected' at once", () =>
      Effect.gen(function*() {
        const server = yield* serve(sse)
        for (const path of ["/events", "/connection"]) {
          const client = yield* SseSocket.connect(server.port, { path })
          const head = yield* client.readHead()
          expect(head.status).toBe(200)
          expect(head.httpVersion).toBe("1.1")
          expect(head.headers["content-type"]).toBe("text/event-stream")
          expect(head.headers["cache-control"]).toBe("no-cache")
          expect(head.headers["x-accel-buffering"]).toBe("no")
          expect(head.headers["connection"]).toBe("keep-alive")
          expect(head.headers["transfer-encoding"]).toBe("chunked")
          // `: connected` is the first write of the body, on its own, then the events.
          yield* client.readUntil(`${connected}id: 1\ndata: hello\n\n`)
          expect(client.bodyChunks[0].toString("utf8")).toBe(connected)
          expect(client.end).toBeUndefined()
        }
      }).pipe(Effect.scoped))

    it.live("send the head and ': connected' in one write to the socket", () =>
      Effect.gen(function*() {
        const server = yield* serve(sse)
        // What the server's sockets hand to the kernel, one entry per write (a vectored write is one).
        const writes: Array<string> = []
        const record = (socket: Net.Socket) => {
          const target = socket as unknown as {
            _write: (chunk: Buffer, encoding: string, cb: () => void) => void
            _writev: (chunks: ReadonlyArray<{ chunk: Buffer | string }>, cb: () => void) => void
          }
          const write = target._write.bind(socket)
          const writev = target._writev.bind(socket)
          target._write = (chunk, encoding, cb) => {
            writes.push(Buffer.from(chunk).toString("latin1"))
            write(chunk, encoding, cb)
          }
          target._writev = (chunks, cb) => {
            writes.push(chunks.map(({ chunk }) => Buffer.from(chunk).toString("latin1")).join(""))
            writev(chunks, cb)
          }
        }
        server.node.on("connection", record)
        for (const path of ["/events", "/connection"]) {
          writes.length = 0
          const client = yield* SseSocket.connect(server.port, { path })
          yield* client.readUntil(`${connected}id: 1\ndata: hello\n\n`)
          expect(writes.length).toBeGreaterThan(0)
          expect(writes[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n[0-9a-f]+\r\n: connected\n\n\r\n/)
        }
      }).pipe(Effect.scoped))

    it.live("on HTTP/1.0 get the SSE headers without Connection: keep-alive, and an unframed body", () =>
      Effect.gen(function*() {
        const server = yield* serve(sse)
        for (const path of ["/events", "/connection"]) {
          const client = yield* SseSocket.connect(server.port, { path, httpVersion: "1.0" })
          const head = yield* client.readHead()
          expect(head.status).toBe(200)
          expect(head.headers["content-type"]).toBe("text/event-stream")
          expect(head.headers["cache-control"]).toBe("no-cache")
          expect(head.headers["x-accel-buffering"]).toBe("no")
          // No keep-alive from the library; Node itself says that an HTTP/1.0 connection closes after the response.
          expect(head.headers["connection"]).toBe("close")
          expect(head.headers["transfer-encoding"]).toBeUndefined()
          yield* client.readUntil(`${connected}id: 1\ndata: hello\n\n`)
          expect(client.body.startsWith(connected)).toBe(true)
        }
      }).pipe(Effect.scoped))

    it.live("the request's fiber has ended while the stream is open, and the route's scope stays open until the client leaves", () =>
      Effect.gen(function*() {
        const requestFibers = yield* Ref.make<ReadonlyArray<Fiber.RuntimeFiber<unknown, unknown>>>([])
        const scopesClosed = yield* SubscriptionRef.make(0)
        const streamsEnded = yield* SubscriptionRef.make(0)
        /** A route that records its fiber and leaves a finalizer in the request's scope. */
        const route = <E, R>(response: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
          Effect.gen(function*() {
            const fiber = yield* Effect.withFiberRuntime<Fiber.RuntimeFiber<unknown, unknown>>((fiber) =>
              Effect.succeed(fiber)
            )
            yield* Ref.update(requestFibers, (all) => [...all, fiber])
            yield* Effect.addFinalizer(() => SubscriptionRef.update(scopesClosed, (n) => n + 1))
            return yield* response
          })
        const app = HttpRouter.empty.pipe(
          HttpRouter.get(
            "/events",
            route(SseResponse.stream(
              Stream.fromEffect(hello).pipe(
                Stream.concat(Stream.never),
                Stream.ensuring(SubscriptionRef.update(streamsEnded, (n) => n + 1))
              )
            ))
          ),
          HttpRouter.get(
            "/connection",
            route(SseConnection.upgrade((connection) =>
              Effect.gen(function*() {
                yield* Effect.addFinalizer(() => SubscriptionRef.update(streamsEnded, (n) => n + 1))
                yield* connection.send(yield* hello)
                return yield* Effect.never
              })
            ))
          )
        )
        const server = yield* serve(app)
        const clients = yield* Effect.forEach(
          ["/events", "/connection"],
          (path) => SseSocket.connect(server.port, { path })
        )
        yield* Effect.forEach(clients, (client) => client.readUntil(`${connected}id: 1\ndata: hello\n\n`))
        const fibers = yield* Ref.get(requestFibers)
        expect(fibers.length).toBe(2)
        // Both request fibers end, successfully, while their streams are open.
        for (const fiber of fibers) {
          const exit = yield* Fiber.await(fiber).pipe(Effect.timeout("5 seconds"))
          expect(Exit.isSuccess(exit)).toBe(true)
        }
        expect(clients.map((client) => client.end)).toEqual([undefined, undefined])
        expect(yield* SubscriptionRef.get(streamsEnded)).toBe(0)
        // What the routes left in their request's scope is still there.
        expect(yield* SubscriptionRef.get(scopesClosed)).toBe(0)
        // The clients leave: the streams end, and only then the request scopes close.
        for (const client of clients) client.destroy()
        const reach = (ref: SubscriptionRef.SubscriptionRef<number>, n: number, label: string) =>
          ref.changes.pipe(
            Stream.takeUntil((value) => value === n),
            Stream.runDrain,
            Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error(label) })
          )
        yield* reach(streamsEnded, 2, "the streams to end")
        yield* reach(scopesClosed, 2, "the request scopes to close")
      }).pipe(Effect.scoped))

    it.live("an open stream does not keep its request's fiber: it can be collected, and the stream still runs with the route's context and fiber refs", () =>
      Effect.gen(function*() {
        class Greeting extends Context.Tag("test/Greeting")<Greeting, string>() {}
        const requestFibers: Array<WeakRef<object>> = []
        // The stream reads what the route set around it: a service, and a log annotation (a fiber ref).
        const greeting = Effect.gen(function*() {
          const text = yield* Greeting
          const annotations = yield* FiberRef.get(FiberRef.currentLogAnnotations)
          return SseEvent.make(`${text} ${String(Option.getOrElse(HashMap.get(annotations, "request"), () => "-"))}`)
        })
        const route = (response: Effect.Effect<HttpServerResponse.HttpServerResponse, never, Greeting>) =>
          Effect.gen(function*() {
            yield* Effect.withFiberRuntime((fiber) => Effect.sync(() => requestFibers.push(new WeakRef(fiber))))
            return yield* response
          }).pipe(Effect.provideService(Greeting, "hi"), Effect.annotateLogs("request", "r1"))
        const app = HttpRouter.empty.pipe(
          HttpRouter.get(
            "/events",
            route(SseResponse.stream(Stream.concat(Stream.fromEffect(greeting), Stream.never)))
          ),
          HttpRouter.get(
            "/connection",
            route(
              SseConnection.upgrade((connection) =>
                Effect.zipRight(Effect.flatMap(greeting, connection.send), Effect.never)
              )
            )
          )
        )
        const server = yield* serve(app)
        const clients = yield* Effect.forEach(
          ["/events", "/connection"],
          (path) => SseSocket.connect(server.port, { path })
        )
        yield* Effect.forEach(clients, (client) => client.readUntil(`${connected}data: hi r1\n\n`))
        expect(requestFibers.length).toBe(2)
        // The streams are open; their request fibers have ended, and nothing holds them: a full GC collects them.
        V8.setFlagsFromString("--expose-gc")
        const gc = Vm.runInNewContext("gc") as () => void
        let left = requestFibers.length
        for (let attempt = 0; attempt < 50 && left > 0; attempt++) {
          // A WeakRef's target is kept until the current job ends: collect between turns.
          yield* Effect.sleep("20 millis")
          gc()
          left = requestFibers.filter((ref) => ref.deref() !== undefined).length
        }
        expect(left).toBe(0)
        expect(clients.map((client) => client.end)).toEqual([undefined, undefined])
      }).pipe(Effect.scoped))
  })
}

describe("the request fiber on NodeHttpServer (the contrast)", () => {
  it.live("runs for as long as the stream: it is the fiber that writes the body", () =>
    Effect.gen(function*() {
      const requestFiber = yield* Deferred.make<Fiber.RuntimeFiber<unknown, unknown>>()
      const app = HttpRouter.empty.pipe(HttpRouter.get(
        "/events",
        Effect.gen(function*() {
          const fiber = yield* Effect.withFiberRuntime<Fiber.RuntimeFiber<unknown, unknown>>((fiber) =>
            Effect.succeed(fiber)
          )
          yield* Deferred.succeed(requestFiber, fiber)
          return yield* SseResponse.stream(Stream.fromEffect(hello).pipe(Stream.concat(Stream.never)))
        })
      ))
      const server = yield* TestServer.serve(app, { server: "NodeHttpServer" })
      const client = yield* SseSocket.connect(server.port)
      yield* client.readUntil(`${connected}id: 1\ndata: hello\n\n`)
      const fiber = yield* Deferred.await(requestFiber)
      yield* Effect.sleep("200 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      client.destroy()
      yield* Fiber.await(fiber).pipe(Effect.timeout("5 seconds"))
    }).pipe(Effect.scoped))
})

describe("SseNode.layer listening", () => {
  it.live("a port in use is a typed ServeError from the layer", () =>
    Effect.gen(function*() {
      const blocker = yield* Effect.acquireRelease(
        Effect.async<Net.Server>((resume) => {
          const server = Net.createServer()
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) =>
          Effect.async<void>((resume) => {
            server.close(() => resume(Effect.void))
          })
      )
      const port = (blocker.address() as Net.AddressInfo).port
      const error = yield* Layer.build(SseNode.layer(() => Http.createServer(), { port, host: "127.0.0.1" })).pipe(
        Effect.flip
      )
      expect(error).toBeInstanceOf(HttpServerError.ServeError)
      expect(error._tag).toBe("ServeError")
      expect((error.cause as NodeJS.ErrnoException).code).toBe("EADDRINUSE")
    }).pipe(Effect.scoped))

  it.live("layerTest listens on a free port and gives an HttpClient for it", () =>
    Effect.gen(function*() {
      const text = yield* HttpServer.serveEffect(ordinary).pipe(
        Effect.zipRight(HttpClient.get("/text")),
        Effect.flatMap((response) => response.text)
      )
      expect(text).toBe("hello")
    }).pipe(Effect.scoped, Effect.provide(SseNode.layerTest)))
})

describe("releasing SseNode.layer with connections that never sent a request", () => {
  it.live("ends them at once: the release does not wait for the grace period (here an hour)", () =>
    Effect.gen(function*() {
      const serverScope = yield* Scope.make()
      const context = yield* Layer.build(
        SseNode.layer(() => Http.createServer(), { port: 0, host: "127.0.0.1", gracePeriod: "1 hour" })
      ).pipe(Scope.extend(serverScope))
      const httpServer = Context.get(context, HttpServer.HttpServer)
      yield* HttpServer.serve(sse).pipe(Layer.buildWithScope(serverScope), Effect.provide(context))
      const port = (httpServer.address as HttpServer.TcpAddress).port
      const stream = yield* SseSocket.connect(port, { path: "/events" })
      yield* stream.readUntil(`${connected}id: 1\ndata: hello\n\n`)
      // Connected ahead of a request, as undici does after an aborted fetch: Node's closeIdleConnections skips it.
      const silent = Net.connect(port, "127.0.0.1")
      const closed = yield* Deferred.make<void>()
      silent.once("close", () => Deferred.unsafeDone(closed, Exit.void))
      yield* Effect.async<void>((resume) => {
        silent.once("connect", () => resume(Effect.void))
      })

      yield* Scope.close(serverScope, Exit.void).pipe(
        Effect.disconnect,
        Effect.timeoutFail({
          duration: "10 seconds",
          onTimeout: () => new Error("the release waited for the grace period")
        })
      )
      yield* Deferred.await(closed)
      expect(yield* stream.awaitEnd("2 seconds")).toBe("end")
    }).pipe(Effect.scoped))
})

describe("releasing SseNode.layer with open streams", () => {
  /** Closes the server's scope, failing if that does not complete within `bound` (a bound, not a measurement). */
  const closeWithin = (scope: Scope.CloseableScope, bound: Duration.DurationInput) =>
    Scope.close(scope, Exit.void).pipe(
      Effect.disconnect,
      Effect.timeoutFail({
        duration: bound,
        onTimeout: () => new Error(`closing the server did not complete within ${Duration.format(bound)}`)
      })
    )

  for (const { name, serve } of sseServers) {
    it.live(`${name}: with 3 clients, each response ends cleanly (its final chunk) and the release completes`, () =>
      Effect.gen(function*() {
        const ended = yield* SubscriptionRef.make(0)
        const count = SubscriptionRef.update(ended, (n) => n + 1)
        const app = HttpRouter.empty.pipe(
          HttpRouter.get(
            "/events",
            SseResponse.stream(Stream.fromEffect(hello).pipe(Stream.concat(Stream.never), Stream.ensuring(count)))
          ),
          HttpRouter.get(
            "/connection",
            SseConnection.upgrade((connection) =>
              Effect.gen(function*() {
                yield* Effect.addFinalizer(() => count)
                yield* connection.send(yield* hello)
                return yield* Effect.never
              })
            )
          )
        )
        const serverScope = yield* Scope.make()
        const server = yield* serve(app).pipe(Scope.extend(serverScope))
        const clients = yield* Effect.forEach(
          ["/events", "/connection", "/events"],
          (path) => SseSocket.connect(server.port, { path })
        )
        yield* Effect.forEach(clients, (client) => client.readUntil(`${connected}id: 1\ndata: hello\n\n`))
        expect(yield* server.sse!.open).toBe(3)

        yield* closeWithin(serverScope, "5 seconds")
        expect(server.node.listening).toBe(false)
        // "end": the last chunk arrived; a reset or a socket closed mid-body would be "close".
        expect(yield* Effect.forEach(clients, (client) => client.awaitEnd("2 seconds"))).toEqual(["end", "end", "end"])
        for (const client of clients) expect(client.body).toBe(`${connected}id: 1\ndata: hello\n\n`)
        expect(yield* SubscriptionRef.get(ended)).toBe(3)
        yield* server.awaitNoSockets
      }).pipe(Effect.scoped))
  }
})
