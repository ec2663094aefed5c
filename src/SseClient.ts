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
 *   (none when that is empty). Every reconnection is logged at Warning, with the wait chosen and the cause: the
 *   `Transport` error, or the clean close;
 * - an id that no HTTP stack would send unchanged as a header (a control character other than tab, a leading or
 *   trailing space or tab, a lone surrogate) is legal in a stream, so it is kept as the last event ID, but the
 *   header is left out, as the standard allows, with a Warning log;
 * - HTTP 204 ends the stream without error, the way a server tells clients to stop;
 * - any other status but 200, or a `Content-Type` that is not `text/event-stream`, fails the stream with an
 *   {@link SseClientError}; neither reconnects;
 * - redirects (301, 302, 303, 307, 308) are followed as Fetch follows them; a reconnection starts again from
 *   the original URL;
 * - interrupting the stream (or ending it early, as `Stream.take` does) aborts the request at once;
 * - {@link connect} runs the same connections in the background and tells where they stand: a {@link State}
 *   (`Connecting`, `Open`, `Reconnecting` with the cause and the delay, `Stopped`, `Failed`, `Closed`) and an
 *   `EventSource`-like `readyState`.
 *
 * @since 0.1.0
 */
import type * as Headers from "@effect/platform/Headers"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as Cause from "effect/Cause"
import type * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
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

/**
 * Where a {@link connect}ed client stands. It starts `Connecting`; then:
 *
 * - `Open`: the server answered 200 with an event stream; `status` and `headers` are its answer's (after
 *   redirects);
 * - `Reconnecting`: the last connection ended and the client waits `delay` (the reconnection time, set by
 *   {@link Options.retry} and the server's `retry:` fields, plus the {@link Options.backoff} schedule's wait) before
 *   it asks again with `Last-Event-ID: lastEventId` (none when empty). `cause` is the `Transport` error that ended
 *   the connection, or `undefined` when the server ended the body cleanly. `attempt` counts the reconnections since
 *   the last `Open` (1 for the first);
 * - `Stopped`: the server is done with the client and the events end without error: it answered 204 No Content
 *   (`reason: "NoContent"`), or it ended the body and the client does not reconnect (`reason: "End"`:
 *   {@link Options.reconnect} is off, or the backoff schedule has given up);
 * - `Failed`: the client gave up with `error`, the error the events fail with;
 * - `Closed`: {@link Client.close} was called, or the client's scope closed.
 *
 * `Stopped`, `Failed` and `Closed` are final. Match on it with `State.$match`, test it with `State.$is`.
 *
 * @since 0.2.0
 * @category models
 */
export type State = Data.TaggedEnum<{
  Connecting: Record<never, never>
  Open: { readonly status: number; readonly headers: Headers.Headers }
  Reconnecting: {
    readonly cause: SseClientError | undefined
    readonly delay: Duration.Duration
    readonly attempt: number
    readonly lastEventId: string
  }
  Stopped: { readonly reason: "NoContent" | "End" }
  Failed: { readonly error: SseClientError }
  Closed: Record<never, never>
}>

/**
 * Constructors and matchers for {@link State}: `State.Open({ ... })`, `State.$is("Open")(state)`,
 * `State.$match(state, { ... })`.
 *
 * @since 0.2.0
 * @category models
 */
export const State: Data.TaggedEnum.Constructor<State> = internal.State

/**
 * `EventSource.readyState`'s numbers: {@link CONNECTING}, {@link OPEN}, {@link CLOSED}.
 *
 * @since 0.2.0
 * @category models
 */
export type ReadyState = 0 | 1 | 2

/**
 * `Connecting` and `Reconnecting`.
 *
 * @since 0.2.0
 * @category constants
 */
export const CONNECTING: 0 = internal.CONNECTING

/**
 * `Open`.
 *
 * @since 0.2.0
 * @category constants
 */
export const OPEN: 1 = internal.OPEN

/**
 * `Stopped`, `Failed` and `Closed`.
 *
 * @since 0.2.0
 * @category constants
 */
export const CLOSED: 2 = internal.CLOSED

/**
 * The `readyState` an `EventSource` would have in this state.
 *
 * @since 0.2.0
 * @category getters
 */
export const readyStateOf: (state: State) => ReadyState = internal.readyStateOf

/**
 * A client connected to one endpoint, as an `EventSource` is: the events, and where the connection stands.
 *
 * @since 0.2.0
 * @category models
 */
export interface Client<A = string> {
  /**
   * The events across reconnections, as {@link events} gives them. It ends when the state becomes `Stopped` or
   * `Closed`, and fails with the error of `Failed`. Run it once: its events go to one consumer. The connection reads
   * a little ahead and then waits for it (backpressure), so run it even when only the state matters.
   */
  readonly events: Stream.Stream<SseParser.Event<A>, SseClientError>
  /** The current state. */
  readonly state: Effect.Effect<State>
  /** The current state, then every change of it; it ends after a final state (`Stopped`, `Failed`, `Closed`). */
  readonly changes: Stream.Stream<State>
  /** The current state as `EventSource.readyState`'s number. */
  readonly readyState: Effect.Effect<ReadyState>
  /**
   * Aborts the connection (or the wait before the next one) and ends `events`, dropping what it had read ahead,
   * as `EventSource.close()` does. The state becomes `Closed`, unless it was already final. Closing the scope does
   * the same.
   */
  readonly close: Effect.Effect<void>
}

/**
 * Connects to an SSE endpoint in the background, the way `new EventSource(url)` does, and returns the
 * {@link Client}: its {@link Client.events} (the same events, the same reconnection rules and options as
 * {@link events}), its {@link State} (`state`, `changes`, `readyState`) and `close`. The connection lives until
 * `close`, or until the scope closes.
 *
 * @example
 * ```ts
 * import { FetchHttpClient } from "@effect/platform"
 * import { Duration, Effect, Stream } from "effect"
 * import * as SseClient from "effect-sse/SseClient"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* SseClient.connect("http://localhost:8080/events")
 *   yield* client.changes.pipe(
 *     Stream.runForEach((state) =>
 *       state._tag === "Reconnecting"
 *         ? Effect.log(`reconnecting in ${Duration.format(state.delay)}`, state.cause)
 *         : Effect.log(state._tag)
 *     ),
 *     Effect.forkScoped
 *   )
 *   yield* client.events.pipe(Stream.runForEach((event) => Effect.log(event.data)))
 * }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const connect: <R = never>(
  request: string | URL | HttpClientRequest.HttpClientRequest,
  options?: Options<R>
) => Effect.Effect<Client, never, HttpClient.HttpClient | R | Scope.Scope> = internal.connect

/**
 * Like {@link connect}, with each event's data decoded as {@link eventsSchema} does. Data that does not decode
 * fails the client (`Failed`, with the `Decode` error).
 *
 * @since 0.2.0
 * @category constructors
 */
export const connectSchema: <A, I, RS>(
  schema: Schema.Schema<A, I, RS>
) => <R = never>(
  request: string | URL | HttpClientRequest.HttpClientRequest,
  options?: Options<R>
) => Effect.Effect<Client<A>, never, HttpClient.HttpClient | R | RS | Scope.Scope> = internal.connectSchema
