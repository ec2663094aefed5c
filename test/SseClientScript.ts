/**
 * A scripted raw `node:http` server for the SseClient tests, and what they share: it serves chosen bytes, knows
 * nothing of Effect, and so runs the same under the live and the test clock.
 */
import { Chunk, Effect, Layer, Logger, LogLevel, Stream, TestClock } from "effect"
import type { Scope } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import type * as SseParser from "../src/SseParser.js"

// -----------------------------------------------------------------------------
// a scripted raw server
// -----------------------------------------------------------------------------

export interface Seen {
  readonly method: string
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  /** `Last-Event-ID` read back from its UTF-8 bytes, `undefined` when absent. */
  readonly lastEventId: string | undefined
  readonly body: string
  /** Completes when this request's connection is closed, by either side. */
  readonly closed: Promise<void>
}

export type Handler = (request: Seen, response: Http.ServerResponse, index: number) => void

export interface Script {
  readonly origin: string
  readonly requests: ReadonlyArray<Seen>
  /** Completes once `count` requests have arrived. */
  readonly awaitRequests: (count: number) => Effect.Effect<void>
}

/**
 * A `node:http` server on 127.0.0.1 that hands request `n` to `handlers[n]` (the last handler serves any
 * further request). It knows nothing of Effect, so it runs the same under the live and the test clock.
 */
export const scripted = (...handlers: ReadonlyArray<Handler>): Effect.Effect<Script, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ script: Script; server: Http.Server }>((resume) => {
      const requests: Array<Seen> = []
      const waiting = new Set<() => void>()
      const server = Http.createServer((req, res) => {
        const closed = new Promise<void>((done) => res.once("close", () => done()))
        const parts: Array<Buffer> = []
        req.on("data", (part: Buffer) => parts.push(part))
        req.on("end", () => {
          const raw = req.headers["last-event-id"]
          const seen: Seen = {
            method: req.method ?? "",
            path: req.url ?? "",
            headers: req.headers,
            // Node reads header bytes as latin1; the client sends the id's UTF-8 bytes.
            lastEventId: raw === undefined ? undefined : Buffer.from(String(raw), "latin1").toString("utf8"),
            body: Buffer.concat(parts).toString("utf8"),
            closed
          }
          const index = requests.push(seen) - 1
          for (const wake of Array.from(waiting)) wake()
          handlers[Math.min(index, handlers.length - 1)](seen, res, index)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        const awaitRequests = (count: number) =>
          Effect.async<void>((resume) => {
            const check = () => {
              if (requests.length < count) return
              waiting.delete(check)
              resume(Effect.void)
            }
            waiting.add(check)
            check()
            return Effect.sync(() => waiting.delete(check))
          })
        resume(Effect.succeed({ script: { origin: `http://127.0.0.1:${port}`, requests, awaitRequests }, server }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ script }) => script))

/** Answers with an event stream made of `body`, then ends the response (a clean close) unless told to stay open. */
export const sse =
  (body: string, options?: { readonly stayOpen?: boolean; readonly contentType?: string }): Handler => (_, res) => {
    res.writeHead(200, { "content-type": options?.contentType ?? "text/event-stream" })
    if (options?.stayOpen === true) res.write(body)
    else res.end(body)
  }

/** Answers with an event stream made of `body`, then breaks the connection without ending the response. */
export const sseThenBreak = (body: string): Handler => (_, res) => {
  res.writeHead(200, { "content-type": "text/event-stream" })
  res.write(body, () => res.destroy())
}

export const status = (code: number, headers?: Http.OutgoingHttpHeaders): Handler => (_, res) => {
  res.writeHead(code, headers)
  res.end()
}

export const noContent = status(204)

/** Waits until the client sleeps on the test clock, and returns how long it sleeps. */
export const awaitSleep = Effect.gen(function*() {
  for (let i = 0; i < 10_000; i++) {
    const [now, sleeps] = [yield* TestClock.currentTimeMillis, yield* TestClock.sleeps()]
    if (Chunk.isNonEmpty(sleeps)) return Chunk.headNonEmpty(sleeps) - now
    // Let the real event loop run: the client is waiting on sockets, not on the test clock.
    yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
  }
  return yield* Effect.dieMessage("the client never slept")
})

export const collect = <E, R>(stream: Stream.Stream<SseParser.Event, E, R>) =>
  Stream.runCollect(stream).pipe(Effect.map(Chunk.toReadonlyArray))

export const event = (data: string, lastEventId = "", type = "message"): SseParser.Event => ({
  _tag: "Event",
  type,
  data,
  lastEventId
})

export interface Logged {
  readonly level: LogLevel.LogLevel
  readonly message: ReadonlyArray<unknown>
}

/** A logger that records every log (Debug included) in place of the default one. */
export const recordLogs = () => {
  const logged: Array<Logged> = []
  const logger = Logger.make(({ logLevel, message }) => {
    logged.push({ level: logLevel, message: Array.isArray(message) ? message : [message] })
  })
  const layer = Layer.merge(Logger.replace(Logger.defaultLogger, logger), Logger.minimumLogLevel(LogLevel.All))
  return { logged, layer, at: (level: LogLevel.LogLevel) => logged.filter((log) => log.level._tag === level._tag) }
}

/** Fails with a clear message instead of hanging until the test timeout when the client never gets through. */
export const bounded = (server: Script) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(self, {
    duration: "10 seconds",
    onTimeout: () => new Error(`the client is stuck after ${server.requests.length} request(s) reached the server`)
  })
