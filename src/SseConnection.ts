/**
 * An SSE connection as a scoped resource: the seed's `Upgrade` / `Send` / `Done` / `Close`, the Effect way.
 *
 * {@link upgrade} turns the current request into an event stream and runs a handler with the connection.
 * The response starts at once (headers and `: connected`, so the browser fires `open`), the handler runs in
 * its own fiber for as long as the connection lives, and the connection's `Scope` is the handler's scope:
 * whatever ends the connection — the client leaves, the handler finishes, `close`, the server shuts down —
 * the scope closes exactly once, the handler fiber is interrupted and the response ends.
 *
 * ```ts
 * import { HttpRouter } from "@effect/platform"
 * import { Effect, Schedule } from "effect"
 * import * as SseConnection from "effect-sse/SseConnection"
 * import * as SseEvent from "effect-sse/SseEvent"
 *
 * const route = HttpRouter.get(
 *   "/events",
 *   SseConnection.upgrade((connection) =>
 *     connection.send(SseEvent.make("tick")).pipe(Effect.repeat(Schedule.spaced("1 second")))
 *   )
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as Headers from "@effect/platform/Headers"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/connection.js"
import type * as SseEvent from "./SseEvent.js"

/**
 * Raised by `send` on a connection that can take no more data:
 *
 * - `Closed`: the connection was closed (by `close`, the handler ending, the client leaving or shutdown);
 * - `WriteTimeout`: the client did not take the data within `writeTimeout`; the connection has been closed.
 *
 * @since 0.1.0
 * @category errors
 */
export const ConnectionClosed: typeof internal.ConnectionClosed = internal.ConnectionClosed

/**
 * @since 0.1.0
 * @category errors
 */
export type ConnectionClosed = internal.ConnectionClosed

/**
 * An open SSE connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface SseConnection {
  /** The request's `Last-Event-ID` header: the id of the last event the client saw before it reconnected. */
  readonly lastEventId: Option.Option<string>
  /**
   * Writes an event. Waits while `highWaterMark` bytes are queued for the client (socket backpressure) and
   * fails with `ConnectionClosed` once the connection is closed, or when the client has not taken the data
   * within `writeTimeout` (the connection is then closed). Never hangs.
   */
  readonly send: (event: SseEvent.SseEvent) => Effect.Effect<void, ConnectionClosed | SseEvent.SseEventError>
  /** Writes an event with this data and no other field. */
  readonly sendData: (data: string) => Effect.Effect<void, ConnectionClosed>
  /** Writes an event whose data is the JSON of `value`. */
  readonly sendJSON: (value: unknown) => Effect.Effect<void, ConnectionClosed | SseEvent.SseEventError>
  /** Completes when the connection has ended, for any reason. */
  readonly done: Effect.Effect<void>
  /**
   * Closes the connection: later sends fail, data already sent is still delivered (within `writeTimeout`),
   * then the response ends. Idempotent.
   */
  readonly close: Effect.Effect<void>
  /** Whether sends are still accepted. */
  readonly isOpen: Effect.Effect<boolean>
}

/**
 * Options shared by every SSE response.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResponseOptions {
  /**
   * How long the stream may stay quiet before a `: keep-alive` comment is written, so that proxies keep it
   * open. Data resets the timer. `false` turns keep-alive off. Default: 15 seconds.
   */
  readonly keepAlive?: Duration.DurationInput | false | undefined
  /**
   * A `retry:` written right after `: connected`: the client's reconnection time. Default: none (the
   * browser's own, a few seconds).
   */
  readonly retry?: Duration.DurationInput | undefined
  /** Extra response headers. */
  readonly headers?: Headers.Input | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface UpgradeOptions extends ResponseOptions {
  /**
   * How many bytes may wait for the client before `send` waits for it to read (socket backpressure).
   * Default: 16 KiB.
   */
  readonly highWaterMark?: number | undefined
  /**
   * How long a `send` (or the flush after `close`) may wait for a client that is not reading before the
   * connection is closed. Default: 10 seconds.
   */
  readonly writeTimeout?: Duration.DurationInput | undefined
}

/**
 * Upgrades the current request to an SSE connection and runs `handler` with it. Returns the streaming
 * response at once; the handler runs in the connection's scope and its failures are logged.
 *
 * Outside an HTTP server (in a test, say) it works too: the request is then optional and `lastEventId` is
 * `None`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const upgrade: <E, R>(
  handler: (connection: SseConnection) => Effect.Effect<void, E, R>,
  options?: UpgradeOptions
) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, Exclude<R, Scope.Scope>> = internal.upgrade

/**
 * Writes an event to a connection.
 *
 * @since 0.1.0
 * @category combinators
 */
export const send: {
  (event: SseEvent.SseEvent): (self: SseConnection) => Effect.Effect<void, ConnectionClosed | SseEvent.SseEventError>
  (self: SseConnection, event: SseEvent.SseEvent): Effect.Effect<void, ConnectionClosed | SseEvent.SseEventError>
} = internal.send
