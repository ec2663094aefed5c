/**
 * A hub's log in memory, with no dependency: the numbering of published events, their history and the
 * idempotency window, in one synchronous step per publish. Each Effect line hands the accepted entries to its
 * dispatcher; what is accepted, and with which ids, is decided here, once.
 *
 * Part of the Effect-free core, shared by every binding; not a public API.
 */
import * as History from "./history.js"

/** What became of a publish. */
export type Outcome<E> =
  /** Accepted: the entries to deliver, in order, already in the history. */
  | { readonly _tag: "Accepted"; readonly entries: ReadonlyArray<History.Published<E>>; readonly ids: Array<string> }
  /** Its idempotency key was seen within the window: nothing was added; the ids are those of the first publish. */
  | { readonly _tag: "Repeated"; readonly ids: ReadonlyArray<string> }
  /** An event carries an id the history (or the same publish) has already: nothing was added. */
  | { readonly _tag: "DuplicateId"; readonly id: string }
  /** `withId` refused an event its id: nothing was added. */
  | { readonly _tag: "Refused"; readonly id: string }

/**
 * One hub's log in this process. Ids continue from `start` (the clock, in microseconds), so that ids of an earlier
 * run of the process are never reused: an old id is then reported as lost instead of silently matching a
 * different event.
 */
export class MemoryLog<E extends { readonly id?: string | undefined }> {
  readonly history: History.History<E>
  private readonly keys: History.IdempotencyWindow
  /** The position of the last accepted event, consecutive (the history finds an id's successors by position). */
  private seq: number
  /** The last number given as an id: it skips the numbers that given ids took. */
  private lastNumber: number

  constructor(
    retention: History.Retention,
    start: number,
    /** Sets an event's id (a number, or the id it carries); `undefined` if it refuses. */
    private readonly withId: (event: E, id: string) => E | undefined
  ) {
    this.history = new History.History<E>(retention.historySize, retention.maxAge)
    this.keys = new History.IdempotencyWindow(retention.idempotencyWindow)
    this.seq = start
    this.lastNumber = start
  }

  /** The position a subscriber joining now starts after. */
  get position(): number {
    return this.seq
  }

  /** The position after the event `id`, or the current one when the history does not have it. */
  positionOf(id: string): number {
    return this.history.seqOf(id) ?? this.seq
  }

  /** What a subscriber resuming after `lastEventId` is sent first, the history evicted by age at `now`. */
  resume(lastEventId: string, topics: ReadonlySet<string> | undefined, now: number): History.Resume<E> {
    this.history.evictOlderThan(now)
    return this.history.resume(lastEventId, topics)
  }

  /**
   * Publishes `events` at `now`: each gets its own id or the next free number (set by `withId`), the entries
   * join the history, and the idempotency key remembers their ids. Nothing changes unless the publish is accepted.
   */
  publish(events: ReadonlyArray<E>, publishing: History.Publishing, now: number): Outcome<E> {
    const key = publishing.idempotencyKey
    if (key !== undefined) {
      const seen = this.keys.get(key, now)
      if (seen !== undefined) return { _tag: "Repeated", ids: seen }
    }
    // The given ids first, so that a number given in this batch is none of them either.
    const given = new Set<string>()
    for (const e of events) {
      if (e.id === undefined || e.id === "") continue
      if (this.history.has(e.id) || given.has(e.id)) return { _tag: "DuplicateId", id: e.id }
      given.add(e.id)
    }
    const entries: Array<History.Published<E>> = []
    let next = this.lastNumber
    for (const e of events) {
      let id: string
      if (e.id === undefined || e.id === "") {
        do next++
        while (this.history.has(String(next)) || given.has(String(next)))
        id = String(next)
      } else {
        id = e.id
      }
      const event = this.withId(e, id)
      if (event === undefined) return { _tag: "Refused", id }
      entries.push({
        id,
        seq: this.seq + entries.length + 1,
        event,
        topics: publishing.topics,
        target: publishing.target,
        at: now
      })
    }
    this.seq += entries.length
    this.lastNumber = next
    for (const entry of entries) this.history.append(entry)
    this.history.evictOlderThan(now)
    const ids = entries.map((entry) => entry.id)
    if (key !== undefined) this.keys.set(key, ids, now)
    return { _tag: "Accepted", entries, ids }
  }
}
