/**
 * Where a hub's events live: the backend seam, one service with backends as layers, as on the Effect 3 line.
 *
 * A backend keeps, for each hub, a log: it accepts publishes (numbering them in one order, refusing a repeated
 * id, honouring idempotency keys), feeds the events back in that order to every process's hub, and answers
 * resumption from its history. It carries events as they are; the hub does the fan-out to its own subscribers
 * (the core's engine, shared with the Effect 3 line).
 *
 * - {@link layerMemory}: the in-process backend (a `PubSub` feeding one dispatcher, a bounded history), which
 *   is also what a hub uses when no backend is provided;
 * - `SseHubRedis.layer`: Redis Streams, across processes;
 * - {@link make}: your own.
 *
 * ```ts
 * import { Layer } from "effect"
 * import * as SseHub from "effect-sse/SseHub"
 * import * as SseHubBackend from "effect-sse/SseHubBackend"
 *
 * const HubLive = SseHub.layer({ name: "notes" }).pipe(Layer.provide(SseHubBackend.layerMemory))
 * ```
 *
 * @since 1.0.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/backend.js"
import type * as SseEvent from "./SseEvent.js"
import type * as SseHub from "./SseHub.js"

/**
 * A published event as a backend hands it to hubs.
 *
 * @since 1.0.0
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
  /** Whom it was published to beyond topics, as data; `undefined` for all (kept as the Effect 3 line keeps it). */
  readonly target: unknown
  /** When it was published, in milliseconds since the epoch. */
  readonly at: number
}

/**
 * What a resuming subscriber must get before live events: the retained events after its last event id, or,
 * when that id is not retained, all of them and `lost: true`.
 *
 * @since 1.0.0
 * @category models
 */
export interface Resume {
  readonly lost: boolean
  readonly entries: ReadonlyArray<Published>
}

/**
 * A position in a log: what a subscriber has already seen. Opaque to hubs; each backend knows its own.
 *
 * @since 1.0.0
 * @category models
 */
export interface Cursor {
  readonly _Cursor: unique symbol
}

/**
 * @since 1.0.0
 * @category models
 */
export interface PublishOptions {
  readonly topics: ReadonlyArray<string> | undefined
  /** Whom the events are for beyond topics, as data (stored and fed as it is). */
  readonly target: unknown
  /**
   * The same key published again within the idempotency window stores and feeds nothing and returns the ids of
   * the first publish with it.
   */
  readonly idempotencyKey: string | undefined
}

/**
 * What a publish did: the ids of its events, and whether it repeated an earlier publish with the same
 * idempotency key (then nothing was stored, and the ids are the first publish's).
 *
 * @since 1.0.0
 * @category models
 */
export interface Accepted {
  readonly ids: ReadonlyArray<string>
  readonly repeated: boolean
}

/**
 * One hub's log in a backend.
 *
 * @since 1.0.0
 * @category models
 */
export interface Log {
  /**
   * Accepts events, in order, atomically with respect to other publishers (on every process); returns their ids.
   * An event without an id (or with the empty id) gets the backend's next one; an id already in the log, or
   * carried by two of the events, fails with `PublishRejected` and nothing is published (a backend that replaces
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
  /** Starts feeding every event, in the log's order, to `deliver`, in the scope. */
  readonly feed: (deliver: (batch: ReadonlyArray<Published>) => void) => Effect.Effect<void, never, Scope.Scope>
  /** Feeds what was accepted by this process before now, then stops feeding. */
  readonly stop: Effect.Effect<void>
}

/**
 * @since 1.0.0
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
 * @since 1.0.0
 * @category models
 */
export interface Backend {
  /** The kind of backend, for logs and spans: `"memory"`, `"redis"`… */
  readonly kind: string
  /** Opens the log of the hub `name`, for as long as the scope. */
  readonly open: (name: string, options: OpenOptions) => Effect.Effect<Log, never, Scope.Scope>
}

/**
 * The backend hubs are built on: a reference whose default is the in-process backend, so a hub needs no
 * backend to run in one process; provide another (`SseHubRedis.layer`) to span processes.
 *
 * @since 1.0.0
 * @category services
 */
export const SseHubBackend: Context.Reference<Backend> = Context.Reference<Backend>("effect-sse/SseHubBackend", {
  defaultValue: () => internal.memory
})

/**
 * A backend from its implementation.
 *
 * @since 1.0.0
 * @category constructors
 */
export const make = (impl: Backend): Backend => ({ kind: impl.kind, open: impl.open })

/**
 * A backend's own position as a cursor.
 *
 * @since 1.0.0
 * @category constructors
 */
export const cursor: <A>(position: A) => Cursor = internal.cursor

/**
 * The backend's own position a cursor holds.
 *
 * @since 1.0.0
 * @category destructors
 */
export const positionOf: <A>(cursor: Cursor) => A = internal.positionOf

/**
 * The in-process backend as a value: each hub's publishes go through a `PubSub` to one dispatcher fiber, and a
 * bounded history (the core's) answers resumption. Ids are numbers that start from the clock (milliseconds ×
 * 1000), so that ids of an earlier run of the process are never reused.
 *
 * @since 1.0.0
 * @category constructors
 */
export const memory: Backend = internal.memory

/**
 * The in-process backend as a layer.
 *
 * @since 1.0.0
 * @category layers
 */
export const layerMemory: Layer.Layer<never> = Layer.succeed(SseHubBackend)(internal.memory)
