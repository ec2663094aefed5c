/**
 * An SSE connection as a scoped resource: `Upgrade` / `Send` / `Done` / `Close`, the Effect way.
 *
 * {@link upgrade} turns the current request into an event stream and runs a handler with the connection. The
 * response starts at once (headers and `: connected`, so the browser fires `open`), the handler runs in its own
 * fiber for as long as the connection lives, and the connection's `Scope` is the handler's scope: whatever ends
 * the connection — the client leaves, the handler finishes, `close`, the server shuts down — the scope closes
 * exactly once, the handler fiber is interrupted and the response ends.
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
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/connection.js"
import type * as SseEvent from "./SseEvent.js"
import type { ResponseOptions } from "./SseResponse.js"

/**
 * @since 0.2.0
 * @category type ids
 */
export const ErrorTypeId: unique symbol = internal.ErrorTypeId as never

/**
 * @since 0.2.0
 * @category type ids
 */
export type ErrorTypeId = typeof ErrorTypeId

/**
 * Raised by `send` on a connection that can take no more data. `reason` says why:
 *
 * - `Closed`: the connection was closed (by `close`, the handler ending, the client leaving or shutdown);
 * - `WriteTimeout`: the client took none of the data waiting for it within `writeTimeout`; the connection has
 *   been closed.
 *
 * @since 0.1.0
 * @category errors
 */
export interface ConnectionClosed extends Cause.YieldableError {
  readonly _tag: "ConnectionClosed"
  readonly [ErrorTypeId]: ErrorTypeId
  readonly reason: "Closed" | "WriteTimeout"
}

/**
 * @since 0.1.0
 * @category errors
 */
export const ConnectionClosed: new(args: { readonly reason: ConnectionClosed["reason"] }) => ConnectionClosed =
  internal.ConnectionClosed

/**
 * An open SSE connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface SseConnection {
  /**
   * The id the request resumes from: its `Last-Event-ID` header, else its `lastEventId` query parameter (see
   * `SseResponse.lastEventId`).
   */
  readonly lastEventId: Option.Option<string>
  /**
   * Writes an event. Waits while `highWaterMark` bytes are queued for the client (backpressure) and fails with
   * `ConnectionClosed` once the connection is closed, or once the client has been dropped for taking nothing
   * within `writeTimeout`. Never hangs.
   */
  readonly send: (event: SseEvent.SseEvent) => Effect.Effect<void, ConnectionClosed>
  /** Writes an event with this data and no other field. */
  readonly sendData: (data: string) => Effect.Effect<void, ConnectionClosed>
  /** Writes an event whose data is the JSON of `value`. */
  readonly sendJSON: (value: unknown) => Effect.Effect<void, ConnectionClosed | SseEvent.SseEventError>
  /** Completes when the connection has ended, for any reason. */
  readonly done: Effect.Effect<void>
  /**
   * Closes the connection: later sends fail, data already sent is still delivered (a client that takes none of
   * it within `writeTimeout` is dropped), then the response ends. Idempotent.
   */
  readonly close: Effect.Effect<void>
  /** Whether sends are still accepted. */
  readonly isOpen: Effect.Effect<boolean>
}

/**
 * The options of {@link upgrade}: those of every SSE response.
 *
 * @since 0.1.0
 * @category models
 */
export type UpgradeOptions = ResponseOptions

/**
 * Upgrades the current request to an SSE connection and runs `handler` with it when the response is served.
 * The handler runs in the connection's scope, with the context and fiber refs (log annotations, log level, the
 * current span) of where the response was made, and its failures are logged.
 *
 * Outside an HTTP server (in a test, say) it works too: the request is then optional and `lastEventId` is
 * `None`.
 *
 * @example
 * ```ts
 * import { HttpRouter } from "@effect/platform"
 * import { Effect } from "effect"
 * import * as SseConnection from "effect-sse/SseConnection"
 * import * as SseEvent from "effect-sse/SseEvent"
 *
 * // one greeting, then the connection stays open until the client leaves
 * const route = HttpRouter.get(
 *   "/hello",
 *   SseConnection.upgrade((connection) =>
 *     Effect.zipRight(connection.send(SseEvent.make("hello")), connection.done)
 *   )
 * )
 * ```
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
  (event: SseEvent.SseEvent): (self: SseConnection) => Effect.Effect<void, ConnectionClosed>
  (self: SseConnection, event: SseEvent.SseEvent): Effect.Effect<void, ConnectionClosed>
} = internal.send

/**
 * Closes a connection (see {@link SseConnection.close}).
 *
 * @since 0.2.0
 * @category combinators
 */
export const close: (self: SseConnection) => Effect.Effect<void> = internal.close
