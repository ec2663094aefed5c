/**
 * The Redis backend keeps the rules of a hub backend: every check of `SseHubBackendTest`, against
 * `SseHubRedis.layer` on the run's Redis, each with a key prefix of its own. The Redis backend gives every event
 * its stream id (it replaces the ids events carry), so the checks run with `keepsGivenIds: false`.
 */
import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as SseHubBackend from "../src/SseHubBackend.js"
import * as SseHubBackendTest from "../src/SseHubBackendTest.js"
import * as SseHubRedis from "../src/SseHubRedis.js"
import * as R from "./utils/redis.js"

R.describeWithRedis("SseHubRedis keeps the rules of a hub backend", ["shared"], () => {
  describe.each(SseHubBackendTest.checks({ keepsGivenIds: false }).map((check) => [check.name, check] as const))(
    "%s",
    (_, check) => {
      // The live clock: Redis keeps the idempotency window on its own clock. The backend is built in the test's
      // scope before the check opens its logs, so that the logs are closed first.
      it.scopedLive("on Redis", () =>
        Effect.gen(function*() {
          const redis = yield* R.admin(R.redisUrl)
          const prefix = yield* R.keyPrefix(redis, "conformance")
          const backend = yield* SseHubRedis.make({ url: R.redisUrl, prefix })
          yield* Effect.provideService(check.run, SseHubBackend.SseHubBackend, backend)
        }))
    }
  )
})
