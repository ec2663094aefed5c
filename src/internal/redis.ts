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
import * as Log from "../core/redisLog.js"
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

/** One connection and its state (`Log.Connection`); runs a command once the first connection attempt is over. */
const run = <A>(
  connection: Log.Connection<Redis>,
  command: () => Promise<A>
): Effect.Effect<A, ioredis.CommandFailure> =>
  Effect.zipRight(
    Effect.promise(() => connection.connected()),
    Effect.tryPromise({ try: command, catch: (cause) => connection.failure(cause) })
  )

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
  publisher: Log.Connection<Redis>,
  name: string,
  options: SseHubBackend.OpenOptions
): Effect.Effect<SseHubBackend.Log, never, Scope.Scope> =>
  Effect.gen(function*() {
    const key = settings.prefix + name
    const state = new Log.LogState(key, settings.clockTolerance)
    // The reader's commands wait for the block as well as for Redis: a blocking read is not an outage.
    const reader = new Log.Connection(
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

    const publish: SseHubBackend.Log["publish"] = (events, publishOptions) =>
      Effect.clockWith((clock) => {
        const { args, idempotency } = state.publishArgs(
          events,
          options,
          publishOptions,
          clock.unsafeCurrentTimeMillis()
        )
        return run(publisher, () => ioredis.publish(publisher.redis, key, idempotency, args)).pipe(
          Effect.mapError(unavailable(false)),
          Effect.map(([repeated, joined]): SseHubBackend.Accepted => state.accepted(repeated, joined))
        )
      })

    const restored = (entries: ReadonlyArray<Log.RawEntry>): Array<SseHubBackend.Published> =>
      Log.restore(entries, event.unsafeMake)

    const range = (start: string, end: string) =>
      run(publisher, () => publisher.redis.xrange(key, start, end)).pipe(Effect.mapError(unavailable(true)))

    const resume: SseHubBackend.Log["resume"] = (lastEventId, topics) =>
      Effect.gen(function*() {
        const filter = (entries: ReadonlyArray<Log.RawEntry>) =>
          restored(entries).filter((entry) => History.matches(topics, entry.topics))
        if (Layout.isStreamId(lastEventId)) {
          const exact = yield* range(lastEventId, lastEventId)
          if (exact.length > 0) return { lost: false, entries: filter(yield* range(`(${lastEventId}`, "+")) }
        }
        return { lost: true, entries: filter(yield* range("-", "+")) }
      })

    const position: SseHubBackend.Log["position"] = Effect.clockWith((clock) =>
      Effect.sync(() => backend.cursor(state.position(clock.unsafeCurrentTimeMillis())))
    )

    const feed: SseHubBackend.Log["feed"] = (deliver) => {
      const contact = run(
        reader,
        () => Promise.all([reader.redis.time(), reader.redis.xrevrange(key, "+", "-", "COUNT", 1)])
      ).pipe(
        Effect.flatMap(([time, newest]) =>
          Effect.clockWith((clock) =>
            Effect.sync(() => state.contacted(time, newest[0]?.[0], clock.unsafeCurrentTimeMillis()))
          )
        )
      )
      const read = Effect.suspend(() =>
        state.last === undefined ?
          contact :
          run(reader, () => reader.redis.xread("COUNT", 1000, "BLOCK", blockMillis, "STREAMS", key, state.last!)).pipe(
            Effect.map((result) => {
              const entries = state.read(result)
              const batch = entries === undefined ? [] : restored(entries)
              if (batch.length > 0) deliver(batch)
            })
          )
      )
      // While failing, each retry first checks that Redis answers, so that recovery is noticed (and logged with
      // the entry the reader continues after) without waiting for the next blocking read.
      let failing = false
      const step = Effect.suspend(() =>
        !failing ? read : Effect.zipRight(
          run(reader, () => reader.redis.ping()),
          Effect.suspend(() => {
            failing = false
            return Effect.logInfo(
              state.last === undefined
                ? `effect-sse: hub "${name}" reached Redis at ${where}`
                : `effect-sse: hub "${name}" reconnected to Redis at ${where}; resuming after ${state.last}`
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
    const caughtUp = Effect.sync(() => state.behind()).pipe(
      Effect.repeat({ schedule: Schedule.spaced("10 millis"), while: (stillBehind) => stillBehind }),
      Effect.timeout(Duration.millis(settings.commandTimeout)),
      Effect.ignore
    )

    const log: SseHubBackend.Log = {
      publish,
      resume,
      position,
      cursorOf: (id) => backend.cursor(state.hold(id)),
      after: (cursor) => {
        const after = state.after(backend.positionOf<Log.Position>(cursor))
        return (published) => after(published.id)
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
        make: (overrides) => client.duplicate({ ...Log.ownOptions(commandTimeout), ...overrides }),
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
      make: (overrides) => new Redis(url, { ...options?.redis, ...Log.ownOptions(commandTimeout), ...overrides }),
      owned: true
    }
  })

/** @internal */
export const make: (
  options?: SseHubRedis.Options
) => Effect.Effect<SseHubBackend.SseHubBackend, ConfigError.ConfigError, Scope.Scope> = Effect.fn("SseHubRedis.make")(
  function*(options?: SseHubRedis.Options) {
    const settings = yield* resolveSettings(options)
    const publisher = new Log.Connection(
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
