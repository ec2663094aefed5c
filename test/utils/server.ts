/**
 * An in-process HTTP server for end-to-end tests on 127.0.0.1, port 0, with the Node `http.Server` exposed so
 * tests can count its connections and listeners.
 *
 * By default it is Effect's own `NodeHttpServer.layer` with `SseServer.layer()` provided to `HttpServer.serve`, as
 * the library documents for that server (without it nothing ends the streams when the server closes). Options
 * choose the same server without `SseServer`, or the library's `SseNode.layer`.
 */
import type { HttpApp, HttpServerRequest } from "@effect/platform"
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Layer, Option } from "effect"
import type { Scope } from "effect"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as SseNode from "../../src/SseNode.js"
import * as SseServer from "../../src/SseServer.js"

export interface TestServer {
  readonly port: number
  readonly node: Http.Server
  /** The sockets the server has accepted and that are not closed yet. */
  readonly sockets: ReadonlySet<Net.Socket>
  /** Completes once every accepted socket has closed (bounded: fails after 10 s). */
  readonly awaitNoSockets: Effect.Effect<void, Error>
  /** The `SseServer` of the server's streams, when it has one. */
  readonly sse?: SseServer.SseServer | undefined
}

/**
 * Which server `serve` starts:
 *
 * - `NodeHttpServer` (the default): `NodeHttpServer.layer`, with `SseServer.layer()` provided to `HttpServer.serve`;
 * - `NodeHttpServer without SseServer`: `NodeHttpServer.layer` alone (each stream keeps its own ticker, and nothing
 *   ends the streams at shutdown);
 * - `SseNode`: the library's `SseNode.layer`, which includes its `SseServer`.
 */
export type ServerKind = "NodeHttpServer" | "NodeHttpServer without SseServer" | "SseNode"

export interface ServeOptions {
  readonly server?: ServerKind | undefined
  /** The options of the `SseServer` (or of `SseNode.layer`): its grace period at shutdown. */
  readonly sseServer?: SseServer.Options | undefined
}

/**
 * The server layer for `app`, listening on 127.0.0.1 and a free port, around the given Node server (by default
 * `NodeHttpServer.layer` with `SseServer.layer()` provided to `HttpServer.serve`).
 */
export const layer = <E, R>(
  app: HttpApp.Default<E, R>,
  node: Http.Server,
  options?: ServeOptions
) => {
  const listen = { port: 0, host: "127.0.0.1" }
  switch (options?.server ?? "NodeHttpServer") {
    case "NodeHttpServer":
      return HttpServer.serve(app).pipe(
        Layer.provideMerge(SseServer.layer(options?.sseServer)),
        Layer.provideMerge(NodeHttpServer.layer(() => node, listen))
      )
    case "NodeHttpServer without SseServer":
      return HttpServer.serve(app).pipe(Layer.provideMerge(NodeHttpServer.layer(() => node, listen)))
    case "SseNode":
      return HttpServer.serve(app).pipe(
        Layer.provideMerge(SseNode.layer(() => node, { ...listen, ...options?.sseServer }))
      )
  }
}

/** Tracks the sockets a Node server accepts, and waits (bounded) until none is open. */
export const trackSockets = (node: Http.Server): Pick<TestServer, "sockets" | "awaitNoSockets"> => {
  const sockets = new Set<Net.Socket>()
  const idle = new Set<() => void>()
  node.on("connection", (socket: Net.Socket) => {
    sockets.add(socket)
    socket.once("close", () => {
      sockets.delete(socket)
      if (sockets.size === 0) { for (const wake of Array.from(idle)) wake() }
    })
  })
  const awaitNoSockets = Effect.async<void>((resume) => {
    if (sockets.size === 0) return resume(Effect.void)
    const wake = () => {
      idle.delete(wake)
      resume(Effect.void)
    }
    idle.add(wake)
    return Effect.sync(() => idle.delete(wake))
  }).pipe(
    Effect.timeoutFail({
      duration: "10 seconds",
      onTimeout: () => new Error(`${sockets.size} sockets still open`)
    })
  )
  return { sockets, awaitNoSockets }
}

/**
 * Serves `app` until the current scope closes (closing it shuts the server down, as a process would on SIGINT).
 * Needs the live clock.
 */
export const serve = <E>(
  app: HttpApp.Default<E, HttpServerRequest.HttpServerRequest | Scope.Scope>,
  options?: ServeOptions
): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const node = Http.createServer()
    const tracked = trackSockets(node)
    const context = yield* Layer.build(
      layer(app, node, options) as Layer.Layer<HttpServer.HttpServer, unknown>
    ).pipe(Effect.orDie)
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    const sse = Option.getOrUndefined(Context.getOption(context, SseServer.SseServer))
    return { port: address.port, node, ...tracked, sse }
  })

/** Resolves with the server's open connection count (Node's `getConnections`). */
export const connectionCount = (node: Http.Server): Effect.Effect<number> =>
  Effect.async<number>((resume) => {
    node.getConnections((error, count) => resume(error ? Effect.die(error) : Effect.succeed(count)))
  })
