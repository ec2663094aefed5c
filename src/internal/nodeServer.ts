import * as Cookies from "@effect/platform/Cookies"
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpApp from "@effect/platform/HttpApp"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import type * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import type { LazyArg } from "effect/Function"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Http from "node:http"
import type * as Http2 from "node:http2"
import { constants as Http2Constants } from "node:http2"
import type * as Net from "node:net"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import * as StreamWriters from "../core/streamWriter.js"
import type * as Writers from "../core/writer.js"
import type * as SseNode from "../SseNode.js"
import { type NodeIncoming, type NodeOutgoing, NodeRequest } from "./nodeRequest.js"
import * as response from "./response.js"
import * as sseServer from "./sseServer.js"

/** Headers HTTP/2 forbids: they belong to an HTTP/1 connection. */
const connectionHeaders = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"])

const isHttp2 = (source: NodeIncoming): boolean => source.httpVersionMajor === 2

const headersFor = (
  request: NodeRequest,
  self: HttpServerResponse.HttpServerResponse,
  contentType: string | undefined
): Record<string, string | Array<string>> => {
  let headers: Record<string, string | Array<string>> = { ...self.headers }
  if (contentType !== undefined && headers["content-type"] === undefined) headers["content-type"] = contentType
  if (!Cookies.isEmpty(self.cookies)) {
    const set = Cookies.toSetCookieHeaders(self.cookies)
    const given = headers["set-cookie"]
    if (given !== undefined) set.push(...(Array.isArray(given) ? given : [given]))
    headers["set-cookie"] = set
  }
  if (isHttp2(request.source)) {
    const own: Record<string, string | Array<string>> = {}
    for (const key in headers) if (!connectionHeaders.has(key)) own[key] = headers[key]
    headers = own
  }
  return headers
}

/**
 * A writer on one HTTP/2 stream: its own flow control and buffer, so each stream is accounted on its own. A
 * dropped stream is reset with `CANCEL` (RFC 9113, 8.7): the client can tell it from a stream that ended, and the
 * other streams of the connection go on.
 */
class Http2StreamWriter extends StreamWriters.StreamWriter {
  constructor(private readonly stream: Http2.ServerHttp2Stream, highWaterMark: number) {
    super(stream, highWaterMark)
  }

  override destroy(): void {
    if (!this.stream.closed && !this.stream.destroyed) this.stream.close(Http2Constants.NGHTTP2_CANCEL)
    super.destroy()
  }
}

/** The writer of an SSE response whose head is written: the HTTP/2 stream, or the HTTP/1.1 socket. */
const writerFor = (request: NodeRequest, highWaterMark: number): Writers.Writer => {
  const res = request.response
  if (isHttp2(request.source)) {
    const h2 = res as Http2.Http2ServerResponse & { flushHeaders(): void }
    h2.flushHeaders()
    return new Http2StreamWriter(h2.stream, highWaterMark)
  }
  // The head goes out with the first bytes (the opening), in one write.
  return StreamWriters.Http1Writer.of(res as unknown as StreamWriters.Http1Response, highWaterMark, true)
}

type Run = <A, E>(effect: Effect.Effect<A, E>) => Fiber.RuntimeFiber<A, E>

/**
 * What interrupts a request's fiber when its client leaves, by response, until the response is handed to an SSE
 * writer of its own: the fiber (ended by then) no longer owns it, and is not kept for as long as the stream lasts.
 */
const aborts = new WeakMap<NodeOutgoing, () => void>()

/**
 * Writes an SSE response straight to the client: the head, then the stream on a writer of its own. The request's
 * fiber ends as soon as the stream is live; what the route left in the request's scope is kept until the stream
 * is over.
 */
const serveSse = (
  request: NodeRequest,
  self: HttpServerResponse.HttpServerResponse,
  source: response.Source,
  run: Run
) =>
  Effect.gen(function*() {
    const res = request.response as Http.ServerResponse
    const abort = aborts.get(request.response)
    if (abort !== undefined) {
      aborts.delete(request.response)
      request.response.off("close", abort)
    }
    res.writeHead(self.status, headersFor(request, self, "text/event-stream"))
    const writer = writerFor(request, source.options.highWaterMark)
    // The request's scope stays open while the stream lasts: the source closes it, if it can take it over.
    const scope = (yield* Effect.scope) as Scope.CloseableScope
    HttpApp.ejectDefaultScopeClose(scope)
    if (source.closesScope !== true) writer.onClose(() => run(Scope.close(scope, Exit.void)))
    yield* response.start(source, writer, source.closesScope === true ? scope : undefined)
  })

const writeBody = (
  request: NodeRequest,
  self: HttpServerResponse.HttpServerResponse
): Effect.Effect<void, HttpServerError.ResponseError> => {
  const res = request.response as Http.ServerResponse
  const failed = (cause: unknown) =>
    new HttpServerError.ResponseError({ request, response: self, reason: "Decode", cause })
  const body = self.body
  const contentType = body._tag === "Empty" ? undefined : body.contentType
  if (request.method === "HEAD") {
    res.writeHead(self.status, headersFor(request, self, contentType))
    return Effect.async<void>((resume) => {
      res.end(() => resume(Effect.void))
    })
  }
  switch (body._tag) {
    case "Empty": {
      res.writeHead(self.status, headersFor(request, self, undefined))
      res.end()
      return Effect.void
    }
    case "Uint8Array":
    case "Raw": {
      const headers = headersFor(request, self, contentType)
      if (body.contentLength !== undefined && headers["content-length"] === undefined) {
        headers["content-length"] = String(body.contentLength)
      }
      res.writeHead(self.status, headers)
      const raw = body._tag === "Raw" ? body.body : body.body
      if (typeof raw === "object" && raw !== null && "pipe" in raw && typeof raw.pipe === "function") {
        return Effect.tryPromise({
          try: (signal) => pipeline(raw as Readable, res, { signal, end: true }),
          catch: failed
        }).pipe(Effect.interruptible)
      }
      return Effect.async<void>((resume) => {
        res.end(raw as Uint8Array | string | undefined, () => resume(Effect.void))
      })
    }
    case "FormData": {
      const web = new Response(body.formData)
      res.writeHead(self.status, { ...headersFor(request, self, undefined), ...Object.fromEntries(web.headers) })
      return Effect.tryPromise({
        try: (signal) => pipeline(Readable.fromWeb(web.body as never), res, { signal, end: true }),
        catch: failed
      }).pipe(Effect.interruptible)
    }
    case "Stream": {
      res.writeHead(self.status, headersFor(request, self, contentType))
      return body.stream.pipe(
        Stream.mapError(failed),
        Stream.runForEachChunk((chunk) => {
          let room = true
          for (const bytes of Chunk.toReadonlyArray(chunk)) room = res.write(bytes)
          return room || res.destroyed ? Effect.void : Effect.async<void>((resume) => {
            res.once("drain", () => resume(Effect.void))
            res.once("close", () => resume(Effect.void))
          })
        }),
        Effect.zipRight(Effect.async<void>((resume) => {
          res.end(() => resume(Effect.void))
        })),
        Effect.interruptible
      )
    }
  }
}

/** How every response is written: SSE responses of this library straight to the client, the rest as usual. */
const handleResponse =
  (run: Run) => (request: HttpServerRequest.HttpServerRequest, self: HttpServerResponse.HttpServerResponse) =>
    Effect.suspend((): Effect.Effect<void, HttpServerError.ResponseError, Scope.Scope> => {
      const node = request as NodeRequest
      if (node.response.writableEnded || node.response.headersSent) return Effect.void
      const source = response.sourceOf(self)
      return source !== undefined && request.method !== "HEAD"
        ? serveSse(node, self, source, run)
        : writeBody(node, self)
    })

/** @internal */
export const makeHandler = <E, R>(
  app: HttpApp.Default<E, R>,
  middleware?: HttpMiddleware.HttpMiddleware
): Effect.Effect<
  (request: NodeIncoming, response: NodeOutgoing) => void,
  never,
  Exclude<R, HttpServerRequest.HttpServerRequest | Scope.Scope> | Scope.Scope
> =>
  Effect.gen(function*() {
    // Request fibers run in a set tied to the scope: closing it (the server's shutdown) interrupts those still
    // running. A fiber that served an SSE response has ended already; its stream belongs to the SseServer.
    const run = yield* FiberSet.makeRuntime<Exclude<R, HttpServerRequest.HttpServerRequest | Scope.Scope>>()
    const handled = HttpApp.toHandled(app, handleResponse(run as Run), middleware) as Effect.Effect<
      void,
      never,
      Exclude<R, HttpServerRequest.HttpServerRequest | Scope.Scope> | HttpServerRequest.HttpServerRequest
    >
    return (source: NodeIncoming, res: NodeOutgoing) => {
      const request = new NodeRequest(source, res)
      // The client left before the response was over: its fiber stops (a streamed body, say). Registered before
      // the fiber starts, which may hand the response to an SSE writer before `run` returns.
      const started: { fiber?: Fiber.RuntimeFiber<void> } = {}
      const abort = () => {
        aborts.delete(res)
        if (!res.writableEnded) started.fiber?.unsafeInterruptAsFork(HttpServerError.clientAbortFiberId)
      }
      aborts.set(res, abort)
      res.once("close", abort)
      // Cast: TypeScript cannot reduce `Exclude` over the generic `R` here (and crashes reporting it).
      started.fiber = run(Effect.provideService(
        Effect.provideService(handled, HttpServerRequest.HttpServerRequest, request),
        IncomingMessage.MaxBodySize,
        defaultMaxBodySize
      ) as Effect.Effect<void, never, Exclude<R, HttpServerRequest.HttpServerRequest | Scope.Scope>>)
    }
  })

/** As `@effect/platform-node`'s server: a body is read up to 10 MiB unless a route says otherwise. */
const defaultMaxBodySize = Option.some(FileSystem.Size(10 * 1024 * 1024))

type NodeServer = SseNode.NodeServer

/** @internal */
export const make = (
  evaluate: LazyArg<NodeServer>,
  options: Net.ListenOptions & SseNode.Options
): Effect.Effect<
  Context.Context<HttpServer.HttpServer | sseServer.SseServerService>,
  HttpServerError.ServeError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const gracePeriod = options.gracePeriod ?? sseServer.defaultGracePeriod
    const sessions = new Set<Http2.Http2Session>()
    const unused = new UnusedSockets()
    const server = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const server = evaluate()
        unused.watch(server)
        // HTTP/2 sessions outlive their streams; closing them lets `close` complete once the streams are over.
        server.on("session", (session: Http2.Http2Session) => {
          sessions.add(session)
          session.once("close", () => sessions.delete(session))
        })
        return server
      }),
      (server) =>
        Effect.async<void>((resume) => {
          if (!server.listening) return resume(Effect.void)
          // Streams were ended by the SseServer (released first); idle keep-alive sockets would still hold
          // `close` open until their timeout, so they are closed until it completes, and after the grace period
          // every connection is.
          const idle = setInterval(() => closeIdle(server, sessions, unused), 20)
          const grace = setTimeout(() => closeAll(server, sessions), Duration.toMillis(Duration.decode(gracePeriod)))
          server.close(() => {
            clearInterval(idle)
            clearTimeout(grace)
            resume(Effect.void)
          })
          closeIdle(server, sessions, unused)
        })
    )
    yield* Effect.async<void, HttpServerError.ServeError>((resume) => {
      const onError = (cause: Error) => resume(Effect.fail(new HttpServerError.ServeError({ cause })))
      server.once("error", onError)
      server.listen(options, () => {
        server.off("error", onError)
        resume(Effect.void)
      })
    })
    // An error after listening (EMFILE, say) must not be an unhandled 'error' event that kills the process.
    const log = yield* FiberSet.makeRuntime<never>()
    server.on("error", (cause) => log(Effect.logError("effect-sse: the HTTP server failed", cause)))
    const sse = yield* sseServer.make({ gracePeriod })
    const address = server.address()!
    const httpServer = HttpServer.make({
      address: typeof address === "string"
        ? { _tag: "UnixAddress", path: address }
        : { _tag: "TcpAddress", hostname: address.address === "::" ? "0.0.0.0" : address.address, port: address.port },
      serve: (app, middleware) =>
        Effect.gen(function*() {
          const handler = yield* makeHandler(app, middleware)
          const listener = handler as unknown as (...args: Array<unknown>) => void
          yield* Effect.addFinalizer(() => Effect.sync(() => server.off("request", listener)))
          server.on("request", listener)
        }) as Effect.Effect<void, never, Scope.Scope>
    })
    return Context.make(HttpServer.HttpServer, httpServer).pipe(
      Context.add(sseServer.tag, sse)
    ) as Context.Context<HttpServer.HttpServer | sseServer.SseServerService>
  })

/**
 * The HTTP/1 connections that have not begun a request. Node's `closeIdleConnections` leaves them open (a client
 * that connects ahead of its next request, as undici does after an abort, holds `close` until the grace period),
 * so the shutdown ends them itself. HTTP/2 connections are ended through their sessions.
 */
class UnusedSockets {
  private readonly sockets = new Set<Net.Socket>()

  watch(server: NodeServer): void {
    if (typeof (server as Partial<Http.Server>).closeIdleConnections !== "function") return
    // A TLS server's requests arrive on the TLS socket, not on the TCP one its `connection` event gives.
    const event = "setSecureContext" in server ? "secureConnection" : "connection"
    server.on(event, (socket: Net.Socket) => {
      this.sockets.add(socket)
      socket.once("close", () => this.sockets.delete(socket))
    })
    server.on("request", (request: Http.IncomingMessage) => this.sockets.delete(request.socket))
  }

  destroy(): void {
    for (const socket of this.sockets) socket.destroy()
    this.sockets.clear()
  }
}

const closeIdle = (server: NodeServer, sessions: ReadonlySet<Http2.Http2Session>, unused: UnusedSockets) => {
  const s = server as Partial<Http.Server>
  if (typeof s.closeIdleConnections === "function") s.closeIdleConnections()
  unused.destroy()
  for (const session of sessions) if (!session.closed) session.close()
}

const closeAll = (server: NodeServer, sessions: ReadonlySet<Http2.Http2Session>) => {
  const s = server as Partial<Http.Server>
  if (typeof s.closeAllConnections === "function") s.closeAllConnections()
  for (const session of sessions) session.destroy()
}
