import * as Headers from "@effect/platform/Headers"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
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

const connectedBytes = Option.getOrThrow(Option.getRight(event.encode(event.comment("connected"))))
const keepAliveBytes = Option.getOrThrow(Option.getRight(event.encode(event.comment("keep-alive"))))

/** @internal */
export const concatBytes = (chunk: Chunk.Chunk<Uint8Array>): Uint8Array => {
  const parts = Chunk.toReadonlyArray(chunk)
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
      const write = parts.length === 0
        ? Channel.void
        : Channel.write(Chunk.of(concatBytes(Chunk.unsafeFromArray(parts))))
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
  return typeof header === "string" && header.length > 0 ? Option.some(header) : Option.none()
}

const httpVersionMajor = (source: unknown): number | undefined => {
  const major = (source as { httpVersionMajor?: unknown } | undefined)?.httpVersionMajor
  return typeof major === "number" ? major : undefined
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
  // Connection-specific headers are forbidden on HTTP/2; only HTTP/1.x gets `Connection: keep-alive`.
  if (Option.isSome(request) && httpVersionMajor(request.value.source) === 1) {
    headers = Headers.set(headers, "connection", "keep-alive")
  }
  return extra === undefined ? headers : Headers.merge(headers, Headers.fromInput(extra))
}

const keepAliveStream = (interval: number, lastWrite: { value: number }): Stream.Stream<Uint8Array> => {
  const next: Effect.Effect<Uint8Array> = Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const due = lastWrite.value + interval
    if (now >= due) {
      lastWrite.value = now
      return Effect.succeed(keepAliveBytes)
    }
    return Effect.zipRight(Effect.sleep(due - now), Effect.suspend(() => next))
  })
  return Stream.repeatEffect(next)
}

/**
 * Turns a stream of wire bytes into an SSE response: headers, `: connected` and the optional `retry` at once,
 * keep-alive comments when the body has been quiet for the interval, an end when the server closes, and a
 * failure of the body logged and turned into a clean end. `onEnd` runs exactly once when the body ends for any
 * reason (completion, failure, client abort, shutdown).
 *
 * @internal
 */
export const respond = <E>(
  request: Option.Option<HttpServerRequest.HttpServerRequest>,
  body: Stream.Stream<Uint8Array, E>,
  options: ServeOptions | undefined,
  onEnd: Effect.Effect<void>
): HttpServerResponse.HttpServerResponse => {
  // An invalid initial retry fails the body like any invalid event: it is logged and the response ends.
  const prelude: Stream.Stream<Uint8Array, event.SseEventError> = options?.retry === undefined
    ? Stream.succeed(connectedBytes)
    : Stream.fromEffect(
      Effect.map(event.encode(event.retry(options.retry)), (retry) => concatBytes(Chunk.make(connectedBytes, retry)))
    )
  const keepAlive = options?.keepAlive === undefined ? defaultKeepAlive : options.keepAlive
  const stream = Stream.unwrapScoped(Effect.gen(function*() {
    const closing = yield* Deferred.make<void>()
    if (Option.isSome(request)) {
      const source = request.value.source
      yield* Effect.acquireRelease(
        Effect.sync(() => shutdown.register(source, () => Deferred.unsafeDone(closing, Effect.void))),
        (unregister) => Effect.sync(unregister)
      )
    }
    const lastWrite = { value: yield* Clock.currentTimeMillis }
    let data: Stream.Stream<Uint8Array, E> = body
    if (keepAlive !== false) {
      data = body.pipe(
        Stream.mapChunksEffect((chunk) =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            lastWrite.value = now
            return chunk
          })
        ),
        Stream.merge(keepAliveStream(Duration.toMillis(keepAlive), lastWrite), { haltStrategy: "left" })
      )
    }
    return Stream.concat(prelude, data).pipe(
      Stream.interruptWhen(Deferred.await(closing))
    )
  })).pipe(
    Stream.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Stream.empty : Stream.drain(Stream.fromEffect(
        Effect.logError("effect-sse: the event stream failed after the response started; ending the response", cause)
      ))
    ),
    Stream.ensuring(onEnd)
  )
  return HttpServerResponse.stream(stream, {
    contentType: "text/event-stream",
    headers: responseHeaders(request, options?.headers)
  })
}

/** @internal */
export const lastEventId = Effect.map(HttpServerRequest.HttpServerRequest, lastEventIdFrom)

/** @internal */
export const currentRequest = Effect.serviceOption(HttpServerRequest.HttpServerRequest)
