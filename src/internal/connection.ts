import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Conn from "../core/connection.js"
import type * as Writers from "../core/writer.js"
import type * as SseConnection from "../SseConnection.js"
import type * as SseEvent from "../SseEvent.js"
import * as event from "./event.js"
import * as response from "./response.js"
import * as server from "./sseServer.js"

/** @internal */
export const ErrorTypeId: SseConnection.ErrorTypeId = Symbol.for(
  "effect-sse/SseConnection/ConnectionClosed"
) as SseConnection.ErrorTypeId

/** @internal */
export class ConnectionClosed extends Data.TaggedError("ConnectionClosed")<{
  readonly reason: "Closed" | "WriteTimeout"
}> {
  readonly [ErrorTypeId]: SseConnection.ErrorTypeId = ErrorTypeId
  override get message(): string {
    return this.reason === "Closed"
      ? "The SSE connection is closed"
      : "The SSE client did not take the data in time; the connection was closed"
  }
}

const closedError = new ConnectionClosed({ reason: "Closed" })
const timeoutError = new ConnectionClosed({ reason: "WriteTimeout" })

/** A connection's handle, one object with its methods on the prototype. */
class Handle implements SseConnection.SseConnection {
  constructor(
    readonly lastEventId: Option.Option<string>,
    private readonly writer: Writers.Writer,
    private readonly connection: Conn.Connection
  ) {}

  private closedError(): ConnectionClosed {
    return this.connection.stalled ? timeoutError : closedError
  }

  private write(bytes: Uint8Array): Effect.Effect<void, ConnectionClosed> {
    return response.write(this.writer, bytes, () => this.closedError())
  }

  // Functions, not prototype methods: the interface promises function-valued fields, which are passed around
  // detached from the connection (`Stream.runForEach(events, connection.send)`).
  readonly send = (self: SseEvent.SseEvent): Effect.Effect<void, ConnectionClosed> => this.write(event.encode(self))

  readonly sendData = (data: string): Effect.Effect<void, ConnectionClosed> =>
    this.write(event.encode(event.make(data)))

  readonly sendJSON = (value: unknown): Effect.Effect<void, ConnectionClosed | SseEvent.SseEventError> =>
    Effect.flatMap(event.json(value), this.send)

  get done(): Effect.Effect<void> {
    return Effect.async<void>((resume) => this.writer.onClose(() => resume(Effect.void)))
  }

  // What was sent is still delivered after a close; a client that does not take it within the write timeout is
  // dropped by the stall rule.
  get close(): Effect.Effect<void> {
    return Effect.sync(() => this.writer.end())
  }

  get isOpen(): Effect.Effect<boolean> {
    return Effect.sync(() => !this.writer.isClosed())
  }
}

/** @internal */
export const upgrade = <E, R>(
  handler: (connection: SseConnection.SseConnection) => Effect.Effect<void, E, R>,
  options?: SseConnection.UpgradeOptions
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, Exclude<R, Scope.Scope>> =>
  Effect.gen(function*() {
    const resolved = yield* response.resolve(options)
    const from = yield* response.origin
    const request = yield* response.currentRequest
    const lastEventId = Option.flatMap(request, response.lastEventIdOf)
    const group = yield* server.currentGroup
    return yield* response.toResponse({
      options: resolved,
      group,
      // The handler's scope is the connection's: closed when the handler ends, or when the stream is over.
      run: (writer, connection) =>
        response.forkWhileOpen(
          group,
          Effect.suspend(() => handler(new Handle(lastEventId, writer, connection))).pipe(
            Effect.scoped,
            Effect.catchAllCause(response.logFailure("the SSE connection handler failed")),
            Effect.ensuring(Effect.sync(() => writer.end()))
          ) as Effect.Effect<void>,
          writer,
          from
        )
    })
  })

/** @internal */
export const send = dual<
  (event: SseEvent.SseEvent) => (self: SseConnection.SseConnection) => Effect.Effect<void, ConnectionClosed>,
  (self: SseConnection.SseConnection, event: SseEvent.SseEvent) => Effect.Effect<void, ConnectionClosed>
>(2, (self, event) => self.send(event))

/** @internal */
export const close = (self: SseConnection.SseConnection): Effect.Effect<void> => self.close
