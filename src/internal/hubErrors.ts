import * as HttpServerRespondable from "@effect/platform/HttpServerRespondable"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as SseHub from "../SseHub.js"

/** @internal */
export const ErrorTypeId: SseHub.ErrorTypeId = Symbol.for("effect-sse/SseHub/Error") as SseHub.ErrorTypeId

const describe = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

/** @internal */
export class HubClosed extends Data.TaggedError("HubClosed")<{ readonly hub: string }> {
  readonly [ErrorTypeId]: SseHub.ErrorTypeId = ErrorTypeId
  readonly reason = "Shutdown" as const
  override get message(): string {
    return `The SSE hub "${this.hub}" is shut down`
  }
  /** A route that lets it through answers 503 with the message: the client (a browser) tries again later. */
  [HttpServerRespondable.symbol]() {
    return Effect.succeed(HttpServerResponse.text(this.message, { status: 503, headers: { "retry-after": "5" } }))
  }
}

/** @internal */
export class HubUnavailable extends Data.TaggedError("HubUnavailable")<{
  readonly hub: string
  readonly reason: SseHub.HubUnavailable["reason"]
  readonly cause: unknown
}> {
  readonly [ErrorTypeId]: SseHub.ErrorTypeId = ErrorTypeId
  override get message(): string {
    switch (this.reason) {
      case "NotPublished":
        return `The SSE hub "${this.hub}" cannot reach its backend; the message was not published: ${
          describe(this.cause)
        }`
      case "OutcomeUnknown":
        return `The SSE hub "${this.hub}" got no answer from its backend in time; the message may or may not have been published (publish it again with the same idempotency key): ${
          describe(this.cause)
        }`
      case "ReadFailed":
        return `The SSE hub "${this.hub}" cannot read its backend's history: ${describe(this.cause)}`
    }
  }
}

/** @internal */
export class SubscriberDropped extends Data.TaggedError("SubscriberDropped")<{
  readonly hub: string
  readonly bufferSize: number
}> {
  readonly [ErrorTypeId]: SseHub.ErrorTypeId = ErrorTypeId
  readonly reason = "SlowClient" as const
  override get message(): string {
    return `The subscriber fell more than ${this.bufferSize} events behind the SSE hub "${this.hub}" and was dropped`
  }
}

/** @internal */
export class PublishRejected extends Data.TaggedError("PublishRejected")<{
  readonly hub: string
  readonly reason: SseHub.PublishRejected["reason"]
  readonly id?: string | undefined
  readonly cause?: unknown
}> {
  readonly [ErrorTypeId]: SseHub.ErrorTypeId = ErrorTypeId
  override get message(): string {
    if (this.reason === "InvalidTarget") {
      return `The SSE hub "${this.hub}" refused the publish: its target does not encode with the hub's target schema: ${
        describe(this.cause)
      }`
    }
    return `The SSE hub "${this.hub}" refused the event id ${
      JSON.stringify(this.id)
    }: it is already in the history (a repeated id would make resumption from it ambiguous)`
  }
}
