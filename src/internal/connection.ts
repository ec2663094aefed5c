import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type * as SseConnection from "../SseConnection.js"
import type * as SseEvent from "../SseEvent.js"
import * as event from "./event.js"
import * as server from "./server.js"
import * as sink from "./sink.js"

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
export const defaultWriteTimeout = Duration.seconds(10)

/** @internal */
export const upgrade = <E, R>(
  handler: (connection: SseConnection.SseConnection) => Effect.Effect<void, E, R>,
  options?: SseConnection.UpgradeOptions
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, Exclude<R, Scope.Scope>> =>
  Effect.gen(function*() {
    const writeTimeout = Duration.decode(options?.writeTimeout ?? defaultWriteTimeout)
    const highWaterMark = options?.highWaterMark ?? sink.defaultHighWaterMark
    const outbox = yield* server.makeOutbox(options, highWaterMark)
    const { request, scope } = outbox
    const target = outbox.sink
    // The handler gets a child scope, closed after its fiber is interrupted, so its own finalizers run last.
    const handlerScope = yield* Scope.fork(scope, ExecutionStrategy.sequential)
    const ended = yield* Deferred.make<void>()
    let accepting = true
    yield* Scope.addFinalizer(
      scope,
      Effect.zipRight(
        Effect.sync(() => {
          // A send still waiting for room fails at once: the sink is disposed, which wakes it.
          accepting = false
        }),
        Deferred.succeed(ended, undefined)
      )
    )

    // A client that does not take data within the write timeout is dropped: ending its response would keep
    // the unsent bytes (and the socket) in memory, so the socket is destroyed.
    const drop = Effect.zipRight(
      Effect.sync(() => {
        accepting = false
        target.destroy()
      }),
      Scope.close(scope, Exit.void)
    )

    // What was sent is still delivered after a close, unless the client cannot take it in time.
    const close = Effect.suspend(() => {
      if (!accepting) return Effect.void
      accepting = false
      target.end()
      return Effect.asVoid(Effect.forkIn(Effect.interruptible(Effect.delay(drop, writeTimeout)), scope))
    })

    const write = (bytes: Uint8Array): Effect.Effect<void, ConnectionClosed> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        if (!accepting || target.isClosed()) return Effect.fail(closedError)
        if (target.buffered() < highWaterMark) {
          outbox.lastWrite = now
          target.write(bytes)
          return Effect.void
        }
        return server.write(outbox, bytes).pipe(
          Effect.timeoutFail({ duration: writeTimeout, onTimeout: () => timeoutError }),
          Effect.tapError((error) => error === timeoutError ? Effect.forkDaemon(drop) : Effect.void),
          Effect.flatMap((written) => written && accepting ? Effect.void : Effect.fail(closedError))
        )
      })

    const send = (self: SseEvent.SseEvent): Effect.Effect<void, ConnectionClosed | event.SseEventError> =>
      Effect.flatMap(event.encode(self), write)

    const connection: SseConnection.SseConnection = {
      lastEventId: Option.flatMap(request, server.lastEventIdFrom),
      send,
      sendData: (data) => write(event.unsafeEncode(event.make(data))),
      sendJSON: (value) => Effect.flatMap(event.json(value), send),
      done: Deferred.await(ended),
      close,
      isOpen: Effect.sync(() => accepting && !target.isClosed())
    }

    yield* handler(connection).pipe(
      Effect.provideService(Scope.Scope, handlerScope),
      Effect.catchAllCause(server.logFailure("the SSE connection handler failed")),
      Effect.ensuring(close),
      Effect.forkIn(scope)
    )
    yield* server.forkKeepAlive(outbox, server.keepAliveMillis(options))
    return server.toResponse(outbox, options)
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
