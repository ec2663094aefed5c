/**
 * A client for event streams that reconnects the way a browser's `EventSource` does, on `@effect/platform`'s
 * `HttpClient` (so it runs wherever an `HttpClient` layer does: `NodeHttpClient`, `FetchHttpClient`, Bun,
 * browsers).
 *
 * ```ts
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect, Stream } from "effect"
 * import * as SseClient from "effect-sse/SseClient"
 *
 * const program = SseClient.events("http://localhost:8080/events").pipe(
 *   Stream.take(3),
 *   Stream.runForEach((event) => Effect.log(event.type, event.lastEventId, event.data)),
 *   Effect.provide(FetchHttpClient.layer)
 * )
 * ```
 *
 * Every request carries `Accept: text/event-stream` and `Cache-Control: no-cache`. The stream of events is
 * read with {@link SseParser}:
 *
 * - when the body ends cleanly, or the connection fails, the client waits the reconnection time (set by
 *   {@link Options.retry}, then by the server's `retry:` fields), optionally longer ({@link Options.backoff}),
 *   and sends the same request again with `Last-Event-ID` set to the UTF-8 bytes of the last event ID it saw
 *   (none when that is empty). A reconnection after a failed connection is logged at Warning with the error; one
 *   after a clean close at Debug;
 * - an id that no HTTP stack would send unchanged as a header (a control character other than tab, a leading or
 *   trailing space or tab, a lone surrogate) is legal in a stream, so it is kept as the last event ID, but the
 *   header is left out, as the standard allows, with a Warning log;
 * - HTTP 204 ends the stream without error, the way a server tells clients to stop;
 * - any other status but 200, or a `Content-Type` that is not `text/event-stream`, fails the stream with an
 *   {@link SseClientError}; neither reconnects;
 * - redirects (301, 302, 303, 307, 308) are followed as Fetch follows them; a reconnection starts again from
 *   the original URL;
 * - interrupting the stream (or ending it early, as `Stream.take` does) aborts the request at once.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import type * as Schedule from "effect/Schedule"
import type * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/client.js"
import type * as SseParser from "./SseParser.js"

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
 * Raised when the event stream cannot be read, or must not be read on. `reason` says why:
 *
 * - `Request`: the request could not be made (an invalid URL or body, a bad redirect `Location`);
 * - `Transport`: the connection failed. The client reconnects after such a failure; it surfaces only when
 *   reconnection is off ({@link Options.reconnect}) or the {@link Options.backoff} schedule has given up;
 * - `Status`: the server answered with a status other than 200 (or 204, which ends the stream); see `status`;
 * - `ContentType`: the server answered with a `Content-Type` other than `text/event-stream`; see `contentType`;
 * - `Redirect`: more redirects than {@link Options.maxRedirects};
 * - `Parse`: the stream broke the parser's limit on the size of a line or an event ({@link SseParser.SseParserError});
 * - `Decode`: ({@link eventsSchema}) an event's data is not JSON matching the schema; `lastEventId` and
 *   `eventType` name the event.
 *
 * @since 0.1.0
 * @category errors
 */
export interface SseClientError extends Cause.YieldableError {
  readonly _tag: "SseClientError"
  readonly [ErrorTypeId]: ErrorTypeId
  readonly reason: "Request" | "Transport" | "Status" | "ContentType" | "Redirect" | "Parse" | "Decode"
  readonly url: string
  readonly status?: number | undefined
  readonly contentType?: string | undefined
  readonly lastEventId?: string | undefined
  readonly eventType?: string | undefined
  readonly cause?: unknown
}

/**
 * @since 0.1.0
 * @category errors
 */
export const SseClientError: new(args: {
  readonly reason: SseClientError["reason"]
  readonly url: string
  readonly status?: number | undefined
  readonly contentType?: string | undefined
  readonly lastEventId?: string | undefined
  readonly eventType?: string | undefined
  readonly cause?: unknown
}) => SseClientError = internal.SseClientError

/**
 * @since 0.1.0
 * @category models
 */
export interface Options<R = never> {
  /**
   * The reconnection time before the first `retry:` from the server replaces it.
   *
   * Defaults to {@link defaultRetry}, 3 seconds.
   */
  readonly retry?: Duration.DurationInput | undefined
  /**
   * An extra wait after the reconnection time, one step per reconnection, e.g. `Schedule.exponential("1 second")`.
   * The schedule is reset whenever a connection opens (status 200 with an event stream), so it counts the
   * reconnections that did not get through. When it ends the client gives up: the stream ends if the last
   * connection closed cleanly, or fails with the `Transport` error that ended it. `Schedule.recurs(n)` allows
   * `n` such reconnections.
   *
   * Its input is the `Transport` error that ended the last connection, or `undefined` after a clean close.
   *
   * Defaults to none: reconnect after the reconnection time, forever.
   */
  readonly backoff?: Schedule.Schedule<unknown, SseClientError | undefined, R> | undefined
  /**
   * Whether to reconnect at all. Turn it off for streams that end when they are done, as LLM APIs' do: then
   * a clean end of the body ends the stream, and a network error fails it.
   *
   * Defaults to `true`.
   */
  readonly reconnect?: boolean | undefined
  /**
   * The last event ID to resume from, sent as `Last-Event-ID` on the first request.
   *
   * Defaults to the request's own `Last-Event-ID` header, if any, else `""` (no header).
   */
  readonly lastEventId?: string | undefined
  /**
   * How many redirects one connection may follow.
   *
   * Defaults to 20, as Fetch.
   */
  readonly maxRedirects?: number | undefined
  /**
   * The parser's limit on one line and on one event's data, in characters ({@link SseParser.Options}).
   *
   * Defaults to {@link SseParser.defaultMaxBufferSize}, 8 MiB.
   */
  readonly maxBufferSize?: number | undefined
}

/**
 * The default reconnection time: 3 seconds.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultRetry: Duration.Duration = internal.defaultRetry

/**
 * The events of an SSE endpoint, across reconnections. A string or URL is fetched with GET; pass an
 * `HttpClientRequest` for another method, a body or headers (its body must be one that can be sent again,
 * not a `Stream`, for reconnections).
 *
 * @example
 * ```ts
 * import { HttpClientRequest } from "@effect/platform"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Effect, Stream } from "effect"
 * import * as SseClient from "effect-sse/SseClient"
 *
 * const request = HttpClientRequest.post("https://api.example.com/v1/chat").pipe(
 *   HttpClientRequest.bearerToken("sk-..."),
 *   HttpClientRequest.bodyUnsafeJson({ stream: true, messages: [{ role: "user", content: "Hi" }] })
 * )
 *
 * const program = SseClient.events(request, { reconnect: false }).pipe(
 *   Stream.takeWhile((event) => event.data !== "[DONE]"),
 *   Stream.runForEach((event) => Effect.log(event.data)),
 *   Effect.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const events: <R = never>(
  request: string | URL | HttpClientRequest.HttpClientRequest,
  options?: Options<R>
) => Stream.Stream<SseParser.Event, SseClientError, HttpClient.HttpClient | R> = internal.events

/**
 * Like {@link events}, with each event's data parsed as JSON and decoded with `schema`. Data that does not
 * decode fails the stream with an {@link SseClientError} of reason `Decode` naming the event's id and type.
 *
 * @example
 * ```ts
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect, Schema, Stream } from "effect"
 * import * as SseClient from "effect-sse/SseClient"
 *
 * const Message = Schema.Struct({ user: Schema.String, text: Schema.String })
 *
 * const program = SseClient.eventsSchema(Message)("http://localhost:8080/chat").pipe(
 *   Stream.runForEach((event) => Effect.log(`${event.data.user}: ${event.data.text}`)),
 *   Effect.provide(FetchHttpClient.layer)
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const eventsSchema: <A, I, RS>(
  schema: Schema.Schema<A, I, RS>
) => <R = never>(
  request: string | URL | HttpClientRequest.HttpClientRequest,
  options?: Options<R>
) => Stream.Stream<SseParser.Event<A>, SseClientError, HttpClient.HttpClient | R | RS> = internal.eventsSchema
