/**
 * Where a hub's events live: the backend seam, one service with backends as layers, in the shape of
 * `@effect/platform`'s `KeyValueStore`.
 *
 * A backend keeps, for each hub, a log: it accepts publishes (numbering them in one order, refusing a repeated
 * id, honouring idempotency keys), feeds the events back in that order to every process's hub, and answers
 * resumption from its history. It carries events as they are; the hub encodes each once per process and does
 * the fan-out to its own clients.
 *
 * - {@link layerMemory}: the in-process backend (a `PubSub` feeding one dispatcher, a bounded history);
 * - `SseHubRedis.layer`: Redis Streams, across processes;
 * - {@link make}: your own. `SseHubBackendTest` checks that a backend keeps the rules every backend must keep.
 *
 * ```ts
 * import { Context, Layer, Schema } from "effect"
 * import * as SseHub from "effect-sse/SseHub"
 * import * as SseHubBackend from "effect-sse/SseHubBackend"
 *
 * const Note = Schema.Struct({ text: Schema.String })
 * class Notes extends Context.Tag("Notes")<Notes, SseHub.SseHub<typeof Note.Type>>() {}
 *
 * const NotesLive = SseHub.layer(Notes, { schema: Note }).pipe(Layer.provide(SseHubBackend.layerMemory))
 * ```
 *
 * @since 0.2.0
 */
import type * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/backend.js"
import type * as SseEvent from "./SseEvent.js"
import type * as SseHub from "./SseHub.js"

/**
 * @since 0.2.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId as never

/**
 * @since 0.2.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * A published event as a backend hands it to hubs.
 *
 * @since 0.2.0
 * @category models
 */
export interface Published {
  /** The event id, unique within the hub. */
  readonly id: string
  /** An increasing position in the backend's order, where it has one; 0 where ids are ordered themselves. */
  readonly seq: number
  /** The event, with its `id` field set to `id`. */
  readonly event: SseEvent.SseEvent
  /** The topics it was published to; `undefined` for every subscriber. */
  readonly topics: ReadonlyArray<string> | undefined
  /** The target it was published to (see `SseHub.Options.target`), as its schema encodes it; `undefined` for all. */
  readonly target: unknown
  /** When it was published, in milliseconds since the epoch. */
  readonly at: number
}

/**
 * What a resuming subscriber must get before live events: the retained events after its last event id, or,
 * when that id is not retained, all of them and `lost: true`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Resume {
  readonly lost: boolean
  readonly entries: ReadonlyArray<Published>
}

/**
 * A position in a log: what a subscriber has already seen. Opaque to hubs; each backend knows its own.
 *
 * @since 0.2.0
 * @category models
 */
export interface Cursor {
  readonly _Cursor: unique symbol
}

/**
 * @since 0.2.0
 * @category models
 */
export interface PublishOptions {
  readonly topics: ReadonlyArray<string> | undefined
  /** The encoded target (see `SseHub.Options.target`). */
  readonly target: unknown
  /**
   * The same key published again within the idempotency window stores and delivers nothing and returns the ids
   * of the first publish with it.
   */
  readonly idempotencyKey: string | undefined
}

/**
 * What a publish did: the ids of its events, and whether it was a repeat of an earlier publish with the same
 * idempotency key (then nothing was stored, and the ids are the first publish's).
 *
 * @since 0.2.0
 * @category models
 */
export interface Accepted {
  readonly ids: ReadonlyArray<string>
  readonly repeated: boolean
}

/**
 * One hub's log in a backend.
 *
 * @since 0.2.0
 * @category models
 */
export interface Log {
  /**
   * Accepts events, in order, atomically with respect to other publishers (on every process); returns their
   * ids, and whether the publish repeated an earlier one with the same idempotency key. An event without an id (or with the empty id) gets the backend's next one; an id already in the log, or
   * carried by two of the events, fails with `PublishRejected`, and nothing is published (a backend that replaces
   * the ids events carry, as Redis does, never refuses one).
   */
  readonly publish: (
    events: ReadonlyArray<SseEvent.SseEvent>,
    options: PublishOptions
  ) => Effect.Effect<Accepted, SseHub.HubUnavailable | SseHub.PublishRejected>
  /** The retained events after `lastEventId` that reach a subscriber of `topics`, or all of them and `lost`. */
  readonly resume: (
    lastEventId: string,
    topics: ReadonlySet<string> | undefined
  ) => Effect.Effect<Resume, SseHub.HubUnavailable>
  /** Where the log is now, for a subscriber joining without a last event id: it gets what comes after. */
  readonly position: Effect.Effect<Cursor>
  /** The position just after the event with this id, one the backend has just handed over. */
  readonly cursorOf: (id: string) => Cursor
  /** A test for "comes after the position". */
  readonly after: (cursor: Cursor) => (published: Published) => boolean
  /**
   * Starts feeding every event, in the log's order, to `deliver`, in the scope. `deliver` returns true when a
   * client was left with bytes its socket has not taken yet: a burst should let I/O run before the next batch.
   */
  readonly feed: (deliver: (batch: ReadonlyArray<Published>) => boolean) => Effect.Effect<void, never, Scope.Scope>
  /** Feeds what was accepted by this process before now, then stops feeding. */
  readonly stop: Effect.Effect<void>
}

/**
 * @since 0.2.0
 * @category models
 */
export interface OpenOptions {
  /** The number of events kept for resumption. */
  readonly historySize: number
  /** Events older than this many milliseconds are not kept; `undefined` for no limit. */
  readonly maxAge: number | undefined
  /** How long an idempotency key is remembered, in milliseconds. */
  readonly idempotencyWindow: number
}

/**
 * A backend: it opens a log per hub name.
 *
 * @since 0.2.0
 * @category models
 */
export interface SseHubBackend {
  readonly [TypeId]: TypeId
  /** The kind of backend, for logs and spans: `"memory"`, `"redis"`… */
  readonly kind: string
  /** Opens the log of the hub `name`, for as long as the scope. */
  readonly open: (name: string, options: OpenOptions) => Effect.Effect<Log, never, Scope.Scope>
}

/**
 * @since 0.2.0
 * @category tags
 */
export const SseHubBackend: Context.Tag<SseHubBackend, SseHubBackend> = internal.tag

/**
 * A backend from its implementation.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: (impl: Omit<SseHubBackend, TypeId>) => SseHubBackend = internal.make

/**
 * The cursor of a backend's own positions, and back.
 *
 * @since 0.2.0
 * @category constructors
 */
export const cursor: <A>(position: A) => Cursor = internal.cursor

/**
 * @since 0.2.0
 * @category destructors
 */
export const positionOf: <A>(cursor: Cursor) => A = internal.positionOf

/**
 * The in-process backend: each hub's publishes go through a `PubSub` to one dispatcher fiber, and a bounded
 * history answers resumption. Ids are numbers that start from the clock (milliseconds × 1000), so that ids of
 * an earlier run of the process are never reused.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerMemory: Layer.Layer<SseHubBackend> = internal.layerMemory

/**
 * The in-process backend as a value.
 *
 * @since 0.2.0
 * @category constructors
 */
export const memory: SseHubBackend = internal.memory
