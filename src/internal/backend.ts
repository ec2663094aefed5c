import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as History from "../core/history.js"
import type * as SseEvent from "../SseEvent.js"
import type * as SseHubBackend from "../SseHubBackend.js"
import * as event from "./event.js"
import * as errors from "./hubErrors.js"

/** @internal */
export const TypeId: SseHubBackend.TypeId = Symbol.for("effect-sse/SseHubBackend") as SseHubBackend.TypeId

/** @internal */
export const tag = Context.GenericTag<SseHubBackend.SseHubBackend>("effect-sse/SseHubBackend")

/** @internal */
export const make = (impl: Omit<SseHubBackend.SseHubBackend, SseHubBackend.TypeId>): SseHubBackend.SseHubBackend =>
  tag.of({ [TypeId]: TypeId, ...impl })

/** @internal */
export const cursor = <A>(position: A): SseHubBackend.Cursor => position as unknown as SseHubBackend.Cursor

/** @internal */
export const positionOf = <A>(self: SseHubBackend.Cursor): A => self as unknown as A

/** Resumes after pending I/O has run: the next turn of the event loop. @internal */
export const ioTurn: Effect.Effect<void> = Effect.async<void>((resume) => {
  if (typeof setImmediate === "function") {
    const handle = setImmediate(() => resume(Effect.void))
    return Effect.sync(() => clearImmediate(handle))
  }
  const handle = setTimeout(() => resume(Effect.void), 0)
  return Effect.sync(() => clearTimeout(handle))
})

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
    const pubsub = yield* PubSub.unbounded<SseHubBackend.Published | typeof End>()
    const dequeue = yield* PubSub.subscribe(pubsub)
    const stopped = yield* Deferred.make<void>()
    // Ids continue from the clock, so that ids of an earlier run of the process are never reused: an old id is
    // then reported as lost instead of silently matching a different event.
    const start = (yield* Effect.clockWith((clock) => clock.currentTimeMillis)) * 1000
    // The position of the last accepted event, consecutive (the history finds an id's successors by position);
    // apart from it, the last number given as an id, which skips the numbers that given ids took.
    let seq = start
    let lastNumber = start
    let ended = false

    const publish: SseHubBackend.Log["publish"] = (events, publishOptions) =>
      Effect.clockWith((clock): Effect.Effect<SseHubBackend.Accepted, errors.PublishRejected> => {
        const now = clock.unsafeCurrentTimeMillis()
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
            return Effect.fail(new errors.PublishRejected({ hub: name, reason: "DuplicateId", id: e.id }))
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
          prepared.push({
            id,
            seq: seq + prepared.length + 1,
            event: event.unsafeWithId(e, id),
            topics: publishOptions.topics,
            target: publishOptions.target,
            at: now
          })
        }
        seq += prepared.length
        lastNumber = next
        for (const entry of prepared) history.append(entry)
        history.evictOlderThan(now)
        for (const entry of prepared) pubsub.unsafeOffer(entry)
        const ids = prepared.map((entry) => entry.id)
        if (key !== undefined) keys.set(key, ids, now)
        return Effect.succeed({ ids, repeated: false })
      })

    const feed: SseHubBackend.Log["feed"] = (deliver) => {
      // Waits for at least one event, then takes everything available: one delivery per batch. (Not
      // `takeBetween(1, …)`: woken by the first event of a `publishAll`, it returns that one alone, and the rest of
      // the batch would go out as a second write to every client.)
      const batch = Effect.flatMap(
        Queue.takeAll(dequeue),
        (all) =>
          Chunk.isEmpty(all)
            ? Effect.zipWith(Queue.take(dequeue), Queue.takeAll(dequeue), (first, rest) => Chunk.prepend(rest, first))
            : Effect.succeed(all)
      )
      const loop: Effect.Effect<void> = Effect.flatMap(batch, (taken) => {
        let done = false
        const entries: Array<SseHubBackend.Published> = []
        for (const item of taken) {
          if (item === End) done = true
          else entries.push(item)
        }
        // Sockets left with unsent bytes get a turn of the event loop before the next batch: a publisher that
        // never yields to I/O (a burst in a tight loop) would otherwise leave every client's bytes queued, and
        // the slow-client rule would count them against clients that are reading.
        const backlog = entries.length > 0 && deliver(entries)
        return done ? Effect.void : backlog ? Effect.zipRight(ioTurn, loop) : loop
      })
      return Effect.asVoid(Effect.forkScoped(Effect.ensuring(loop, Deferred.succeed(stopped, undefined))))
    }

    const log: SseHubBackend.Log = {
      publish,
      resume: (lastEventId, topics) =>
        Effect.clockWith((clock) =>
          Effect.sync(() => {
            history.evictOlderThan(clock.unsafeCurrentTimeMillis())
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
          pubsub.unsafeOffer(End)
        }
        return Effect.zipRight(Deferred.await(stopped), PubSub.shutdown(pubsub))
      })
    }
    return log
  })

/** @internal */
export const memory: SseHubBackend.SseHubBackend = make({ kind: "memory", open: openMemory })

/** @internal */
export const layerMemory: Layer.Layer<SseHubBackend.SseHubBackend> = Layer.succeed(tag, memory)
