/**
 * One process's side of a hub's log in Redis, with no dependency (not even ioredis's types): a connection's
 * state around its client, the reader's position in the stream and where it starts, the publish script's
 * arguments and answer, and the entries read back. Each Effect line runs the commands and the reader's loop;
 * what they decide with is here, once.
 *
 * Part of the Effect-free core, shared by every binding; not a public API.
 */
import type * as Fields from "./fields.js"
import type * as History from "./history.js"
import * as Layout from "./redis.js"
import * as Client from "./redisClient.js"

/** The part of an ioredis client a connection watches. */
export interface Watched {
  on(event: "error" | "ready" | "close", listener: (error: unknown) => void): unknown
  connect(): Promise<void>
}

/** Our connection settings: commands fail at once while Redis is unreachable, instead of queueing. */
export const ownOptions = (commandTimeout: number | undefined): {
  readonly lazyConnect: true
  readonly enableOfflineQueue: false
  readonly maxRetriesPerRequest: 0
  readonly commandTimeout?: number
} => ({
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  ...(commandTimeout === undefined ? {} : { commandTimeout })
})

/** Why the backend cannot be built without ioredis (an optional peer dependency). */
export const missingClient = (cause: unknown): Error =>
  new Error(
    "effect-sse/SseHubRedis needs the ioredis package, which is not installed: run `npm install ioredis` " +
      `(${cause instanceof Error ? cause.message : String(cause)})`
  )

/**
 * One connection, with what the library needs around ioredis: every caller awaits the first connection attempt
 * (so that concurrent first commands do not fail while the socket opens), the last connection error is kept (it
 * says more than the failed command: `connect ECONNREFUSED 127.0.0.1:1` rather than "Stream isn't writeable"),
 * and whether it ever connected.
 */
export class Connection<R extends Watched> {
  private first: Promise<void> | undefined = undefined
  lastError: unknown = undefined
  everConnected = false
  constructor(readonly redis: R) {
    redis.on("error", (error: unknown) => {
      this.lastError = error
    })
    redis.on("ready", () => {
      this.everConnected = true
      // An error of an earlier outage would otherwise be named as the cause of the next one.
      this.lastError = undefined
    })
    // Redis going away closes the socket without an error, until the reconnection attempts fail.
    redis.on("close", () => {
      if (this.everConnected && this.lastError === undefined) this.lastError = Client.connectionClosed
    })
  }

  /** Settles once the first connection attempt is over, whatever its outcome. */
  connected(): Promise<void> {
    return this.first ??= this.redis.connect().catch(() => undefined)
  }

  /** What a command that threw `cause` tells: its error and the connection's last one. */
  failure(cause: unknown): Client.CommandFailure {
    return Client.classify(cause, this.lastError, this.everConnected)
  }
}

/** A position handed out before the reader's first contact: when a subscriber joined, by this process's clock. */
export class Joined {
  constructor(readonly at: number) {}
}

/** Where a subscriber starts: after a stream id, or after what Redis added once it joined. */
export type Position = string | Joined

/** An `XRANGE`/`XREAD` entry: its id and its flat field list. */
export type RawEntry = [string, Array<string>]

/**
 * The entries that are events of this hub, each made with `make` (which may refuse one: `undefined`). An entry
 * another program wrote, or whose fields break the event rules, is skipped, never delivered.
 */
export const restore = <E>(
  entries: ReadonlyArray<RawEntry>,
  make: (fields: Fields.Fields) => E | undefined
): Array<History.Published<E>> => {
  const out: Array<History.Published<E>> = []
  for (const [id, fields] of entries) {
    const entry = Layout.restore(id, fields)
    const event = entry === undefined ? undefined : make(entry.fields)
    if (entry !== undefined && event !== undefined) {
      out.push({ id, seq: 0, event, topics: entry.topics, target: entry.target, at: Layout.timeOf(id) })
    }
  }
  return out
}

/**
 * One log's state in this process: where its reader is, and where it starts.
 *
 * The reader starts, at its first contact with Redis, at the earliest position handed to a subscriber before
 * then, so that one that joined or resumed while Redis was unreachable misses nothing, else at the newest entry.
 * Once started, positions are the reader's own (`last`).
 * - `required`: the earliest entry a resuming subscriber was handed (`hold`);
 * - `earliestJoin`: the earliest time (this process's clock) a subscriber joined (`position`). Only Redis's
 *   clock can make it a stream id: `offset`, Redis's clock minus ours, is measured at the first contact.
 */
export class LogState {
  /** The last entry the reader delivered (or starts after); `undefined` until its first contact. */
  last: string | undefined = undefined
  private required: string | undefined = undefined
  private earliestJoin: number | undefined = undefined
  private offset = 0
  private lastPublished: string | undefined = undefined

  constructor(readonly key: string, private readonly clockTolerance: number) {}

  /** The stream id before every entry Redis added after a subscriber joined at `at` (our clock). */
  joinedAt(at: number): string {
    return Layout.idAt(at + this.offset - this.clockTolerance)
  }

  /** The publish script's idempotency key and arguments (`Layout.publishScript`), at `now` (our clock). */
  publishArgs(
    events: ReadonlyArray<Fields.Fields>,
    retention: History.Retention,
    publishing: History.Publishing,
    now: number
  ): { readonly idempotency: string; readonly args: Array<string> } {
    const args: Array<string> = [
      String(retention.historySize),
      retention.maxAge === undefined ? "" : Layout.idAt(now - retention.maxAge),
      String(retention.idempotencyWindow),
      String(events.length)
    ]
    const topics = publishing.topics === undefined ? "" : JSON.stringify(publishing.topics)
    const target = publishing.target === undefined ? "" : JSON.stringify(publishing.target)
    for (const e of events) args.push(Layout.store(e), topics, target)
    const idempotency = publishing.idempotencyKey === undefined
      ? ""
      : `${this.key}:idempotency:${publishing.idempotencyKey}`
    return { idempotency, args }
  }

  /** The publish script's answer: the events' ids, and whether the key was a repeat. */
  accepted(repeated: number, joined: string): { readonly ids: Array<string>; readonly repeated: boolean } {
    // No event, no id (`"".split(",")` would be one empty id).
    if (joined === "") return { ids: [], repeated: repeated === 1 }
    const ids = joined.split(",")
    if (repeated !== 1) this.lastPublished = ids[ids.length - 1]
    return { ids, repeated: repeated === 1 }
  }

  /** A resuming subscriber's position, after `id`: before the reader starts, one it must start at or before. */
  hold(id: string): string {
    if (this.last === undefined) this.required = Layout.minId(this.required, id)
    return id
  }

  /** A new subscriber's position, joining at `now` (our clock). */
  position(now: number): Position {
    if (this.last !== undefined) return this.last
    this.earliestJoin = this.earliestJoin === undefined ? now : Math.min(this.earliestJoin, now)
    return new Joined(now)
  }

  /**
   * The first contact: Redis's `TIME` (seconds, microseconds) at `now` (our clock) and the newest entry's id, if
   * any, decide where the reader starts.
   */
  contacted(time: ReadonlyArray<string | number>, newest: string | undefined, now: number): void {
    this.offset = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000) - now
    const start = this.earliestJoin === undefined
      ? this.required
      : Layout.minId(this.required, this.joinedAt(this.earliestJoin))
    const newestId = newest ?? "0-0"
    // Nothing lies between the newest entry and a later start: starting there waits for the same entries.
    this.last = start === undefined ? newestId : Layout.minId(start, newestId)
  }

  /** An `XREAD` answer: the new entries, the reader's position moved past them; `undefined` when none came. */
  read(result: ReadonlyArray<[string, Array<RawEntry>]> | null): Array<RawEntry> | undefined {
    if (result === null || result.length === 0) return undefined
    const entries = result[0][1]
    if (entries.length === 0) return undefined
    this.last = entries[entries.length - 1][0]
    return entries
  }

  /** Whether the reader has not yet read back what this process itself published. */
  behind(): boolean {
    return this.lastPublished !== undefined &&
      (this.last === undefined || Layout.compareIds(this.last, this.lastPublished) < 0)
  }

  /**
   * A test for "the entry comes after `position`". The test may be made before the reader's first contact, but is
   * asked only after it (nothing is delivered before): a join's stream id is computed when asked, with the clock
   * offset known by then.
   */
  after(position: Position): (id: string) => boolean {
    if (typeof position === "string") return (id) => Layout.compareIds(id, position) > 0
    return (id) => Layout.compareIds(id, this.joinedAt(position.at)) > 0
  }
}
