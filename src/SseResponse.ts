/**
 * Serving a `Stream` of events as an SSE response.
 *
 * ```ts
 * import { HttpRouter } from "@effect/platform"
 * import { Schedule, Stream } from "effect"
 * import * as SseEvent from "effect-sse/SseEvent"
 * import * as SseResponse from "effect-sse/SseResponse"
 *
 * const ticks = Stream.fromSchedule(Schedule.spaced("1 second")).pipe(
 *   Stream.map((n) => SseEvent.make(String(n)))
 * )
 * const route = HttpRouter.get("/events", SseResponse.stream(ticks))
 * ```
 *
 * The response is portable: on any `@effect/platform` server its body is a `Stream` of bytes. On the servers of
 * `SseNode` and `SseWeb` it is written straight to the client instead, with no fiber per connection beyond the
 * one that runs the stream.
 *
 * @since 0.1.0
 */
import type * as Headers from "@effect/platform/Headers"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Stream from "effect/Stream"
import * as internal from "./internal/response.js"
import type * as SseEvent from "./SseEvent.js"

/**
 * Options every SSE response takes.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResponseOptions {
  /**
   * How long the stream may stay quiet before a `: keep-alive` comment is written, so that proxies keep it
   * open. Any write resets it; it is checked once a second, so the comment comes within a second after the
   * interval. `false` turns keep-alive off. Default: 15 seconds.
   */
  readonly keepAlive?: Duration.DurationInput | false | undefined
  /**
   * A `retry:` written right after `: connected`: the client's reconnection time. Default: none (the browser's
   * own, a few seconds). A value that is not a whole number of milliseconds is logged and ends the response
   * after `: connected`.
   */
  readonly retry?: Duration.DurationInput | undefined
  /** Extra response headers. */
  readonly headers?: Headers.Input | undefined
  /**
   * How many bytes may wait for the client before a producer waits for it to read. At least the socket's own
   * mark counts (16 KiB on Node). Default: 16 KiB.
   */
  readonly highWaterMark?: number | undefined
  /**
   * How long a client may leave bytes waiting without taking any of them before it is dropped: what waits is
   * discarded and its connection is closed (on a Node server; where the platform does not expose the connection,
   * its response ends), and the browser reconnects. Checked once a second, whether or not anything new is
   * written, so the drop comes within a second after the timeout. Default: 10 seconds.
   */
  readonly writeTimeout?: Duration.DurationInput | undefined
}

/**
 * Serves a stream of events as an SSE response: `Content-Type: text/event-stream`, `Cache-Control: no-cache`,
 * `X-Accel-Buffering: no` (and `Connection: keep-alive` on HTTP/1.1), then `: connected` at once, the optional
 * initial `retry`, the events, and a `: keep-alive` comment whenever the stream has been quiet for the
 * keep-alive interval.
 *
 * The stream starts when the response is served and runs while the client is connected: when the client leaves
 * it is interrupted, and when the server shuts down (see `SseServer`) it ends. If it fails after the response
 * has started, the failure is logged and the response ends cleanly; the browser then reconnects. It runs with
 * the context and fiber refs (log annotations, log level, the current span) of where the response was made,
 * whenever the server starts it.
 *
 * @example
 * ```ts
 * import { HttpRouter } from "@effect/platform"
 * import { Effect, Schedule, Stream } from "effect"
 * import * as SseEvent from "effect-sse/SseEvent"
 * import * as SseResponse from "effect-sse/SseResponse"
 *
 * const ticks = Stream.fromSchedule(Schedule.spaced("1 second")).pipe(
 *   Stream.mapEffect((n) => SseEvent.make(`tick ${n}`).pipe(SseEvent.withId(String(n))))
 * )
 * // the stream's errors are its own: an invalid id would fail it, so handle them before serving
 * const route = HttpRouter.get("/ticks", SseResponse.stream(ticks.pipe(Stream.orDie), { keepAlive: "20 seconds" }))
 * ```
 *
 * @since 0.1.0
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
} = dual(
  (args) => Predicate.hasProperty(args[0], Stream.StreamTypeId),
  internal.serveStream
)

/**
 * Serves the stream that `make` builds from the request's last event id (see {@link lastEventId}), so that a
 * reconnecting client can be resumed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resumable = <E, R>(
  make: (lastEventId: Option.Option<string>) => Stream.Stream<SseEvent.SseEvent, E, R>,
  options?: ResponseOptions
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R | HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(lastEventId, (id) => stream(make(id), options))

/**
 * The id the current request resumes from: its `Last-Event-ID` header (which a browser sends when it
 * reconnects, decoded from UTF-8), else its `lastEventId` query parameter (which a page can put in the URL of a
 * first request, which cannot carry the header). `None` when neither is there or both are empty. Every serving
 * path of the library reads it this way.
 *
 * @since 0.1.0
 * @category accessors
 */
export const lastEventId: Effect.Effect<Option.Option<string>, never, HttpServerRequest.HttpServerRequest> =
  internal.lastEventId
