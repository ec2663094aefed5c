/**
 * An SSE connection as a scoped resource on effect 4's `effect/http`: `upgrade` / `send` / `done` / `close`.
 *
 * {@link upgrade} turns the current request into an event stream and runs a handler with the connection. The
 * response starts at once (headers and `: connected`, so the browser fires `open`), the handler runs in its own
 * fiber for as long as the connection lives, and the connection's `Scope` is the handler's scope: whatever ends
 * the connection — the client leaves, the handler finishes, `close`, the server shuts down (with `SseNode.layer`)
 * — the scope closes exactly once, the handler fiber is interrupted and the response ends. A quiet connection
 * hears `: keep-alive` comments, and a client that takes nothing of what waits for it within `writeTimeout` is
 * dropped (the core's keep-alive and stall rules, shared with the Effect 3 line).
 *
 * @since 1.0.0
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/connection.js"
import type * as SseEvent from "./SseEvent.js"
import type * as SseResponse from "./SseResponse.js"

/**
 * Raised by `send` on a connection that can take no more data. `reason` says why:
 *
 * - `Closed`: the connection was closed (by `close`, the handler ending, the client leaving or shutdown);
 * - `WriteTimeout`: the client took none of the data waiting for it within `writeTimeout`; the connection has
 *   been closed.
 *
 * @since 1.0.0
 * @category errors
 */
export class ConnectionClosed extends Data.TaggedError("ConnectionClosed")<{
  readonly reason: "Closed" | "WriteTimeout"
}> {
  /**
   * @since 1.0.0
   */
  override get message(): string {
    return this.reason === "Closed"
      ? "The SSE connection is closed"
      : "The SSE client did not take the data in time; the connection was closed"
  }
}

/**
 * An open SSE connection.
 *
 * @since 1.0.0
 * @category models
 */
export interface SseConnection {
  /**
   * The id the request resumes from: its `Last-Event-ID` header, else its `lastEventId` query parameter (see
   * `SseResponse.lastEventId`); `None` outside an HTTP server.
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
 * The options of {@link upgrade}: those of every SSE response (`keepAlive`, `retry`, `headers`), and how much may
 * wait for a slow client.
 *
 * @since 1.0.0
 * @category models
 */
export interface UpgradeOptions extends SseResponse.ResponseOptions {
  /** Bytes queued for the client beyond which `send` waits. Default: 16 KiB. */
  readonly highWaterMark?: number | undefined
  /**
   * How long a client may leave queued bytes untaken before it is dropped (`send` then fails with
   * `WriteTimeout`). Default: 10 seconds.
   */
  readonly writeTimeout?: Duration.Input | undefined
}

/**
 * Upgrades the current request to an SSE connection and runs `handler` with it while the response is served.
 * The handler runs in the connection's scope and its failures are logged. On a server built with
 * `SseNode.layer`, the connection ends cleanly when the server shuts down.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpRouter } from "effect/http"
 * import * as SseConnection from "effect-sse/SseConnection"
 * import * as SseEvent from "effect-sse/SseEvent"
 *
 * // one greeting, then the connection stays open until the client leaves
 * const route = HttpRouter.add(
 *   "GET",
 *   "/hello",
 *   SseConnection.upgrade((connection) => Effect.andThen(connection.send(SseEvent.make("hello")), connection.done))
 * )
 * ```
 *
 * @since 1.0.0
 * @category constructors
 */
export const upgrade = <E, R>(
  handler: (connection: SseConnection) => Effect.Effect<void, E, R>,
  options?: UpgradeOptions
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, Exclude<R, Scope.Scope>> =>
  internal.upgrade(handler, options, makeClosed)

const makeClosed = (reason: ConnectionClosed["reason"]) => new ConnectionClosed({ reason })

/**
 * Writes an event to a connection.
 *
 * @since 1.0.0
 * @category combinators
 */
export const send: {
  (event: SseEvent.SseEvent): (self: SseConnection) => Effect.Effect<void, ConnectionClosed>
  (self: SseConnection, event: SseEvent.SseEvent): Effect.Effect<void, ConnectionClosed>
} = dual(2, (self: SseConnection, event: SseEvent.SseEvent) => self.send(event))

/**
 * Closes a connection (see {@link SseConnection.close}).
 *
 * @since 1.0.0
 * @category combinators
 */
export const close = (self: SseConnection): Effect.Effect<void> => self.close
