/**
 * The in-process backend: one hub's log in memory, on the core's `MemoryLog` (shared with the Effect 3 line).
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Memory from "../../../src/core/memoryLog.js"
import * as SseEvent from "../SseEvent.js"
import * as SseHub from "../SseHub.js"
import type * as SseHubBackend from "../SseHubBackend.js"

/** @internal */
export const cursor = <A>(position: A): SseHubBackend.Cursor => position as unknown as SseHubBackend.Cursor

/** @internal */
export const positionOf = <A>(self: SseHubBackend.Cursor): A => self as unknown as A

const End = Symbol.for("effect-sse/SseHubBackend/End")

/**
 * One hub's log in memory: publishes are numbered and put in the history in one synchronous step (so that the
 * order of ids is the order of delivery even with concurrent publishers, and an id `publish` returned can be
 * resumed from at once), then go through a `PubSub` to one dispatcher fiber.
 */
const openMemory = (
  name: string,
  options: SseHubBackend.OpenOptions
): Effect.Effect<SseHubBackend.Log, never, Scope.Scope> =>
  Effect.gen(function*() {
    const pubsub = yield* Effect.acquireRelease(
      PubSub.unbounded<SseHubBackend.Published | typeof End>(),
      PubSub.shutdown
    )
    const subscription = yield* PubSub.subscribe(pubsub)
    const stopped = yield* Deferred.make<void>()
    // A number, or an id the event already carries (checked when it was set): never refused.
    let refused: SseEvent.SseEventError | undefined = undefined
    const log = new Memory.MemoryLog<SseEvent.SseEvent>(
      options,
      (yield* Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe()))) * 1000,
      (e, id) => {
        const result = SseEvent.withId(e, id)
        if (Result.isSuccess(result)) return result.success
        refused = result.failure
        return undefined
      }
    )
    let ended = false

    const publish: SseHubBackend.Log["publish"] = (events, publishOptions) =>
      Effect.clockWith((clock): Effect.Effect<SseHubBackend.Accepted, SseHub.PublishRejected> => {
        const outcome = log.publish(events, publishOptions, clock.currentTimeMillisUnsafe())
        switch (outcome._tag) {
          case "Repeated":
            return Effect.succeed({ ids: outcome.ids, repeated: true })
          case "DuplicateId":
            return Effect.fail(new SseHub.PublishRejected({ hub: name, reason: "DuplicateId", id: outcome.id }))
          case "Refused":
            return Effect.die(refused)
          case "Accepted":
            for (const entry of outcome.entries) PubSub.publishUnsafe(pubsub, entry)
            return Effect.succeed({ ids: outcome.ids, repeated: false })
        }
      })

    const feed: SseHubBackend.Log["feed"] = (deliver) => {
      // Everything available at once: one delivery per batch (a `publishAll` is one write to every subscriber).
      const loop: Effect.Effect<void> = Effect.flatMap(PubSub.takeAll(subscription), (taken) => {
        let done = false
        const entries: Array<SseHubBackend.Published> = []
        for (const item of taken) {
          if (item === End) done = true
          else entries.push(item)
        }
        if (entries.length > 0) deliver(entries)
        return done ? Effect.void : loop
      })
      return Effect.asVoid(Effect.forkScoped(Effect.ensuring(loop, Deferred.succeed(stopped, undefined))))
    }

    const opened: SseHubBackend.Log = {
      publish,
      resume: (lastEventId, topics) =>
        Effect.clockWith((clock) =>
          Effect.sync(() => log.resume(lastEventId, topics, clock.currentTimeMillisUnsafe()))
        ),
      position: Effect.sync(() => cursor(log.position)),
      cursorOf: (id) => cursor(log.positionOf(id)),
      after: (position) => {
        const seen = positionOf<number>(position)
        return (published) => published.seq > seen
      },
      feed,
      stop: Effect.suspend(() => {
        if (!ended) {
          ended = true
          PubSub.publishUnsafe(pubsub, End)
        }
        return Deferred.await(stopped)
      })
    }
    return opened
  })

/** @internal */
export const memory: SseHubBackend.Backend = { kind: "memory", open: openMemory }
