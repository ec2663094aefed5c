/**
 * Running an SSE response in-process, without a server: the response body (`HttpServerResponse` body
 * `_tag === "Stream"`) is drained by a fiber of the test, so the TestClock drives everything.
 */
import type { HttpServerResponse } from "@effect/platform"
import type { Fiber } from "effect"
import {
  Cause,
  Chunk,
  Duration,
  Effect,
  Exit,
  type Layer,
  Logger,
  Option,
  Ref,
  Scope,
  Stream,
  TestServices
} from "effect"
import { concat, parse, utf8 } from "./parse.js"

export const bodyStream = (response: HttpServerResponse.HttpServerResponse): Stream.Stream<Uint8Array, unknown> =>
  response.body._tag === "Stream" ? response.body.stream : Stream.dieMessage(`not a stream body: ${response.body._tag}`)

export interface RunningBody {
  /** Every chunk the body has emitted so far, in order. */
  readonly chunks: Effect.Effect<ReadonlyArray<Uint8Array>>
  /** The body so far, as text. */
  readonly text: Effect.Effect<string>
  /** The events a client would have parsed so far. */
  readonly parsed: Effect.Effect<ReturnType<typeof parse>>
  /** Ends when the body ends (successfully: a failed body would fail this). */
  readonly fiber: Fiber.RuntimeFiber<void, unknown>
}

/** Drains the response body in a background fiber, as a client that reads. */
export const runBody = (response: HttpServerResponse.HttpServerResponse): Effect.Effect<RunningBody> =>
  Effect.gen(function*() {
    const chunks = yield* Ref.make<ReadonlyArray<Uint8Array>>([])
    // A daemon: if a broken response cannot be interrupted, the test fails on its own bound instead of hanging
    // in its teardown, which would wait for a child fiber.
    const fiber = yield* bodyStream(response).pipe(
      Stream.runForEach((chunk) => Ref.update(chunks, (all) => [...all, chunk])),
      Effect.forkDaemon
    )
    return {
      chunks: Ref.get(chunks),
      text: Effect.map(Ref.get(chunks), (all) => utf8(concat(all))),
      parsed: Effect.map(Ref.get(chunks), (all) => parse(all)),
      fiber
    }
  })

export interface BodyReader {
  /** Every chunk read so far, in order. */
  readonly chunks: Effect.Effect<ReadonlyArray<Uint8Array>>
  /** The body read so far, as text (`: connected` included). */
  readonly text: Effect.Effect<string>
  /** The events a client would have parsed from what was read so far. */
  readonly parsed: Effect.Effect<ReturnType<typeof parse>>
  /** Reads the next piece the body hands over, waiting for it; `false` once the body has ended. */
  readonly read: Effect.Effect<boolean, unknown>
  /**
   * Reads everything until the body ends and returns the whole body as text. The body must end without the clock
   * moving; the wait is bounded, as `collectBody`'s.
   */
  readonly readToEnd: Effect.Effect<string, unknown>
  /** Whether the body has ended (a `read` saw its end). */
  readonly ended: Effect.Effect<boolean>
  /** The client leaves: the body is cancelled. Idempotent; also done when the scope closes. */
  readonly leave: Effect.Effect<void>
}

/**
 * Serves the response to a client that reads only when told: the body is pulled once, as a server does when it
 * serves the response (the stream or handler starts then, and `: connected` is read), and then only by `read` /
 * `readToEnd`. A client that stopped reading after `: connected` is one that never calls `read` again.
 */
export const serveBody = (
  response: HttpServerResponse.HttpServerResponse
): Effect.Effect<BodyReader, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.acquireRelease(Scope.make(), (scope) => Scope.close(scope, Exit.void))
    const pull = yield* Scope.extend(Stream.toPull(bodyStream(response)), scope)
    const chunks: Array<Uint8Array> = []
    let ended = false
    const read: Effect.Effect<boolean, unknown> = Effect.suspend(() =>
      ended ? Effect.succeed(false) : Effect.matchEffect(pull, {
        onFailure: Option.match({
          onNone: () =>
            Effect.sync(() => {
              ended = true
              return false
            }),
          onSome: Effect.fail
        }),
        onSuccess: (chunk) =>
          Effect.sync(() => {
            chunks.push(...Chunk.toReadonlyArray(chunk))
            return true
          })
      })
    )
    const text = Effect.sync(() => utf8(concat(chunks)))
    yield* within(read, "the response to be served (its first piece, ': connected')")
    return {
      chunks: Effect.sync(() => [...chunks]),
      text,
      parsed: Effect.sync(() => parse(chunks)),
      read,
      readToEnd: within(
        Effect.zipRight(Effect.repeat(read, { while: (more) => more }), text),
        "the response body to end"
      ),
      ended: Effect.sync(() => ended),
      leave: Scope.close(scope, Exit.void)
    }
  })

/**
 * Drains the whole body and returns it as text. The body must end without the clock moving; the wait is
 * bounded, so a body that does not end fails the test quickly instead of hanging it.
 */
export const collectBody = (response: HttpServerResponse.HttpServerResponse): Effect.Effect<string, unknown> =>
  within(
    Effect.map(Stream.runCollect(bodyStream(response)), (chunks) => utf8(concat(Array.from(chunks)))),
    "the response body to end"
  )

/**
 * Bounds the wait for something that must happen without the clock moving (or has already happened): races
 * it with `timeout` of real time and fails with `label` instead of hanging the test. The effect itself keeps
 * running under the test's services (TestClock).
 */
export const within = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  label: string,
  timeout: Duration.DurationInput = "2 seconds"
): Effect.Effect<A, E | Error, R> =>
  Effect.raceFirst(
    // Disconnected, so that a stuck effect (say, an uninterruptible finalizer) cannot hold up the failure.
    Effect.disconnect(effect),
    TestServices.provideLive(Effect.sleep(timeout)).pipe(
      Effect.zipRight(Effect.fail(new Error(`not within ${Duration.format(timeout)}: ${label}`)))
    )
  )

export interface LogCapture {
  readonly lines: Array<string>
  readonly logger: Logger.Logger<unknown, void>
  /** Replaces the default logger with this one, so that expected failures do not clutter the output. */
  readonly layer: Layer.Layer<never>
}

/** A logger that keeps every log line (message and cause) for assertions. */
export const makeLogCapture = (): LogCapture => {
  const lines: Array<string> = []
  const logger = Logger.make<unknown, void>(({ cause, logLevel, message }) => {
    const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
    lines.push(`${logLevel.label} ${text}${Cause.isEmpty(cause) ? "" : `\n${Cause.pretty(cause)}`}`)
  })
  return { lines, logger, layer: Logger.replace(Logger.defaultLogger, logger) }
}
