/**
 * The machinery behind `SseConnection.upgrade`: the response body is a `Stream` pulled from the core's queue
 * writer, and everything the connection runs (the handler, the keep-alive and stall ticks, the shutdown watch)
 * lives in the body's scope, so that whatever ends the body ends them, exactly once.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Headers from "effect/http/Headers"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Bytes from "../../../src/core/chunk.js"
import * as Conn from "../../../src/core/connection.js"
import * as Fields from "../../../src/core/fields.js"
import * as LastEventId from "../../../src/core/lastEventId.js"
import * as Writers from "../../../src/core/writer.js"
import type * as SseConnection from "../SseConnection.js"
import * as SseEvent from "../SseEvent.js"
import * as SseResponse from "../SseResponse.js"

/** The constructor of the public error (passed in, so this file has no cycle with the public module). */
export type MakeClosed = (reason: "Closed" | "WriteTimeout") => SseConnection.ConnectionClosed

/** @internal */
export const defaultKeepAlive = Duration.seconds(15)

/** @internal */
export const defaultWriteTimeout = Duration.seconds(10)

// The headers `SseResponse.stream` writes; the SSE ones win over extra ones of the same name.
const headersOf = (extra: Headers.Input | undefined): Headers.Headers =>
  Headers.setAll(Headers.fromInput(extra), {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    "x-accel-buffering": "no"
  })

/**
 * How to close the connection under a request whose client is dropped, where the platform's request exposes it
 * (Node's HTTP/1 request, with its socket). Read by shape, so that this module stays portable: a pulled body can
 * only end, and its end waits behind bytes a stalled client never takes.
 */
const cutterOf = (request: Option.Option<HttpServerRequest.HttpServerRequest>): (() => void) | undefined => {
  if (Option.isNone(request)) return undefined
  const source = request.value.source as
    | { readonly httpVersionMajor?: unknown; readonly socket?: { destroy?: unknown } | null }
    | undefined
  const socket = source?.socket
  if (source?.httpVersionMajor !== 1 || socket === null || socket === undefined) return undefined
  return typeof socket.destroy === "function" ? () => (socket as { destroy(): void }).destroy() : undefined
}

/** A connection's handle, one object with its methods on the prototype. */
class Handle implements SseConnection.SseConnection {
  constructor(
    readonly lastEventId: Option.Option<string>,
    private readonly writer: Writers.Writer,
    private readonly connection: Conn.Connection,
    private readonly makeClosed: MakeClosed
  ) {}

  private closedError(): SseConnection.ConnectionClosed {
    return this.makeClosed(this.connection.stalled ? "WriteTimeout" : "Closed")
  }

  /** Waits until the writer has room, then writes; fails once the stream is over. */
  private write(bytes: Uint8Array): Effect.Effect<void, SseConnection.ConnectionClosed> {
    const writer = this.writer
    const attempt = Effect.suspend(() =>
      writer.isClosed() ? Effect.fail(this.closedError()) : Effect.sync(() => writer.write(bytes))
    )
    return Effect.suspend(() =>
      writer.isClosed() || writer.hasRoom()
        ? attempt
        : Effect.andThen(Effect.callback<void>((resume) => writer.onRoom(() => resume(Effect.void))), attempt)
    )
  }

  // Functions, not prototype methods: the interface promises function-valued fields, which are passed around
  // detached from the connection (`Stream.runForEach(events, connection.send)`).
  readonly send = (event: SseEvent.SseEvent): Effect.Effect<void, SseConnection.ConnectionClosed> =>
    this.write(SseEvent.encode(event))

  readonly sendData = (data: string): Effect.Effect<void, SseConnection.ConnectionClosed> =>
    this.send(SseEvent.make(data))

  readonly sendJSON = (
    value: unknown
  ): Effect.Effect<void, SseConnection.ConnectionClosed | SseEvent.SseEventError> =>
    Effect.flatMap(Effect.fromResult(SseEvent.json(value)), this.send)

  get done(): Effect.Effect<void> {
    return Effect.callback<void>((resume) => this.writer.onClose(() => resume(Effect.void)))
  }

  // What was sent is still delivered after a close; a client that does not take it within the write timeout is
  // dropped by the stall rule.
  get close(): Effect.Effect<void> {
    return Effect.sync(() => this.writer.end())
  }

  get isOpen(): Effect.Effect<boolean> {
    return Effect.sync(() => !this.writer.isClosed())
  }
}

/** Hands the body what the writer has queued, as one piece, and ends it once the writer has ended. */
const body = (writer: Writers.QueueWriter): Stream.Stream<Uint8Array> =>
  Stream.fromPull(Effect.succeed(
    Effect.callback<readonly [Uint8Array], Cause.Done>((resume) => {
      const take = () => {
        const bytes = writer.take()
        if (bytes === null) resume(Cause.done())
        else if (bytes === undefined) writer.onData(take)
        else resume(Effect.succeed([bytes] as const))
      }
      take()
    })
  ))

/**
 * Applies the keep-alive and stall rules once a tick, on the Effect clock. It runs until the connection's scope
 * closes: a closed connection still flushing its bytes is still dropped if its client stalls.
 */
const ticker = (connection: Conn.Connection): Effect.Effect<never> =>
  Effect.clockWith((clock) =>
    Effect.forever(
      Effect.andThen(
        Effect.sleep(Duration.millis(Conn.tickMillis)),
        Effect.sync(() => connection.tick(clock.currentTimeMillisUnsafe()))
      )
    )
  )

const logFailure = <E>(cause: Cause.Cause<E>): Effect.Effect<void> =>
  Cause.hasInterruptsOnly(cause)
    ? Effect.void
    : Effect.logError("effect-sse: the SSE connection handler failed", cause)

/** @internal */
export const upgrade = <E, R>(
  handler: (connection: SseConnection.SseConnection) => Effect.Effect<void, E, R>,
  options: SseConnection.UpgradeOptions | undefined,
  makeClosed: MakeClosed
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, Exclude<R, Scope.Scope>> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<Exclude<R, Scope.Scope>>()
    const request = yield* Effect.serviceOption(HttpServerRequest.HttpServerRequest)
    const shutdown = yield* Effect.serviceOption(SseResponse.Shutdown)
    const lastEventId = Option.flatMap(
      request,
      (r) => Option.fromUndefinedOr(LastEventId.fromRequest(r.headers["last-event-id"], r.url))
    )
    const retry = options?.retry === undefined ? undefined : SseEvent.retry(options.retry)
    const invalid = retry !== undefined && Result.isFailure(retry)
    if (invalid) {
      yield* Effect.logError("effect-sse: invalid retry option; the response ends after ': connected'", retry.failure)
    }
    const opening = retry === undefined || Result.isFailure(retry)
      ? Fields.connectedBytes
      : Bytes.concat([Fields.connectedBytes, SseEvent.encode(retry.success)])
    const keepAlive = options?.keepAlive === false
      ? undefined
      : Duration.toMillis(options?.keepAlive ?? defaultKeepAlive)
    const writeTimeout = Duration.toMillis(options?.writeTimeout ?? defaultWriteTimeout)
    const highWaterMark = options?.highWaterMark ?? Writers.defaultHighWaterMark

    // The body's scope is the connection's: it closes when the body ends (the handler finished, `close`, the
    // server shut down) or is cancelled (the client left), and takes everything below with it.
    const stream = Stream.unwrap(Effect.gen(function*() {
      const writer = new Writers.QueueWriter(highWaterMark, cutterOf(request))
      yield* Effect.addFinalizer(() => Effect.sync(() => writer.finish()))
      writer.write(opening)
      if (invalid) {
        writer.end()
        return body(writer)
      }
      const now = yield* Effect.clockWith((clock) => Effect.sync(() => clock.currentTimeMillisUnsafe()))
      const connection = new Conn.Connection(writer, keepAlive, writeTimeout, now)
      const handle = new Handle(lastEventId, writer, connection, makeClosed)
      if (Option.isSome(shutdown)) {
        const ended = yield* shutdown.value.track
        yield* Effect.addFinalizer(() => ended)
        yield* Effect.forkScoped(Effect.andThen(shutdown.value.signal, Effect.sync(() => writer.end())))
      }
      yield* Effect.forkScoped(Effect.interruptible(ticker(connection)))
      const fiber = yield* Effect.suspend(() => handler(handle)).pipe(
        Effect.scoped,
        Effect.catchCause(logFailure),
        Effect.ensuring(Effect.sync(() => writer.end())),
        Effect.provideContext(context),
        Effect.interruptible,
        Effect.forkScoped
      )
      // The client left, or was dropped for stalling: the handler stops at once, not when the body is pulled again.
      writer.onClose(() => fiber.interruptUnsafe())
      return body(writer)
    }))
    return HttpServerResponse.stream(stream, { headers: headersOf(options?.headers) })
  })
