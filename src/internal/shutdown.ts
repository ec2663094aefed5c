import * as GlobalValue from "effect/GlobalValue"

/**
 * Graceful shutdown for SSE on Node's `http.Server`.
 *
 * `server.close()` waits for every open response to end, and an event stream never ends on its own, so a
 * server with SSE clients would never finish closing (Effect issue #3922). Each SSE response registers here
 * under the `http.Server` that accepted its socket; the first registration wraps that server's `close` so
 * that closing the server also ends every SSE response on it, closes the keep-alive sockets they leave idle,
 * and, after a grace period, destroys the sockets of responses that could not finish (a client that stopped
 * reading). Requests that are not served by a Node `http.Server` are not registered.
 *
 * @internal
 */

interface NodeServerLike {
  close: (...args: Array<unknown>) => unknown
  closeIdleConnections?: () => void
  once: (event: "close", listener: () => void) => unknown
  listening: boolean
}

/** What a registered response can be asked to do: end cleanly, or be cut. @internal */
export interface Connection {
  end(): void
  destroy(): void
}

interface Registry {
  readonly connections: Set<Connection>
  closing: boolean
}

/** @internal */
export const gracePeriodMillis = 1000

const registries = GlobalValue.globalValue(
  Symbol.for("effect-sse/internal/shutdown/registries"),
  () => new WeakMap<object, Registry>()
)

const isNodeServer = (u: unknown): u is NodeServerLike =>
  typeof u === "object" && u !== null && typeof (u as NodeServerLike).close === "function" &&
  typeof (u as NodeServerLike).once === "function"

interface SocketLike {
  readonly server?: unknown
  readonly destroy?: () => void
}

const socketOf = (source: unknown): SocketLike | undefined => {
  const socket = (source as { socket?: unknown } | undefined)?.socket
  return typeof socket === "object" && socket !== null ? socket as SocketLike : undefined
}

/**
 * The Node `http.Server` that accepted the request whose `source` this is, if any.
 *
 * @internal
 */
export const nodeServerOf = (source: unknown): NodeServerLike | undefined => {
  const server = socketOf(source)?.server
  return isNodeServer(server) ? server : undefined
}

/**
 * Destroys the socket under a Node request, if there is one. Used to drop a client that stopped reading:
 * ending its response would leave the unsent bytes and the socket in memory.
 *
 * @internal
 */
export const destroySocket = (source: unknown): boolean => {
  const socket = socketOf(source)
  if (socket !== undefined && typeof socket.destroy === "function") {
    socket.destroy()
    return true
  }
  return false
}

const install = (server: NodeServerLike): Registry => {
  const registry: Registry = { connections: new Set(), closing: false }
  registries.set(server, registry)
  const close = server.close
  server.close = function(this: NodeServerLike, ...args: Array<unknown>) {
    const result = close.apply(this, args)
    if (!registry.closing) {
      registry.closing = true
      for (const connection of Array.from(registry.connections)) connection.end()
      // Responses end asynchronously; their keep-alive sockets then sit idle and would hold `close` open
      // until the keep-alive timeout. Close idle sockets until the server reports it is closed.
      const idle = setInterval(() => server.closeIdleConnections?.(), 20)
      const grace = setTimeout(() => {
        for (const connection of Array.from(registry.connections)) connection.destroy()
      }, gracePeriodMillis)
      idle.unref()
      grace.unref()
      server.once("close", () => {
        clearInterval(idle)
        clearTimeout(grace)
      })
    }
    return result
  }
  return registry
}

/**
 * Registers a response to be ended when the server that owns `source` closes. Returns the unregister
 * function, to call when the response has ended. If the server is already closing, `end` is called at once.
 *
 * @internal
 */
export const register = (source: unknown, connection: Connection): void => {
  const server = nodeServerOf(source)
  if (server === undefined) return
  const registry = registries.get(server) ?? install(server)
  if (registry.closing || !server.listening) {
    connection.end()
    return
  }
  registry.connections.add(connection)
}

/** Forgets a connection `register` was given (when it is over). */
export const unregister = (source: unknown, connection: Connection): void => {
  const server = nodeServerOf(source)
  if (server !== undefined) registries.get(server)?.connections.delete(connection)
}
