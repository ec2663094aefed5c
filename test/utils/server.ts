/**
 * An in-process HTTP server for end-to-end tests: Effect's Node server on 127.0.0.1, port 0, with the Node
 * `http.Server` exposed so tests can count its connections and listeners.
 */
import type { HttpApp, HttpServerRequest } from "@effect/platform"
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Layer } from "effect"
import type { Scope } from "effect"
import * as Http from "node:http"
import type * as Net from "node:net"

export interface TestServer {
  readonly port: number
  readonly node: Http.Server
  /** The sockets the server has accepted and that are not closed yet. */
  readonly sockets: ReadonlySet<Net.Socket>
  /** Completes once every accepted socket has closed (bounded: fails after 10 s). */
  readonly awaitNoSockets: Effect.Effect<void, Error>
}

/** The server layer for `app`, listening on 127.0.0.1 and a free port, around the given Node server. */
export const layer = <E, R>(
  app: HttpApp.Default<E, R>,
  node: Http.Server
) =>
  HttpServer.serve(app).pipe(
    Layer.provideMerge(NodeHttpServer.layer(() => node, { port: 0, host: "127.0.0.1" }))
  )

/**
 * Serves `app` until the current scope closes (closing it shuts the server down, as a process would on SIGINT).
 * Needs the live clock.
 */
export const serve = <E>(
  app: HttpApp.Default<E, HttpServerRequest.HttpServerRequest | Scope.Scope>
): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const node = Http.createServer()
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
    const context = yield* Layer.build(layer(app, node)).pipe(Effect.orDie)
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    return { port: address.port, node, sockets, awaitNoSockets }
  })

/** Resolves with the server's open connection count (Node's `getConnections`). */
export const connectionCount = (node: Http.Server): Effect.Effect<number> =>
  Effect.async<number>((resume) => {
    node.getConnections((error, count) => resume(error ? Effect.die(error) : Effect.succeed(count)))
  })
