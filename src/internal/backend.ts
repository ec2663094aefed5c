import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Memory from "../core/memoryLog.js"
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
    const pubsub = yield* PubSub.unbounded<SseHubBackend.Published | typeof End>()
    const dequeue = yield* PubSub.subscribe(pubsub)
    const stopped = yield* Deferred.make<void>()
    const log = new Memory.MemoryLog<SseEvent.SseEvent>(
      options,
      (yield* Effect.clockWith((clock) => clock.currentTimeMillis)) * 1000,
      event.unsafeWithId
    )
    let ended = false

    const publish: SseHubBackend.Log["publish"] = (events, publishOptions) =>
      Effect.clockWith((clock): Effect.Effect<SseHubBackend.Accepted, errors.PublishRejected> => {
        const outcome = log.publish(events, publishOptions, clock.unsafeCurrentTimeMillis())
        switch (outcome._tag) {
          case "Repeated":
            return Effect.succeed({ ids: outcome.ids, repeated: true })
          case "DuplicateId":
            return Effect.fail(new errors.PublishRejected({ hub: name, reason: "DuplicateId", id: outcome.id }))
          case "Refused":
            // `unsafeWithId` refuses nothing: a number, or the id the event carries (checked when it was set).
            return Effect.dieMessage(`effect-sse: the id ${JSON.stringify(outcome.id)} could not be set`)
          case "Accepted":
            for (const entry of outcome.entries) pubsub.unsafeOffer(entry)
            return Effect.succeed({ ids: outcome.ids, repeated: false })
        }
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

    const opened: SseHubBackend.Log = {
      publish,
      resume: (lastEventId, topics) =>
        Effect.clockWith((clock) =>
          Effect.sync(() => log.resume(lastEventId, topics, clock.unsafeCurrentTimeMillis()))
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
          pubsub.unsafeOffer(End)
        }
        return Effect.zipRight(Deferred.await(stopped), PubSub.shutdown(pubsub))
      })
    }
    return opened
  })

/** @internal */
export const memory: SseHubBackend.SseHubBackend = make({ kind: "memory", open: openMemory })

/** @internal */
export const layerMemory: Layer.Layer<SseHubBackend.SseHubBackend> = Layer.succeed(tag, memory)
