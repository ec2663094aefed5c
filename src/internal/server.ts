import * as Headers from "@effect/platform/Headers"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
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
import type * as SseEvent from "../SseEvent.js"
import * as event from "./event.js"
import * as shutdown from "./shutdown.js"

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

const encodeValid = (self: SseEvent.SseEvent): Uint8Array => Option.getOrThrow(Option.getRight(event.encode(self)))

/** @internal */
export const connectedBytes = encodeValid(event.comment("connected"))

/** @internal */
export const keepAliveBytes = encodeValid(event.comment("keep-alive"))

/** @internal */
export const concatBytes = (chunk: Chunk.Chunk<Uint8Array> | ReadonlyArray<Uint8Array>): Uint8Array => {
  const parts = Chunk.isChunk(chunk) ? Chunk.toReadonlyArray(chunk) : chunk
  if (parts.length === 1) return parts[0]
  let size = 0
  for (let i = 0; i < parts.length; i++) size += parts[i].length
  const out = new Uint8Array(size)
  let offset = 0
  for (let i = 0; i < parts.length; i++) {
    out.set(parts[i], offset)
    offset += parts[i].length
  }
  return out
}

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
      const write = parts.length === 0 ? Channel.void : Channel.write(Chunk.of(concatBytes(parts)))
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
  extra: Headers.Input | undefined
): Headers.Headers => {
  let headers = Headers.fromInput({
    "cache-control": "no-cache",
    "x-accel-buffering": "no"
  })
  // Connection-specific headers are forbidden on HTTP/2, and HTTP/1.0 connections close after the response:
  // only HTTP/1.1 gets `Connection: keep-alive`.
  if (Option.isSome(request) && isHttp11(request.value.source)) {
    headers = Headers.set(headers, "connection", "keep-alive")
  }
  return extra === undefined ? headers : Headers.merge(headers, Headers.fromInput(extra))
}

/**
 * The write side of one SSE response: a mailbox of wire bytes that the response drains into the socket,
 * the time of the last offer (for keep-alive) and the connection's scope.
 *
 * @internal
 */
export interface Outbox {
  readonly mailbox: Mailbox.Mailbox<Uint8Array>
  readonly scope: Scope.CloseableScope
  readonly request: Option.Option<HttpServerRequest.HttpServerRequest>
  /** What was queued first: `: connected`, with the initial `retry` if any. */
  readonly opening: Uint8Array
  lastOffer: number
}

/**
 * Opens an outbox: `: connected` and the optional `retry` are queued first; the connection's scope is
 * closed when the response ends, and by the request's scope if the response is never served. An invalid
 * `retry` is logged and ends the response after `: connected`.
 *
 * @internal
 */
export const makeOutbox = (
  options: ServeOptions | undefined,
  mailboxOptions: { readonly capacity?: number; readonly strategy?: "suspend" | "sliding" } = {}
): Effect.Effect<Outbox> =>
  Effect.gen(function*() {
    const request = yield* currentRequest
    const mailbox = yield* Mailbox.make<Uint8Array>(mailboxOptions)
    const scope = yield* Scope.make()
    const requestScope = yield* Effect.serviceOption(Scope.Scope)
    if (Option.isSome(requestScope)) {
      yield* Scope.addFinalizer(requestScope.value, Scope.close(scope, Exit.void))
    }
    const retry = options?.retry === undefined ? undefined : event.encode(event.retry(options.retry))
    const opening = retry?._tag === "Right" ? concatBytes([connectedBytes, retry.right]) : connectedBytes
    const outbox: Outbox = { mailbox, scope, request, opening, lastOffer: yield* Clock.currentTimeMillis }
    mailbox.unsafeOffer(opening)
    if (retry?._tag === "Left") {
      yield* Effect.logError("effect-sse: invalid initial retry; ending the response", retry.left)
      mailbox.unsafeDone(Exit.void)
    }
    return outbox
  })

/**
 * Writes a `: keep-alive` comment whenever nothing was offered for `interval` milliseconds. Runs in the
 * connection's scope.
 *
 * @internal
 */
export const forkKeepAlive = (outbox: Outbox, interval: number | undefined): Effect.Effect<void> => {
  if (interval === undefined) return Effect.void
  const loop: Effect.Effect<void> = Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const due = outbox.lastOffer + interval
    if (now < due) return Effect.zipRight(Effect.sleep(due - now), loop)
    // If the mailbox is full there is data waiting anyway; either way the clock restarts now.
    outbox.mailbox.unsafeOffer(keepAliveBytes)
    outbox.lastOffer = now
    return loop
  })
  return Effect.asVoid(Effect.forkIn(loop, outbox.scope))
}

/**
 * The response for an outbox. The body drains the mailbox, one socket write per batch; it ends when the
 * mailbox is done (after what was queued is written), when the client leaves (the server interrupts it) or
 * when the server closes (the shutdown hook ends the mailbox). Whatever ends it closes the connection's scope.
 *
 * @internal
 */
export const toResponse = (
  outbox: Outbox,
  options: ServeOptions | undefined,
  onTake?: (chunk: Chunk.Chunk<Uint8Array>) => void
): HttpServerResponse.HttpServerResponse => {
  const { mailbox, request, scope } = outbox
  const body = Stream.unwrapScoped(Effect.map(
    Option.isSome(request)
      ? Effect.acquireRelease(
        Effect.sync(() => shutdown.register(request.value.source, () => mailbox.unsafeDone(Exit.void))),
        (unregister) => Effect.sync(unregister)
      )
      : Effect.void,
    () =>
      Stream.mapChunks(Mailbox.toStream(mailbox), (chunk) => {
        if (onTake !== undefined) onTake(chunk)
        return Chunk.of(concatBytes(chunk))
      })
  )).pipe(Stream.ensuring(Scope.close(scope, Exit.void)))
  return HttpServerResponse.stream(body, {
    contentType: "text/event-stream",
    headers: responseHeaders(request, options?.headers)
  })
}

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
    const outbox = yield* makeOutbox(options, { capacity: 16 })
    const { mailbox } = outbox
    yield* events.pipe(
      Stream.pipeThroughChannelOrFail(encodeChannel()),
      Stream.runForEachChunk((chunk) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          outbox.lastOffer = now
          return mailbox.offer(concatBytes(chunk))
        })
      ),
      Effect.catchAllCause(logFailure("the event stream failed after the response started; ending the response")),
      Effect.ensuring(mailbox.end),
      Effect.forkIn(outbox.scope)
    )
    yield* forkKeepAlive(outbox, keepAliveMillis(options))
    return toResponse(outbox, options)
  })
