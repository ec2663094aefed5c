/**
 * A hub backend on Redis Streams, so that a hub spans processes: a message published on any process reaches
 * the clients of every process, and a client resumes with its `Last-Event-ID` on any process, even after a
 * restart. Routes and hubs do not change: only the backend layer does.
 *
 * ```ts
 * import { Context, Layer, Schema } from "effect"
 * import * as SseHub from "effect-sse/SseHub"
 * import * as SseHubRedis from "effect-sse/SseHubRedis"
 *
 * const Message = Schema.Struct({ user: Schema.String, text: Schema.String })
 * class ChatHub extends Context.Tag("ChatHub")<ChatHub, SseHub.SseHub<typeof Message.Type>>() {}
 *
 * // REDIS_URL (default redis://127.0.0.1:6379) says where Redis is.
 * const ChatHubLive = SseHub.layer(ChatHub, { name: "chat", schema: Message }).pipe(
 *   Layer.provide(SseHubRedis.layer())
 * )
 * ```
 *
 * How it works: each hub is a Redis Stream (key `effect-sse:<name>`). A publish runs one script: it adds the
 * events (trimmed to the history size with `MAXLEN ~`, so the stream is also the history) and, with an
 * idempotency key, remembers their ids for the window, atomically across processes. Each process reads new
 * entries with a blocking `XREAD` on its own connection and fans them out to its local clients, encoding each
 * event once per process. Event ids are the stream entry ids (`1732442107123-0`), the same on every process;
 * an id the event carries is replaced.
 *
 * When Redis is unreachable or stalls:
 *
 * - `publish` fails with `HubUnavailable`. `NotPublished`: the command could not be written (Redis refuses
 *   connections, the connection is down) or Redis refused it; it fails at once and nothing is stored.
 *   `OutcomeUnknown`: the command was written and no answer came within `commandTimeout` (a stalled Redis), or
 *   the connection broke before the answer; it may still be applied (a stalled Redis runs it when it resumes,
 *   and it is then delivered): publish it again with the same idempotency key to have it stored and delivered
 *   once;
 * - connected clients stay connected, and clients without a `Last-Event-ID` can still join; the reader retries
 *   on the `reconnect` schedule, then continues after the last entry it delivered, so every client gets what
 *   was published before, during (on other processes) and after the outage, once;
 * - a process whose reader has not reached Redis yet (one that started during an outage) starts it, at its
 *   first contact, at the earliest position it handed to a client: a client that joined meanwhile gets every
 *   entry Redis added after it joined (the difference between this process's clock and Redis's is measured at
 *   that contact), a client that resumed gets every entry after the last one it was sent;
 * - a client that resumes while the history cannot be read gets its response ended at once (a `subscribe`
 *   fails with `ReadFailed`), and reconnects.
 *
 * Requires `ioredis` (an optional peer dependency; `npm install ioredis`) and Redis 6.2 or later.
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { Redis, RedisOptions } from "ioredis"
import * as internal from "./internal/redis.js"
import type * as SseHubBackend from "./SseHubBackend.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /**
   * The Redis URL (`redis://` or `rediss://`, a password in it is never logged). Default: the `REDIS_URL`
   * config, read as a redacted value, else `redis://127.0.0.1:6379`. A malformed URL is a `ConfigError`.
   */
  readonly url?: string | Redacted.Redacted<string> | undefined
  /** More ioredis options for the connections made from `url` (TLS, username, sentinels…). */
  readonly redis?: RedisOptions | undefined
  /**
   * A client of your own, instead of `url`: the backend makes its connections with `client.duplicate()`, so
   * they share its settings (TLS, sentinel, ACL user…). The client itself is neither used nor closed.
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
  readonly commandTimeout?: Duration.DurationInput | undefined
  /**
   * For a client that joins before this process first reached Redis (see above): it also gets the entries Redis
   * added up to this long before it joined, a margin for the measure of the difference between the two clocks
   * and for a clock adjusted meanwhile. Default: 2 seconds.
   */
  readonly clockTolerance?: Duration.DurationInput | undefined
}

/**
 * The options {@link layerConfig} reads from `Config`.
 *
 * @since 0.2.0
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
 * @since 0.2.0
 * @category constructors
 */
export const make: (
  options?: Options
) => Effect.Effect<SseHubBackend.SseHubBackend, ConfigError.ConfigError, Scope.Scope> = internal.make

/**
 * The backend as a layer.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import * as SseHubRedis from "effect-sse/SseHubRedis"
 *
 * // from REDIS_URL, or an explicit URL
 * const fromEnv = SseHubRedis.layer()
 * const explicit = SseHubRedis.layer({ url: "redis://127.0.0.1:6380", commandTimeout: "500 millis" })
 * const both = Layer.merge(fromEnv, explicit)
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: (options?: Options) => Layer.Layer<SseHubBackend.SseHubBackend, ConfigError.ConfigError> =
  internal.layer

/**
 * The backend, its options read from `Config`.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import * as SseHubRedis from "effect-sse/SseHubRedis"
 *
 * const backend = SseHubRedis.layerConfig({
 *   url: Config.redacted("CHAT_REDIS_URL"),
 *   prefix: Config.string("CHAT_REDIS_PREFIX").pipe(Config.withDefault("chat:"))
 * })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig: (
  config: Config.Config.Wrap<ConfigOptions>
) => Layer.Layer<SseHubBackend.SseHubBackend, ConfigError.ConfigError> = internal.layerConfig
