import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { Redis, RedisOptions } from "ioredis"
import * as History from "../core/history.js"
import * as Layout from "../core/redis.js"
import type * as SseHubBackend from "../SseHubBackend.js"
import type * as SseHubRedis from "../SseHubRedis.js"
import * as backend from "./backend.js"
import * as event from "./event.js"
import * as errors from "./hubErrors.js"
import * as ioredis from "./ioredis.js"
import { checkUrl, redactUrl } from "./redisUrl.js"

/** @internal */
export const defaultUrl = "redis://127.0.0.1:6379"

/** @internal */
export const defaultReconnect: Schedule.Schedule<unknown> = Schedule.exponential("100 millis").pipe(
  Schedule.union(Schedule.spaced("2 seconds"))
)

/** @internal */
export const defaultClockTolerance = Duration.seconds(2)

/** How long the reader's `XREAD` blocks waiting for new entries. */
const blockMillis = 5000

/** Our connection settings: commands fail at once while Redis is unreachable, instead of queueing. */
const ours = (commandTimeout: number | undefined): Partial<RedisOptions> => ({
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  ...(commandTimeout === undefined ? {} : { commandTimeout })
})

/**
 * One connection, with what the library needs around ioredis: every caller awaits the first connection attempt
 * (so that concurrent first commands do not fail while the socket opens), the last connection error is kept (it
 * says more than the failed command: `connect ECONNREFUSED 127.0.0.1:1` rather than "Stream isn't writeable"),
 * and whether it ever connected.
 */
class Connection {
  private first: Promise<void> | undefined = undefined
  lastError: unknown = undefined
  everConnected = false
  constructor(readonly redis: Redis) {
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
      if (this.everConnected && this.lastError === undefined) this.lastError = ioredis.connectionClosed
    })
  }
  get connected(): Effect.Effect<void> {
    return Effect.promise(() => this.first ??= this.redis.connect().catch(() => undefined))
  }
  /** Runs a command; a failure keeps the command's error and the connection's last error. */
  run<A>(command: () => Promise<A>): Effect.Effect<A, ioredis.CommandFailure> {
    return Effect.zipRight(
      this.connected,
      Effect.tryPromise({ try: command, catch: (cause) => ioredis.classify(cause, this.lastError, this.everConnected) })
    )
  }
}

/** A position handed out before the reader's first contact: when a subscriber joined, by this process's clock. */
class Joined {
  constructor(readonly at: number) {}
}

interface Settings {
  readonly url: string
  readonly make: (overrides: Partial<RedisOptions>) => Redis
  readonly owned: boolean
  readonly prefix: string
  readonly reconnect: Schedule.Schedule<unknown, unknown>
  readonly commandTimeout: number
  readonly clockTolerance: number
}

/**
 * One hub's log in Redis: a Redis Stream is the log and the history. Publishes run one script (atomic, and
 * idempotent with a key); each process reads new entries with a blocking `XREAD` on a connection of the log's
 * own, from the last entry it delivered, so a reconnection after an outage continues exactly where it stopped.
 */
const openLog = (
  settings: Settings,
  publisher: Connection,
  name: string,
  options: SseHubBackend.OpenOptions
): Effect.Effect<SseHubBackend.Log, never, Scope.Scope> =>
  Effect.gen(function*() {
    const key = settings.prefix + name
    // The reader's commands wait for the block as well as for Redis: a blocking read is not an outage.
    const reader = new Connection(
      yield* Effect.acquireRelease(
        Effect.sync(() => settings.make({ commandTimeout: blockMillis + settings.commandTimeout })),
        (redis) => Effect.sync(() => redis.disconnect())
      )
    )
    const where = redactUrl(settings.url)
    /** A failed write's error says whether it may have been applied; a failed read, only that it failed. */
    const unavailable = (reading: boolean) => (failure: ioredis.CommandFailure) =>
      new errors.HubUnavailable({
        hub: name,
        reason: reading ? "ReadFailed" : failure.sent ? "OutcomeUnknown" : "NotPublished",
        cause: `Redis at ${where}: ${failure.message}`
      })

    // Where the reader starts, decided at its first contact with Redis: at the earliest position handed to a
    // subscriber before then, so that a client that joined or resumed while Redis was unreachable misses nothing,
    // else at the newest entry. Once started, positions are the reader's own (`last`).
    // - `required`: the earliest entry a resuming subscriber was handed (`cursorOf`);
    // - `earliestJoin`: the earliest time (this process's clock) a subscriber joined (`position`). Only Redis's
    //   clock can make it a stream id: `offset`, Redis's clock minus ours, is measured at the first contact.
    let last: string | undefined = undefined
    let required: string | undefined = undefined
    let earliestJoin: number | undefined = undefined
    let offset = 0
    let lastPublished: string | undefined = undefined
    /** The stream id before every entry Redis added after a subscriber joined at `at` (our clock). */
    const joinedAt = (at: number) => Layout.idAt(at + offset - settings.clockTolerance)

    const publish: SseHubBackend.Log["publish"] = (events, publishOptions) =>
      Effect.clockWith((clock) => {
        const now = clock.unsafeCurrentTimeMillis()
        const args: Array<string> = [
          String(options.historySize),
          options.maxAge === undefined ? "" : Layout.idAt(now - options.maxAge),
          String(options.idempotencyWindow),
          String(events.length)
        ]
        const topics = publishOptions.topics === undefined ? "" : JSON.stringify(publishOptions.topics)
        const target = publishOptions.target === undefined ? "" : JSON.stringify(publishOptions.target)
        for (const e of events) args.push(Layout.store(e), topics, target)
        const idempotency = publishOptions.idempotencyKey === undefined
          ? ""
          : `${key}:idempotency:${publishOptions.idempotencyKey}`
        return publisher.run(() => ioredis.publish(publisher.redis, key, idempotency, args)).pipe(
          Effect.mapError(unavailable(false)),
          Effect.map(([repeated, joined]): SseHubBackend.Accepted => {
            // No event, no id (`"".split(",")` would be one empty id).
            if (joined === "") return { ids: [], repeated: repeated === 1 }
            const ids = joined.split(",")
            if (repeated !== 1) lastPublished = ids[ids.length - 1]
            return { ids, repeated: repeated === 1 }
          })
        )
      })

    const restored = (entries: ReadonlyArray<[string, Array<string>]>): Array<SseHubBackend.Published> => {
      const out: Array<SseHubBackend.Published> = []
      for (const [id, fields] of entries) {
        const entry = Layout.restore(id, fields)
        if (entry !== undefined) {
          out.push({
            id,
            seq: 0,
            event: event.unsafeMake(entry.fields),
            topics: entry.topics,
            target: entry.target,
            at: Layout.timeOf(id)
          })
        }
      }
      return out
    }

    const range = (start: string, end: string) =>
      publisher.run(() => publisher.redis.xrange(key, start, end)).pipe(Effect.mapError(unavailable(true)))

    const resume: SseHubBackend.Log["resume"] = (lastEventId, topics) =>
      Effect.gen(function*() {
        const filter = (entries: ReadonlyArray<[string, Array<string>]>) =>
          restored(entries).filter((entry) => History.matches(topics, entry.topics))
        if (Layout.isStreamId(lastEventId)) {
          const exact = yield* range(lastEventId, lastEventId)
          if (exact.length > 0) return { lost: false, entries: filter(yield* range(`(${lastEventId}`, "+")) }
        }
        return { lost: true, entries: filter(yield* range("-", "+")) }
      })

    /** Before the reader starts, every position handed out is one it must start at or before. */
    const hold = (id: string): SseHubBackend.Cursor => {
      if (last === undefined) required = Layout.minId(required, id)
      return backend.cursor(id)
    }

    const position: SseHubBackend.Log["position"] = Effect.clockWith((clock) =>
      Effect.sync(() => {
        if (last !== undefined) return backend.cursor(last)
        const at = clock.unsafeCurrentTimeMillis()
        earliestJoin = earliestJoin === undefined ? at : Math.min(earliestJoin, at)
        return backend.cursor(new Joined(at))
      })
    )

    const feed: SseHubBackend.Log["feed"] = (deliver) => {
      const contact = reader.run(() =>
        Promise.all([reader.redis.time(), reader.redis.xrevrange(key, "+", "-", "COUNT", 1)])
      ).pipe(
        Effect.flatMap(([time, newest]) =>
          Effect.clockWith((clock) =>
            Effect.sync(() => {
              offset = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000) - clock.unsafeCurrentTimeMillis()
              const start = earliestJoin === undefined ? required : Layout.minId(required, joinedAt(earliestJoin))
              const newestId = newest.length > 0 ? newest[0][0] : "0-0"
              // Nothing lies between the newest entry and a later start: starting there waits for the same entries.
              last = start === undefined ? newestId : Layout.minId(start, newestId)
            })
          )
        )
      )
      const read = Effect.suspend(() =>
        last === undefined ?
          contact :
          reader.run(() => reader.redis.xread("COUNT", 1000, "BLOCK", blockMillis, "STREAMS", key, last!)).pipe(
            Effect.map((result) => {
              if (result === null || result.length === 0) return
              const entries = result[0][1]
              if (entries.length === 0) return
              last = entries[entries.length - 1][0]
              const batch = restored(entries)
              if (batch.length > 0) deliver(batch)
            })
          )
      )
      // While failing, each retry first checks that Redis answers, so that recovery is noticed (and logged with
      // the entry the reader continues after) without waiting for the next blocking read.
      let failing = false
      const step = Effect.suspend(() =>
        !failing ? read : Effect.zipRight(
          reader.run(() => reader.redis.ping()),
          Effect.suspend(() => {
            failing = false
            return Effect.logInfo(
              last === undefined
                ? `effect-sse: hub "${name}" reached Redis at ${where}`
                : `effect-sse: hub "${name}" reconnected to Redis at ${where}; resuming after ${last}`
            )
          })
        )
      ).pipe(
        Effect.tapError((failure) => {
          if (failing) return Effect.void
          failing = true
          return Effect.logWarning(
            reader.everConnected
              ? `effect-sse: hub "${name}" lost Redis at ${where} (${failure.message}); retrying`
              : `effect-sse: hub "${name}" cannot reach Redis at ${where} (${failure.message}); retrying`
          )
        }),
        Effect.retry(settings.reconnect),
        // A schedule that gives up only pauses the retries: the reader starts over, it never stops for good.
        Effect.ignore
      )
      return Effect.asVoid(Effect.forkScoped(Effect.forever(step)))
    }

    // Before stopping, read back what this process itself published (bounded), so that its own subscribers get it.
    const behind = () =>
      lastPublished !== undefined && (last === undefined || Layout.compareIds(last, lastPublished) < 0)
    const caughtUp = Effect.sync(behind).pipe(
      Effect.repeat({ schedule: Schedule.spaced("10 millis"), while: (stillBehind) => stillBehind }),
      Effect.timeout(Duration.millis(settings.commandTimeout)),
      Effect.ignore
    )

    const log: SseHubBackend.Log = {
      publish,
      resume,
      position,
      cursorOf: hold,
      after: (cursor) => {
        const seen = backend.positionOf<string | Joined>(cursor)
        if (typeof seen === "string") return (published) => Layout.compareIds(published.id, seen) > 0
        // Asked once the reader has started (nothing is delivered before), so `offset` is known by then.
        return (published) => Layout.compareIds(published.id, joinedAt(seen.at)) > 0
      },
      feed,
      // Stopping drops the reader; what other processes published stays in Redis for resumption.
      stop: Effect.zipRight(caughtUp, Effect.sync(() => reader.redis.disconnect()))
    }
    return log
  })

const resolveSettings = (
  options: SseHubRedis.Options | undefined
): Effect.Effect<Settings, ConfigError.ConfigError> =>
  Effect.gen(function*() {
    const commandTimeout = Duration.toMillis(options?.commandTimeout ?? "2 seconds")
    const common = {
      prefix: options?.prefix ?? "effect-sse:",
      reconnect: options?.reconnect ?? defaultReconnect,
      commandTimeout,
      clockTolerance: Duration.toMillis(options?.clockTolerance ?? defaultClockTolerance)
    }
    const client = options?.client
    if (client !== undefined) {
      // Connections of our own, with the user's settings (TLS, sentinel, ACL user…) and ours on top: the
      // user's client itself is never used or changed.
      return {
        ...common,
        url: client.options.host === undefined
          ? "(your client)"
          : `redis://${client.options.host}:${client.options.port}`,
        make: (overrides) => client.duplicate({ ...ours(commandTimeout), ...overrides }),
        owned: false
      }
    }
    const given = options?.url
    const url = given === undefined
      ? Redacted.value(yield* Config.redacted("REDIS_URL").pipe(Config.withDefault(Redacted.make(defaultUrl))))
      : Redacted.isRedacted(given)
      ? Redacted.value(given)
      : given
    yield* checkUrl(url)
    const Redis = yield* ioredis.load
    return {
      ...common,
      url,
      make: (overrides) => new Redis(url, { ...options?.redis, ...ours(commandTimeout), ...overrides }),
      owned: true
    }
  })

/** @internal */
export const make: (
  options?: SseHubRedis.Options
) => Effect.Effect<SseHubBackend.SseHubBackend, ConfigError.ConfigError, Scope.Scope> = Effect.fn("SseHubRedis.make")(
  function*(options?: SseHubRedis.Options) {
    const settings = yield* resolveSettings(options)
    const publisher = new Connection(
      yield* Effect.acquireRelease(
        Effect.sync(() => settings.make({})),
        (redis) => Effect.sync(() => redis.disconnect())
      )
    )
    return backend.make({
      kind: "redis",
      open: (name, openOptions) => openLog(settings, publisher, name, openOptions)
    })
  }
)

/** @internal */
export const layer = (
  options?: SseHubRedis.Options
): Layer.Layer<SseHubBackend.SseHubBackend, ConfigError.ConfigError> => Layer.scoped(backend.tag, make(options))

/** @internal */
export const layerConfig = (
  config: Config.Config.Wrap<SseHubRedis.ConfigOptions>
): Layer.Layer<SseHubBackend.SseHubBackend, ConfigError.ConfigError> =>
  Layer.scoped(backend.tag, Effect.flatMap(Config.unwrap(config), (options) => make(options)))
