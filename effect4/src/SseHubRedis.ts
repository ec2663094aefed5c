/**
 * A hub backend on Redis Streams, so that a hub spans processes: an event published on any process reaches the
 * subscribers of every process, and a subscriber resumes with its last event id on any process, even after a
 * restart. Hubs do not change: only the backend layer does. The stream layout, the publish script and the
 * handling of ioredis's errors are the Effect-free core's, shared with the Effect 3 line, so both lines can
 * serve one hub from one Redis.
 *
 * ```ts
 * import { Layer } from "effect"
 * import * as SseHub from "effect-sse/SseHub"
 * import * as SseHubRedis from "effect-sse/SseHubRedis"
 *
 * // REDIS_URL (default redis://127.0.0.1:6379) says where Redis is.
 * const ChatHubLive = SseHub.layer({ name: "chat" }).pipe(Layer.provide(SseHubRedis.layer()))
 * ```
 *
 * How it works: each hub is a Redis Stream (key `effect-sse:<name>`). A publish runs one script: it adds the
 * events (trimmed to the history size with `MAXLEN ~`, so the stream is also the history) and, with an
 * idempotency key, remembers their ids for the window, atomically across processes. Each process reads new
 * entries with a blocking `XREAD` on its own connection and fans them out to its local subscribers. Event ids are
 * the stream entry ids (`1732442107123-0`), the same on every process; an id the event carries is replaced.
 *
 * When Redis is unreachable or stalls, `publish` fails with `HubUnavailable` (`NotPublished`: nothing was
 * stored; `OutcomeUnknown`: it may be, so publish again with the same idempotency key), subscribers stay
 * subscribed, and the reader retries on the `reconnect` schedule, then continues after the last entry it
 * delivered: every subscriber gets what was published before, during (on other processes) and after the outage,
 * once. A subscriber that resumes while the history cannot be read fails with `HubUnavailable` (`ReadFailed`).
 *
 * Requires `ioredis` (an optional peer dependency; `npm install ioredis`) and Redis 6.2 or later.
 *
 * @since 1.0.0
 */
import * as Config from "effect/Config"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { Redis, RedisOptions } from "ioredis"
import * as internal from "./internal/redis.js"
import * as SseHubBackend from "./SseHubBackend.js"

/**
 * @since 1.0.0
 * @category models
 */
export interface Options {
  /**
   * The Redis URL (`redis://` or `rediss://`; a password in it is never logged). Default: the `REDIS_URL` config,
   * read as a redacted value, else `redis://127.0.0.1:6379`. A malformed URL is a `ConfigError`.
   */
  readonly url?: string | Redacted.Redacted<string> | undefined
  /** More ioredis options for the connections made from `url` (TLS, username, sentinels…). */
  readonly redis?: RedisOptions | undefined
  /**
   * A client of your own, instead of `url`: the backend makes its connections with `client.duplicate()`, so they
   * share its settings (TLS, sentinel, ACL user…). The client itself is neither used nor closed.
   */
  readonly client?: Redis | undefined
  /** The prefix of each hub's stream key (`<prefix><hub name>`). Default: `effect-sse:`. */
  readonly prefix?: string | undefined
  /** How the reader retries while Redis is unreachable. Default: exponential from 100 ms, at most 2 s apart. */
  readonly reconnect?: Schedule.Schedule<unknown, unknown> | undefined
  /**
   * How long a command waits for Redis's answer before it fails with `HubUnavailable` (the reader's blocking
   * reads wait this long beyond their 5-second block). Default: 2 seconds.
   */
  readonly commandTimeout?: Duration.Input | undefined
  /**
   * For a subscriber that joins before this process first reached Redis: it also gets the entries Redis added up
   * to this long before it joined, a margin for the measure of the difference between the two clocks. Default: 2
   * seconds.
   */
  readonly clockTolerance?: Duration.Input | undefined
}

/**
 * The options {@link layerConfig} reads from `Config`.
 *
 * @since 1.0.0
 * @category models
 */
export interface ConfigOptions {
  readonly url?: Redacted.Redacted<string> | undefined
  readonly prefix?: string | undefined
  readonly commandTimeout?: Duration.Duration | undefined
}

/**
 * The backend, for as long as the scope; closing it closes its connections.
 *
 * @since 1.0.0
 * @category constructors
 */
export const make: (
  options?: Options
) => Effect.Effect<SseHubBackend.Backend, Config.ConfigError, Scope.Scope> = internal.make

/**
 * The backend as a layer: provide it to `SseHub.layer`.
 *
 * @example
 * ```ts
 * import * as SseHubRedis from "effect-sse/SseHubRedis"
 *
 * // from REDIS_URL, or an explicit URL
 * const fromEnv = SseHubRedis.layer()
 * const explicit = SseHubRedis.layer({ url: "redis://127.0.0.1:6380", commandTimeout: "500 millis" })
 * ```
 *
 * @since 1.0.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<never, Config.ConfigError> =>
  Layer.effect(SseHubBackend.SseHubBackend)(make(options))

/**
 * The backend, its options read from `Config`.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import * as SseHubRedis from "effect-sse/SseHubRedis"
 *
 * const backend = SseHubRedis.layerConfig({
 *   url: Config.Redacted("CHAT_REDIS_URL"),
 *   prefix: Config.String("CHAT_REDIS_PREFIX").pipe(Config.withDefault("chat:"))
 * })
 * ```
 *
 * @since 1.0.0
 * @category layers
 */
export const layerConfig = (config: Config.Wrap<ConfigOptions>): Layer.Layer<never, Config.ConfigError> =>
  Layer.effect(SseHubBackend.SseHubBackend)(Effect.flatMap(Config.unwrap(config), (options) => make(options)))
