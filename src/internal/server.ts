import * as Headers from "@effect/platform/Headers"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { IncomingMessage, ServerResponse } from "node:http"
import type * as SseEvent from "../SseEvent.js"
import * as event from "./event.js"
import * as shutdown from "./shutdown.js"
import * as sink from "./sink.js"

/** @internal */
export interface ServeOptions {
  readonly keepAlive?: Duration.DurationInput | false | undefined
  readonly retry?: Duration.DurationInput | undefined
  readonly headers?: Headers.Input | undefined
}

/** @internal */
export const defaultKeepAlive = Duration.seconds(15)

/** @internal */
export const keepAliveMillis = (options: ServeOptions | undefined): number | undefined =>
  options?.keepAlive === false ? undefined : Duration.toMillis(options?.keepAlive ?? defaultKeepAlive)

const encodeValid = (self: SseEvent.SseEvent): Uint8Array =>
  sink.toBuffer(Option.getOrThrow(Option.getRight(event.encode(self))))

/** @internal */
export const connectedBytes = encodeValid(event.comment("connected"))

/** @internal */
export const keepAliveBytes = encodeValid(event.comment("keep-alive"))

/**
 * Encodes a stream of events chunk by chunk, one buffer per chunk. An invalid event fails the stream with
 * its `SseEventError` after the valid events before it have been emitted.
 *
 * @internal
 */
export const encodeChannel = <E>(): Channel.Channel<
  Chunk.Chunk<Uint8Array>,
  Chunk.Chunk<SseEvent.SseEvent>,
  E | event.SseEventError,
  E,
  unknown,
  unknown
> => {
  const loop: Channel.Channel<
    Chunk.Chunk<Uint8Array>,
    Chunk.Chunk<SseEvent.SseEvent>,
    E | event.SseEventError,
    E,
    unknown,
    unknown
  > = Channel.readWithCause({
    onInput: (chunk: Chunk.Chunk<SseEvent.SseEvent>) => {
      const events = Chunk.toReadonlyArray(chunk)
      const parts: Array<Uint8Array> = []
      let error: event.SseEventError | undefined
      for (let i = 0; i < events.length; i++) {
        const encoded = event.encode(events[i])
        if (encoded._tag === "Left") {
          error = encoded.left
          break
        }
        parts.push(encoded.right)
      }
      const write = parts.length === 0 ? Channel.void : Channel.write(Chunk.of(sink.concat(parts)))
      return error === undefined ? Channel.zipRight(write, loop) : Channel.zipRight(write, Channel.fail(error))
    },
    onFailure: Channel.failCause,
    onDone: () => Channel.void
  })
  return loop
}

/** @internal */
export const lastEventIdFrom = (request: HttpServerRequest.HttpServerRequest): Option.Option<string> => {
  const header = request.headers["last-event-id"]
  return typeof header === "string" && header.length > 0 ? Option.some(decodeHeader(header)) : Option.none()
}

const utf8 = new TextDecoder()

/**
 * Header values arrive as one character per byte (latin1); `EventSource` sends the id's UTF-8 bytes, so a
 * non-ASCII id is decoded back from them.
 */
const decodeHeader = (value: string): string => {
  let ascii = true
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code > 0x7f) {
      ascii = false
      if (code > 0xff) return value
    }
  }
  if (ascii) return value
  const bytes = new Uint8Array(value.length)
  for (let i = 0; i < value.length; i++) bytes[i] = value.charCodeAt(i)
  return utf8.decode(bytes)
}

/** @internal */
export const lastEventId = Effect.map(HttpServerRequest.HttpServerRequest, lastEventIdFrom)

/** @internal */
export const currentRequest = Effect.serviceOption(HttpServerRequest.HttpServerRequest)

const isHttp11 = (source: unknown): boolean => {
  const version = source as { httpVersionMajor?: unknown; httpVersionMinor?: unknown } | undefined
  return version?.httpVersionMajor === 1 && version.httpVersionMinor === 1
}

/** @internal */
export const responseHeaders = (
  request: Option.Option<HttpServerRequest.HttpServerRequest>,
  extra: Headers.Input | undefined,
  http11 = Option.isSome(request) && isHttp11(request.value.source)
): Headers.Headers => {
  let headers = Headers.fromInput({
    "cache-control": "no-cache",
    "x-accel-buffering": "no"
  })
  // Connection-specific headers are forbidden on HTTP/2, and HTTP/1.0 connections close after the response:
  // only HTTP/1.1 gets `Connection: keep-alive`.
  if (http11) {
    headers = Headers.set(headers, "connection", "keep-alive")
  }
  return extra === undefined ? headers : Headers.merge(headers, Headers.fromInput(extra))
}

/**
 * One SSE response being written: its sink, its scope (closed when the response is over, or with the request
 * if it is never served), and when it was last written to (for keep-alive).
 *
 * @internal
 */
export interface Outbox {
  readonly sink: sink.Sink
  readonly scope: Scope.CloseableScope
  readonly request: Option.Option<HttpServerRequest.HttpServerRequest>
  lastWrite: number
}

/**
 * Opens a response: `: connected` (and the optional `retry`) are written first, so the headers and first bytes
 * leave at once. On Node's server the sink is a raw body piped into the response, elsewhere a `Stream` body.
 * The response ends when the server closes. An invalid `retry` is logged and ends the response after
 * `: connected`.
 *
 * @internal
 */
export const makeOutbox = (
  options: ServeOptions | undefined,
  highWaterMark: number = sink.defaultHighWaterMark
): Effect.Effect<Outbox> =>
  Effect.gen(function*() {
    const request = yield* currentRequest
    const source = Option.isSome(request) ? request.value.source : undefined
    const scope = yield* Scope.make()
    // On Node's server the request's scope ends the connection's when the response is over; a `Stream` body
    // ends it itself.
    const target = shutdown.nodeServerOf(source) === undefined
      ? sink.stream(yield* Mailbox.make<Uint8Array>(), highWaterMark, Scope.close(scope, Exit.void))
      : sink.node(source, highWaterMark)
    const requestScope = yield* Effect.serviceOption(Scope.Scope)
    if (Option.isSome(requestScope)) {
      yield* Scope.addFinalizer(requestScope.value, Scope.close(scope, Exit.void))
    }
    yield* own(scope, source, target)
    const outbox: Outbox = { sink: target, scope, request, lastWrite: yield* Clock.currentTimeMillis }
    yield* writeOpening(outbox, options)
    return outbox
  })

/** Registers the sink for graceful shutdown; when the connection's scope closes, forgets and frees it. */
const own = (scope: Scope.Scope, source: unknown, target: sink.Sink): Effect.Effect<void> => {
  shutdown.register(source, target)
  return Scope.addFinalizer(
    scope,
    Effect.sync(() => {
      shutdown.unregister(source, target)
      target.dispose()
    })
  )
}

/** `: connected`, and the initial `retry:` if any; an invalid `retry` is logged and ends the response. */
const writeOpening = (outbox: Outbox, options: ServeOptions | undefined): Effect.Effect<void> => {
  const retry = options?.retry === undefined ? undefined : event.encode(event.retry(options.retry))
  const opening = retry?._tag === "Right" ? sink.concat([connectedBytes, retry.right]) : connectedBytes
  outbox.sink.write(opening)
  if (retry?._tag !== "Left") return Effect.void
  outbox.sink.end()
  return Effect.logError("effect-sse: invalid initial retry; ending the response", retry.left)
}

/**
 * The `Last-Event-ID` of a plain Node request: the header, or else the `lastEventId` query parameter (which a
 * first request, one without the header, can carry).
 *
 * @internal
 */
export const nodeLastEventId = (request: IncomingMessage): Option.Option<string> => {
  const header = request.headers["last-event-id"]
  if (typeof header === "string" && header.length > 0) return Option.some(decodeHeader(header))
  const url = request.url ?? ""
  const query = url.indexOf("?")
  if (query < 0) return Option.none()
  const value = new URLSearchParams(url.slice(query + 1)).get("lastEventId")
  return value === null || value === "" ? Option.none() : Option.some(value)
}

/**
 * `makeOutbox` for a plain Node request, outside Effect's HTTP server: the head and `: connected` are written
 * at once, straight into the response, and the connection's scope closes when the response does (client gone,
 * response ended) — no fiber waits on it.
 *
 * @internal
 */
export const makeNodeOutbox = (
  request: IncomingMessage,
  response: ServerResponse,
  options: ServeOptions | undefined,
  highWaterMark: number = sink.defaultHighWaterMark
): Effect.Effect<Outbox> =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const headers = responseHeaders(
      Option.none(),
      options?.headers,
      request.httpVersionMajor === 1 && request.httpVersionMinor === 1
    )
    response.writeHead(200, { ...headers, "content-type": "text/event-stream" })
    const target = sink.nodeResponse(request, response, highWaterMark)
    yield* own(scope, request, target)
    response.once("close", () => Effect.runFork(Scope.close(scope, Exit.void)))
    const outbox: Outbox = { sink: target, scope, request: Option.none(), lastWrite: yield* Clock.currentTimeMillis }
    yield* writeOpening(outbox, options)
    return outbox
  })

/**
 * Writes bytes for a producer that waits for the client: first waits while the client has its high-water
 * mark's worth of bytes queued. False when the response is over.
 *
 * @internal
 */
export const write = (outbox: Outbox, bytes: Uint8Array): Effect.Effect<boolean> =>
  Effect.zipRight(
    outbox.sink.writable,
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (outbox.sink.isClosed()) return Effect.succeed(false)
      outbox.lastWrite = now
      outbox.sink.write(bytes)
      return Effect.succeed(true)
    })
  )

/**
 * Writes a `: keep-alive` comment whenever nothing was written for `interval` milliseconds. Runs in the
 * connection's scope.
 *
 * @internal
 */
export const forkKeepAlive = (outbox: Outbox, interval: number | undefined): Effect.Effect<void> => {
  if (interval === undefined) return Effect.void
  const loop: Effect.Effect<void> = Effect.flatMap(Clock.currentTimeMillis, (now) => {
    if (outbox.sink.isClosed()) return Effect.void
    const due = outbox.lastWrite + interval
    if (now < due) return Effect.zipRight(Effect.sleep(due - now), loop)
    // A client with data still queued has traffic anyway; either way the clock restarts now.
    if (outbox.sink.buffered() === 0) outbox.sink.write(keepAliveBytes)
    outbox.lastWrite = now
    return loop
  })
  return Effect.asVoid(Effect.forkIn(loop, outbox.scope))
}

/**
 * The HTTP response of an outbox, with the SSE headers.
 *
 * @internal
 */
export const toResponse = (
  outbox: Outbox,
  options: ServeOptions | undefined
): HttpServerResponse.HttpServerResponse =>
  outbox.sink.response({
    contentType: "text/event-stream",
    headers: responseHeaders(outbox.request, options?.headers)
  })

/**
 * Logs a failure of the code producing events for a response; interruption is the normal way a producer
 * stops and is not logged.
 *
 * @internal
 */
export const logFailure = (what: string) => <E>(cause: Cause.Cause<E>): Effect.Effect<void> =>
  Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError(`effect-sse: ${what}`, cause)

/**
 * Serves a stream of events: a producer fiber encodes it into the outbox, suspending while the outbox is
 * full (socket backpressure).
 *
 * @internal
 */
export const serveStream = <E, R>(
  events: Stream.Stream<SseEvent.SseEvent, E, R>,
  options: ServeOptions | undefined
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> =>
  Effect.gen(function*() {
    const outbox = yield* makeOutbox(options)
    yield* events.pipe(
      // One buffer per chunk of events, as `encodeChannel` joins them.
      Stream.pipeThroughChannelOrFail(encodeChannel()),
      Stream.runForEachWhile((bytes) => write(outbox, bytes)),
      Effect.catchAllCause(logFailure("the event stream failed after the response started; ending the response")),
      Effect.ensuring(Effect.sync(() => outbox.sink.end())),
      Effect.forkIn(outbox.scope)
    )
    yield* forkKeepAlive(outbox, keepAliveMillis(options))
    return toResponse(outbox, options)
  })
