/**
 * A client for event streams that reconnects the way a browser's `EventSource` does, on effect 4's
 * `effect/http` `HttpClient` (so it runs wherever an `HttpClient` layer does: `FetchHttpClient`,
 * `NodeHttpClient`, Bun, browsers). The stream is read with the core parser the Effect 3 line uses.
 *
 * - every request carries `Accept: text/event-stream` and `Cache-Control: no-cache`;
 * - when the body ends cleanly, or the connection fails, the client waits the reconnection time (set by
 *   {@link Options.retry}, then by the server's `retry:` fields), optionally longer ({@link Options.backoff}), and
 *   sends the same request again with `Last-Event-ID` set to the UTF-8 bytes of the last event ID it saw (none
 *   when that is empty, or when no HTTP stack would send the id unchanged, with a Warning log);
 * - HTTP 204 ends the events without error, the way a server tells clients to stop;
 * - any other status but 200, or a `Content-Type` that is not `text/event-stream`, fails with an
 *   {@link SseClientError}; neither reconnects;
 * - redirects are followed as the `HttpClient` follows them (`fetch` does by itself; pipe another client through
 *   `HttpClient.followRedirects`);
 * - {@link connect} runs the connections in the background and tells where they stand: a {@link State} and an
 *   `EventSource`-like `readyState`, with `close`.
 *
 * @since 1.0.0
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Headers from "effect/http/Headers"
import type * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as Schedule from "effect/Schedule"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as ClientMessages from "../../src/core/clientMessages.js"
import * as internal from "./internal/client.js"

/**
 * Raised when the event stream cannot be read, or must not be read on. `reason` says why:
 *
 * - `Request`: the request could not be made (an invalid URL or body);
 * - `Transport`: the connection failed. The client reconnects after such a failure; it surfaces only when
 *   reconnection is off ({@link Options.reconnect}) or the {@link Options.backoff} schedule has given up;
 * - `Status`: the server answered with a status other than 200 (or 204, which ends the events); see `status`;
 * - `ContentType`: the server answered with a `Content-Type` other than `text/event-stream`; see `contentType`;
 * - `Parse`: the stream broke the parser's limit on the size of a line or an event (see `SseParser`);
 * - `Decode`: ({@link eventsSchema}, {@link connectSchema}) an event's data is not JSON matching the schema;
 *   `lastEventId` and `eventType` name the event.
 *
 * @since 1.0.0
 * @category errors
 */
export class SseClientError extends Data.TaggedError("SseClientError")<{
  readonly reason: "Request" | "Transport" | "Status" | "ContentType" | "Parse" | "Decode"
  readonly url: string
  readonly status?: number | undefined
  readonly contentType?: string | undefined
  readonly lastEventId?: string | undefined
  readonly eventType?: string | undefined
  readonly cause?: unknown
}> {
  /**
   * @since 1.0.0
   */
  override get message(): string {
    return ClientMessages.errorMessage(this)
  }
}

/**
 * An event as the client delivers it: `SseParser.Event`, with its data decoded when a schema is given.
 *
 * @since 1.0.0
 * @category models
 */
export interface Event<A = string> {
  readonly _tag: "Event"
  readonly type: string
  readonly data: A
  readonly lastEventId: string
}

/**
 * @since 1.0.0
 * @category models
 */
export interface Options<R = never> {
  /** The reconnection time before the first `retry:` from the server replaces it. Default: {@link defaultRetry}. */
  readonly retry?: Duration.Input | undefined
  /**
   * An extra wait after the reconnection time, one step per reconnection, e.g. `Schedule.exponential("1 second")`.
   * It starts over whenever a connection opens. When it ends the client gives up: the events end if the last
   * connection closed cleanly, or fail with the `Transport` error that ended it. Its input is that error, or
   * `undefined` after a clean close. Default: none (reconnect after the reconnection time, forever).
   */
  readonly backoff?: Schedule.Schedule<unknown, SseClientError | undefined, never, R> | undefined
  /**
   * Whether to reconnect at all. Off, a clean end of the body ends the events and a network error fails them (for
   * streams that end when they are done, as LLM APIs' do). Default: `true`.
   */
  readonly reconnect?: boolean | undefined
  /** The last event ID to resume from, sent as `Last-Event-ID` on the first request. Default: the request's own. */
  readonly lastEventId?: string | undefined
  /** The parser's limit on one line and on one event's data, in characters. Default: 8 MiB. */
  readonly maxBufferSize?: number | undefined
}

/**
 * The default reconnection time: 3 seconds.
 *
 * @since 1.0.0
 * @category constants
 */
export const defaultRetry: Duration.Duration = internal.defaultRetry

/**
 * Where a {@link connect}ed client stands. It starts `Connecting`; then:
 *
 * - `Open`: the server answered 200 with an event stream (`status` and `headers` are its answer's);
 * - `Reconnecting`: the last connection ended and the client waits `delay` (the reconnection time plus the backoff's
 *   wait) before it asks again with `Last-Event-ID: lastEventId` (none when empty). `cause` is the `Transport`
 *   error that ended the connection, or `undefined` after a clean close; `attempt` counts from 1 since the last
 *   `Open`;
 * - `Stopped`: the server answered 204 (`NoContent`), or ended the body and the client does not reconnect (`End`);
 * - `Failed`: the client gave up with `error`, the error the events fail with;
 * - `Closed`: `close` was called, or the client's scope closed.
 *
 * `Stopped`, `Failed` and `Closed` are final.
 *
 * @since 1.0.0
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
 * @since 1.0.0
 * @category models
 */
export const State = Data.taggedEnum<State>()

/**
 * `EventSource.readyState`'s numbers: {@link CONNECTING}, {@link OPEN}, {@link CLOSED}.
 *
 * @since 1.0.0
 * @category models
 */
export type ReadyState = 0 | 1 | 2

/**
 * `Connecting` and `Reconnecting`.
 *
 * @since 1.0.0
 * @category constants
 */
export const CONNECTING = 0 as const

/**
 * `Open`.
 *
 * @since 1.0.0
 * @category constants
 */
export const OPEN = 1 as const

/**
 * `Stopped`, `Failed` and `Closed`.
 *
 * @since 1.0.0
 * @category constants
 */
export const CLOSED = 2 as const

/**
 * The `readyState` an `EventSource` would have in this state.
 *
 * @since 1.0.0
 * @category getters
 */
export const readyStateOf: (state: State) => ReadyState = internal.readyStateOf

/**
 * A client connected to one endpoint, as an `EventSource` is: the events, and where the connection stands.
 *
 * @since 1.0.0
 * @category models
 */
export interface Client<A = string> {
  /**
   * The events across reconnections. It ends when the state becomes `Stopped` or `Closed`, and fails with the
   * error of `Failed`. Run it once: its events go to one consumer. The connection reads a little ahead and then
   * waits for it (backpressure), so run it even when only the state matters.
   */
  readonly events: Stream.Stream<Event<A>, SseClientError>
  /** The current state. */
  readonly state: Effect.Effect<State>
  /** The current state, then every change of it; it ends after a final state. */
  readonly changes: Stream.Stream<State>
  /** The current state as `EventSource.readyState`'s number. */
  readonly readyState: Effect.Effect<ReadyState>
  /**
   * Aborts the connection (or the wait before the next one) and ends `events`, dropping what was read ahead, as
   * `EventSource.close()` does. The state becomes `Closed`, unless it was already final. Closing the scope does the
   * same.
   */
  readonly close: Effect.Effect<void>
}

const constructors: internal.Constructors = {
  error: (args) => new SseClientError(args),
  State
}

/**
 * The events of an SSE endpoint, across reconnections. A string or URL is fetched with GET; pass an
 * `HttpClientRequest` for another method, a body or headers (its body must be one that can be sent again).
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { FetchHttpClient } from "effect/http"
 * import * as SseClient from "effect-sse/SseClient"
 *
 * const program = SseClient.events("http://localhost:8080/events").pipe(
 *   Stream.take(3),
 *   Stream.runForEach((event) => Effect.log(event.type, event.lastEventId, event.data)),
 *   Effect.provide(FetchHttpClient.layer)
 * )
 * ```
 *
 * @since 1.0.0
 * @category constructors
 */
export const events = <R = never>(
  request: string | URL | HttpClientRequest.HttpClientRequest,
  options?: Options<R>
): Stream.Stream<Event, SseClientError, HttpClient.HttpClient | R> => internal.events(request, options, constructors)

/**
 * Like {@link events}, with each event's data parsed as JSON and decoded with `schema` (Schema 4). Data that does
 * not decode fails the stream with an {@link SseClientError} of reason `Decode` naming the event's id and type.
 *
 * @since 1.0.0
 * @category constructors
 */
export const eventsSchema = <S extends Schema.Top>(schema: S) =>
<R = never>(
  request: string | URL | HttpClientRequest.HttpClientRequest,
  options?: Options<R>
): Stream.Stream<Event<S["Type"]>, SseClientError, HttpClient.HttpClient | R | S["DecodingServices"]> =>
  Stream.mapEffect(events(request, options), internal.decodeWith(schema, request, constructors))

/**
 * Connects to an SSE endpoint in the background, the way `new EventSource(url)` does, and returns the
 * {@link Client}: its events (the same as {@link events} gives, with the same options), its {@link State} and
 * `close`. The connection lives until `close`, or until the scope closes.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { FetchHttpClient } from "effect/http"
 * import * as SseClient from "effect-sse/SseClient"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* SseClient.connect("http://localhost:8080/events", { retry: "1 second" })
 *   yield* client.changes.pipe(Stream.runForEach((state) => Effect.log(state._tag)), Effect.forkScoped)
 *   yield* client.events.pipe(Stream.take(10), Stream.runForEach((event) => Effect.log(event.data)))
 *   yield* client.close
 * }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 1.0.0
 * @category constructors
 */
export const connect = <R = never>(
  request: string | URL | HttpClientRequest.HttpClientRequest,
  options?: Options<R>
): Effect.Effect<Client, never, HttpClient.HttpClient | R | Scope.Scope> =>
  internal.connect(request, options, constructors, undefined)

/**
 * Like {@link connect}, with each event's data decoded with `schema` as {@link eventsSchema} does. Data that does
 * not decode fails the client (`Failed`, with the `Decode` error).
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { FetchHttpClient } from "effect/http"
 * import * as SseClient from "effect-sse/SseClient"
 *
 * const Message = Schema.Struct({ user: Schema.String, text: Schema.String })
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* SseClient.connectSchema(Message)("http://localhost:8080/chat")
 *   yield* client.events.pipe(Stream.runForEach((event) => Effect.log(`${event.data.user}: ${event.data.text}`)))
 * }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 1.0.0
 * @category constructors
 */
export const connectSchema = <S extends Schema.Top>(schema: S) =>
<R = never>(
  request: string | URL | HttpClientRequest.HttpClientRequest,
  options?: Options<R>
): Effect.Effect<Client<S["Type"]>, never, HttpClient.HttpClient | R | S["DecodingServices"] | Scope.Scope> =>
  internal.connect(request, options, constructors, internal.decodeWith(schema, request, constructors))
