/**
 * The rules every hub backend must keep, as checks that run against any backend layer: a conformance suite for
 * `SseHubBackend.layerMemory`, `SseHubRedis.layer`, or a backend of your own (`SseHubBackend.make`).
 *
 * Each check opens its own log (a hub name of its own) on the provided `SseHubBackend`, in the provided scope,
 * and fails with {@link CheckFailed} when the backend breaks a rule:
 *
 * - publishes are fed once each, in one order, with the ids `publish` returned; a publisher's events keep its
 *   order and a batch stays together, whatever the other publishers do;
 * - resuming after any id of the history yields exactly the events after it (topics filter them); after the
 *   last one, none, even right after `publish` returned it;
 * - an id the log does not hold is `lost`, and resuming from it yields every retained event; the newest
 *   `historySize` events are always retained;
 * - an idempotency key stores and feeds a publish once within the window, returning the first ids; after the
 *   window it publishes again;
 * - a backend that keeps the ids events carry refuses one already in the log, or repeated in one publish,
 *   with `PublishRejected` (`DuplicateId`), storing nothing of that publish; one that replaces them gives every
 *   event an id of its own;
 * - `stop` feeds everything accepted before it, then feeds nothing more;
 * - a subscriber joining at `position` takes (`after`) exactly what comes after it, and `cursorOf` an id
 *   exactly what comes after that id.
 *
 * The checks are plain effects, for any test runner. They wait for the backend's feed (bounded by `timeout` on
 * the clock the checks run with), and let time pass beyond an idempotency window with `advance`: the live clock
 * by default (`Effect.sleep`), or `TestClock.adjust` for a backend that keeps time with Effect's clock.
 *
 * @since 0.2.0
 */
import type * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as internalChecks from "./internal/backendChecks.js"
import * as internal from "./internal/backendTest.js"
import type * as SseHubBackend from "./SseHubBackend.js"

/**
 * @since 0.2.0
 * @category type ids
 */
export const ErrorTypeId: unique symbol = internal.ErrorTypeId as never

/**
 * @since 0.2.0
 * @category type ids
 */
export type ErrorTypeId = typeof ErrorTypeId

/**
 * A backend broke a rule. `reason` says how: `Mismatch`, it answered something else than the rule requires
 * (`detail` says what was expected and what came); `BackendFailed`, an operation the rule needs failed (`cause`);
 * `Timeout`, the feed did not hand over what was accepted within the suite's `timeout`.
 *
 * @since 0.2.0
 * @category errors
 */
export interface CheckFailed extends Cause.YieldableError {
  readonly _tag: "CheckFailed"
  readonly [ErrorTypeId]: ErrorTypeId
  readonly reason: "Mismatch" | "BackendFailed" | "Timeout"
  /** The name of the check. */
  readonly check: string
  readonly detail: string
  readonly cause?: unknown
}

/**
 * @since 0.2.0
 * @category errors
 */
export const CheckFailed: new(args: {
  readonly reason: CheckFailed["reason"]
  readonly check: string
  readonly detail: string
  readonly cause?: unknown
}) => CheckFailed = internal.CheckFailed

/**
 * One rule, as an effect that succeeds when the provided backend keeps it.
 *
 * @since 0.2.0
 * @category models
 */
export interface Check {
  /** What the rule says, as a sentence: a test's name. */
  readonly name: string
  readonly run: Effect.Effect<void, CheckFailed, SseHubBackend.SseHubBackend | Scope.Scope>
}

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /**
   * Whether the backend keeps the id an event carries (and so must refuse a repeated one). The in-memory backend
   * does; the Redis backend gives every event its stream id instead. Default: `true`.
   */
  readonly keepsGivenIds?: boolean | undefined
  /** The idempotency window the checks open their logs with. Default: 1 second. */
  readonly idempotencyWindow?: Duration.DurationInput | undefined
  /**
   * How time passes beyond the idempotency window: `Effect.sleep` by default (a backend on the wall clock, as
   * Redis is), `TestClock.adjust` for a backend on Effect's clock under a `TestClock`.
   */
  readonly advance?: ((duration: Duration.Duration) => Effect.Effect<void>) | undefined
  /** How long a check waits for the feed to hand over what was accepted. Default: 10 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * The hub name of each check's log. Default: `effect-sse-check-<check>-<a random token>`, so that runs against a
   * shared store (a Redis) never meet.
   */
  readonly hubName?: ((check: string) => string) | undefined
}

/**
 * The checks, for the backend that will be provided to them.
 *
 * Run them with your test runner, against your backend's layer; with `@effect/vitest`:
 *
 * ```ts
 * // test/MyBackend.test.ts: every rule, against your backend's layer, with @effect/vitest
 * import { describe, it } from "@effect/vitest"
 * import { Effect, Layer } from "effect"
 * import * as SseHubBackend from "effect-sse/SseHubBackend"
 * import * as SseHubBackendTest from "effect-sse/SseHubBackendTest"
 *
 * declare const MyBackendLive: Layer.Layer<SseHubBackend.SseHubBackend>
 *
 * describe("MyBackend keeps the rules of a hub backend", () => {
 *   // the live clock: the backend keeps its idempotency window on the wall clock
 *   for (const check of SseHubBackendTest.checks({ keepsGivenIds: false })) {
 *     it.scopedLive(check.name, () => check.run.pipe(Effect.provide(MyBackendLive)))
 *   }
 * })
 * ```
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as SseHubBackend from "effect-sse/SseHubBackend"
 * import * as SseHubBackendTest from "effect-sse/SseHubBackendTest"
 *
 * // the in-memory backend keeps every rule
 * const all = Effect.forEach(SseHubBackendTest.checks(), (check) => Effect.scoped(check.run), { discard: true })
 * Effect.runPromise(Effect.provide(all, SseHubBackend.layerMemory)).then(() => console.log("all rules kept"))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const checks: (options?: Options) => ReadonlyArray<Check> = internalChecks.checks
