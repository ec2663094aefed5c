/**
 * The rules of a hub backend (test/utils/backendChecks.ts, the Effect 3 line's `SseHubBackendTest` ported to
 * effect 4), against both of the Effect 4 line's backends: in memory, on the test clock, and on Redis, on the live
 * clock (its idempotency window is Redis's).
 */
import { describe, it } from "@effect/vitest"
import * as SseHubBackend from "effect-sse/SseHubBackend"
import * as SseHubRedis from "effect-sse/SseHubRedis"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { TestClock } from "effect/testing"
import { checks } from "./utils/backendChecks.js"
import { privateRedis } from "./utils/redis.js"

describe("SseHubBackend.layerMemory keeps the rules of a hub backend", () => {
  for (const check of checks) {
    it.effect(
      check.name,
      () =>
        check.run({ keepsGivenIds: true, window: Duration.seconds(1), advance: TestClock.adjust }).pipe(
          Effect.provide(SseHubBackend.layerMemory)
        )
    )
  }
})

describe("SseHubRedis.layer keeps the rules of a hub backend", () => {
  for (const check of checks) {
    it.live(check.name, () =>
      Effect.gen(function*() {
        const redis = yield* privateRedis
        yield* check.run({ keepsGivenIds: false, window: Duration.millis(300), advance: Effect.sleep }).pipe(
          Effect.provide(Layer.fresh(SseHubRedis.layer({ url: redis.url })))
        )
      }))
  }
})
