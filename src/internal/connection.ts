import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import { dual } from "effect/Function"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as SseConnection from "../SseConnection.js"
import type * as SseEvent from "../SseEvent.js"
import * as event from "./event.js"
import * as server from "./server.js"

/** @internal */
export class ConnectionClosed extends Data.TaggedError("ConnectionClosed")<{
  readonly reason: "Closed" | "WriteTimeout"
}> {
  override get message(): string {
    return this.reason === "Closed"
      ? "The SSE connection is closed"
      : "The SSE client did not take the data in time; the connection was closed"
  }
}

const closedError = new ConnectionClosed({ reason: "Closed" })
const timeoutError = new ConnectionClosed({ reason: "WriteTimeout" })

/** @internal */
export const defaultBufferSize = 64

/** @internal */
export const defaultWriteTimeout = Duration.seconds(10)

/** @internal */
export const upgrade = <E, R>(
  handler: (connection: SseConnection.SseConnection) => Effect.Effect<void, E, R>,
  options?: SseConnection.UpgradeOptions
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, Exclude<R, Scope.Scope>> =>
  Effect.gen(function*() {
    const request = yield* server.currentRequest
    const writeTimeout = Duration.decode(options?.writeTimeout ?? defaultWriteTimeout)
    const mailbox = yield* Mailbox.make<Uint8Array>({ capacity: options?.bufferSize ?? defaultBufferSize })
    const scope = yield* Scope.make()
    // The handler gets a child scope, closed after its fiber is interrupted, so its own finalizers run last.
    const handlerScope = yield* Scope.fork(scope, ExecutionStrategy.sequential)
    const ended = yield* Deferred.make<void>()
    const forceEnd = yield* Deferred.make<void>()
    yield* Scope.addFinalizer(scope, Deferred.succeed(ended, undefined))

    // If the response is never served (the request fails before streaming), the request scope still ends it.
    const requestScope = yield* Effect.serviceOption(Scope.Scope)
    if (Option.isSome(requestScope)) {
      yield* Scope.addFinalizer(requestScope.value, Scope.close(scope, Exit.void))
    }

    // Pending data still goes out after a close, unless the client cannot take it within the write timeout.
    const close = Effect.flatMap(mailbox.end, (first) =>
      first
        ? Effect.asVoid(Effect.forkIn(Effect.delay(Deferred.succeed(forceEnd, undefined), writeTimeout), scope))
        : Effect.void)

    const write = (bytes: Uint8Array): Effect.Effect<void, ConnectionClosed> =>
      Effect.suspend(() => {
        if (mailbox.unsafeOffer(bytes)) return Effect.void
        if (Option.isNone(mailbox.unsafeSize())) return Effect.fail(closedError)
        return mailbox.offer(bytes).pipe(
          Effect.timeoutFail({ duration: writeTimeout, onTimeout: () => timeoutError }),
          Effect.tapError((error) =>
            error === timeoutError
              ? Effect.zipRight(mailbox.shutdown, Deferred.succeed(forceEnd, undefined))
              : Effect.void
          ),
          Effect.flatMap((accepted) => accepted ? Effect.void : Effect.fail(closedError))
        )
      })

    const send = (self: SseEvent.SseEvent): Effect.Effect<void, ConnectionClosed | event.SseEventError> =>
      Effect.flatMap(event.encode(self), write)

    const connection: SseConnection.SseConnection = {
      lastEventId: Option.flatMap(request, server.lastEventIdFrom),
      send,
      sendData: (data) => write(Option.getOrThrow(Option.getRight(event.encode(event.make(data))))),
      sendJSON: (value) => Effect.flatMap(event.json(value), send),
      done: Deferred.await(ended),
      close,
      isOpen: Effect.sync(() => Option.isSome(mailbox.unsafeSize()))
    }

    yield* handler(connection).pipe(
      Effect.provideService(Scope.Scope, handlerScope),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.void
          : Effect.logError("effect-sse: the SSE connection handler failed", cause)
      ),
      Effect.ensuring(close),
      Effect.forkIn(scope)
    )

    const body = Mailbox.toStream(mailbox).pipe(
      Stream.mapChunks((chunk) => Chunk.of(server.concatBytes(chunk))),
      Stream.interruptWhen(Deferred.await(forceEnd))
    )
    return server.respond(request, body, options, Scope.close(scope, Exit.void))
  })

/** @internal */
export const send = dual<
  (
    event: SseEvent.SseEvent
  ) => (self: SseConnection.SseConnection) => Effect.Effect<void, ConnectionClosed | event.SseEventError>,
  (
    self: SseConnection.SseConnection,
    event: SseEvent.SseEvent
  ) => Effect.Effect<void, ConnectionClosed | event.SseEventError>
>(2, (self, event) => self.send(event))
