import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"

/** A URL with its password hidden, for messages. @internal */
export const redactUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "(an invalid URL)"
  }
}

/** Checks a Redis URL as ioredis will read it; a `ConfigError` names what is wrong. @internal */
export const checkUrl = (url: string): Either.Either<string, ConfigError.ConfigError> => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return Either.left(
      ConfigError.InvalidData(["REDIS_URL"], `Expected a Redis URL (redis://host:port), got an invalid URL`)
    )
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    return Either.left(
      ConfigError.InvalidData(
        ["REDIS_URL"],
        `Expected a redis:// or rediss:// URL, got the protocol "${parsed.protocol}"`
      )
    )
  }
  if (parsed.port !== "" && !(Number(parsed.port) > 0 && Number(parsed.port) < 65536)) {
    return Either.left(
      ConfigError.InvalidData(["REDIS_URL"], `Expected a port between 1 and 65535, got "${parsed.port}"`)
    )
  }
  return Either.right(url)
}
