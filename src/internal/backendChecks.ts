/**
 * The rules every hub backend must keep, one check each (the runner is in `backendTest.ts`).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Random from "effect/Random"
import type * as SseEvent from "../SseEvent.js"
import type * as SseHubBackend from "../SseHubBackend.js"
import type * as SseHubBackendTest from "../SseHubBackendTest.js"
import { targets } from "./backendTargetCheck.js"
import { check, CheckFailed, contiguous, data, distinct, type Settings, start, withId } from "./backendTest.js"

// -----------------------------------------------------------------------------
// the checks
// -----------------------------------------------------------------------------

const order = check(
  "publishes are fed once each, in one order, with the ids publish returned; a publisher's order is kept and a batch stays together",
  (settings) =>
    Effect.gen(function*() {
      const run = yield* start("order", settings)
      const publishers = 4
      const rounds = 6
      // each publisher alternates single events and batches of two or three, yielding in between
      const published = yield* Effect.forEach(
        Array.from({ length: publishers }, (_, p) => p),
        (p) =>
          Effect.forEach(Array.from({ length: rounds }, (_, r) => r), (r) => {
            const size = r % 3 === 0 ? 1 : r % 3 + 1
            const events = Array.from({ length: size }, (_, i) => data(`p${p}-r${r}-${i}`))
            const topics = r % 2 === 0 ? undefined : [`t${p}`]
            return Effect.zipRight(
              Effect.yieldNow(),
              Effect.map(run.publish(events, { topics }), (ids) => ({ p, r, ids, size, topics }))
            )
          }),
        { concurrency: "unbounded" }
      )
      const all = published.flat()
      const total = all.reduce((n, publish) => n + publish.size, 0)
      yield* run.fedAtLeast(1 + total)
      const fed = run.fed.ids.slice(1)
      yield* run.equal("the number of events fed", fed.length, total)
      yield* run.holds(`every event is fed once: ${JSON.stringify(fed)}`, distinct(fed))
      yield* run.equal(
        "the ids fed, as a set, are the ids publish returned",
        [...fed].sort(),
        all.flatMap((publish) => publish.ids).sort()
      )
      for (const publish of all) {
        yield* run.equal(
          `the number of ids publish returned for p${publish.p}-r${publish.r}`,
          publish.ids.length,
          publish.size
        )
        yield* run.holds(
          `the batch p${publish.p}-r${publish.r} (${JSON.stringify(publish.ids)}) is fed together, in order: ${
            JSON.stringify(fed)
          }`,
          contiguous(fed, publish.ids)
        )
      }
      for (let p = 0; p < publishers; p++) {
        const positions = published[p].map((publish) => fed.indexOf(publish.ids[0]))
        yield* run.holds(
          `publisher ${p}'s publishes are fed in its order: positions ${JSON.stringify(positions)}`,
          positions.every((at, i) => i === 0 || at > positions[i - 1])
        )
      }
      const entries = run.fed.entries.slice(1)
      const byId = new Map(all.flatMap((publish) => publish.ids.map((id, i) => [id, { publish, i }] as const)))
      for (const entry of entries) {
        const origin = byId.get(entry.id)!
        yield* run.equal(`the event fed as ${entry.id}: its id, data and topics`, {
          id: entry.event.id,
          data: entry.event.data,
          topics: entry.topics
        }, {
          id: entry.id,
          data: `p${origin.publish.p}-r${origin.publish.r}-${origin.i}`,
          topics: origin.publish.topics
        })
      }
      // the history is in the same order as the feed
      const history = yield* run.resume("effect-sse-check: an id never published")
      yield* run.equal("the history (resumed from an unknown id) in the order of the feed", history, {
        lost: true,
        ids: run.fed.ids
      })
    })
)

const resumeAfterAny = check(
  "resuming after any id yields exactly the events after it (topics filter them); after the last one, none",
  (settings) =>
    Effect.gen(function*() {
      const run = yield* start("resume", settings)
      const topicsOf = (i: number) => i % 3 === 0 ? undefined : i % 3 === 1 ? ["a"] : ["b"]
      for (let i = 0; i < 12; i++) yield* run.publish([data(`m${i}`)], { topics: topicsOf(i) })
      yield* run.fedAtLeast(13)
      const entries = run.fed.entries
      const ids = run.fed.ids
      const reaches = (entry: SseHubBackend.Published, topic: string) =>
        entry.topics === undefined || entry.topics.includes(topic)
      for (let k = 0; k < ids.length; k++) {
        yield* run.equal(`resuming after ${ids[k]} (event ${k})`, yield* run.resume(ids[k]), {
          lost: false,
          ids: ids.slice(k + 1)
        })
        yield* run.equal(`resuming after ${ids[k]} (event ${k}) for topic a`, yield* run.resume(ids[k], ["a"]), {
          lost: false,
          ids: entries.slice(k + 1).filter((entry) => reaches(entry, "a")).map((entry) => entry.id)
        })
      }
      // an id publish has just returned can be resumed from at once, before it is fed
      const [latest] = yield* run.publish([data("latest")])
      yield* run.equal(`resuming after ${latest}, just published`, yield* run.resume(latest), { lost: false, ids: [] })
      yield* run.equal(
        `resuming after ${ids[ids.length - 1]}, the one before it`,
        yield* run.resume(ids[ids.length - 1]),
        {
          lost: false,
          ids: [latest]
        }
      )
    })
)

const lost = check(
  "an id the log does not hold is lost, and resuming from it yields every retained event; the newest historySize are retained",
  (settings) =>
    Effect.gen(function*() {
      const unknown = "effect-sse-check: an id never published"
      const run = yield* start("lost", settings)
      for (let i = 0; i < 5; i++) yield* run.publish([data(`m${i}`)])
      yield* run.fedAtLeast(6)
      yield* run.equal("resuming after an unknown id", yield* run.resume(unknown), { lost: true, ids: run.fed.ids })

      // a bounded history: what is evicted is lost, and resuming from it yields what is retained
      const historySize = 5
      const small = yield* start("lost-bounded", settings, historySize)
      for (let i = 0; i < 3 * historySize; i++) yield* small.publish([data(`n${i}`)])
      yield* small.fedAtLeast(1 + 3 * historySize)
      const ids = small.fed.ids
      const retained = yield* small.resume(unknown)
      yield* small.holds(`resuming after an unknown id in a bounded history is lost`, retained.lost)
      yield* small.holds(
        `the retained events are the newest, at least ${historySize}: ${JSON.stringify(retained.ids)} of ${
          JSON.stringify(ids)
        }`,
        retained.ids.length >= historySize && contiguous(ids, retained.ids) &&
          retained.ids[retained.ids.length - 1] === ids[ids.length - 1]
      )
      for (let k = 0; k < ids.length; k++) {
        const resumed = yield* small.resume(ids[k])
        if (!resumed.lost) {
          yield* small.equal(`resuming after ${ids[k]} (retained)`, resumed.ids, ids.slice(k + 1))
        } else {
          yield* small.holds(`${ids[k]} is among the newest ${historySize}, yet lost`, k < ids.length - historySize)
          yield* small.equal(`resuming after ${ids[k]} (lost): the retained events`, resumed.ids, retained.ids)
        }
      }
    })
)

const idempotency = check(
  "an idempotency key stores and feeds a publish once within the window, returning the first ids; after the window it publishes again",
  (settings) =>
    Effect.gen(function*() {
      const run = yield* start("idempotency", settings)
      const key = (k: string) => `${run.check}-${k}-${run.fed.ids[0]}`
      const first = yield* run.publish([data("a")], { idempotencyKey: key("one") })
      yield* run.equal(
        "the same key again",
        yield* run.publish([data("a, retried")], { idempotencyKey: key("one") }),
        first
      )
      const batch = yield* run.publish([data("b"), data("c")], { idempotencyKey: key("two") })
      yield* run.equal(
        "the same key again, for a batch",
        yield* run.publish([data("b"), data("c")], { idempotencyKey: key("two") }),
        batch
      )
      const other = yield* run.publish([data("d")], { idempotencyKey: key("three") })
      yield* run.holds("another key publishes", !first.includes(other[0]) && !batch.includes(other[0]))
      const marker = yield* run.publishFed([data("marker")])
      yield* run.equal("what was fed: each keyed publish once", run.fed.ids.slice(1), [
        ...first,
        ...batch,
        ...other,
        ...marker
      ])
      yield* run.equal("the data fed", run.fed.entries.slice(1).map((entry) => entry.event.data), [
        "a",
        "b",
        "c",
        "d",
        "marker"
      ])
      yield* settings.advance(Duration.sum(settings.window, Duration.millis(100)))
      const again = yield* run.publishFed([data("a, after the window")], { idempotencyKey: key("one") })
      yield* run.holds(`after the window the key publishes again (${again} after ${first})`, !first.includes(again[0]))
      yield* run.equal(
        "the last event fed",
        run.fed.entries[run.fed.entries.length - 1].event.data,
        "a, after the window"
      )
    })
)

const givenIds = check(
  "an event's own id is kept and a repeated one refused with nothing stored, or (a backend that replaces them) every event gets an id of the backend's",
  (settings) =>
    Effect.gen(function*() {
      const run = yield* start("ids", settings)
      const id = (n: number) => `check-${n}`
      if (!settings.keepsGivenIds) {
        const one = yield* run.publishFed([withId("a", id(1))])
        const two = yield* run.publishFed([withId("b", id(1))])
        const fed = run.fed.entries.slice(1)
        yield* run.holds(`two events that carried the same id get distinct ids: ${one}, ${two}`, one[0] !== two[0])
        yield* run.equal("the ids fed, and in the events", fed.map((entry) => [entry.id, entry.event.id]), [
          [one[0], one[0]],
          [two[0], two[0]]
        ])
        return
      }
      yield* run.equal("an event's own id", yield* run.publish([withId("a", id(1))]), [id(1)])
      const refused = (label: string, events: ReadonlyArray<SseEvent.SseEvent>, repeated: string) =>
        Effect.flatMap(
          Effect.either(run.log.publish(events, { topics: undefined, target: undefined, idempotencyKey: undefined })),
          (result) =>
            Either.isLeft(result) && result.left._tag === "PublishRejected"
              ? run.equal(`${label}: the error`, { reason: result.left.reason, id: result.left.id }, {
                reason: "DuplicateId",
                id: repeated
              })
              : run.fail(`${label}: expected PublishRejected (DuplicateId, ${repeated}), got ${JSON.stringify(result)}`)
        )
      yield* refused("an id already in the log", [withId("again", id(1))], id(1))
      yield* refused("a batch with a fresh id and one in the log", [withId("b", id(2)), withId("x", id(1))], id(1))
      yield* refused("an id repeated in one publish", [withId("c", id(3)), withId("y", id(3))], id(3))
      // nothing of the refused publishes was stored: their fresh ids are free
      yield* run.equal(
        "the refused ids, published now",
        yield* run.publish([withId("b", id(2)), withId("c", id(3))]),
        [id(2), id(3)]
      )
      const marker = yield* run.publishFed([data("marker")])
      yield* run.equal("what was fed", run.fed.ids.slice(1), [id(1), id(2), id(3), ...marker])
      yield* run.equal("the data fed", run.fed.entries.slice(1).map((entry) => entry.event.data), [
        "a",
        "b",
        "c",
        "marker"
      ])
      yield* run.equal(`resuming after ${id(1)}`, yield* run.resume(id(1)), {
        lost: false,
        ids: [id(2), id(3), ...marker]
      })
    })
)

const stop = check(
  "stop feeds everything accepted before it, then feeds nothing more",
  (settings) =>
    Effect.gen(function*() {
      const run = yield* start("stop", settings)
      const accepted = yield* Effect.forEach(
        [0, 1, 2],
        (p) =>
          Effect.forEach(
            Array.from({ length: 10 }, (_, i) => i),
            (i) => Effect.zipRight(Effect.yieldNow(), run.publish([data(`p${p}-${i}`)]))
          ),
        { concurrency: "unbounded" }
      )
      const ids = accepted.flat().flat()
      yield* run.log.stop.pipe(
        Effect.timeoutFail({
          duration: settings.timeout,
          onTimeout: () =>
            new CheckFailed({
              reason: "Timeout",
              check: run.check,
              detail: `stop did not complete within ${Duration.format(settings.timeout)}`
            })
        })
      )
      const atStop = run.fed.entries.length
      yield* run.equal(
        "fed when stop completed: everything accepted before it",
        [...run.fed.ids.slice(1)].sort(),
        [...ids].sort()
      )
      for (let i = 0; i < 100; i++) yield* Effect.yieldNow()
      yield* run.equal("events fed after stop completed", run.fed.entries.length - atStop, 0)
    })
)

const position = check(
  "a subscriber joining at position takes exactly what comes after it, and cursorOf an id exactly what comes after that id",
  (settings) =>
    Effect.gen(function*() {
      const run = yield* start("position", settings)
      for (let i = 0; i < 3; i++) yield* run.publish([data(`before-${i}`)])
      yield* run.fedAtLeast(4)
      const joined = yield* run.log.position
      for (let i = 0; i < 3; i++) yield* run.publish([data(`after-${i}`)])
      yield* run.fedAtLeast(7)
      const after = run.log.after(joined)
      yield* run.equal(
        "which events come after the position",
        run.fed.entries.map((entry) => [entry.event.data, after(entry)]),
        run.fed.entries.map((entry) => [entry.event.data, entry.event.data!.startsWith("after-")])
      )
      const entries = run.fed.entries
      for (let k = 0; k < entries.length; k++) {
        const afterId = run.log.after(run.log.cursorOf(entries[k].id))
        yield* run.equal(
          `which events come after ${entries[k].id} (event ${k})`,
          entries.map(afterId),
          entries.map((_, i) => i > k)
        )
      }

      // while publishers race: the events after a position are a suffix of the feed, holding every event published
      // after the position was taken and none published (returned) before
      let taken = false
      const starts: Array<{ readonly ids: ReadonlyArray<string>; readonly startedAfter: boolean }> = []
      const publishing = Effect.forEach(
        [0, 1, 2],
        (p) =>
          Effect.forEach(Array.from({ length: 8 }, (_, i) => i), (i) =>
            Effect.suspend(() => {
              const startedAfter = taken
              return Effect.map(
                Effect.zipRight(Effect.yieldNow(), run.publish([data(`race-${p}-${i}`)])),
                (ids) => starts.push({ ids, startedAfter })
              )
            })),
        { concurrency: "unbounded", discard: true }
      )
      const fedBefore = run.fed.entries.length
      const racing = yield* Effect.fork(publishing)
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
      const returnedBefore = starts.flatMap((s) => s.ids)
      const mid = yield* run.log.position
      taken = true
      yield* Effect.fromFiber(racing)
      yield* run.fedAtLeast(fedBefore + 24)
      const raced = run.fed.entries.slice(fedBefore)
      const afterMid = run.log.after(mid)
      const flags = raced.map(afterMid)
      const split = flags.indexOf(true)
      yield* run.holds(
        `the events after the position are a suffix of the feed: ${JSON.stringify(flags)}`,
        split < 0 ? true : flags.slice(split).every((flag) => flag)
      )
      const isAfter = new Map(raced.map((entry, i) => [entry.id, flags[i]]))
      for (const id of returnedBefore) {
        yield* run.holds(
          `${id} was published before the position was taken, yet comes after it`,
          isAfter.get(id) === false
        )
      }
      for (const s of starts.filter((s) => s.startedAfter)) {
        yield* run.holds(
          `${s.ids[0]} was published after the position was taken, yet does not come after it`,
          isAfter.get(s.ids[0]) === true
        )
      }
    })
)

/** @internal */
export const checks = (options?: SseHubBackendTest.Options): ReadonlyArray<SseHubBackendTest.Check> => {
  const settings: Settings = {
    keepsGivenIds: options?.keepsGivenIds ?? true,
    window: Duration.decode(options?.idempotencyWindow ?? Duration.seconds(1)),
    advance: options?.advance ?? ((duration) => Effect.sleep(duration)),
    timeout: Duration.decode(options?.timeout ?? Duration.seconds(10)),
    hubName: (check) =>
      options?.hubName !== undefined
        ? Effect.succeed(options.hubName(check))
        : Effect.map(Random.nextIntBetween(0, 2 ** 31), (n) => `effect-sse-check-${check}-${n.toString(36)}`)
  }
  return [order, resumeAfterAny, targets, lost, idempotency, givenIds, stop, position].map((make) => make(settings))
}
