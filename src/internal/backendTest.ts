import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import type * as SseEvent from "../SseEvent.js"
import type * as SseHubBackend from "../SseHubBackend.js"
import type * as SseHubBackendTest from "../SseHubBackendTest.js"
import * as backend from "./backend.js"
import * as event from "./event.js"

/** @internal */
export const ErrorTypeId: SseHubBackendTest.ErrorTypeId = Symbol.for(
  "effect-sse/SseHubBackendTest/CheckFailed"
) as SseHubBackendTest.ErrorTypeId

/** @internal */
export class CheckFailed extends Data.TaggedError("CheckFailed")<{
  readonly reason: SseHubBackendTest.CheckFailed["reason"]
  readonly check: string
  readonly detail: string
  readonly cause?: unknown
}> {
  readonly [ErrorTypeId]: SseHubBackendTest.ErrorTypeId = ErrorTypeId
  override get message(): string {
    const cause = this.cause === undefined
      ? ""
      : `: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
    return `SseHubBackendTest, "${this.check}": ${this.detail}${cause}`
  }
}

// -----------------------------------------------------------------------------
// what a check needs
// -----------------------------------------------------------------------------

/** @internal */
export interface Settings {
  readonly keepsGivenIds: boolean
  readonly window: Duration.Duration
  readonly advance: (duration: Duration.Duration) => Effect.Effect<void>
  readonly timeout: Duration.Duration
  readonly hubName: (check: string) => Effect.Effect<string>
}

/** What a log fed: every event, in order, and a bounded wait for more. */
/** @internal */
export class Fed {
  readonly entries: Array<SseHubBackend.Published> = []
  stopped = false
  private readonly waiters = new Set<() => void>()
  readonly deliver = (batch: ReadonlyArray<SseHubBackend.Published>): boolean => {
    for (const entry of batch) this.entries.push(entry)
    for (const wake of Array.from(this.waiters)) wake()
    return false
  }
  get ids(): Array<string> {
    return this.entries.map((entry) => entry.id)
  }
  /** Waits until `n` events were fed. */
  atLeast(n: number): Effect.Effect<void> {
    return this.until(() => this.entries.length >= n)
  }
  /** Waits until every one of `ids` was fed. */
  includes(ids: ReadonlyArray<string>): Effect.Effect<void> {
    return this.until(() => {
      const fed = new Set(this.ids)
      return ids.every((id) => fed.has(id))
    })
  }
  private until(done: () => boolean): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const check = () => {
        if (done()) {
          this.waiters.delete(check)
          resume(Effect.void)
        }
      }
      this.waiters.add(check)
      check()
      return Effect.sync(() => this.waiters.delete(check))
    })
  }
}

/** One check at work: its log, what it fed, and the assertions, which fail with the check's name. */
/** @internal */
export class Run {
  constructor(
    readonly check: string,
    readonly log: SseHubBackend.Log,
    readonly fed: Fed,
    readonly settings: Settings
  ) {}

  fail(detail: string): Effect.Effect<never, CheckFailed> {
    return Effect.fail(new CheckFailed({ reason: "Mismatch", check: this.check, detail }))
  }

  /** Fails unless `actual` and `expected` have the same JSON form. */
  equal(label: string, actual: unknown, expected: unknown): Effect.Effect<void, CheckFailed> {
    const a = JSON.stringify(actual)
    const e = JSON.stringify(expected)
    return a === e ? Effect.void : this.fail(`${label}: expected ${e}, got ${a}`)
  }

  holds(label: string, condition: boolean): Effect.Effect<void, CheckFailed> {
    return condition ? Effect.void : this.fail(label)
  }

  publish(
    events: ReadonlyArray<SseEvent.SseEvent>,
    options?: Partial<SseHubBackend.PublishOptions>
  ): Effect.Effect<ReadonlyArray<string>, CheckFailed> {
    return this.log.publish(events, {
      topics: options?.topics,
      target: options?.target,
      idempotencyKey: options?.idempotencyKey
    }).pipe(
      Effect.map((accepted) => accepted.ids),
      Effect.mapError((cause) =>
        new CheckFailed({ reason: "BackendFailed", check: this.check, detail: "publish failed", cause })
      )
    )
  }

  resume(
    lastEventId: string,
    topics?: ReadonlyArray<string>
  ): Effect.Effect<{ readonly lost: boolean; readonly ids: Array<string> }, CheckFailed> {
    return this.log.resume(lastEventId, topics === undefined ? undefined : new Set(topics)).pipe(
      Effect.map((resumed) => ({ lost: resumed.lost, ids: resumed.entries.map((entry) => entry.id) })),
      Effect.mapError((cause) =>
        new CheckFailed({ reason: "BackendFailed", check: this.check, detail: "resume failed", cause })
      )
    )
  }

  /** Waits until `n` events were fed, within the suite's timeout. */
  fedAtLeast(n: number): Effect.Effect<void, CheckFailed> {
    return this.fed.atLeast(n).pipe(
      Effect.timeoutFail({
        duration: this.settings.timeout,
        onTimeout: () =>
          new CheckFailed({
            reason: "Timeout",
            check: this.check,
            detail: `the feed handed over ${this.fed.entries.length} events, ${n} expected, within ${
              Duration.format(this.settings.timeout)
            }`
          })
      })
    )
  }

  /** Publishes and waits until the events were fed; returns their ids. */
  publishFed(
    events: ReadonlyArray<SseEvent.SseEvent>,
    options?: Partial<SseHubBackend.PublishOptions>
  ): Effect.Effect<ReadonlyArray<string>, CheckFailed> {
    // Waits for the very ids returned: with an asynchronous feed, an event fed meanwhile may be an earlier one.
    return Effect.flatMap(this.publish(events, options), (ids) => Effect.as(this.fedIncludes(ids), ids))
  }

  fedIncludes(ids: ReadonlyArray<string>): Effect.Effect<void, CheckFailed> {
    return this.fed.includes(ids).pipe(
      Effect.timeoutFail({
        duration: this.settings.timeout,
        onTimeout: () =>
          new CheckFailed({
            reason: "Timeout",
            check: this.check,
            detail: `the feed did not hand over ${ids.join(", ")} within ${Duration.format(this.settings.timeout)}`
          })
      })
    )
  }
}

/** @internal */
export const data = (text: string): SseEvent.SseEvent => event.make(text)

/** @internal */
export const withId = (text: string, id: string): SseEvent.SseEvent =>
  Either.getOrThrow(event.withId(event.make(text), id))

/**
 * Opens the check's log and starts its feed, then joins it as a hub's subscriber does: it takes the log's
 * `position` first (a backend's reader may start after `feed` returns; it must then feed everything after the
 * positions it handed out), and a probe event is published and fed before the check begins.
 */
/** @internal */
export const start = (
  check: string,
  settings: Settings,
  historySize = 1000
): Effect.Effect<Run, CheckFailed, SseHubBackend.SseHubBackend | Scope.Scope> =>
  Effect.gen(function*() {
    const store = yield* backend.tag
    const name = yield* settings.hubName(check)
    const log = yield* store.open(name, {
      historySize,
      maxAge: undefined,
      idempotencyWindow: Duration.toMillis(settings.window)
    })
    const fed = new Fed()
    yield* log.feed(fed.deliver)
    const run = new Run(check, log, fed, settings)
    yield* log.position
    const probe = yield* run.publish([data("probe")])
    yield* run.fedAtLeast(1)
    yield* run.equal("the probe's id as fed", fed.ids, probe)
    return run
  })

/** @internal */
export const check = (
  name: string,
  body: (settings: Settings) => Effect.Effect<void, CheckFailed, SseHubBackend.SseHubBackend | Scope.Scope>
) =>
(settings: Settings): SseHubBackendTest.Check => ({ name, run: body(settings) })

/** Whether `part` appears in `whole` as one contiguous run. */
/** @internal */
export const contiguous = (whole: ReadonlyArray<string>, part: ReadonlyArray<string>): boolean => {
  if (part.length === 0) return true
  const at = whole.indexOf(part[0])
  return at >= 0 && part.every((id, i) => whole[at + i] === id)
}

/** @internal */
export const distinct = (ids: ReadonlyArray<string>): boolean => new Set(ids).size === ids.length
