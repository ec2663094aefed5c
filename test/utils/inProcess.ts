/**
 * Running an SSE response in-process, without a server: the response body (`HttpServerResponse` body
 * `_tag === "Stream"`) is drained by a fiber of the test, so the TestClock drives everything.
 */
import type { HttpServerResponse } from "@effect/platform"
import type { Fiber } from "effect"
import { Cause, Duration, Effect, type Layer, Logger, Ref, Stream, TestServices } from "effect"
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
