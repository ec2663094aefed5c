/**
 * The backend rule about targets (see `SseHub.Options.Target`): a backend keeps them as data. Beside the other
 * checks (`backendChecks.ts`), which it joins.
 */
import * as Effect from "effect/Effect"
import { check, CheckFailed, data, start } from "./backendTest.js"

/** @internal */
export const targets = check(
  "an event's target (the JSON of a hub's target schema) is kept as data: fed and resumed as published, undefined for none",
  (settings) =>
    Effect.gen(function*() {
      const run = yield* start("target", settings)
      const published: ReadonlyArray<unknown> = [
        undefined,
        { user: "ann" },
        { role: "admin", rooms: ["a", "b"] },
        "a string",
        42,
        [1, { nested: true }]
      ]
      const ids: Array<string> = []
      for (let i = 0; i < published.length; i++) {
        ids.push(...(yield* run.publish([data(`t${i}`)], { target: published[i] })))
      }
      yield* run.fedAtLeast(1 + published.length)
      const fed = run.fed.entries.slice(1)
      for (let i = 0; i < published.length; i++) {
        const entry = fed.find((e) => e.id === ids[i])
        yield* run.holds(`the event ${ids[i]} is fed`, entry !== undefined)
        yield* run.equal(`the target fed with ${ids[i]}`, { target: entry!.target }, { target: published[i] })
      }
      const resumed = yield* run.log.resume(run.fed.ids[0], undefined).pipe(
        Effect.mapError((cause) =>
          new CheckFailed({ reason: "BackendFailed", check: run.check, detail: "resume failed", cause })
        )
      )
      yield* run.equal(
        "the targets resumed after the first event",
        resumed.entries.map((entry) => ({ id: entry.id, target: entry.target })),
        ids.map((id, i) => ({ id, target: published[i] }))
      )
    })
)
