import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServerRespondable from "@effect/platform/HttpServerRespondable"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as SseClient from "../SseClient.js"
import type * as SseEvent from "../SseEvent.js"
import type * as SseHttpApi from "../SseHttpApi.js"
import type * as SseHub from "../SseHub.js"
import type * as SseResponse from "../SseResponse.js"
import { makeToEvent } from "./hubMessages.js"
import * as response from "./response.js"

/** @internal */
export const TypeId: SseHttpApi.TypeId = Symbol.for("effect-sse/SseHttpApi") as SseHttpApi.TypeId

/** Where an SSE endpoint's success schema keeps its declaration. */
const DeclarationId = Symbol.for("effect-sse/SseHttpApi/Declaration")

const contentType = "text/event-stream"

// -----------------------------------------------------------------------------
// declaring
// -----------------------------------------------------------------------------

const forbidden = (value: unknown, _: unknown, ast: Schema.Schema.AnyNoContext["ast"]) =>
  ParseResult.fail(
    new ParseResult.Forbidden(ast, value, "an event stream is served by SseHttpApi and read by SseHttpApi.client")
  )

const isEvents = (u: unknown): u is SseHttpApi.Events<unknown> => HttpServerResponse.isServerResponse(u)

/**
 * The success schema: its type is the response, its encoded side the event object that the OpenAPI document
 * shows (JSON Schema describes the encoded side), with the content type `text/event-stream`.
 */
/** @internal */
export const events = <A, I>(options: SseHttpApi.EventsOptions<A, I>): Schema.Schema<SseHttpApi.Events<A>, unknown> => {
  const item = Schema.Struct({
    data: options.data,
    event: Schema.optional(options.type === undefined ? Schema.String : Schema.Literal(options.type)),
    id: Schema.optional(Schema.String),
    retry: Schema.optional(Schema.Number.pipe(Schema.int(), Schema.nonNegative()))
  })
  const declaration: SseHttpApi.Declaration<A, I> = options
  return Schema.transformOrFail(
    item,
    Schema.declare(isEvents as (u: unknown) => u is SseHttpApi.Events<A>),
    { strict: false, decode: forbidden, encode: forbidden }
  ).annotations({
    description: options.description ?? "An event stream",
    [HttpApiSchema.AnnotationEncoding]: { kind: "Text", contentType } satisfies HttpApiSchema.Encoding,
    [DeclarationId]: declaration
  }) as unknown as Schema.Schema<SseHttpApi.Events<A>, unknown>
}

/**
 * The operation's `text/event-stream` contents, rewritten for OpenAPI: each event an object whose `data` is a
 * string of JSON (`contentMediaType` and `contentSchema`, JSON Schema 2020-12, what OpenAPI 3.1 tools read), given
 * both as `schema` and as OpenAPI 3.2's `itemSchema` (the schema of each item of a sequential media type).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- OpenApi.Transform's own type
const describeStream = (operation: Record<string, any>): Record<string, any> => {
  for (const status of Object.keys(operation.responses ?? {})) {
    const media = operation.responses[status]?.content?.[contentType]
    if (media === undefined || typeof media.schema !== "object" || media.schema === null) continue
    const schema = media.schema
    const data = schema.properties?.data
    const item = data === undefined ? schema : {
      ...schema,
      properties: {
        ...schema.properties,
        data: { type: "string", contentMediaType: "application/json", contentSchema: data }
      }
    }
    operation.responses[status].content[contentType] = { schema: item, itemSchema: item }
  }
  return operation
}

/** @internal */
export const make =
  <Method extends HttpApiEndpoint.HttpApiEndpoint.AnyWithProps["method"]>(method: Method) =>
  <const Name extends string, A, I>(
    name: Name,
    path: HttpApiEndpoint.PathSegment,
    options: SseHttpApi.EventsOptions<A, I>
  ): HttpApiEndpoint.HttpApiEndpoint<Name, Method, never, never, never, never, SseHttpApi.Events<A>> =>
    HttpApiEndpoint.make(method)(name, path).addSuccess(events(options)).annotate(OpenApi.Transform, describeStream)

/** @internal */
export const declaration = (endpoint: HttpApiEndpoint.HttpApiEndpoint.Any): SseHttpApi.Declaration | undefined => {
  const ast = (endpoint as HttpApiEndpoint.HttpApiEndpoint.AnyWithProps).successSchema.ast
  return ast.annotations[DeclarationId] as SseHttpApi.Declaration | undefined
}

/** The encoding of an endpoint's data into events; a defect for an endpoint not made here (the types allow none). */
const encoder = <A>(
  endpoint: SseHttpApi.EventsEndpoint<A>
): Effect.Effect<(data: A) => Effect.Effect<SseEvent.SseEvent, SseEvent.SseEventError>> => {
  const declared = declaration(endpoint) as SseHttpApi.Declaration<A> | undefined
  if (declared === undefined) {
    return Effect.dieMessage(`The endpoint "${endpoint.name}" is not an SSE endpoint of SseHttpApi`)
  }
  // An `Either` is an effect: the common case, data that encodes without an effect, takes no detour.
  return Effect.succeed(makeToEvent<A, never, unknown, never>({
    schema: declared.data,
    eventType: declared.type,
    id: declared.id
  }))
}

/** @internal */
export const stream = <A, E, R>(
  endpoint: SseHttpApi.EventsEndpoint<A>,
  events: Stream.Stream<A, E, R>,
  options?: SseResponse.ResponseOptions
): Effect.Effect<SseHttpApi.Events<A>, never, R> =>
  Effect.flatMap(
    encoder(endpoint),
    (encode) =>
      response.serveStream(Stream.mapEffect(events, encode), options) as Effect.Effect<SseHttpApi.Events<A>, never, R>
  )

/** @internal */
export const resumable = <A, E, R>(
  endpoint: SseHttpApi.EventsEndpoint<A>,
  make: (lastEventId: Option.Option<string>) => Stream.Stream<A, E, R>,
  options?: SseResponse.ResponseOptions
) => Effect.flatMap(response.lastEventId, (id) => stream(endpoint, make(id), options))

/** @internal */
export const hub = <A, S, T>(
  self: SseHub.SseHub<A, S, T>,
  options?: SseHub.ServeOptions<S>
) =>
  self.serve(options).pipe(
    // Shut down: the hub's error answers (503, Retry-After), as a route that lets it through does.
    Effect.catchTag("HubClosed", (closed) => HttpServerRespondable.toResponse(closed)),
    Effect.map((served) => served as SseHttpApi.Events<A>)
  )

// -----------------------------------------------------------------------------
// the client
// -----------------------------------------------------------------------------

interface Request {
  readonly path?: unknown
  readonly urlParams?: unknown
  readonly payload?: unknown
  readonly headers?: unknown
  readonly options?: SseClient.Options | undefined
}

const encodeOptional = (schema: Option.Option<Schema.Schema.Any>, value: unknown) =>
  schema._tag === "None" || value === undefined
    ? Effect.succeed(undefined)
    : Schema.encodeUnknown(schema.value as Schema.Schema<unknown, unknown>)(value)

const toRecord = (encoded: unknown): Record<string, string> => {
  const out: Record<string, string> = {}
  if (typeof encoded !== "object" || encoded === null) return out
  for (const [key, value] of Object.entries(encoded)) {
    if (value !== undefined) out[key] = String(value)
  }
  return out
}

const requestFor = (
  endpoint: HttpApiEndpoint.HttpApiEndpoint.AnyWithProps,
  baseUrl: URL,
  request: Request
): Effect.Effect<HttpClientRequest.HttpClientRequest, ParseResult.ParseError> =>
  Effect.gen(function*() {
    const path = toRecord(yield* encodeOptional(endpoint.pathSchema, request.path))
    const urlParams = toRecord(yield* encodeOptional(endpoint.urlParamsSchema, request.urlParams))
    const headers = toRecord(yield* encodeOptional(endpoint.headersSchema, request.headers))
    const payload = yield* encodeOptional(endpoint.payloadSchema, request.payload)
    const resolved = endpoint.path.replace(/:(\w+)\??/g, (_, name: string) => encodeURIComponent(path[name] ?? ""))
    const url = new URL(resolved.replace(/^\//, ""), baseUrl.href.endsWith("/") ? baseUrl : `${baseUrl.href}/`)
    let out = HttpClientRequest.make(endpoint.method)(url).pipe(
      HttpClientRequest.setUrlParams(urlParams),
      HttpClientRequest.setHeaders(headers)
    )
    if (payload !== undefined) {
      out = endpoint.method === "GET" || endpoint.method === "HEAD" || endpoint.method === "OPTIONS"
        ? HttpClientRequest.appendUrlParams(out, toRecord(payload))
        : HttpClientRequest.bodyUnsafeJson(out, payload)
    }
    return out
  })

/** @internal */
export const client = (
  api: HttpApi.HttpApi.Any,
  options: { readonly baseUrl: string | URL; readonly options?: SseClient.Options | undefined }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- typed by the public signature (`Client<Groups>`)
): Effect.Effect<any, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (httpClient) => {
    const baseUrl = new URL(options.baseUrl)
    const out: Record<string, Record<string, (request: Request) => Stream.Stream<unknown, unknown>>> = {}
    for (const group of Object.values((api as HttpApi.HttpApi.AnyWithProps).groups)) {
      const methods: Record<string, (request: Request) => Stream.Stream<unknown, unknown>> = {}
      for (const endpoint of Object.values(group.endpoints) as Array<HttpApiEndpoint.HttpApiEndpoint.AnyWithProps>) {
        const declared = declaration(endpoint)
        if (declared === undefined) continue
        const read = SseClient.eventsSchema(declared.data)
        methods[endpoint.name] = (request) =>
          Stream.unwrap(Effect.map(
            requestFor(endpoint, baseUrl, request ?? {}),
            (built) => read(built, { ...options.options, ...request?.options })
          )).pipe(Stream.provideService(HttpClient.HttpClient, httpClient))
      }
      out[group.identifier] = methods
    }
    return out
  })
