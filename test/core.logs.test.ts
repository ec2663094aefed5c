/**
 * The logs of the Effect-free core that both Effect lines bind: the in-memory log (src/core/memoryLog.ts: ids,
 * history, idempotency in one step) and a Redis log's state in one process (src/core/redisLog.ts: where its
 * reader starts and is, the publish script's arguments and answer). The backends' behaviour over them is checked by
 * the conformance suites (test/SseHubBackend.test.ts, test/SseHubRedis.conformance.test.ts and effect4's); these
 * pin the rules themselves.
 */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import type * as Fields from "../src/core/fields.js"
import * as Memory from "../src/core/memoryLog.js"
import * as Layout from "../src/core/redis.js"
import * as RedisLog from "../src/core/redisLog.js"

interface Ev {
  readonly id?: string | undefined
  readonly data: string
}

const setId = (e: Ev, id: string): Ev => ({ ...e, id })
/** Fields with only the ones given set. */
const fields = (given: Partial<Fields.Fields>): Fields.Fields => ({
  data: undefined,
  type: undefined,
  id: undefined,
  retry: undefined,
  comment: undefined,
  ...given
})
const retention = { historySize: 100, maxAge: undefined, idempotencyWindow: 60_000 }

describe("MemoryLog", () => {
  it("numbers events without an id from the start, skipping numbers that given ids took", () => {
    const log = new Memory.MemoryLog<Ev>(retention, 1000, setId)
    const first = log.publish([{ data: "a" }, { id: "1002", data: "b" }, { data: "c" }], {}, 0)
    expect(first._tag).toBe("Accepted")
    if (first._tag !== "Accepted") return
    expect(first.ids).toEqual(["1001", "1002", "1003"])
    expect(first.entries.map((entry) => entry.event)).toEqual([
      { id: "1001", data: "a" },
      { id: "1002", data: "b" },
      { id: "1003", data: "c" }
    ])
    expect(first.entries.map((entry) => entry.seq)).toEqual([1001, 1002, 1003])
    expect(log.position).toBe(1003)
    expect(log.positionOf("1001")).toBe(1001)
    expect(log.positionOf("unknown")).toBe(1003)
  })

  it("refuses an id already in the history, or carried twice in one publish, and changes nothing", () => {
    const log = new Memory.MemoryLog<Ev>(retention, 0, setId)
    log.publish([{ id: "x", data: "a" }], {}, 0)
    expect(log.publish([{ data: "b" }, { id: "x", data: "c" }], {}, 0)).toEqual({ _tag: "DuplicateId", id: "x" })
    expect(log.publish([{ id: "y", data: "b" }, { id: "y", data: "c" }], {}, 0)).toEqual({
      _tag: "DuplicateId",
      id: "y"
    })
    expect(log.position).toBe(1)
    expect(log.resume("x", undefined, 0)).toEqual({ lost: false, entries: [] })
  })

  it("a repeated idempotency key within the window returns the first ids and adds nothing; after it, publishes", () => {
    const log = new Memory.MemoryLog<Ev>({ ...retention, idempotencyWindow: 1000 }, 0, setId)
    const first = log.publish([{ data: "a" }], { idempotencyKey: "k" }, 0)
    expect(first._tag === "Accepted" && first.ids).toEqual(["1"])
    expect(log.publish([{ data: "a" }], { idempotencyKey: "k" }, 999)).toEqual({ _tag: "Repeated", ids: ["1"] })
    expect(log.position).toBe(1)
    const later = log.publish([{ data: "a" }], { idempotencyKey: "k" }, 1001)
    expect(later._tag === "Accepted" && later.ids).toEqual(["2"])
  })

  it("an event whose id withId refuses stops the publish before anything is kept", () => {
    const log = new Memory.MemoryLog<Ev>(retention, 0, (e, id) => id === "2" ? undefined : setId(e, id))
    const outcome = log.publish([{ data: "a" }, { data: "b" }], {}, 0)
    expect(outcome).toEqual({ _tag: "Refused", id: "2" })
    expect(log.position).toBe(0)
    expect(log.history.has("1")).toBe(false)
  })

  it.prop(
    "ids are unique and every accepted event resumes in publish order",
    [fc.array(fc.array(fc.option(fc.constantFrom("1", "2", "5", "a"), { nil: undefined }), { maxLength: 4 }), {
      maxLength: 12
    })],
    ([batches]) => {
      const log = new Memory.MemoryLog<Ev>(retention, 0, setId)
      const accepted: Array<string> = []
      for (const batch of batches) {
        const outcome = log.publish(batch.map((id) => ({ id, data: "x" })), {}, 0)
        if (outcome._tag === "Accepted") accepted.push(...outcome.ids)
      }
      expect(new Set(accepted).size).toBe(accepted.length)
      if (accepted.length > 0) {
        expect(log.resume(accepted[0], undefined, 0).entries.map((entry) => entry.id)).toEqual(accepted.slice(1))
      }
    }
  )
})

describe("a Redis log's state (LogState)", () => {
  it("before the first contact, starts the reader at the earliest position it handed out", () => {
    const state = new RedisLog.LogState("hub", 2000)
    // A subscriber resumed after an entry, then another joined at 10 s by our clock.
    expect(state.hold("9000-0")).toBe("9000-0")
    const joined = state.position(10_000)
    expect(joined).toBeInstanceOf(RedisLog.Joined)
    // The test is made at once (a subscriber's), and asked only once the reader has started.
    const after = state.after(joined)
    // Redis's clock is 500 ms ahead of ours; its newest entry is later than both.
    state.contacted(["10", "500000"], "20000-0", 10_000)
    // The join, at 10.5 s by Redis's clock less the 2 s tolerance, is earlier than the resumed entry.
    expect(state.last).toBe(Layout.idAt(8500))
    const resumedOnly = new RedisLog.LogState("hub", 2000)
    resumedOnly.hold("9000-0")
    resumedOnly.hold("9500-0")
    resumedOnly.contacted(["10", "500000"], "20000-0", 10_000)
    expect(resumedOnly.last).toBe("9000-0")
    // The joined subscriber gets what Redis added after it joined (by Redis's clock), within the clock tolerance.
    expect(after(Layout.idAt(10_500 - 2000))).toBe(false)
    expect(after(`${10_500 - 2000}-0`)).toBe(true)
  })

  it("with no position handed out, starts at the newest entry, or at 0-0 on an empty stream", () => {
    const busy = new RedisLog.LogState("hub", 0)
    busy.contacted(["1", "0"], "500-3", 1000)
    expect(busy.last).toBe("500-3")
    const empty = new RedisLog.LogState("hub", 0)
    empty.contacted(["1", "0"], undefined, 1000)
    expect(empty.last).toBe("0-0")
  })

  it("once started, hands out its own position and moves past what it reads", () => {
    const state = new RedisLog.LogState("hub", 0)
    state.contacted(["1", "0"], "5-0", 1000)
    expect(state.position(2000)).toBe("5-0")
    expect(state.hold("1-0")).toBe("1-0")
    expect(state.last).toBe("5-0")
    expect(state.read(null)).toBeUndefined()
    expect(state.read([["hub", []]])).toBeUndefined()
    expect(state.read([["hub", [["6-0", []], ["7-1", []]]]])).toHaveLength(2)
    expect(state.last).toBe("7-1")
  })

  it("is behind until it has read back the last id this process published", () => {
    const state = new RedisLog.LogState("hub", 0)
    expect(state.behind()).toBe(false)
    expect(state.accepted(0, "8-0,9-0")).toEqual({ ids: ["8-0", "9-0"], repeated: false })
    // A repeat does not move what this process published.
    expect(state.accepted(1, "1-0")).toEqual({ ids: ["1-0"], repeated: true })
    expect(state.accepted(0, "")).toEqual({ ids: [], repeated: false })
    expect(state.behind()).toBe(true)
    state.contacted(["1", "0"], "8-0", 1000)
    expect(state.behind()).toBe(true)
    state.read([["hub", [["9-0", []]]]])
    expect(state.behind()).toBe(false)
  })

  it("builds the publish script's arguments: retention, then each event's stored fields, topics and target", () => {
    const state = new RedisLog.LogState("effect-sse:hub", 0)
    const events: ReadonlyArray<Fields.Fields> = [fields({ data: "a" }), fields({ data: "b", type: "t" })]
    const { args, idempotency } = state.publishArgs(
      events,
      { historySize: 10, maxAge: 1000, idempotencyWindow: 500 },
      { topics: ["x"], target: { user: 1 }, idempotencyKey: "k" },
      5000
    )
    expect(idempotency).toBe("effect-sse:hub:idempotency:k")
    expect(args).toEqual([
      "10",
      Layout.idAt(4000),
      "500",
      "2",
      Layout.store(events[0]),
      "[\"x\"]",
      "{\"user\":1}",
      Layout.store(events[1]),
      "[\"x\"]",
      "{\"user\":1}"
    ])
    const plain = state.publishArgs(events.slice(0, 1), { ...retention, maxAge: undefined }, {}, 5000)
    expect(plain).toEqual({ idempotency: "", args: ["100", "", "60000", "1", Layout.store(events[0]), "", ""] })
  })

  it("restores only the entries that are events of the hub", () => {
    const entries: Array<RedisLog.RawEntry> = [
      ["1-0", ["e", Layout.store(fields({ data: "a" })), "t", "[\"x\"]"]],
      ["2-0", ["something", "else"]],
      ["3-0", ["e", "{not json"]]
    ]
    const restored = RedisLog.restore(entries, (fields) => fields.data)
    expect(restored).toEqual([{ id: "1-0", seq: 0, event: "a", topics: ["x"], target: undefined, at: 1 }])
    expect(RedisLog.restore(entries, () => undefined)).toEqual([])
  })
})
