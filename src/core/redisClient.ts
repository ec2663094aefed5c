/**
 * What the Redis backends need around an ioredis client, with no dependency (not even ioredis's types, which each
 * line resolves from its own install): how a failed command's fate is told from its error, the publish script run
 * by its digest, and the checks and redaction of a Redis URL.
 *
 * Part of the Effect-free core, shared by every binding; not a public API.
 */
import * as Layout from "./redis.js"

/** A connection's last error when it closed without one (Redis went away). */
export const connectionClosed = "the connection was closed"

/** Why a command failed, and whether it may have reached Redis. */
export interface CommandFailure {
  readonly message: string
  /** The command was written and no answer came: it may have run. */
  readonly sent: boolean
}

const messageOf = (u: unknown): string => u instanceof Error ? u.message : String(u)

/**
 * Tells a failed command's fate from ioredis's error: refused while the connection is down (never written), an
 * error reply from Redis (refused), or written without an answer (a timeout, a connection lost under it). The
 * connection's own last error names the real cause (`connect ECONNREFUSED 127.0.0.1:1`); `everConnected` tells a
 * connection that went down from one never made, when that error is not recorded yet.
 */
export const classify = (cause: unknown, lastError: unknown, everConnected = false): CommandFailure => {
  const message = messageOf(cause)
  const name = cause instanceof Error ? cause.name : ""
  // The close can be seen here before the connection's own `close` listener has recorded it.
  if (message === "Connection is closed.") {
    return { message: lastError === undefined ? connectionClosed : messageOf(lastError), sent: false }
  }
  // Likewise a socket already gone: closed if the connection was ever up, else never made.
  if (message.startsWith("Stream isn't writeable")) {
    const closed = everConnected ? connectionClosed : "not connected"
    return { message: lastError === undefined ? closed : messageOf(lastError), sent: false }
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

/** The part of an ioredis client that custom commands need. */
export interface Scripted {
  defineCommand(name: string, definition: { readonly numberOfKeys: number; readonly lua: string }): void
}

const publishCommand = "effectSseHubPublish"

type Publish = (...args: Array<string>) => Promise<[number, string]>

/** Runs the publish script (`Layout.publishScript`), sent by its digest once Redis knows it. */
export const publish = (
  redis: Scripted,
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

/** A URL with its password hidden, for messages. */
export const redactUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "(an invalid URL)"
  }
}

/** What is wrong with a Redis URL as ioredis will read it; `undefined` when nothing is. */
export const urlProblem = (url: string): string | undefined => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return `Expected a Redis URL (redis://host:port), got an invalid URL`
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    return `Expected a redis:// or rediss:// URL, got the protocol "${parsed.protocol}"`
  }
  if (parsed.port !== "" && !(Number(parsed.port) > 0 && Number(parsed.port) < 65536)) {
    return `Expected a port between 1 and 65535, got "${parsed.port}"`
  }
  return undefined
}
