import * as Headers from "@effect/platform/Headers"
import * as HttpBody from "@effect/platform/HttpBody"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as ClientMessages from "../core/clientMessages.js"
import type * as SseClient from "../SseClient.js"

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
    return ClientMessages.errorMessage(this)
  }
}

/** @internal */
export const defaultRetry: Duration.Duration = Duration.seconds(3)

/** @internal */
export const defaultMaxRedirects = 20

const redirectStatuses: ReadonlySet<number> = new Set([301, 302, 303, 307, 308])

/** @internal */
export const urlOf = (request: HttpClientRequest.HttpClientRequest): string => {
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

/** @internal */
export const removeHeader = (request: HttpClientRequest.HttpClientRequest, name: string) =>
  name in request.headers ? replaceHeaders(request, Headers.remove(request.headers, name)) : request

/** @internal */
export const isEventStream = (contentType: string | undefined): boolean =>
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
/** @internal */
export const send = (
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
