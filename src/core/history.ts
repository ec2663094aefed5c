/**
 * A hub's history, with no dependency: the bounded, ordered record of published events that resumption reads,
 * indexed by id.
 *
 * Part of the Effect-free core, shared by every binding; not a public API.
 */

/** A published event as a hub's backend hands it over. `E` is the binding's event type. */
export interface Published<E> {
  /** The event id, unique within the hub. */
  readonly id: string
  /** The position in the backend's order: increasing, for the in-memory backend; 0 where ids are ordered. */
  readonly seq: number
  /** The event, its `id` field set to `id`. */
  readonly event: E
  /** The topics it was published to; `undefined` for every subscriber. */
  readonly topics: ReadonlyArray<string> | undefined
  /** Whom it was published to, beyond topics, as the binding encodes it; `undefined` for everyone. */
  readonly target: unknown
  /** When it was published, in milliseconds since the epoch. */
  readonly at: number
}

/** What a hub's log keeps, as the hub opened it. */
export interface Retention {
  readonly historySize: number
  readonly maxAge: number | undefined
  readonly idempotencyWindow: number
}

/** What a publish says besides its events. */
export interface Publishing {
  readonly topics?: ReadonlyArray<string> | undefined
  readonly target?: unknown
  readonly idempotencyKey?: string | undefined
}

/** What a resuming subscriber must be sent before live events. */
export interface Resume<E> {
  /** The id was not in the history (unknown, or evicted): `entries` is then all of it. */
  readonly lost: boolean
  readonly entries: ReadonlyArray<Published<E>>
}

/** Whether an event published to `published` reaches a subscriber of `topics`. */
export const matches = (topics: ReadonlySet<string> | undefined, published: ReadonlyArray<string> | undefined) => {
  if (topics === undefined || published === undefined) return true
  for (let i = 0; i < published.length; i++) {
    if (topics.has(published[i])) return true
  }
  return false
}

/** The last `size` published events, none older than `maxAge` milliseconds, in publication order. */
export class History<E> {
  private entries: Array<Published<E>> = []
  private start = 0
  private readonly byId = new Map<string, Published<E>>()
  /** The id of the last event appended, retained or not. */
  lastId: string | undefined = undefined

  constructor(readonly size: number, readonly maxAge: number | undefined) {}

  get length(): number {
    return this.entries.length - this.start
  }

  has(id: string): boolean {
    return this.byId.has(id)
  }

  append(entry: Published<E>): void {
    this.lastId = entry.id
    if (this.size <= 0) return
    this.entries.push(entry)
    this.byId.set(entry.id, entry)
    while (this.length > this.size) this.evictOne()
  }

  evictOlderThan(now: number): void {
    if (this.maxAge === undefined) return
    const limit = now - this.maxAge
    while (this.length > 0 && this.entries[this.start].at < limit) this.evictOne()
  }

  private evictOne(): void {
    const entry = this.entries[this.start]
    if (this.byId.get(entry.id) === entry) this.byId.delete(entry.id)
    this.start++
    if (this.start >= 1024 && this.start * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.start)
      this.start = 0
    }
  }

  seqOf(id: string): number | undefined {
    return this.byId.get(id)?.seq
  }

  /**
   * What a subscriber that last saw `lastEventId` must be sent before live events: the retained events after
   * it, or, when it is not retained, every retained event and `lost: true`.
   */
  resume(lastEventId: string, topics: ReadonlySet<string> | undefined): Resume<E> {
    if (lastEventId === this.lastId) return { lost: false, entries: [] }
    const found = this.byId.get(lastEventId)
    const from = found === undefined ? this.start : this.start + (found.seq - this.entries[this.start].seq) + 1
    const entries: Array<Published<E>> = []
    for (let i = from; i < this.entries.length; i++) {
      if (matches(topics, this.entries[i].topics)) entries.push(this.entries[i])
    }
    return { lost: found === undefined, entries }
  }
}

/**
 * Idempotency keys seen within a window: the ids the first publish with a key returned, so that publishing again
 * with the same key returns them instead of publishing twice.
 */
export class IdempotencyWindow {
  private readonly keys = new Map<string, { readonly ids: ReadonlyArray<string>; readonly expires: number }>()

  constructor(readonly windowMillis: number) {}

  get(key: string, now: number): ReadonlyArray<string> | undefined {
    const seen = this.keys.get(key)
    if (seen === undefined) return undefined
    if (seen.expires <= now) {
      this.keys.delete(key)
      return undefined
    }
    return seen.ids
  }

  set(key: string, ids: ReadonlyArray<string>, now: number): void {
    this.evict(now)
    this.keys.set(key, { ids, expires: now + this.windowMillis })
  }

  /** Keys are kept in insertion order, and every key lives as long: expired ones are at the front. */
  private evict(now: number): void {
    for (const [key, seen] of this.keys) {
      if (seen.expires > now) return
      this.keys.delete(key)
    }
  }
}
