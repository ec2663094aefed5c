import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import type * as SseEvent from "../SseEvent.js"
import type * as SseHub from "../SseHub.js"
import type * as SseHubRedis from "../SseHubRedis.js"
import * as event from "./event.js"
import * as hub from "./hub.js"
import * as sink from "./sink.js"

/** @internal */
export const defaultUrl = "redis://127.0.0.1:6379"

/** @internal */
export const defaultReconnect: Schedule.Schedule<unknown> = Schedule.exponential("100 millis").pipe(
  Schedule.union(Schedule.spaced("2 seconds"))
)

const streamId = /^(\d+)-(\d+)$/

/**
 * Orders Redis stream ids ("<ms>-<seq>"). Both parts can exceed 2^53 in theory, so they are compared as
 * digit strings.
 *
 * @internal
 */
export const compareIds = (a: string, b: string): number => {
  const [ams, aseq] = a.split("-")
  const [bms, bseq] = b.split("-")
  const compareDigits = (x: string, y: string) =>
    x.length !== y.length ? x.length - y.length : x < y ? -1 : x > y ? 1 : 0
  return compareDigits(ams, bms) || compareDigits(aseq ?? "0", bseq ?? "0")
}

interface Stored {
  readonly data?: string
  readonly type?: string
  readonly retry?: number
  readonly comment?: string
}

const store = (self: SseEvent.SseEvent): string => {
  const stored: { -readonly [K in keyof Stored]: Stored[K] } = {}
  if (self.data !== undefined) stored.data = self.data
  if (self.type !== undefined) stored.type = self.type
  if (self.retry !== undefined) stored.retry = self.retry
  if (self.comment !== undefined) stored.comment = self.comment
  return JSON.stringify(stored)
}

const restore = (id: string, fields: ReadonlyArray<string>): hub.Entry | undefined => {
  let stored: Stored | undefined
  let topics: ReadonlyArray<string> | undefined
  try {
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === "e") stored = JSON.parse(fields[i + 1])
      else if (fields[i] === "t") topics = JSON.parse(fields[i + 1])
    }
  } catch {
    return undefined
  }
  if (stored === undefined || typeof stored !== "object") return undefined
  const self = event.makeUnsafe({
    data: stored.data,
    type: stored.type,
    id,
    retry: stored.retry,
    comment: stored.comment
  })
  const bytes = event.encode(self)
  if (bytes._tag === "Left") return undefined
  const match = streamId.exec(id)
  return {
    seq: 0,
    id,
    event: self,
    bytes: sink.toBuffer(bytes.right),
    topics,
    at: match === null ? 0 : Number(match[1])
  }
}

/**
 * The Redis backend: a Redis Stream per hub is the log and the history. Publishes are `XADD`s (trimmed to the
 * history size); each process reads new entries with a blocking `XREAD` on its own connection, from the last
 * entry it delivered, so a reconnect after an outage continues exactly where it stopped.
 *
 * @internal
 */
export const backend = (
  name: string,
  options: SseHubRedis.RedisOptions & { readonly historySize: number; readonly maxAge: number | undefined }
): Effect.Effect<hub.Backend, ConfigError.ConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const url = options.url ?? (yield* Config.string("REDIS_URL").pipe(Config.withDefault(defaultUrl)))
    const key = options.key ?? `effect-sse:${name}`
    const reconnect = options.reconnect ?? defaultReconnect
    const unavailable = (cause: unknown) => new hub.HubUnavailable({ hub: name, cause })

    // Commands fail at once while Redis is unreachable instead of queueing: a publish must never hang or be
    // silently deferred.
    const publisher = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new Redis(url, {
          lazyConnect: true,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          commandTimeout: Duration.toMillis(options.commandTimeout ?? "2 seconds")
        })
      ),
      (redis) => Effect.sync(() => redis.disconnect())
    )
    const reader = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new Redis(url, {
          lazyConnect: true,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0
        })
      ),
      (redis) => Effect.sync(() => redis.disconnect())
    )
    // Connection errors surface as failed commands; keep ioredis from reporting them as unhandled.
    publisher.on("error", () => {})
    reader.on("error", () => {})
    // Every caller awaits the first connection attempt (so that concurrent first commands do not fail while the
    // socket opens); afterwards commands go straight out and fail fast whenever Redis is unreachable.
    const commandsOn = (redis: Redis) => {
      let first: Promise<void> | undefined
      const connected = Effect.promise(() => first ??= redis.connect().catch(() => undefined))
      return <A>(run: () => Promise<A>) =>
        Effect.zipRight(connected, Effect.tryPromise({ try: run, catch: unavailable }))
    }
    const onPublisher = commandsOn(publisher)
    const onReader = commandsOn(reader)

    // Where this process starts reading: the newest entry when it first reaches Redis. A publish waits until
    // it is known, so that this hub's own first publishes are read back, not taken for history.
    let startId: string | undefined
    const lock = yield* Effect.makeSemaphore(1)
    const ensureStarted = lock.withPermits(1)(Effect.suspend(() =>
      startId !== undefined ? Effect.void : onReader(() => reader.xrevrange(key, "+", "-", "COUNT", 1)).pipe(
        Effect.map((newest) => {
          startId = newest.length > 0 ? newest[0][0] : "0-0"
        })
      )
    ))
    let lastPublished: string | undefined
    let last: string | undefined

    const publish: hub.Backend["publish"] = (events, topics) =>
      Effect.suspend((): Effect.Effect<ReadonlyArray<string>, hub.HubUnavailable | event.SseEventError> => {
        for (const e of events) {
          // The id comes from the stream entry; the other fields must be valid.
          const invalid = event.check(event.withId(e, "0"))
          if (invalid !== undefined) {
            return Effect.fail(invalid)
          }
        }
        return Effect.flatMap(Effect.zipRight(ensureStarted, Clock.currentTimeMillis), (now) =>
          onPublisher(async () => {
            const multi = publisher.multi()
            for (const e of events) {
              const fields = topics === undefined ? ["e", store(e)] : ["e", store(e), "t", JSON.stringify(topics)]
              multi.xadd(key, "MAXLEN", "~", options.historySize, "*", ...fields)
            }
            if (options.maxAge !== undefined) {
              multi.xtrim(key, "MINID", "~", Math.max(0, now - options.maxAge))
            }
            const results = await multi.exec()
            if (results === null) {
              throw new Error("the transaction was aborted")
            }
            const ids: Array<string> = []
            for (let i = 0; i < events.length; i++) {
              const [error, id] = results[i]
              if (error !== null) {
                throw error
              }
              ids.push(String(id))
            }
            lastPublished = ids[ids.length - 1]
            return ids
          }))
      })

    const range = (start: string, end: string) => onPublisher(() => publisher.xrange(key, start, end))

    const resume: hub.Backend["resume"] = (lastEventId, topics) =>
      Effect.gen(function*() {
        const filter = (entries: ReadonlyArray<[string, Array<string>]>) => {
          const out: Array<hub.Entry> = []
          for (const [id, fields] of entries) {
            const entry = restore(id, fields)
            if (entry !== undefined && hub.matches(topics, entry)) {
              out.push(entry)
            }
          }
          return out
        }
        if (streamId.test(lastEventId)) {
          const exact = yield* range(lastEventId, lastEventId)
          if (exact.length > 0) {
            return { lost: false, entries: filter(yield* range(`(${lastEventId}`, "+")) }
          }
        }
        return { lost: true, entries: filter(yield* range("-", "+")) }
      })

    const start: hub.Backend["start"] = (deliver) =>
      Effect.gen(function*() {
        const read = Effect.suspend(() =>
          last === undefined
            ? Effect.map(ensureStarted, () => {
              last = startId
            })
            : Effect.flatMap(
              onReader(() => reader.xread("COUNT", 1000, "BLOCK", 5000, "STREAMS", key, last!)),
              (result) =>
                Effect.map(Clock.currentTimeMillis, (now) => {
                  if (result === null || result.length === 0) {
                    return
                  }
                  const entries: Array<hub.Entry> = []
                  for (const [id, fields] of result[0][1]) {
                    last = id
                    const entry = restore(id, fields)
                    if (entry !== undefined) {
                      entries.push(entry)
                    }
                  }
                  if (entries.length > 0) {
                    deliver(entries, now)
                  }
                })
            )
        )
        // While failing, each retry first checks that Redis answers, so that recovery is noticed (and logged
        // with the entry the reader continues after) without waiting for the next blocking read.
        let failedAfter: string | undefined
        const step = Effect.suspend(() =>
          failedAfter === undefined ? read : Effect.zipRight(
            onReader(() => reader.ping()),
            Effect.suspend(() => {
              const after = failedAfter
              failedAfter = undefined
              return Effect.logInfo(`effect-sse: hub "${name}" reconnected to Redis; resuming after ${after}`)
            })
          )
        ).pipe(
          Effect.tapError((error) => {
            if (failedAfter !== undefined) return Effect.void
            failedAfter = last ?? "(not started)"
            return Effect.logWarning(
              `effect-sse: hub "${name}" lost Redis (${describe(error.cause)}); retrying`
            )
          }),
          Effect.retry(reconnect),
          // A schedule that gives up only pauses the retries: the reader starts over, it never stops for good.
          Effect.ignore
        )
        yield* Effect.forkScoped(Effect.forever(step))
      })

    // Before stopping, read back what this hub itself published (bounded), so that its own subscribers get it.
    const caughtUp = Effect.suspend(() =>
      lastPublished === undefined || (last !== undefined && compareIds(last, lastPublished) >= 0)
        ? Effect.void
        : Effect.fail("behind" as const)
    ).pipe(
      Effect.retry(Schedule.spaced("10 millis")),
      Effect.timeout(options.commandTimeout ?? "2 seconds"),
      Effect.ignore
    )

    return {
      publish,
      resume,
      after: (id) => streamId.test(id) ? (entry) => compareIds(entry.id, id) > 0 : () => true,
      start,
      // Stopping drops the connections; what other processes published stays in Redis for resumption.
      stop: Effect.zipRight(
        caughtUp,
        Effect.sync(() => {
          reader.disconnect()
        })
      )
    }
  })

const describe = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

/** @internal */
export const make = <A, R = never>(
  options: SseHubRedis.Options<A, R>
): Effect.Effect<SseHub.SseHub<A>, ConfigError.ConfigError, Scope.Scope | R> =>
  Effect.flatMap(
    backend(options.name ?? hub.defaults.name, {
      ...options.redis,
      historySize: options.history?.size ?? hub.defaults.historySize,
      maxAge: options.history?.maxAge === undefined ? undefined : Duration.toMillis(options.history.maxAge)
    }),
    // A publish is a round trip to Redis: its span is worth what it costs.
    (backend) => hub.makeWith({ ...options, tracePublish: options.tracePublish ?? true }, backend)
  )

/** @internal */
export const layer = <I, A, R = never>(
  tag: Context.Tag<I, SseHub.SseHub<A>>,
  options: SseHubRedis.Options<A, R>
): Layer.Layer<I, ConfigError.ConfigError, R> => Layer.scoped(tag, make(options))
