import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Conn from "../core/connection.js"
import type * as SseServer from "../SseServer.js"

/** @internal */
export const TypeId: SseServer.TypeId = Symbol.for("effect-sse/SseServer") as SseServer.TypeId

/**
 * Streams that are kept alive, ticked and ended together, and the fibers that run them: a server's, or a hub's.
 *
 * @internal
 */
export interface Group {
  readonly connections: Conn.ConnectionSet
  /** Takes in a stream's fiber, once started; a server's fibers are interrupted, and awaited, when it shuts down. */
  readonly add: (fiber: Fiber.RuntimeFiber<void>) => void
}

/** @internal */
export interface SseServerService extends SseServer.SseServer, Group {
  /** Runs an effect from a callback (a socket's `close`), in the server's fibers. */
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Fiber.RuntimeFiber<A, E>
}

/** @internal */
export const tag = Context.GenericTag<SseServer.SseServer>("effect-sse/SseServer")

/** The server's open streams, if an `SseServer` is provided. @internal */
export const current: Effect.Effect<Option.Option<SseServerService>> = Effect.map(
  Effect.serviceOption(tag),
  Option.map((server) => server as SseServerService)
)

/** The group of the provided `SseServer`, if any. @internal */
export const currentGroup: Effect.Effect<Group | undefined> = Effect.map(current, Option.getOrUndefined)

/**
 * Applies the keep-alive and stall rules to a set of connections once a tick, forever; an empty set waits for
 * its first connection without ticking.
 *
 * @internal
 */
export const ticker = (connections: Conn.ConnectionSet): Effect.Effect<never> =>
  Effect.clockWith((clock) => {
    const nonEmpty = Effect.async<void>((resume) => connections.onNonEmpty(() => resume(Effect.void)))
    const tick = Effect.sync(() => connections.tick(clock.unsafeCurrentTimeMillis()))
    return Effect.forever(
      Effect.zipRight(nonEmpty, Effect.zipRight(Effect.sleep(Duration.millis(Conn.tickMillis)), tick))
    )
  })

/** @internal */
export const defaultGracePeriod = Duration.seconds(1)

/** @internal */
export const make: (options?: SseServer.Options) => Effect.Effect<SseServer.SseServer, never, Scope.Scope> = Effect.fn(
  "SseServer.make"
)(function*(options?: SseServer.Options) {
  const connections = new Conn.ConnectionSet()
  const gracePeriod = Duration.decode(options?.gracePeriod ?? defaultGracePeriod)
  // Released after the finalizer below: once every stream has ended, the fibers still running are interrupted
  // and awaited, so that their own finalizers have run when the server is gone.
  const fibers = yield* FiberSet.make<void>()
  yield* Effect.forkScoped(ticker(connections))
  // At shutdown every stream ends cleanly; those that cannot finish within the grace period (a client that
  // stopped reading) are cut.
  yield* Effect.addFinalizer(() =>
    Effect.suspend(() => {
      connections.endAll()
      return Effect.async<void>((resume) => connections.onEmpty(() => resume(Effect.void))).pipe(
        // A finalizer is uninterruptible: the timeout could not stop the wait, and would never end it.
        Effect.interruptible,
        Effect.timeout(gracePeriod),
        Effect.ignore,
        Effect.ensuring(Effect.sync(() => connections.destroyAll()))
      )
    })
  )
  const server: SseServerService = {
    [TypeId]: TypeId,
    connections,
    add: (fiber) => FiberSet.unsafeAdd(fibers, fiber),
    run: (yield* FiberSet.runtime(fibers)<never>()) as SseServerService["run"],
    open: Effect.sync(() => connections.size)
  }
  return server
})

/** @internal */
export const layer = (options?: SseServer.Options): Layer.Layer<SseServer.SseServer> => Layer.scoped(tag, make(options))
