import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Sse from "effect/encoding/Sse"
import * as HttpApiEndpoint from "effect/http-api/HttpApiEndpoint"
import type * as HttpApiSchema from "effect/http-api/HttpApiSchema"
import * as HttpEffect from "effect/http/HttpEffect"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import type * as Option from "effect/Option"
import { hasProperty } from "effect/Predicate"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SseEvent from "../SseEvent.js"
import type * as SseHttpApi from "../SseHttpApi.js"
import type * as SseHub from "../SseHub.js"
import * as SseResponse from "../SseResponse.js"

type AnyDeclaration = HttpApiSchema.StreamSse<Sse.EventCodec, Schema.Top, unknown>

/** @internal */
export const failureEventType = "effect/http-api/stream/failure"

const isStreamSse = (u: unknown): u is AnyDeclaration =>
  Schema.isSchema(u) && hasProperty(u, "_tag") && u._tag === "StreamSse" && hasProperty(u, "events")

/** @internal */
export const declaration = (source: unknown): AnyDeclaration | undefined => {
  if (isStreamSse(source)) return source
  if (!HttpApiEndpoint.isHttpApiEndpoint(source)) return undefined
  for (const schema of source.success) {
    if (isStreamSse(schema)) return schema
  }
  return undefined
}

// The types admit only sources with a `StreamSse` success, so a missing one is a broken invariant.
const declared = (source: unknown): AnyDeclaration => {
  const found = declaration(source)
  if (found === undefined) throw new Error("effect-sse: SseHttpApi needs an endpoint whose success is a StreamSse")
  return found
}

interface Codec {
  readonly toEvent: (value: unknown) => Effect.Effect<SseEvent.SseEvent, SseEvent.SseEventError, unknown>
  readonly failureEvent: (cause: Cause.Cause<unknown>) => Effect.Effect<SseEvent.SseEvent | undefined, never, unknown>
}

interface Parsers {
  readonly encodeEvent: (input: unknown) => Effect.Effect<unknown, Schema.SchemaError, unknown>
  readonly encodeCause: (cause: Cause.Cause<unknown>) => Effect.Effect<string, Schema.SchemaError, unknown>
}

// The schema parsers of a declaration, built once for all its responses and publishes.
const parsersCache = new WeakMap<AnyDeclaration, Parsers>()
const parsersOf = (schema: AnyDeclaration): Parsers => {
  let parsers = parsersCache.get(schema)
  if (parsers === undefined) {
    parsers = {
      encodeEvent: Schema.encodeUnknownEffect(schema.events),
      encodeCause: Schema.encodeUnknownEffect(
        Schema.fromJsonString(Schema.toCodecJson(Schema.Cause(schema.error, Schema.Defect())))
      )
    }
    parsersCache.set(schema, parsers)
  }
  return parsers
}

const codecOf = (source: unknown, options: SseHttpApi.EncodeOptions<unknown> | undefined): Codec => {
  const schema = declared(source)
  const { encodeCause, encodeEvent } = parsersOf(schema)
  const dataMode = schema.sseMode === "data"
  const toEvent = (value: unknown) => {
    const input = dataMode ? { id: options?.id?.(value), event: options?.type ?? "message", data: value } : value
    return encodeEvent(input).pipe(
      Effect.mapError((cause) => new SseEvent.SseEventError({ reason: "InvalidData", value, cause })),
      Effect.flatMap((encoded) => {
        const fields = encoded as Sse.EventEncoded
        return Effect.fromResult(SseEvent.fromFields({
          data: fields.data,
          type: fields.event === undefined || fields.event === "message" ? undefined : fields.event,
          id: fields.id
        }))
      })
    )
  }
  const failureEvent = (cause: Cause.Cause<unknown>) =>
    encodeCause(cause).pipe(
      Effect.map((data) => Result.getOrUndefined(SseEvent.fromFields({ type: failureEventType, data }))),
      Effect.catchCause((encoding) =>
        Effect.as(
          Effect.logError(
            "effect-sse: the stream's failure does not encode with the endpoint's error schema",
            encoding
          ),
          undefined
        )
      )
    )
  return { toEvent, failureEvent }
}

/** @internal */
export const event = (
  source: unknown,
  value: unknown,
  options?: SseHttpApi.EncodeOptions<unknown>
): Effect.Effect<SseEvent.SseEvent, SseEvent.SseEventError, unknown> =>
  Effect.suspend(() => codecOf(source, options).toEvent(value))

/** @internal */
export const encode = (source: unknown, options?: SseHttpApi.EncodeOptions<unknown>) =>
<E, R>(
  self: Stream.Stream<unknown, E, R>
): Stream.Stream<SseEvent.SseEvent, E | SseEvent.SseEventError, unknown> =>
  Stream.suspend(() => Stream.mapEffect(self, codecOf(source, options).toEvent))

// A refusal is no failure the endpoint declares: the client is told of it as a defect, as effect's own encoder does.
const asDeclared = (cause: Cause.Cause<unknown>): Cause.Cause<unknown> =>
  Cause.fromReasons(
    cause.reasons.map((reason) =>
      Cause.isFailReason(reason) && reason.error instanceof SseEvent.SseEventError
        ? Cause.makeDieReason(reason.error)
        : reason
    )
  )

/** @internal */
export const stream = (
  source: unknown,
  events: Stream.Stream<unknown, unknown, unknown>,
  options?: SseHttpApi.StreamOptions<unknown>
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, unknown> =>
  Effect.suspend(() => {
    const codec = codecOf(source, options)
    const served = Stream.mapEffect(events, codec.toEvent).pipe(
      Stream.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause) ? Stream.empty : Stream.unwrap(
          Effect.gen(function*() {
            yield* Effect.logError("effect-sse: the event stream failed after the response started; ending it", cause)
            const failure = yield* codec.failureEvent(asDeclared(cause))
            return failure === undefined ? Stream.empty : Stream.succeed(failure)
          })
        )
      )
    )
    return SseResponse.stream(served, options)
  })

/** @internal */
export const resumable = (
  source: unknown,
  make: (lastEventId: Option.Option<string>) => Stream.Stream<unknown, unknown, unknown>,
  options?: SseHttpApi.StreamOptions<unknown>
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, unknown> =>
  Effect.flatMap(SseResponse.lastEventId, (id) => stream(source, make(id), options))

/** @internal */
export const hub = (
  self: SseHub.SseHub["Service"],
  options?: SseHttpApi.HubOptions
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(SseResponse.lastEventId, (id) => {
    const subscription = { lastEventId: id._tag === "Some" ? id.value : undefined, topics: options?.topics }
    // Subscribed in the request's scope before the response (and its `: connected`) is written, the scope handed
    // to the body: a client that publishes as soon as it is connected gets its own event. Without a request scope
    // (the handler run by hand), the stream subscribes when it starts.
    return Effect.flatMap(Effect.serviceOption(Scope.Scope), (scope) =>
      scope._tag === "None"
        ? SseResponse.stream(self.subscribe(subscription), options)
        : self.subscribeScoped(subscription).pipe(
          Scope.provide(scope.value),
          Effect.catch((error) => Effect.succeed(Stream.fail(error))),
          Effect.flatMap((events) => SseResponse.stream(events, options)),
          Effect.map(HttpEffect.scopeTransferToStream)
        ))
  })

/** @internal */
export const publish = (
  self: SseHub.SseHub["Service"],
  source: unknown,
  value: unknown,
  options?: SseHttpApi.PublishOptions<unknown>
): Effect.Effect<string, SseEvent.SseEventError | SseHub.PublishError, unknown> =>
  Effect.flatMap(event(source, value, options), (encoded) => self.publish(encoded, { topics: options?.topics }))
