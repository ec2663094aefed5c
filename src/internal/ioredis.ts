import * as Effect from "effect/Effect"
import type { Redis, RedisOptions } from "ioredis"
import * as Client from "../core/redisClient.js"
import * as Log from "../core/redisLog.js"

/** The ioredis client class, loaded when a Redis backend is built: the package is an optional peer. @internal */
export const load: Effect.Effect<new(url: string, options: RedisOptions) => Redis> = Effect.tryPromise({
  try: () => import("ioredis"),
  catch: (cause) => cause
}).pipe(
  Effect.map((module) => module.Redis),
  Effect.orDieWith(Log.missingClient)
)

/** @internal */
export const connectionClosed: string = Client.connectionClosed

/** Why a command failed, and whether it may have reached Redis. @internal */
export type CommandFailure = Client.CommandFailure

/** @internal */
export const classify: (cause: unknown, lastError: unknown, everConnected?: boolean) => CommandFailure = Client.classify

/** Runs the publish script (sent by its digest once Redis knows it). @internal */
export const publish = (
  redis: Redis,
  key: string,
  idempotencyKey: string,
  args: ReadonlyArray<string>
): Promise<[number, string]> => Client.publish(redis, key, idempotencyKey, args)
