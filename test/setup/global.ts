/**
 * Vitest's global setup, run once per `vitest run` (so once per `npm test`) before any test file: installs the
 * programs the tests need (see `provision.ts`), then starts the run's own `redis-server` and hands its URL to
 * the test workers, which read it as `redisUrl` from `test/utils/redis.ts`.
 */
import type { TestProject } from "vitest/node"
import { provision } from "./provision.js"
import { startRunRedis } from "./runRedis.js"

declare module "vitest" {
  export interface ProvidedContext {
    /** The URL of the run's own redis-server, started by this setup. */
    readonly redisUrl: string
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await provision()
  const redis = await startRunRedis()
  project.provide("redisUrl", redis.url)
  // Workers and the processes tests spawn inherit the environment: a hub left to its `REDIS_URL` default, or an
  // example started with the test's environment, reaches this server too, never a Redis the machine runs.
  const previous = process.env.REDIS_URL
  process.env.REDIS_URL = redis.url
  return async () => {
    if (previous === undefined) delete process.env.REDIS_URL
    else process.env.REDIS_URL = previous
    await redis.stop()
  }
}
