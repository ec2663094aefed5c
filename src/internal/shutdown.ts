import * as GlobalValue from "effect/GlobalValue"

/**
 * Graceful shutdown for SSE on Node's `http.Server`.
 *
 * `server.close()` waits for every open response to end, and an event stream never ends on its own, so a
 * server with SSE clients would never finish closing (Effect issue #3922). Each SSE response registers here
 * under the `http.Server` that accepted its socket; the first registration wraps that server's `close` so
 * that closing the server also ends every SSE response on it, then closes the keep-alive sockets they leave
 * idle. Requests that are not served by a Node `http.Server` are not registered.
 *
 * @internal
 */

interface NodeServerLike {
  close: (...args: Array<unknown>) => unknown
  closeIdleConnections?: () => void
  once: (event: "close", listener: () => void) => unknown
  listening: boolean
}

interface Registry {
  readonly connections: Set<() => void>
  closing: boolean
}

const registries = GlobalValue.globalValue(
  Symbol.for("effect-sse/internal/shutdown/registries"),
  () => new WeakMap<object, Registry>()
)

const isNodeServer = (u: unknown): u is NodeServerLike =>
  typeof u === "object" && u !== null && typeof (u as NodeServerLike).close === "function" &&
  typeof (u as NodeServerLike).once === "function"

/** @internal */
export const nodeServerOf = (source: unknown): NodeServerLike | undefined => {
  const server = (source as { socket?: { server?: unknown } } | undefined)?.socket?.server
  return isNodeServer(server) ? server : undefined
}

const install = (server: NodeServerLike): Registry => {
  const registry: Registry = { connections: new Set(), closing: false }
  registries.set(server, registry)
  const close = server.close
  server.close = function(this: NodeServerLike, ...args: Array<unknown>) {
    const result = close.apply(this, args)
    if (!registry.closing) {
      registry.closing = true
      for (const end of Array.from(registry.connections)) end()
      registry.connections.clear()
      // Responses end asynchronously; their keep-alive sockets then sit idle and would hold `close` open
      // until the keep-alive timeout. Close idle sockets until the server reports it is closed.
      if (typeof server.closeIdleConnections === "function") {
        const timer = setInterval(() => server.closeIdleConnections!(), 20)
        timer.unref()
        server.once("close", () => clearInterval(timer))
      }
    }
    return result
  }
  return registry
}

/**
 * Registers `end` to be called when the server that owns `source` closes. Returns the unregister function.
 * If the server is already closing, `end` is called at once.
 *
 * @internal
 */
export const register = (source: unknown, end: () => void): () => void => {
  const server = nodeServerOf(source)
  if (server === undefined) return noop
  const registry = registries.get(server) ?? install(server)
  if (registry.closing || !server.listening) {
    end()
    return noop
  }
  registry.connections.add(end)
  return () => {
    registry.connections.delete(end)
  }
}

const noop = () => {}
