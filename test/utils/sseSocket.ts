/**
 * A raw HTTP/1.1 client over `node:net` for looking at the exact bytes of an SSE response: the status line and
 * headers as sent, the body with the chunked framing removed, and whether the body ended cleanly (the final
 * zero-length chunk) or the socket just went away.
 */
import { Data, type Duration, Effect, type Scope } from "effect"
import * as Net from "node:net"

export class SseSocketError extends Data.TaggedError("SseSocketError")<{
  readonly reason: "Timeout" | "Closed" | "Connect"
  readonly detail: string
}> {
  override get message(): string {
    return `${this.reason}: ${this.detail}`
  }
}

export interface ResponseHead {
  readonly status: number
  readonly httpVersion: string
  /** Header names lower-cased, values as sent. */
  readonly headers: Readonly<Record<string, string>>
}

/** How the response body finished: `end` is a clean end of the body, `close` a socket closed before it. */
export type BodyEnd = "end" | "close"

/**
 * One HTTP exchange on a raw socket. Everything is pushed by socket events: nothing here sleeps or polls.
 */
export class RawSseClient {
  readonly socket: Net.Socket
  private raw = Buffer.alloc(0)
  private parsedUpTo = 0
  private chunks: Array<Buffer> = []
  private bodyText = ""
  private readonly decoder = new TextDecoder()
  private headParsed: ResponseHead | undefined
  private chunked = false
  private finished: BodyEnd | undefined
  private waiters = new Set<() => void>()
  private socketClosed = false

  constructor(socket: Net.Socket) {
    this.socket = socket
    socket.on("data", (data: Buffer) => {
      this.raw = Buffer.concat([this.raw, data])
      this.parse()
      this.notify()
    })
    socket.on("close", () => {
      this.socketClosed = true
      if (this.finished === undefined) this.finished = "close"
      this.notify()
    })
    socket.on("error", () => {
      // A reset after the client destroys the socket, or a server that destroys it: `close` follows.
    })
  }

  /** The bytes received so far, exactly as they came off the socket (chunk framing included). */
  get rawBytes(): Buffer {
    return this.raw
  }

  get head(): ResponseHead | undefined {
    return this.headParsed
  }

  /** The body as the chunks of the chunked encoding it came in (each is one write of the server). */
  get bodyChunks(): ReadonlyArray<Buffer> {
    return this.chunks
  }

  /** The body bytes received so far, chunk framing removed. */
  get bodyBytes(): Buffer {
    return Buffer.concat(this.chunks)
  }

  /** The body received so far, decoded as UTF-8. */
  get body(): string {
    return this.bodyText
  }

  get end(): BodyEnd | undefined {
    return this.finished
  }

  get isClosed(): boolean {
    return this.socketClosed
  }

  private notify() {
    for (const waiter of Array.from(this.waiters)) waiter()
  }

  private fail(detail: string) {
    this.finished = "close"
    this.socket.destroy(new Error(detail))
  }

  private parse() {
    if (this.headParsed === undefined) {
      const headEnd = this.raw.indexOf("\r\n\r\n")
      if (headEnd === -1) return
      const lines = this.raw.subarray(0, headEnd).toString("latin1").split("\r\n")
      const statusLine = /^HTTP\/(\d\.\d) (\d{3})/.exec(lines[0])
      if (statusLine === null) return this.fail(`bad status line: ${lines[0]}`)
      const headers: Record<string, string> = {}
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(":")
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
      }
      this.headParsed = { httpVersion: statusLine[1], status: Number(statusLine[2]), headers }
      this.chunked = headers["transfer-encoding"]?.toLowerCase() === "chunked"
      this.parsedUpTo = headEnd + 4
    }
    if (!this.chunked) {
      if (this.parsedUpTo < this.raw.length) this.push(this.raw.subarray(this.parsedUpTo))
      this.parsedUpTo = this.raw.length
      return
    }
    while (this.finished === undefined) {
      const sizeEnd = this.raw.indexOf("\r\n", this.parsedUpTo)
      if (sizeEnd === -1) return
      const size = Number.parseInt(this.raw.subarray(this.parsedUpTo, sizeEnd).toString("latin1"), 16)
      if (!Number.isFinite(size)) return this.fail("bad chunk size")
      if (size === 0) {
        // The last chunk, then an empty trailer section.
        if (this.raw.length < sizeEnd + 4) return
        this.parsedUpTo = sizeEnd + 4
        this.finished = "end"
        return
      }
      if (this.raw.length < sizeEnd + 2 + size + 2) return
      this.push(this.raw.subarray(sizeEnd + 2, sizeEnd + 2 + size))
      this.parsedUpTo = sizeEnd + 2 + size + 2
    }
  }

  private push(bytes: Buffer) {
    const copy = Buffer.from(bytes)
    this.chunks.push(copy)
    this.bodyText += this.decoder.decode(copy, { stream: true })
  }

  /**
   * Resolves once `condition` holds for this client; fails with `Closed` if the socket closes first (unless
   * the condition then holds), or with `Timeout` after `timeout` (a bound, not a wait).
   */
  waitFor(
    condition: (self: RawSseClient) => boolean,
    label: string,
    timeout: Duration.DurationInput = "5 seconds"
  ): Effect.Effect<void, SseSocketError> {
    return Effect.async<void, SseSocketError>((resume) => {
      const check = () => {
        if (condition(this)) {
          this.waiters.delete(check)
          resume(Effect.void)
        } else if (this.socketClosed) {
          this.waiters.delete(check)
          resume(
            Effect.fail(
              new SseSocketError({ reason: "Closed", detail: `${label}; body so far: ${JSON.stringify(this.body)}` })
            )
          )
        }
      }
      this.waiters.add(check)
      check()
      return Effect.sync(() => this.waiters.delete(check))
    }).pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          new SseSocketError({ reason: "Timeout", detail: `${label}; body so far: ${JSON.stringify(this.body)}` })
      })
    )
  }

  /** Waits until the body contains `text` (or matches the pattern) and returns the body so far. */
  readUntil(
    pattern: string | RegExp,
    timeout: Duration.DurationInput = "5 seconds"
  ): Effect.Effect<string, SseSocketError> {
    const test = typeof pattern === "string"
      ? (body: string) => body.includes(pattern)
      : (body: string) => pattern.test(body)
    return Effect.map(
      this.waitFor((self) => test(self.body), `waiting for ${String(pattern)}`, timeout),
      () => this.body
    )
  }

  /** Waits for the response head. */
  readHead(timeout: Duration.DurationInput = "5 seconds"): Effect.Effect<ResponseHead, SseSocketError> {
    return Effect.map(
      this.waitFor((self) => self.head !== undefined, "waiting for the response head", timeout),
      () => this.head!
    )
  }

  /** Waits until the body has ended, cleanly or not, and says how. */
  awaitEnd(timeout: Duration.DurationInput = "5 seconds"): Effect.Effect<BodyEnd, SseSocketError> {
    return Effect.async<BodyEnd>((resume) => {
      const check = () => {
        if (this.finished !== undefined) {
          this.waiters.delete(check)
          resume(Effect.succeed(this.finished))
        }
      }
      this.waiters.add(check)
      check()
      return Effect.sync(() => this.waiters.delete(check))
    }).pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          new SseSocketError({
            reason: "Timeout",
            detail: `waiting for the end of the body; body so far: ${JSON.stringify(this.body)}`
          })
      })
    )
  }

  /** Waits until the socket is fully closed. */
  awaitClose(timeout: Duration.DurationInput = "5 seconds"): Effect.Effect<void, SseSocketError> {
    return Effect.async<void>((resume) => {
      const check = () => {
        if (this.socketClosed) {
          this.waiters.delete(check)
          resume(Effect.void)
        }
      }
      this.waiters.add(check)
      check()
      return Effect.sync(() => this.waiters.delete(check))
    }).pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => new SseSocketError({ reason: "Timeout", detail: "waiting for the socket to close" })
      })
    )
  }

  destroy(): void {
    this.socket.destroy()
  }
}

export interface ConnectOptions {
  readonly path?: string
  readonly headers?: Readonly<Record<string, string>>
  readonly method?: string
  /** The request line's version: `1.1` (the default) or `1.0` (a client that cannot read chunked bodies). */
  readonly httpVersion?: "1.0" | "1.1"
  /** A request body, sent with its `Content-Length`. */
  readonly body?: string
}

const requestText = (port: number, options: ConnectOptions | undefined): string => {
  const lines = [
    `${options?.method ?? "GET"} ${options?.path ?? "/events"} HTTP/${options?.httpVersion ?? "1.1"}`,
    `Host: 127.0.0.1:${port}`,
    "Accept: text/event-stream"
  ]
  for (const [name, value] of Object.entries(options?.headers ?? {})) lines.push(`${name}: ${value}`)
  if (options?.body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(options.body)}`)
  return lines.join("\r\n") + "\r\n\r\n" + (options?.body ?? "")
}

/** Opens a socket to 127.0.0.1:`port` and sends one GET. Not scoped: the caller destroys it. */
export const connectUnscoped = (port: number, options?: ConnectOptions): Effect.Effect<RawSseClient, SseSocketError> =>
  Effect.async<RawSseClient, SseSocketError>((resume) => {
    const socket = Net.connect({ port, host: "127.0.0.1" })
    const onError = (error: Error) =>
      resume(Effect.fail(new SseSocketError({ reason: "Connect", detail: error.message })))
    socket.once("error", onError)
    socket.once("connect", () => {
      socket.off("error", onError)
      const client = new RawSseClient(socket)
      socket.write(requestText(port, options))
      resume(Effect.succeed(client))
    })
    return Effect.sync(() => socket.destroy())
  })

/** Opens a socket to 127.0.0.1:`port` and sends one GET; the socket is destroyed when the scope closes. */
export const connect = (
  port: number,
  options?: ConnectOptions
): Effect.Effect<RawSseClient, SseSocketError, Scope.Scope> =>
  Effect.acquireRelease(connectUnscoped(port, options), (client) => Effect.sync(() => client.destroy()))
