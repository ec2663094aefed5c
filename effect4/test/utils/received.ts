/**
 * A stream read in a fiber of the current scope, for tests: what arrived so far, a wait for the n-th item, and
 * the stream's end. A consumer may be held (`gate`): it then takes one item and waits at it until the gate opens,
 * a subscriber that stops reading.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Latch from "effect/Latch"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

export interface Received<A, E> {
  readonly items: ReadonlyArray<A>
  /** Waits until `n` items arrived (or the stream ended), and returns them. */
  readonly atLeast: (n: number) => Effect.Effect<ReadonlyArray<A>>
  /** Waits for the end of the stream. */
  readonly exit: Effect.Effect<Exit.Exit<void, E>>
}

export const receive = <A, E>(
  stream: Stream.Stream<A, E>,
  gate?: Latch.Latch
): Effect.Effect<Received<A, E>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const items: Array<A> = []
    const waiters = new Set<{ readonly n: number; readonly done: Deferred.Deferred<void> }>()
    let ended = false
    const wake = () => {
      for (const waiter of waiters) {
        if (ended || items.length >= waiter.n) {
          waiters.delete(waiter)
          Deferred.doneUnsafe(waiter.done, Exit.void)
        }
      }
    }
    const fiber = yield* stream.pipe(
      Stream.runForEach((item) =>
        Effect.suspend(() => {
          items.push(item)
          wake()
          return gate === undefined ? Effect.void : gate.await
        })
      ),
      Effect.ensuring(Effect.sync(() => {
        ended = true
        wake()
      })),
      Effect.forkScoped
    )
    return {
      items,
      atLeast: (n) =>
        Effect.suspend(() => {
          if (ended || items.length >= n) return Effect.succeed(items)
          const done = Deferred.makeUnsafe<void>()
          waiters.add({ n, done })
          return Effect.as(Deferred.await(done), items)
        }),
      exit: Effect.map(Fiber.await(fiber), Exit.asVoid)
    }
  })
