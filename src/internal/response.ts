import * as Headers from "@effect/platform/Headers"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import type * as FiberRefs from "effect/FiberRefs"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Bytes from "../core/chunk.js"
import * as Conn from "../core/connection.js"
import * as Fields from "../core/fields.js"
import * as LastEventId from "../core/lastEventId.js"
import * as Writers from "../core/writer.js"
import type * as SseEvent from "../SseEvent.js"
import type * as SseResponse from "../SseResponse.js"
import * as event from "./event.js"
import * as server from "./sseServer.js"

/** @internal */
export const defaultKeepAlive = Duration.seconds(15)

/** @internal */
export const defaultWriteTimeout = Duration.seconds(10)

/** Response options with their defaults applied. @internal */
export interface Resolved {
  readonly keepAlive: number | undefined
  /** `: connected`, and the initial `retry:` if any. */
  readonly opening: Uint8Array
  readonly headers: Headers.Input | undefined
  readonly highWaterMark: number
  readonly writeTimeout: number
  /** The options could not be written (an invalid `retry`): the response ends after `: connected`. */
  readonly invalid: boolean
}

/**
 * Applies the defaults. An invalid `retry` (negative, fractional) cannot be written: it is logged, and the
 * response then ends right after `: connected`.
 *
 * @internal
 */
export const resolve = (options: SseResponse.ResponseOptions | undefined): Effect.Effect<Resolved> => {
  const retry = options?.retry === undefined ? undefined : event.retry(options.retry)
  const resolved: Resolved = {
    keepAlive: options?.keepAlive === false ? undefined : Duration.toMillis(options?.keepAlive ?? defaultKeepAlive),
    opening: retry === undefined || retry._tag === "Left"
      ? Fields.connectedBytes
      : Bytes.concat([Fields.connectedBytes, event.encode(retry.right)]),
    invalid: retry?._tag === "Left",
    headers: options?.headers,
    highWaterMark: options?.highWaterMark ?? Writers.defaultHighWaterMark,
    writeTimeout: Duration.toMillis(options?.writeTimeout ?? defaultWriteTimeout)
  }
  return retry?._tag === "Left"
    ? Effect.as(
      Effect.logError("effect-sse: invalid retry option; the response ends after ': connected'", retry.left),
      resolved
    )
    : Effect.succeed(resolved)
}

/**
 * An SSE response that has not started yet: what a server's transport needs to run it. `run` starts the stream
 * on a writer once the opening is written, and completes when the stream is live. What it leaves running (a
 * producer fiber, a hub's registration) ends when the writer closes, for whatever reason.
 *
 * @internal
 */
export interface Source {
  readonly options: Resolved
  /**
   * The streams this response joins: the server's, when an `SseServer` is provided, or a hub's; without one it
   * is ticked on its own and its fiber is a daemon.
   */
  readonly group: server.Group | undefined
  /**
   * With `scope` (given only to a source that `closesScope`), the source takes that scope over: what it runs uses
   * it, and closes it when the stream is over.
   */
  readonly run: (
    writer: Writers.Writer,
    connection: Conn.Connection,
    scope?: Scope.CloseableScope | undefined
  ) => Effect.Effect<void>
  /**
   * Whether `run` can take over the scope of the request (a transport of this library's keeps it open while the
   * stream lasts): then nothing else has to close it.
   */
  readonly closesScope?: true
}

/** The sources of SSE responses, by the body stream a transport would otherwise pull. */
const sources = new WeakMap<object, Source>()

/**
 * The source of an SSE response made by this library, for a transport that writes it itself (and so needs no
 * fiber per connection). `undefined` for any other response.
 *
 * @internal
 */
export const sourceOf = (response: HttpServerResponse.HttpServerResponse): Source | undefined =>
  response.body._tag === "Stream" ? sources.get(response.body.stream) : undefined

/**
 * Starts a source on a writer: writes the opening, registers the connection with its server (or ticks it on its
 * own) and runs the source, handing it `scope` to take over if given (closed here if the response ends at once).
 *
 * @internal
 */
export const start = (
  source: Source,
  writer: Writers.Writer,
  scope?: Scope.CloseableScope | undefined
): Effect.Effect<void> =>
  Effect.clockWith((clock) => {
    writer.write(source.options.opening)
    if (source.options.invalid) {
      writer.end()
      return scope === undefined ? Effect.void : Scope.close(scope, Exit.void)
    }
    const connection = new Conn.Connection(
      writer,
      source.options.keepAlive,
      source.options.writeTimeout,
      clock.unsafeCurrentTimeMillis()
    )
    return Effect.zipRight(register(source, connection), source.run(writer, connection, scope))
  })

/** The connection joins its group; without one it is ticked on its own. */
const register = (source: Source, connection: Conn.Connection): Effect.Effect<void> => {
  const group = source.group
  if (group !== undefined) return Effect.sync(() => group.connections.add(connection))
  const own = new Conn.ConnectionSet()
  own.add(connection)
  return forkWhileOpen(undefined, server.ticker(own), connection.writer)
}

/**
 * Where a response was made: its context and fiber refs (log annotations, log level, the current span…), which
 * its producer runs with, wherever and whenever the transport starts it.
 *
 * @internal
 */
export interface Origin {
  readonly context: Context.Context<never>
  readonly fiberRefs: FiberRefs.FiberRefs
}

/** @internal */
export const origin: Effect.Effect<Origin> = Effect.zipWith(
  Effect.context<never>(),
  Effect.getFiberRefs,
  (context, fiberRefs) => ({ context, fiberRefs })
)

/**
 * Runs `effect` in a fiber of its own for as long as the writer is open: the fiber is interrupted when the
 * stream is over, whatever ended it, and joins the group's fibers if there is a group.
 *
 * The fiber starts as a fork would, with the current fiber's context, refs and flags, or with those of `from` (where
 * the response was made), set once rather than by a `provide` region that would stay on its stack while the stream
 * lasts. It is not a child of the current fiber: on a transport of this library's, the request's fiber ends as
 * soon as the stream is live, and a child fiber keeps its parent reachable for as long as it runs.
 *
 * @internal
 */
export const forkWhileOpen = (
  group: server.Group | undefined,
  effect: Effect.Effect<void>,
  writer: Writers.Writer,
  from?: Origin
): Effect.Effect<void> =>
  Effect.flatMap(Effect.runtime<never>(), (runtime) => {
    // Interruptible whatever the caller's region (a server writes responses in an uninterruptible one): set in
    // the flags the fiber starts with, rather than by a region on its stack.
    const start = Runtime.runFork(Runtime.make({
      context: from === undefined ? runtime.context : from.context,
      fiberRefs: from === undefined ? runtime.fiberRefs : from.fiberRefs,
      runtimeFlags: RuntimeFlags.enable(runtime.runtimeFlags, RuntimeFlags.Interruption)
    }))
    // Scheduled, as a fork is, rather than run at once inside the caller's turn.
    const fiber = start(effect, { immediate: false })
    group?.add(fiber)
    return Effect.sync(() => writer.onClose(() => fiber.unsafeInterruptAsFork(FiberId.none)))
  })

/**
 * Waits until the writer has room, then writes; fails with `onClosed` once the stream is over. The one
 * backpressured write that every producer (a served `Stream`, `SseConnection.send`) goes through.
 *
 * @internal
 */
export const write = <E>(writer: Writers.Writer, bytes: Uint8Array, onClosed: () => E): Effect.Effect<void, E> =>
  writer.isClosed()
    ? Effect.fail(onClosed())
    : writer.hasRoom()
    ? Effect.sync(() => writer.write(bytes))
    : Effect.flatMap(
      Effect.async<void>((resume) => writer.onRoom(() => resume(Effect.void))),
      () => writer.isClosed() ? Effect.fail(onClosed()) : Effect.sync(() => writer.write(bytes))
    )

/** @internal */
export const currentRequest = Effect.serviceOption(HttpServerRequest.HttpServerRequest)

/** The `Last-Event-ID` of a request: the header, else the `lastEventId` query parameter. @internal */
export const lastEventIdOf = (request: HttpServerRequest.HttpServerRequest): Option.Option<string> =>
  Option.fromNullable(LastEventId.fromRequest(request.headers["last-event-id"], request.url))

/** @internal */
export const lastEventId = Effect.map(HttpServerRequest.HttpServerRequest, lastEventIdOf)

const isHttp11 = (source: unknown): boolean => {
  const version = source as { httpVersionMajor?: unknown; httpVersionMinor?: unknown } | undefined
  return version?.httpVersionMajor === 1 && version.httpVersionMinor === 1
}

/** @internal */
export const responseHeaders = (
  request: Option.Option<HttpServerRequest.HttpServerRequest>,
  extra: Headers.Input | undefined
): Headers.Headers => {
  let headers = Headers.fromInput({ "cache-control": "no-cache", "x-accel-buffering": "no" })
  // Connection-specific headers are forbidden on HTTP/2, and HTTP/1.0 connections close after the response:
  // only HTTP/1.1 gets `Connection: keep-alive`.
  if (Option.isSome(request) && isHttp11(request.value.source)) {
    headers = Headers.set(headers, "connection", "keep-alive")
  }
  return extra === undefined ? headers : Headers.merge(headers, Headers.fromInput(extra))
}

/** Resumes a body waiting for bytes, or ends it. */
const pull = (writer: Writers.QueueWriter): Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<never>> =>
  Effect.async((resume) => {
    const take = () => {
      const bytes = writer.take()
      if (bytes === null) resume(Effect.fail(Option.none()))
      else if (bytes === undefined) writer.onData(take)
      else resume(Effect.succeed(Chunk.of(bytes)))
    }
    take()
  })

/**
 * How to close the connection under a request whose client is dropped, when the platform's request exposes it:
 * Node's HTTP/1 request, with its socket (`@effect/platform-node`'s server). Read by shape, so that this module
 * stays portable; elsewhere (Fetch handlers, HTTP/2, where the socket is shared) the body only ends.
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

/**
 * The response of a source: the SSE headers, and a body any platform can pull (a `Stream` of the bytes a queue
 * writer collects). A transport of this library's writes the source straight to its socket instead.
 *
 * @internal
 */
export const toResponse = (source: Source): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Effect.map(currentRequest, (request) => {
    const body = Stream.unwrapScoped(Effect.gen(function*() {
      const writer = new Writers.QueueWriter(source.options.highWaterMark, cutterOf(request))
      // The body is over (ended, or cancelled because the client left): so is the stream.
      yield* Effect.addFinalizer(() => Effect.sync(() => writer.finish()))
      yield* start(source, writer)
      return Stream.repeatEffectChunkOption(pull(writer))
    }))
    sources.set(body, source)
    return HttpServerResponse.stream(body, {
      contentType: "text/event-stream",
      headers: responseHeaders(request, source.options.headers)
    })
  })

/**
 * Logs a failure of the code producing events for a response; interruption is the normal way a producer stops
 * and is not logged.
 *
 * @internal
 */
export const logFailure = (what: string) => <E>(cause: Cause.Cause<E>): Effect.Effect<void> =>
  Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError(`effect-sse: ${what}`, cause)

const closed = () => undefined

/**
 * Serves a stream of events: one producer fiber pulls the stream (its channel run in that fiber, not in a fiber of
 * its own as `Stream.run` does) and writes each chunk of events as one piece, waiting while the client has the
 * high-water mark's worth of bytes queued. The stream's finalizers run when it ends, fails or the client leaves.
 *
 * @internal
 */
export const serveStream = <E, R>(
  events: Stream.Stream<SseEvent.SseEvent, E, R>,
  options: SseResponse.ResponseOptions | undefined
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> =>
  Effect.gen(function*() {
    const resolved = yield* resolve(options)
    const from = yield* origin
    const group = yield* server.currentGroup
    const source: Source = {
      options: resolved,
      group,
      closesScope: true,
      run: (writer, _connection, scope) =>
        forkWhileOpen(
          group,
          Effect.flatMap(scope === undefined ? Scope.make() : Effect.succeed(scope), (scope) =>
            // One region on the fiber's stack while the stream lasts: the stream's finalizers, then the end.
            Effect.onExit(
              pump(events, writer, scope),
              (exit) => Effect.ensuring(Scope.close(scope, exit), Effect.sync(() => writer.end()))
            )) as Effect.Effect<void>,
          writer,
          from
        )
    }
    return yield* toResponse(source)
  })

const streamFailed = logFailure("the event stream failed after the response started; ending the response")

/**
 * Pulls the stream's channel in `scope` until it is done, writing each chunk. A failure of the stream is logged
 * and ends it; a closed writer stops it as an interruption.
 */
const pump = <E, R>(
  events: Stream.Stream<SseEvent.SseEvent, E, R>,
  writer: Writers.Writer,
  scope: Scope.Scope
): Effect.Effect<void, never, R> =>
  Effect.flatMap(Channel.toPullIn(Stream.toChannel(events), scope), (pull) => {
    const loop: Effect.Effect<void, never, R> = Effect.matchCauseEffect(pull, {
      onFailure: streamFailed,
      // Left: the stream is done; Right: a chunk of events.
      onSuccess: (next) =>
        next._tag === "Left"
          ? Effect.void
          : Chunk.isEmpty(next.right)
          ? loop
          : Effect.zipRight(
            Effect.catchAll(write(writer, encodeChunk(next.right), closed), () => Effect.interrupt),
            loop
          )
    })
    return loop
  })

const encodeChunk = (events: Chunk.Chunk<SseEvent.SseEvent>): Uint8Array => {
  if (Chunk.size(events) === 1) return event.encode(Chunk.unsafeHead(events))
  const parts: Array<Uint8Array> = []
  for (const e of events) parts.push(event.encode(e))
  return Bytes.concat(parts)
}
