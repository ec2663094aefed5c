import * as HttpServerRespondable from "@effect/platform/HttpServerRespondable"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Messages from "../core/hubErrors.js"
import type * as SseHub from "../SseHub.js"

/** @internal */
export const ErrorTypeId: SseHub.ErrorTypeId = Symbol.for("effect-sse/SseHub/Error") as SseHub.ErrorTypeId

/** @internal */
export class HubClosed extends Data.TaggedError("HubClosed")<{ readonly hub: string }> {
  readonly [ErrorTypeId]: SseHub.ErrorTypeId = ErrorTypeId
  readonly reason = "Shutdown" as const
  override get message(): string {
    return Messages.closed(this.hub)
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
    return Messages.unavailable(this.hub, this.reason, this.cause)
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
    return Messages.dropped(this.hub, this.bufferSize)
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
    return Messages.rejected(this.hub, this.reason, this.id, this.cause)
  }
}
