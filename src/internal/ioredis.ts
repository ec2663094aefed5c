import * as Effect from "effect/Effect"
import type { Redis, RedisOptions } from "ioredis"
import * as Layout from "../core/redis.js"

/** The ioredis client class, loaded when a Redis backend is built: the package is an optional peer. @internal */
export const load: Effect.Effect<new(url: string, options: RedisOptions) => Redis> = Effect.tryPromise({
  try: () => import("ioredis"),
  catch: (cause) => cause
}).pipe(
  Effect.map((module) => module.Redis),
  Effect.orDieWith((cause) =>
    new Error(
      "effect-sse/SseHubRedis needs the ioredis package, which is not installed: run `npm install ioredis` " +
        `(${cause instanceof Error ? cause.message : String(cause)})`
    )
  )
)

/** A connection's last error when it closed without one (Redis went away). @internal */
export const connectionClosed = "the connection was closed"

/** Why a command failed, and whether it may have reached Redis. @internal */
export interface CommandFailure {
  readonly message: string
  /** The command was written and no answer came: it may have run. */
  readonly sent: boolean
}

const messageOf = (u: unknown): string => u instanceof Error ? u.message : String(u)

/**
 * Tells a failed command's fate from ioredis's error: refused while the connection is down (never written), an
 * error reply from Redis (refused), or written without an answer (a timeout, a connection lost under it). The
 * connection's own last error names the real cause (`connect ECONNREFUSED 127.0.0.1:1`).
 *
 * @internal
 */
export const classify = (cause: unknown, lastError: unknown): CommandFailure => {
  const message = messageOf(cause)
  const name = cause instanceof Error ? cause.name : ""
  // The close can be seen here before the connection's own `close` listener has recorded it.
  if (message === "Connection is closed.") {
    return { message: lastError === undefined ? connectionClosed : messageOf(lastError), sent: false }
  }
  if (message.startsWith("Stream isn't writeable")) {
    return { message: lastError === undefined ? "not connected" : messageOf(lastError), sent: false }
  }
  if (name === "ReplyError") return { message: `Redis refused the command: ${message}`, sent: false }
  if (message === "Command timed out") return { message: "no answer within the command timeout", sent: true }
  // ioredis fails the commands waiting for an answer when the connection closes (we allow no retry).
  if (name === "MaxRetriesPerRequestError") {
    const closed = "the connection closed before Redis answered"
    return {
      message: lastError === undefined || lastError === connectionClosed
        ? closed
        : `${closed} (${messageOf(lastError)})`,
      sent: true
    }
  }
  return { message: lastError === undefined ? message : `${message} (${messageOf(lastError)})`, sent: true }
}

const publishCommand = "effectSseHubPublish"

type Publish = (...args: Array<string>) => Promise<[number, string]>

/** Runs the publish script (sent by its digest once Redis knows it). @internal */
export const publish = (
  redis: Redis,
  key: string,
  idempotencyKey: string,
  args: ReadonlyArray<string>
): Promise<[number, string]> => {
  const commands = redis as unknown as Record<string, Publish | undefined>
  if (commands[publishCommand] === undefined) {
    redis.defineCommand(publishCommand, { numberOfKeys: 2, lua: Layout.publishScript })
  }
  return (commands[publishCommand] as Publish)(key, idempotencyKey, ...args)
}
