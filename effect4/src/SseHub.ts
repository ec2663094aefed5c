/**
 * A hub in memory: events published once reach every subscriber of their topics, each with an id, and a bounded
 * history lets a subscriber that reconnects with its `Last-Event-ID` resume where it left off (the core's
 * `History`, shared with the Effect 3 line). The Effect 3 line's Redis backend, slow-client policy and metrics
 * are not on this line yet.
 *
 * @since 1.0.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as History from "../../src/core/history.js"
import * as SseEvent from "./SseEvent.js"

/**
 * The hub's options: how many events the history keeps (default 1000; 0 turns resumption off) and how old they
 * may be (default: no limit).
 *
 * @since 1.0.0
 * @category models
 */
export interface Options {
  readonly historySize?: number | undefined
  readonly maxAge?: Duration.Input | undefined
}

/**
 * A subscription: the id it resumes after, and the topics it takes (all when undefined).
 *
 * @since 1.0.0
 * @category models
 */
export interface SubscribeOptions {
  readonly lastEventId?: string | undefined
  readonly topics?: ReadonlyArray<string> | undefined
}

/**
 * The hub.
 *
 * @since 1.0.0
 * @category services
 */
export class SseHub extends Context.Service<SseHub, {
  /** Publishes an event (to `topics`, or to everyone) and returns the id it was given. */
  readonly publish: (
    event: SseEvent.SseEvent,
    options?: { readonly topics?: ReadonlyArray<string> | undefined }
  ) => Effect.Effect<string>
  /**
   * The events published from now on, preceded, when `lastEventId` is given, by the retained ones after it (all
   * retained ones when it is unknown or evicted).
   */
  readonly subscribe: (options?: SubscribeOptions) => Stream.Stream<SseEvent.SseEvent>
}>()("effect-sse/SseHub") {}

/**
 * A hub in memory, shut down with its scope.
 *
 * @since 1.0.0
 * @category constructors
 */
export const make = (options?: Options): Effect.Effect<SseHub["Service"], never, Scope.Scope> =>
  Effect.gen(function*() {
    const maxAge = options?.maxAge === undefined ? undefined : Duration.toMillis(options.maxAge)
    const history = new History.History<SseEvent.SseEvent>(options?.historySize ?? 1000, maxAge)
    const pubsub = yield* Effect.acquireRelease(
      PubSub.unbounded<History.Published<SseEvent.SseEvent>>(),
      PubSub.shutdown
    )
    let seq = 0
    const publish = (
      event: SseEvent.SseEvent,
      publishOptions?: { readonly topics?: ReadonlyArray<string> | undefined }
    ) =>
      Effect.clockWith((clock) =>
        Effect.suspend(() => {
          // Id, history and fan-out in one step, so that a subscriber's snapshot and its live events never overlap.
          const at = clock.currentTimeMillisUnsafe()
          seq += 1
          const id = String(seq)
          const entry: History.Published<SseEvent.SseEvent> = {
            id,
            seq,
            event: Result.getOrThrow(SseEvent.withId(event, id)),
            topics: publishOptions?.topics,
            target: undefined,
            at
          }
          history.evictOlderThan(at)
          history.append(entry)
          PubSub.publishUnsafe(pubsub, entry)
          return Effect.succeed(id)
        })
      )
    const subscribe = (subscribeOptions?: SubscribeOptions): Stream.Stream<SseEvent.SseEvent> =>
      Stream.unwrap(Effect.gen(function*() {
        const topics = subscribeOptions?.topics === undefined ? undefined : new Set(subscribeOptions.topics)
        const subscription = yield* PubSub.subscribe(pubsub)
        // Subscribed first: what is published from here on is in the subscription; the snapshot ends at `seen`.
        const seen = seq
        const resumed = subscribeOptions?.lastEventId === undefined
          ? []
          : history.resume(subscribeOptions.lastEventId, topics).entries.map((entry) => entry.event)
        const live = Stream.fromSubscription(subscription).pipe(
          Stream.filter((entry) => entry.seq > seen && History.matches(topics, entry.topics)),
          Stream.map((entry) => entry.event)
        )
        return Stream.concat(Stream.fromIterable(resumed), live)
      }))
    return { publish, subscribe }
  })

/**
 * The hub in memory as a layer.
 *
 * @since 1.0.0
 * @category layers
 */
export const layerMemory = (options?: Options): Layer.Layer<SseHub> => Layer.effect(SseHub)(make(options))
