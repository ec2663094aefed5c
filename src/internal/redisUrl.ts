import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import * as Client from "../core/redisClient.js"

/** A URL with its password hidden, for messages. @internal */
export const redactUrl: (url: string) => string = Client.redactUrl

/** Checks a Redis URL as ioredis will read it; a `ConfigError` names what is wrong. @internal */
export const checkUrl = (url: string): Either.Either<string, ConfigError.ConfigError> => {
  const problem = Client.urlProblem(url)
  return problem === undefined ? Either.right(url) : Either.left(ConfigError.InvalidData(["REDIS_URL"], problem))
}
