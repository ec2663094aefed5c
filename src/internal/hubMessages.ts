/**
 * What a hub does with each message before the engine: its encoding into an event, and the outlet of a
 * `subscribe` stream.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import type * as Mailbox from "effect/Mailbox"
import type * as Engine from "../core/engine.js"
import type * as SseEvent from "../SseEvent.js"
import type * as SseHub from "../SseHub.js"
import * as event from "./event.js"
import type * as errors from "./hubErrors.js"

// -----------------------------------------------------------------------------
// messages to events
// -----------------------------------------------------------------------------

type Encoded<R> =
  | SseEvent.SseEvent
  | Either.Either<SseEvent.SseEvent, SseEvent.SseEventError>
  | Effect.Effect<SseEvent.SseEvent, SseEvent.SseEventError, R>

/** How a hub turns a message into the event it publishes: its encoder, then its event type and id, if any. */
/** @internal */
export const makeToEvent = <A, R, S, T>(
  options: SseHub.Options<A, R, S, T>
): (
  message: A
) =>
  | Either.Either<SseEvent.SseEvent, SseEvent.SseEventError>
  | Effect.Effect<SseEvent.SseEvent, SseEvent.SseEventError, R> =>
{
  const encode: (message: A) => Encoded<R> = "schema" in options && options.schema !== undefined
    ? event.jsonSchema(options.schema)
    : (options as { readonly encode: SseHub.Options.Encode<A, R> }).encode
  const eventType = options.eventType
  const idOf = options.id
  const finish = (self: SseEvent.SseEvent, message: A): Either.Either<SseEvent.SseEvent, SseEvent.SseEventError> => {
    let result: Either.Either<SseEvent.SseEvent, SseEvent.SseEventError> = Either.right(self)
    if (eventType !== undefined) {
      result = event.withType(self, typeof eventType === "function" ? eventType(message) : eventType)
    }
    if (idOf !== undefined) result = event.withId(result, idOf(message))
    return result
  }
  return (message) => {
    const encoded = encode(message)
    if (event.isSseEvent(encoded)) return finish(encoded, message)
    if (Either.isEither(encoded)) return Either.flatMap(encoded, (self) => finish(self, message))
    return Effect.flatMap(encoded, (self) => finish(self, message))
  }
}

// -----------------------------------------------------------------------------
// outlets
// -----------------------------------------------------------------------------

/**
 * A `subscribe` stream's outlet: events go to a mailbox the stream reads; room comes back as it reads. Under
 * drop-oldest the mailbox holds the newest `bufferSize` events (sliding), so the outlet always has room and
 * reports what the mailbox discarded.
 */
/** @internal */
export class StreamOutlet implements Engine.Outlet<SseEvent.SseEvent> {
  private offered = 0
  private taken = 0
  private discarded = 0
  private closed = false
  private room: (() => void) | undefined = undefined
  constructor(
    readonly mailbox: Mailbox.Mailbox<SseEvent.SseEvent, errors.SubscriberDropped>,
    private readonly bufferSize: number,
    private readonly dropError: errors.SubscriberDropped,
    private readonly sliding: boolean
  ) {}
  waiting(): number {
    return this.offered - this.discarded - this.taken
  }
  hasRoom(): boolean {
    return this.sliding || this.waiting() < this.bufferSize
  }
  onRoom(f: () => void): void {
    if (this.hasRoom() || this.closed) f()
    else this.room = f
  }
  offer(batch: Engine.Batch<SseEvent.SseEvent>): number {
    if (this.closed) return 0
    const over = this.sliding ? Math.max(0, this.waiting() + batch.entries.length - this.bufferSize) : 0
    // One by one: in effect 3.22.4, Mailbox.unsafeOfferAll after unsafeOffer repeats the earlier messages.
    for (const entry of batch.entries) this.mailbox.unsafeOffer(entry.event)
    this.offered += batch.entries.length
    this.discarded += over
    return over
  }
  /** The stream read `count` events. */
  took(count: number): void {
    this.taken += count
    const room = this.room
    if (room !== undefined && this.hasRoom()) {
      this.room = undefined
      room()
    }
  }
  isClosed(): boolean {
    return this.closed
  }
  backlog(): boolean {
    return false
  }
  end(): void {
    this.closed = true
    this.mailbox.unsafeDone(Exit.void)
  }
  drop(): void {
    this.closed = true
    this.mailbox.unsafeDone(Exit.fail(this.dropError))
  }
}
