/**
 * An `SseHub` that spans processes through Redis: a message published on any process reaches the clients of
 * every process, and a client resumes with its `Last-Event-ID` on any process, even after a restart. The
 * service interface is the in-memory hub's, so routes do not change: only the layer does.
 *
 * ```ts
 * import { Context, Schema } from "effect"
 * import * as SseHub from "effect-sse/SseHub"
 * import * as SseHubRedis from "effect-sse/SseHubRedis"
 *
 * const Message = Schema.Struct({ user: Schema.String, text: Schema.String })
 * class ChatHub extends Context.Tag("ChatHub")<ChatHub, SseHub.SseHub<typeof Message.Type>>() {}
 *
 * // REDIS_URL (default redis://127.0.0.1:6379) says where Redis is.
 * const ChatHubLive = SseHubRedis.layer(ChatHub, { name: "chat", schema: Message })
 * ```
 *
 * How it works: each hub is a Redis Stream (key `effect-sse:<name>`). `publish` is an `XADD` trimmed to the
 * history size (`MAXLEN ~`), so the stream is also the history; each process reads new entries with a
 * blocking `XREAD` on its own connection and fans them out to its local clients, encoding each event once per
 * process. Event ids are the stream entry ids (`1732442107123-0`), the same on every process.
 *
 * When Redis is unreachable, `publish` fails at once with `HubUnavailable` (nothing is queued or dropped
 * silently), connected clients stay connected, and the reader retries on the `reconnect` schedule, then
 * continues after the last entry it delivered, so nothing published before or after the outage is lost.
 * Requires `ioredis` (a peer dependency) and Redis 6.2 or later.
 *
 * @since 0.1.0
 */
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/redis.js"
import type * as SseHub from "./SseHub.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface RedisOptions {
  /** The Redis URL. Default: the `REDIS_URL` config (environment), else `redis://127.0.0.1:6379`. */
  readonly url?: string | undefined
  /** The stream's key. Default: `effect-sse:<hub name>`. */
  readonly key?: string | undefined
  /** How the reader retries while Redis is unreachable. Default: exponential from 100 ms, at most 2 s apart. */
  readonly reconnect?: Schedule.Schedule<unknown, unknown> | undefined
  /** How long a publish waits for Redis before failing with `HubUnavailable`. Default: 2 seconds. */
  readonly commandTimeout?: Duration.DurationInput | undefined
}

/**
 * The in-memory hub's options (ids always come from Redis: an id the encoded event carries is replaced), plus
 * the Redis connection.
 *
 * @since 0.1.0
 * @category models
 */
export type Options<A, R = never> = SseHub.Options<A, R> & { readonly redis?: RedisOptions | undefined }

/**
 * Builds a Redis-backed hub that lives as long as the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <A, R = never>(
  options: Options<A, R>
) => Effect.Effect<SseHub.SseHub<A>, ConfigError.ConfigError, Scope.Scope | R> = internal.make

/**
 * Provides a Redis-backed hub under `tag`; releasing the layer shuts the hub down and closes its connections.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: <I, A, R = never>(
  tag: Context.Tag<I, SseHub.SseHub<A>>,
  options: Options<A, R>
) => Layer.Layer<I, ConfigError.ConfigError, R> = internal.layer
