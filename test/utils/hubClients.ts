/**
 * Clients for the hub's end-to-end tests, over real sockets on 127.0.0.1:
 *
 * - `EventReader`: a client that reads everything at once through Node's HTTP client and an independent SSE
 *   parser (`eventsource-parser`), keeping only what the assertions need, so that fifty of them stay cheap;
 * - `StalledClient`: a socket that sends its GET and then never reads, until a test drains what it got;
 * - `fullGc`: a full garbage collection, so that heap measurements compare live memory only;
 * - `serveOnSseNode`, `serveOnHandler`: an app on the library's Node server, as a layer or as the request
 *   listener of a plain `node:http` server.
 */
import { type HttpApp, type HttpMiddleware, HttpServer, type HttpServerRequest } from "@effect/platform"
import { Context, Data, type Duration, Effect, Layer, type Scope } from "effect"
import { createParser, type EventSourceMessage } from "eventsource-parser"
import * as Http from "node:http"
import * as Net from "node:net"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import * as SseNode from "../../src/SseNode.js"
import * as SseServer from "../../src/SseServer.js"
import type * as TestServer from "./server.js"

export class ClientError extends Data.TaggedError("ClientError")<{ readonly detail: string }> {
  override get message() {
    return this.detail
  }
}

/** Pushed waits: every check runs when the watched thing changes, never on a timer; the timeout only bounds. */
export class Waiters {
  private readonly waiters = new Set<() => void>()
  notify() {
    for (const waiter of Array.from(this.waiters)) waiter()
  }
  until(condition: () => boolean, label: () => string, timeout: Duration.DurationInput) {
    return Effect.async<void>((resume) => {
      const check = () => {
        if (condition()) {
          this.waiters.delete(check)
          resume(Effect.void)
        }
      }
      this.waiters.add(check)
      check()
      return Effect.sync(() => this.waiters.delete(check))
    }).pipe(
      Effect.timeoutFail({ duration: timeout, onTimeout: () => new ClientError({ detail: `timed out: ${label()}` }) })
    )
  }
}

export interface ReaderOptions {
  readonly path?: string
  readonly headers?: Readonly<Record<string, string>>
  /** Keep every event (default), only their ids, or nothing but the count, first and last id (big volumes). */
  readonly keep?: "events" | "ids" | "none"
  /** Checked on every event; a failed check is counted in `bad` (cheaper than keeping the data). */
  readonly check?: (event: EventSourceMessage) => boolean
}

/** A client that reads an SSE response as fast as it comes, through Node's HTTP client. */
export class EventReader {
  readonly events: Array<EventSourceMessage> = []
  readonly ids: Array<string | undefined> = []
  readonly comments: Array<string> = []
  count = 0
  bad = 0
  firstId: string | undefined
  lastId: string | undefined
  status: number | undefined
  contentType: string | undefined
  /** How the response finished: a clean end of the body, or the connection closed before that. */
  finished: "end" | "close" | undefined
  private readonly waiters = new Waiters()

  constructor(readonly request: Http.ClientRequest, options: ReaderOptions) {
    const keep = options.keep ?? "events"
    const parser = createParser({
      onEvent: (event) => {
        this.count++
        if (this.count === 1) this.firstId = event.id
        this.lastId = event.id
        if (keep !== "none") this.ids.push(event.id)
        if (keep === "events") this.events.push(event)
        if (options.check !== undefined && !options.check(event)) this.bad++
      },
      onComment: (comment) => {
        this.comments.push(comment)
      }
    })
    const decoder = new TextDecoder()
    request.on("response", (response) => {
      this.status = response.statusCode
      this.contentType = response.headers["content-type"]
      response.on("data", (chunk: Buffer) => {
        parser.feed(decoder.decode(chunk, { stream: true }))
        this.waiters.notify()
      })
      response.on("end", () => {
        this.finished ??= "end"
        this.waiters.notify()
      })
      response.on("error", () => {})
      response.on("close", () => {
        this.finished ??= "close"
        this.waiters.notify()
      })
      this.waiters.notify()
    })
    request.on("error", () => {
      this.finished ??= "close"
      this.waiters.notify()
    })
  }

  /** Waits until `condition` holds (bounded by `timeout`). */
  until(condition: (self: this) => boolean, label: string, timeout: Duration.DurationInput = "10 seconds") {
    return this.waiters.until(
      () => condition(this),
      () => `${label} (got ${this.count} events, last id ${this.lastId}, finished ${this.finished})`,
      timeout
    )
  }

  /** Waits until at least `n` events arrived. */
  atLeast(n: number, timeout?: Duration.DurationInput) {
    return this.until((self) => self.count >= n, `${n} events`, timeout)
  }

  /** Waits until the response is over, and says how. */
  awaitEnd(timeout?: Duration.DurationInput) {
    return Effect.as(this.until((self) => self.finished !== undefined, "the end of the response", timeout), this)
  }

  destroy() {
    this.request.destroy()
  }
}

/** Opens an SSE request to 127.0.0.1:`port`; the connection is destroyed when the scope closes. */
export const openReader = (
  port: number,
  options: ReaderOptions = {}
): Effect.Effect<EventReader, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() =>
      new EventReader(
        Http.get({
          host: "127.0.0.1",
          port,
          path: options.path ?? "/events",
          headers: { accept: "text/event-stream", ...options.headers },
          agent: false
        }),
        options
      )
    ),
    (reader) => Effect.sync(() => reader.destroy())
  )

/** Opens `n` readers (with options made for each) and waits until each has its response head. */
export const openReaders = (port: number, n: number, options: () => ReaderOptions = () => ({})) =>
  Effect.forEach(Array.from({ length: n }), () => openReader(port, options())).pipe(
    Effect.tap((readers) =>
      Effect.forEach(readers, (reader) => reader.until((self) => self.status !== undefined, "the response head"), {
        concurrency: "unbounded",
        discard: true
      })
    )
  )

/**
 * A client that sends its GET and never reads: the socket is paused before the first byte arrives, so Node
 * buffers at most one read (its high-water mark) and the rest piles up in the kernel until the sender must
 * stop. `drain` later reads what it was sent, until the server closes the connection.
 */
export class StalledClient {
  private readonly received: Array<Buffer> = []
  private closed = false
  private readonly waiters = new Waiters()

  constructor(readonly socket: Net.Socket, readonly localPort: number) {
    socket.on("close", () => {
      this.closed = true
      this.waiters.notify()
    })
    socket.on("error", () => {})
  }

  /** Starts reading: everything the server got into the connection, until it closed it. */
  drain(timeout: Duration.DurationInput = "10 seconds"): Effect.Effect<DrainedResponse, ClientError> {
    return Effect.suspend(() => {
      this.socket.on("data", (chunk: Buffer) => this.received.push(chunk))
      this.socket.on("end", () => this.socket.destroy())
      this.socket.resume()
      return this.waiters.until(() => this.closed, () => "the stalled client's connection to close", timeout)
    }).pipe(Effect.map(() => decodeResponse(Buffer.concat(this.received))))
  }

  destroy() {
    this.socket.destroy()
  }
}

export const openStalled = (
  port: number,
  path = "/events",
  headers: Readonly<Record<string, string>> = {}
): Effect.Effect<StalledClient, ClientError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<StalledClient, ClientError>((resume) => {
      const socket = Net.connect({ port, host: "127.0.0.1" })
      socket.pause()
      const onError = (error: Error) => resume(Effect.fail(new ClientError({ detail: error.message })))
      socket.once("error", onError)
      socket.once("connect", () => {
        socket.off("error", onError)
        const lines = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, "Accept: text/event-stream"]
        for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
        socket.write(lines.join("\r\n") + "\r\n\r\n")
        resume(Effect.succeed(new StalledClient(socket, socket.localPort!)))
      })
      return Effect.sync(() => socket.destroy())
    }),
    (client) => Effect.sync(() => client.destroy())
  )

export interface DrainedResponse {
  readonly status: number | undefined
  /** The events of the body, as a client parses them (an event cut off by the close is not one). */
  readonly events: Array<EventSourceMessage>
  /** Whether the body ended cleanly (the last chunk), rather than the connection being cut. */
  readonly endedCleanly: boolean
}

/** Reads an HTTP/1.1 response with a chunked body from raw bytes, tolerating a cut-off end. */
export const decodeResponse = (raw: Buffer): DrainedResponse => {
  const headEnd = raw.indexOf("\r\n\r\n")
  if (headEnd < 0) return { status: undefined, events: [], endedCleanly: false }
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw.subarray(0, headEnd).toString("latin1"))?.[1])
  const events: Array<EventSourceMessage> = []
  const parser = createParser({ onEvent: (event) => events.push(event) })
  const decoder = new TextDecoder()
  let at = headEnd + 4
  let endedCleanly = false
  for (;;) {
    const sizeEnd = raw.indexOf("\r\n", at)
    if (sizeEnd < 0) break
    const size = Number.parseInt(raw.subarray(at, sizeEnd).toString("latin1"), 16)
    if (!Number.isFinite(size)) break
    if (size === 0) {
      endedCleanly = true
      break
    }
    const data = raw.subarray(sizeEnd + 2, Math.min(raw.length, sizeEnd + 2 + size))
    parser.feed(decoder.decode(data, { stream: true }))
    if (sizeEnd + 2 + size + 2 > raw.length) break
    at = sizeEnd + 2 + size + 2
  }
  return { status, events, endedCleanly }
}

/** Waits until the server side of the connection from local port `remotePort` has closed. */
export const awaitServerSocketClosed = (
  sockets: ReadonlySet<Net.Socket>,
  remotePort: number,
  timeout: Duration.DurationInput = "10 seconds"
): Effect.Effect<void, ClientError> =>
  Effect.async<void>((resume) => {
    const socket = Array.from(sockets).find((s) => s.remotePort === remotePort)
    if (socket === undefined || socket.destroyed) return resume(Effect.void)
    const onClose = () => resume(Effect.void)
    socket.once("close", onClose)
    return Effect.sync(() => socket.off("close", onClose))
  }).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new ClientError({ detail: "the server kept the stalled client's socket open" })
    })
  )

let collect: (() => void) | undefined

/** A full, synchronous garbage collection (V8's `gc`, exposed at run time). */
export const fullGc = (): void => {
  if (collect === undefined) {
    V8.setFlagsFromString("--expose-gc")
    collect = Vm.runInNewContext("gc") as () => void
  }
  collect()
}

/**
 * Serves `app` on the library's Node server (`SseNode.layer`, where SSE responses are written straight to their
 * sockets) on 127.0.0.1 and a free port, until the current scope closes: the same shape as
 * `./server.js`'s `serve` (on `NodeHttpServer.layer`), with the `SseServer` of its streams. Needs the live clock.
 */
export const serveOnSseNode = <E>(
  app: HttpApp.Default<E, HttpServerRequest.HttpServerRequest | Scope.Scope>,
  options?: { readonly middleware?: HttpMiddleware.HttpMiddleware }
): Effect.Effect<TestServer.TestServer & { readonly sse: SseServer.SseServer }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const node = Http.createServer()
    const tracked = trackSockets(node)
    const context = yield* Layer.build(
      (options?.middleware === undefined ? HttpServer.serve(app) : HttpServer.serve(app, options.middleware)).pipe(
        Layer.provideMerge(SseNode.layer(() => node, { port: 0, host: "127.0.0.1" }))
      )
    ).pipe(Effect.orDie)
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    return { port: address.port, node, ...tracked, sse: Context.get(context, SseServer.SseServer) }
  })

/**
 * Serves `app` from a plain `node:http` server of the test's own, through `SseNode.makeHandler`, with an
 * `SseServer` provided to it; until the current scope closes (the SseServer first, then the server).
 */
export const serveOnHandler = <E>(
  app: HttpApp.Default<E, HttpServerRequest.HttpServerRequest | Scope.Scope>,
  options?: { readonly middleware?: HttpMiddleware.HttpMiddleware }
): Effect.Effect<TestServer.TestServer & { readonly sse: SseServer.SseServer }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const node = Http.createServer()
    const tracked = trackSockets(node)
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
    // Released before the server closes: every stream ends first, so that `close` completes.
    const sse = yield* SseServer.make()
    const handler = yield* SseNode.makeHandler(
      Effect.provideService(app, SseServer.SseServer, sse),
      options?.middleware
    )
    node.on("request", handler)
    return { port: (node.address() as Net.AddressInfo).port, node, ...tracked, sse }
  })

/** The sockets a server accepted and has not closed yet, and a bounded wait until there are none. */
const trackSockets = (node: Http.Server): Pick<TestServer.TestServer, "sockets" | "awaitNoSockets"> => {
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
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error(`${sockets.size} sockets still open`) })
  )
  return { sockets, awaitNoSockets }
}
