/**
 * The in-memory backend against the rules every hub backend keeps (`SseHubBackendTest`, the suite a backend of
 * one's own runs too), and the suite itself: a backend that breaks a rule fails the check of that rule.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, TestClock } from "effect"
import * as SseEvent from "../src/SseEvent.js"
import * as SseHubBackend from "../src/SseHubBackend.js"
import * as SseHubBackendTest from "../src/SseHubBackendTest.js"

describe("SseHubBackend.layerMemory keeps the rules of a hub backend", () => {
  // The in-memory backend keeps time with Effect's clock: the TestClock lets an idempotency window pass.
  for (const check of SseHubBackendTest.checks({ keepsGivenIds: true, advance: TestClock.adjust })) {
    it.scoped(check.name, () => check.run.pipe(Effect.provide(SseHubBackend.layerMemory)))
  }

  it.live("on the live clock too, with the default options", () =>
    Effect.forEach(
      SseHubBackendTest.checks({ idempotencyWindow: "50 millis" }),
      (check) => Effect.scoped(check.run),
      { discard: true }
    ).pipe(Effect.provide(SseHubBackend.layerMemory)))
})

/** The in-memory backend with one part of its logs replaced: a backend that breaks a rule. */
const broken = (override: (log: SseHubBackend.Log) => Partial<SseHubBackend.Log>) =>
  Layer.succeed(
    SseHubBackend.SseHubBackend,
    SseHubBackend.make({
      kind: "broken",
      open: (name, options) =>
        Effect.map(SseHubBackend.memory.open(name, options), (log) => ({ ...log, ...override(log) }))
    })
  )

describe("SseHubBackendTest tells a backend that breaks a rule", () => {
  const run = (name: string, backend: Layer.Layer<SseHubBackend.SseHubBackend>, options?: SseHubBackendTest.Options) =>
    Effect.gen(function*() {
      const found = SseHubBackendTest.checks({ advance: TestClock.adjust, timeout: "1 second", ...options }).find((
        check
      ) => check.name.startsWith(name))
      expect(found, name).toBeDefined()
      return yield* Effect.exit(Effect.scoped(found!.run).pipe(Effect.provide(backend)))
    })
  const failedWith = (exit: Exit.Exit<void, SseHubBackendTest.CheckFailed>) => {
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
    expect(error).toBeInstanceOf(SseHubBackendTest.CheckFailed)
    return error!
  }

  it.effect("a feed that hands every batch over twice fails the order check", () =>
    Effect.gen(function*() {
      const exit = yield* run(
        "publishes are fed once each",
        broken((log) => ({ feed: (deliver) => log.feed((batch) => deliver(batch) || deliver(batch)) }))
      )
      expect(failedWith(exit)).toMatchObject({ _tag: "CheckFailed", reason: "Mismatch" })
    }))

  it.effect("a resume that skips the first event after the id fails the resume check", () =>
    Effect.gen(function*() {
      const exit = yield* run(
        "resuming after any id",
        broken((log) => ({
          resume: (id, topics) => Effect.map(log.resume(id, topics), (r) => ({ ...r, entries: r.entries.slice(1) }))
        }))
      )
      expect(failedWith(exit).message).toContain("resuming after")
    }))

  it.effect("a backend that ignores idempotency keys fails the idempotency check", () =>
    Effect.gen(function*() {
      const exit = yield* run(
        "an idempotency key",
        broken((log) => ({
          publish: (events, options) => log.publish(events, { ...options, idempotencyKey: undefined })
        }))
      )
      expect(failedWith(exit).message).toContain("the same key again")
    }))

  it.effect("a backend that replaces given ids fails the id check unless the suite is told (keepsGivenIds: false)", () =>
    Effect.gen(function*() {
      const replacing = broken((log) => ({
        publish: (events, options) => log.publish(events.map((e) => SseEvent.make(e.data ?? "")), options)
      }))
      const exit = yield* run("an event's own id", replacing)
      expect(failedWith(exit).message).toContain("an event's own id")
      expect(yield* run("an event's own id", replacing, { keepsGivenIds: false })).toEqual(Exit.void)
    }))

  it.effect("a feed that never starts fails with Timeout", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(run("publishes are fed once each", broken(() => ({ feed: () => Effect.void }))))
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.join(fiber)
      expect(failedWith(exit)).toMatchObject({ reason: "Timeout" })
    }))
})
