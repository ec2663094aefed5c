import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as SseHub from "../SseHub.js"
import type * as SseHubBackend from "../SseHubBackend.js"
import * as errors from "./hubErrors.js"

/**
 * Targeting: the target of a publish encoded as data for the backend, and the test of a stored target against a
 * client's state, run where the client is connected. A stored target is decoded once per event and process
 * (cached on the entry, which every subscriber of a delivery shares).
 *
 * @internal
 */
export const makeTargeting = <S, T>(hub: string, target: SseHub.Options.Target<S, T> | undefined) => {
  const encode = target === undefined ? undefined : Schema.encodeEither(target.schema)
  const decode = target === undefined ? undefined : Schema.decodeUnknownEither(target.schema)
  const decoded = new WeakMap<object, Option.Option<T>>()
  const targetOf = (entry: SseHubBackend.Published): Option.Option<T> => {
    let found = decoded.get(entry)
    if (found === undefined) {
      // A target that does not decode here (a process with another schema) reaches nobody rather than everybody.
      found = decode === undefined ? Option.none() : Option.getRight(decode(entry.target))
      decoded.set(entry, found)
    }
    return found
  }
  return {
    encode: (to: unknown): Either.Either<unknown, errors.PublishRejected> => {
      if (to === undefined) return Either.right(undefined)
      if (encode === undefined) {
        return Either.left(
          new errors.PublishRejected({ hub, reason: "InvalidTarget", cause: "the hub has no target option" })
        )
      }
      return Either.mapLeft(
        encode(to as T),
        (cause) => new errors.PublishRejected({ hub, reason: "InvalidTarget", cause })
      )
    },
    /** Which events a client of this state takes: untargeted ones, and those whose target matches its state. */
    accepts: (state: S | undefined) => (entry: SseHubBackend.Published): boolean => {
      if (entry.target === undefined) return true
      if (state === undefined || target === undefined) return false
      const to = targetOf(entry)
      return Option.isSome(to) && target.matches(to.value, state)
    }
  }
}
