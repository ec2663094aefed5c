import * as Headers from "@effect/platform/Headers"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as LastEventId from "../core/lastEventId.js"
import type * as SseClient from "../SseClient.js"
import type * as SseParser from "../SseParser.js"
import * as parser from "./parser.js"

/** @internal */
export const ErrorTypeId: SseClient.ErrorTypeId = Symbol.for(
  "effect-sse/SseClient/SseClientError"
) as SseClient.ErrorTypeId

/** @internal */
export class SseClientError extends Data.TaggedError("SseClientError")<{
  readonly reason: "Request" | "Transport" | "Status" | "ContentType" | "Redirect" | "Parse" | "Decode"
  readonly url: string
  readonly status?: number | undefined
  readonly contentType?: string | undefined
  readonly lastEventId?: string | undefined
  readonly eventType?: string | undefined
  readonly cause?: unknown
}> {
  readonly [ErrorTypeId]: SseClient.ErrorTypeId = ErrorTypeId
  override get message(): string {
    const cause = this.cause instanceof Error ? this.cause.message : String(this.cause)
    switch (this.reason) {
      case "Request":
        return `SseClient: the request to ${this.url} could not be made: ${cause}`
      case "Transport":
        return `SseClient: the connection to ${this.url} failed: ${cause}`
      case "Status":
        return `SseClient: ${this.url} answered with status ${this.status}, not 200`
      case "ContentType":
        return `SseClient: ${this.url} answered with Content-Type ${
          this.contentType === undefined ? "(none)" : JSON.stringify(this.contentType)
        }, not text/event-stream`
      case "Redirect":
        return `SseClient: ${this.url} redirected too often: ${cause}`
      case "Parse":
        return `SseClient: the event stream from ${this.url} could not be parsed: ${cause}`
      case "Decode":
        return `SseClient: the data of the "${this.eventType}" event with id ${
          JSON.stringify(this.lastEventId)
        } from ${this.url} does not match the schema: ${cause}`
    }
  }
}

/** @internal */
export const defaultRetry: Duration.Duration = Duration.seconds(3)

/** @internal */
export const defaultMaxRedirects = 20

const redirectStatuses: ReadonlySet<number> = new Set([301, 302, 303, 307, 308])

const urlOf = (request: HttpClientRequest.HttpClientRequest): string => {
  const url = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
  return url._tag === "Right" ? url.right.toString() : request.url
}

/** The request with `headers` as its headers, everything else kept (the platform has no way to remove one). */
const replaceHeaders = (
  request: HttpClientRequest.HttpClientRequest,
  headers: Headers.Headers
): HttpClientRequest.HttpClientRequest =>
  HttpClientRequest.post(request.url, {
    urlParams: request.urlParams,
    hash: Option.getOrUndefined(request.hash),
    headers,
    body: request.body
  }).pipe(HttpClientRequest.setMethod(request.method))

const removeHeader = (request: HttpClientRequest.HttpClientRequest, name: string) =>
  name in request.headers ? replaceHeaders(request, Headers.remove(request.headers, name)) : request

const isEventStream = (contentType: string | undefined): boolean =>
  contentType !== undefined && contentType.split(";")[0].trim().toLowerCase() === "text/event-stream"

const fromHttpClientError = (url: string) => (error: HttpClientError.HttpClientError): SseClientError =>
  new SseClientError({
    reason: error._tag === "RequestError" && error.reason !== "Transport" ? "Request" : "Transport",
    url,
    cause: error
  })

/** The request to follow a redirect with, as Fetch builds it. */
const redirected = (
  request: HttpClientRequest.HttpClientRequest,
  from: URL,
  to: URL,
  status: number
): HttpClientRequest.HttpClientRequest => {
  let next = HttpClientRequest.setUrl(request, to)
  // 301 and 302 turn a POST into a GET, and 303 turns anything but GET and HEAD into a GET, without a body.
  if (
    ((status === 301 || status === 302) && request.method === "POST") ||
    (status === 303 && request.method !== "GET" && request.method !== "HEAD")
  ) {
    next = next.pipe(HttpClientRequest.setMethod("GET"), HttpClientRequest.setBody(HttpBody.empty))
  }
  // Credentials meant for one origin are not handed to another.
  if (from.origin !== to.origin) next = removeHeader(next, "authorization")
  return next
}

/**
 * Sends the request and follows redirects. Each hop gets a scope of its own, closed (aborting the request)
 * when it is a redirect, and otherwise left open until the caller's scope closes.
 */
const send = (
  client: HttpClient.HttpClient.With<HttpClientError.HttpClientError, Scope.Scope>,
  request: HttpClientRequest.HttpClientRequest,
  url: string,
  maxRedirects: number
): Effect.Effect<HttpClientResponse.HttpClientResponse, SseClientError, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    let current = request
    for (let redirects = 0;; redirects++) {
      const hop = yield* Scope.fork(scope, ExecutionStrategy.sequential)
      const response = yield* client.execute(current).pipe(
        Scope.extend(hop),
        Effect.mapError(fromHttpClientError(url))
      )
      const location = response.headers["location"]
      if (!redirectStatuses.has(response.status) || location === undefined) return response
      yield* Scope.close(hop, Exit.void)
      if (redirects >= maxRedirects) {
        return yield* new SseClientError({ reason: "Redirect", url, cause: `more than ${maxRedirects} redirects` })
      }
      const from = new URL(urlOf(current))
      const to = yield* Effect.try({
        try: () => new URL(location, from),
        catch: (cause) => new SseClientError({ reason: "Request", url, cause })
      })
      current = redirected(current, from, to, response.status)
    }
  })

/** Why the last connection ended, which decides what happens next. */
type Outcome =
  | { readonly _tag: "NotStarted" }
  | { readonly _tag: "End" }
  | { readonly _tag: "NoContent" }
  | { readonly _tag: "Error"; readonly error: SseClientError }

/** @internal */
export const events = <R = never>(
  input: string | URL | HttpClientRequest.HttpClientRequest,
  options?: SseClient.Options<R>
): Stream.Stream<SseParser.Event, SseClientError, HttpClient.HttpClient | R> =>
  Stream.unwrap(Effect.gen(function*() {
    const client = HttpClient.withScope(yield* HttpClient.HttpClient)
    const given = typeof input === "string" || input instanceof URL ? HttpClientRequest.get(input) : input
    const url = urlOf(given)
    const request = removeHeader(
      given.pipe(
        HttpClientRequest.setHeaders({
          accept: given.headers["accept"] ?? "text/event-stream",
          "cache-control": given.headers["cache-control"] ?? "no-cache"
        })
      ),
      "last-event-id"
    )
    const maxRedirects = options?.maxRedirects ?? defaultMaxRedirects
    const reconnect = options?.reconnect ?? true
    const driver = options?.backoff === undefined ? undefined : yield* Schedule.driver(options.backoff)
    // One parser for all connections: `end` between them keeps the last event ID string.
    const state = parser.make({
      maxBufferSize: options?.maxBufferSize,
      lastEventId: options?.lastEventId ?? given.headers["last-event-id"] ?? ""
    })
    let reconnectionTime = Duration.decode(options?.retry ?? defaultRetry)
    let outcome: Outcome = { _tag: "NotStarted" }

    // A `retry:` sets the reconnection time as soon as it is read; only events go on downstream.
    const readRetries = (outputs: Chunk.Chunk<SseParser.Output>): Chunk.Chunk<SseParser.Event> => {
      for (const output of outputs) {
        if (output._tag === "Retry") reconnectionTime = Duration.millis(output.millis)
      }
      return Chunk.filter(outputs, parser.isEvent)
    }

    const open = Effect.fn("SseClient.connect")(function*() {
      state.end()
      outcome = { _tag: "End" }
      const lastEventId = state.lastEventId
      yield* Effect.annotateCurrentSpan({ url, lastEventId })
      const header = LastEventId.encodeHeader(lastEventId)
      if (header === undefined && lastEventId !== "") {
        // The standard lets a client leave the header out; an id no HTTP stack would send must not stop it.
        yield* Effect.logWarning(
          `SseClient: the last event id ${JSON.stringify(lastEventId)} cannot be sent as a Last-Event-ID header; ` +
            `requesting ${url} without it`
        )
      }
      const attempt = header === undefined ? request : HttpClientRequest.setHeader(request, "last-event-id", header)
      const response = yield* send(client, attempt, url, maxRedirects)
      if (response.status === 204) {
        outcome = { _tag: "NoContent" }
        return Stream.empty
      }
      if (response.status !== 200) {
        return yield* new SseClientError({ reason: "Status", url, status: response.status })
      }
      const contentType = response.headers["content-type"]
      if (!isEventStream(contentType)) {
        return yield* new SseClientError({ reason: "ContentType", url, status: response.status, contentType })
      }
      if (driver !== undefined) yield* driver.reset
      return response.stream.pipe(
        Stream.mapError((cause) => new SseClientError({ reason: "Transport", url, cause })),
        Stream.pipeThroughChannelOrFail(
          parser.channel(state, (p, chunk: Uint8Array, out) => p.feedInto(chunk, out))
        ),
        Stream.mapError((error) =>
          error._tag === "SseParserError" ? new SseClientError({ reason: "Parse", url, cause: error }) : error
        ),
        Stream.mapChunks(readRetries)
      )
    })

    // A network error ends the connection like a clean close does: both lead to a reconnection.
    const connection = Stream.unwrapScoped(open()).pipe(
      Stream.catchAll((error) =>
        error.reason === "Transport"
          ? Stream.execute(Effect.sync(() => {
            outcome = { _tag: "Error", error }
          }))
          : Stream.fail(error)
      )
    )

    const next: Effect.Effect<typeof connection, Option.Option<SseClientError>, R> = Effect.suspend(() => {
      const last = outcome
      switch (last._tag) {
        case "NotStarted":
          return Effect.succeed(connection)
        case "NoContent":
          return Effect.fail(Option.none())
        case "End":
        case "Error": {
          const error = last._tag === "Error" ? last.error : undefined
          const giveUp = Effect.fail(Option.fromNullable(error))
          if (!reconnect) return giveUp
          const announce = error === undefined
            ? Effect.logDebug(
              `SseClient: ${url} ended the stream; reconnecting in ${Duration.format(reconnectionTime)}`
            )
            : Effect.logWarning(
              `SseClient: the connection to ${url} failed; reconnecting in ${Duration.format(reconnectionTime)}`,
              error
            )
          return announce.pipe(
            Effect.zipRight(Effect.sleep(reconnectionTime)),
            Effect.zipRight(driver === undefined ? Effect.void : Effect.orElse(driver.next(error), () => giveUp)),
            Effect.as(connection)
          )
        }
      }
    })

    return Stream.repeatEffectOption(next).pipe(Stream.flatten())
  }))

/** @internal */
export const eventsSchema = <A, I, RS>(schema: Schema.Schema<A, I, RS>) => {
  const decode = Schema.decodeUnknown(Schema.parseJson(schema))
  return <R = never>(
    input: string | URL | HttpClientRequest.HttpClientRequest,
    options?: SseClient.Options<R>
  ): Stream.Stream<SseParser.Event<A>, SseClientError, HttpClient.HttpClient | R | RS> => {
    const url = typeof input === "string" || input instanceof URL ? input.toString() : urlOf(input)
    return Stream.mapEffect(events(input, options), (event) =>
      decode(event.data).pipe(
        Effect.map((data): SseParser.Event<A> => ({ ...event, data })),
        Effect.mapError((cause) =>
          new SseClientError({ reason: "Decode", url, lastEventId: event.lastEventId, eventType: event.type, cause })
        )
      ))
  }
}
