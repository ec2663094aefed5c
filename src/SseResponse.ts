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
 * @since 0.1.0
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Stream from "effect/Stream"
import * as server from "./internal/server.js"
import type { ResponseOptions } from "./SseConnection.js"
import type * as SseEvent from "./SseEvent.js"

export type {
  /**
   * @since 0.1.0
   * @category models
   */
  ResponseOptions
} from "./SseConnection.js"

/**
 * Serves a stream of events as an SSE response: `Content-Type: text/event-stream`, `Cache-Control: no-cache`,
 * `X-Accel-Buffering: no` (and `Connection: keep-alive` on HTTP/1.1), then `: connected` at once, the
 * optional initial `retry`, the events, and a `: keep-alive` comment whenever the stream has been quiet for
 * the keep-alive interval.
 *
 * The stream runs while the client is connected: when the client leaves it is interrupted, and when the
 * server closes it ends. If it fails (including with an invalid event) after the response has started, the
 * failure is logged and the response ends cleanly; the browser then reconnects.
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
  server.serveStream
)

/**
 * Serves the stream that `make` builds from the request's `Last-Event-ID` (the id of the last event the
 * client saw before reconnecting), so that a reconnecting client can be resumed.
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
 * The current request's `Last-Event-ID` header, if any (an empty header counts as none).
 *
 * @since 0.1.0
 * @category accessors
 */
export const lastEventId: Effect.Effect<Option.Option<string>, never, HttpServerRequest.HttpServerRequest> =
  server.lastEventId
