/**
 * The in-process backend: one hub's log in memory, on the core's `History` and `IdempotencyWindow`.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as History from "../../../src/core/history.js"
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
    const history = new History.History<SseEvent.SseEvent>(options.historySize, options.maxAge)
    const keys = new History.IdempotencyWindow(options.idempotencyWindow)
    const pubsub = yield* Effect.acquireRelease(
      PubSub.unbounded<SseHubBackend.Published | typeof End>(),
      PubSub.shutdown
    )
    const subscription = yield* PubSub.subscribe(pubsub)
    const stopped = yield* Deferred.make<void>()
    // Ids continue from the clock, so that ids of an earlier run of the process are never reused: an old id is
    // then reported as lost instead of silently matching a different event.
    const start = (yield* Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe()))) * 1000
    // The position of the last accepted event, consecutive (the history finds an id's successors by position);
    // apart from it, the last number given as an id, which skips the numbers that given ids took.
    let seq = start
    let lastNumber = start
    let ended = false

    const publish: SseHubBackend.Log["publish"] = (events, publishOptions) =>
      Effect.clockWith((clock): Effect.Effect<SseHubBackend.Accepted, SseHub.PublishRejected> => {
        const now = clock.currentTimeMillisUnsafe()
        const key = publishOptions.idempotencyKey
        if (key !== undefined) {
          const seen = keys.get(key, now)
          if (seen !== undefined) return Effect.succeed({ ids: seen, repeated: true })
        }
        // The given ids first, so that a number the backend gives in this batch is none of them either.
        const given = new Set<string>()
        for (const e of events) {
          if (e.id === undefined || e.id === "") continue
          if (history.has(e.id) || given.has(e.id)) {
            return Effect.fail(new SseHub.PublishRejected({ hub: name, reason: "DuplicateId", id: e.id }))
          }
          given.add(e.id)
        }
        const prepared: Array<SseHubBackend.Published> = []
        let next = lastNumber
        for (const e of events) {
          let id: string
          if (e.id === undefined || e.id === "") {
            do next++
            while (history.has(String(next)) || given.has(String(next)))
            id = String(next)
          } else {
            id = e.id
          }
          // A number, or an id the event already carries (checked when it was set): never refused.
          const withId = SseEvent.withId(e, id)
          if (Result.isFailure(withId)) return Effect.die(withId.failure)
          prepared.push({
            id,
            seq: seq + prepared.length + 1,
            event: withId.success,
            topics: publishOptions.topics,
            target: publishOptions.target,
            at: now
          })
        }
        seq += prepared.length
        lastNumber = next
        for (const entry of prepared) history.append(entry)
        history.evictOlderThan(now)
        for (const entry of prepared) PubSub.publishUnsafe(pubsub, entry)
        const ids = prepared.map((entry) => entry.id)
        if (key !== undefined) keys.set(key, ids, now)
        return Effect.succeed({ ids, repeated: false })
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

    const log: SseHubBackend.Log = {
      publish,
      resume: (lastEventId, topics) =>
        Effect.clockWith((clock) =>
          Effect.sync(() => {
            history.evictOlderThan(clock.currentTimeMillisUnsafe())
            return history.resume(lastEventId, topics)
          })
        ),
      position: Effect.sync(() => cursor(seq)),
      cursorOf: (id) => cursor(history.seqOf(id) ?? seq),
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
    return log
  })

/** @internal */
export const memory: SseHubBackend.Backend = { kind: "memory", open: openMemory }
