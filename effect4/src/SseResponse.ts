/**
 * A `Stream` of events served as a `text/event-stream` response on effect 4's `effect/http`: `: connected` at
 * once, an optional initial `retry`, the events, `: keep-alive` comments on a quiet stream, the request's
 * `Last-Event-ID` for resumption, and, on a server built with `SseNode.layer`, an end (not a cut) at shutdown.
 *
 * @since 1.0.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Headers from "effect/http/Headers"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import * as Bytes from "../../src/core/chunk.js"
import * as Fields from "../../src/core/fields.js"
import * as LastEventId from "../../src/core/lastEventId.js"
import * as SseEncoder from "./SseEncoder.js"
import * as SseEvent from "./SseEvent.js"

/**
 * How a response is written.
 *
 * @since 1.0.0
 * @category models
 */
export interface ResponseOptions {
  /**
   * How often a `: keep-alive` comment is written while the response is open, so that proxies keep it open.
   * `false` turns keep-alive off. Default: 15 seconds.
   */
  readonly keepAlive?: Duration.Input | false | undefined
  /**
   * A `retry:` written right after `: connected`: the client's reconnection time. A value that is not a whole
   * number of milliseconds is logged and ends the response after `: connected`.
   */
  readonly retry?: Duration.Input | undefined
  /** Extra response headers. */
  readonly headers?: Headers.Input | undefined
}

/**
 * The server's shutdown as the responses see it: when `signal` completes, every open event stream ends cleanly
 * (its last chunk written), and `close` waits (boundedly) for them to have ended. `SseNode.layer` provides it;
 * without it a response runs until its stream or its client ends.
 *
 * @since 1.0.0
 * @category services
 */
export class Shutdown extends Context.Service<Shutdown, {
  /** Completes when the server starts to shut down. */
  readonly signal: Effect.Effect<void>
  /** Registers an open response; the returned effect marks it ended. */
  readonly track: Effect.Effect<Effect.Effect<void>>
  /** Starts the shutdown and waits, at most `grace`, for the open responses to end. */
  readonly close: (grace: Duration.Input) => Effect.Effect<void>
}>()("effect-sse/SseResponse/Shutdown") {}

/**
 * A shutdown signal of its own, for a server that is not built with `SseNode.layer`.
 *
 * @since 1.0.0
 * @category constructors
 */
export const makeShutdown: Effect.Effect<Shutdown["Service"]> = Effect.gen(function*() {
  const started = yield* Deferred.make<void>()
  const open = new Set<Deferred.Deferred<void>>()
  return {
    signal: Deferred.await(started),
    track: Effect.gen(function*() {
      const ended = yield* Deferred.make<void>()
      open.add(ended)
      return Effect.suspend(() => {
        open.delete(ended)
        return Deferred.succeed(ended, undefined)
      })
    }),
    close: (grace) =>
      Deferred.succeed(started, undefined).pipe(
        Effect.andThen(Effect.suspend(() => Effect.forEach([...open], Deferred.await, { discard: true }))),
        Effect.timeoutOrElse({ duration: grace, orElse: () => Effect.void })
      )
  }
})

const defaultKeepAlive = Duration.seconds(15)

// The SSE headers win over extra ones of the same name.
const headersOf = (extra: Headers.Input | undefined): Headers.Headers =>
  Headers.setAll(Headers.fromInput(extra), {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    "x-accel-buffering": "no"
  })

const logFailure = <E>(cause: Cause.Cause<E>): Effect.Effect<void> =>
  Cause.hasInterruptsOnly(cause)
    ? Effect.void
    : Effect.logError("effect-sse: the event stream failed after the response started; ending the response", cause)

const serveStream = <E, R>(
  events: Stream.Stream<SseEvent.SseEvent, E, R>,
  options?: ResponseOptions
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<R>()
    const shutdown = yield* Effect.serviceOption(Shutdown)
    const retry = options?.retry === undefined ? undefined : SseEvent.retry(options.retry)
    let body: Stream.Stream<Uint8Array> = Stream.succeed(Fields.connectedBytes)
    if (retry !== undefined && Result.isFailure(retry)) {
      yield* Effect.logError("effect-sse: invalid retry option; the response ends after ': connected'", retry.failure)
    } else {
      let encoded: Stream.Stream<Uint8Array> = events.pipe(
        SseEncoder.encode,
        Stream.catchCause((cause) => Stream.fromEffect(logFailure(cause)).pipe(Stream.drain)),
        Stream.provideContext(context)
      )
      const keepAlive = options?.keepAlive ?? defaultKeepAlive
      if (keepAlive !== false) {
        const ticks = Stream.tick(keepAlive).pipe(Stream.drop(1), Stream.as(Fields.keepAliveBytes))
        encoded = Stream.merge(encoded, ticks, { haltStrategy: "left" })
      }
      const first = retry === undefined
        ? Fields.connectedBytes
        : Bytes.concat([Fields.connectedBytes, SseEvent.encode(retry.success)])
      body = Stream.concat(Stream.succeed(first), encoded)
    }
    if (Option.isSome(shutdown)) {
      const { signal, track } = shutdown.value
      const open = body
      body = Stream.unwrap(
        Effect.map(track, (ended) => open.pipe(Stream.interruptWhen(signal), Stream.ensuring(ended)))
      )
    }
    return HttpServerResponse.stream(body, { headers: headersOf(options?.headers) })
  })

/**
 * Serves a stream of events as an SSE response: `Content-Type: text/event-stream`, `Cache-Control: no-cache`,
 * `X-Accel-Buffering: no`, then `: connected` at once, the optional `retry`, the events, and `: keep-alive`
 * comments. When the client leaves the stream is interrupted; when the stream fails after the response started
 * the failure is logged and the response ends cleanly (the browser reconnects); on a server built with
 * `SseNode.layer` it ends when the server shuts down.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { HttpRouter } from "effect/http"
 * import * as SseEvent from "effect-sse/SseEvent"
 * import * as SseResponse from "effect-sse/SseResponse"
 *
 * const route = HttpRouter.add(
 *   "GET",
 *   "/hello",
 *   SseResponse.stream(Stream.make(SseEvent.make("hello")), { keepAlive: "20 seconds" })
 * )
 * ```
 *
 * @since 1.0.0
 * @category constructors
 */
export const stream: {
  (
    options?: ResponseOptions
  ): <E, R>(
    events: Stream.Stream<SseEvent.SseEvent, E, R>
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, R>
  <E, R>(
    events: Stream.Stream<SseEvent.SseEvent, E, R>,
    options?: ResponseOptions
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R>
} = dual((args) => Stream.isStream(args[0]), serveStream)

/**
 * The id the current request resumes from: its `Last-Event-ID` header (which a browser sends when it
 * reconnects), else its `lastEventId` query parameter; `None` when neither is there or both are empty.
 *
 * @since 1.0.0
 * @category accessors
 */
export const lastEventId: Effect.Effect<Option.Option<string>, never, HttpServerRequest.HttpServerRequest> = Effect
  .map(
    Effect.service(HttpServerRequest.HttpServerRequest),
    (request) => Option.fromUndefinedOr(LastEventId.fromRequest(request.headers["last-event-id"], request.url))
  )

/**
 * Serves the stream that `make` builds from the request's last event id (see {@link lastEventId}), so that a
 * reconnecting client is resumed.
 *
 * @since 1.0.0
 * @category constructors
 */
export const resumable = <E, R>(
  make: (lastEventId: Option.Option<string>) => Stream.Stream<SseEvent.SseEvent, E, R>,
  options?: ResponseOptions
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R | HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(lastEventId, (id) => stream(make(id), options))
