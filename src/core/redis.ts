/**
 * The Redis Streams layout of a hub's log, with no dependency: how an event is stored in a stream entry and
 * read back, how stream ids are ordered, and the script that publishes atomically and idempotently.
 *
 * Part of the Effect-free core, shared by every binding; not a public API.
 */
import * as Fields from "./fields.js"

const streamId = /^(\d+)-(\d+)$/

/** Whether `id` is a Redis stream id (`<ms>-<seq>`). */
export const isStreamId = (id: string): boolean => streamId.test(id)

const compareDigits = (x: string, y: string) => x.length !== y.length ? x.length - y.length : x < y ? -1 : x > y ? 1 : 0

/** Orders stream ids. Both parts can exceed 2^53, so they are compared as digit strings. */
export const compareIds = (a: string, b: string): number => {
  const [ams, aseq] = a.split("-")
  const [bms, bseq] = b.split("-")
  return compareDigits(ams, bms) || compareDigits(aseq ?? "0", bseq ?? "0")
}

/** The milliseconds part of a stream id: when Redis added the entry. */
export const timeOf = (id: string): number => {
  const match = streamId.exec(id)
  return match === null ? 0 : Number(match[1])
}

/** The largest sequence part of a stream id (2^64 - 1). */
const maxSeq = "18446744073709551615"

/** The stream id just before every entry added at `millis` or later (the last possible id of the millisecond before). */
export const idAt = (millis: number): string => millis < 1 ? "0-0" : `${Math.floor(millis) - 1}-${maxSeq}`

/** The smaller of two stream ids; `undefined` counts as none. */
export const minId = (a: string | undefined, b: string): string => a === undefined || compareIds(b, a) < 0 ? b : a

interface Stored {
  data?: string
  type?: string
  retry?: number
  comment?: string
}

/** The stored form of an event's fields (its id is the entry's). */
export const store = (fields: Fields.Fields): string => {
  const stored: Stored = {}
  if (fields.data !== undefined) stored.data = fields.data
  if (fields.type !== undefined) stored.type = fields.type
  if (fields.retry !== undefined) stored.retry = fields.retry
  if (fields.comment !== undefined) stored.comment = fields.comment
  return JSON.stringify(stored)
}

/** An entry read back: its event's fields, topics and target, or `undefined` when it is not one of ours. */
export interface Restored {
  readonly fields: Fields.Fields
  readonly topics: ReadonlyArray<string> | undefined
  readonly target: unknown
}

const isStringOrUndefined = (u: unknown): u is string | undefined => u === undefined || typeof u === "string"

/**
 * Reads an entry's flat field list back. An entry another program wrote, or one whose fields break the event
 * rules, is not an event of this hub: `undefined`.
 */
export const restore = (id: string, entry: ReadonlyArray<string>): Restored | undefined => {
  let stored: Stored | undefined
  let topics: ReadonlyArray<string> | undefined
  let target: unknown = undefined
  try {
    for (let i = 0; i + 1 < entry.length; i += 2) {
      if (entry[i] === "e") stored = JSON.parse(entry[i + 1])
      else if (entry[i] === "t") topics = JSON.parse(entry[i + 1])
      else if (entry[i] === "g") target = JSON.parse(entry[i + 1])
    }
  } catch {
    return undefined
  }
  if (typeof stored !== "object" || stored === null) return undefined
  if (topics !== undefined && (!Array.isArray(topics) || !topics.every((t) => typeof t === "string"))) return undefined
  const { comment, data, retry, type } = stored
  if (!isStringOrUndefined(data) || !isStringOrUndefined(type) || !isStringOrUndefined(comment)) return undefined
  if (retry !== undefined && typeof retry !== "number") return undefined
  const fields: Fields.Fields = { data, type, id, retry, comment }
  return Fields.check(fields) === undefined ? { fields, topics, target } : undefined
}

/**
 * Publishes events atomically: with an idempotency key seen within its window, nothing is added and the ids of
 * the first publish come back; otherwise every event is added (the stream trimmed to the history size, and by
 * age), and the key remembers their ids for the window.
 *
 * KEYS: the stream, the idempotency key (or the empty string). ARGV: the history size, the oldest id to keep (or
 * the empty string), the window in milliseconds, the number of events, then for each event its stored fields,
 * its topics and its target (the empty string for none). Returns `{1, ids}` for a repeated key, `{0, ids}`
 * otherwise, ids joined with commas.
 */
export const publishScript = `
if KEYS[2] ~= "" then
  local seen = redis.call("GET", KEYS[2])
  if seen then return {1, seen} end
end
local ids = {}
local n = tonumber(ARGV[4])
for i = 0, n - 1 do
  local base = 5 + i * 3
  local fields = {"e", ARGV[base]}
  if ARGV[base + 1] ~= "" then table.insert(fields, "t"); table.insert(fields, ARGV[base + 1]) end
  if ARGV[base + 2] ~= "" then table.insert(fields, "g"); table.insert(fields, ARGV[base + 2]) end
  ids[i + 1] = redis.call("XADD", KEYS[1], "MAXLEN", "~", ARGV[1], "*", unpack(fields))
end
if ARGV[2] ~= "" then redis.call("XTRIM", KEYS[1], "MINID", "~", ARGV[2]) end
local joined = table.concat(ids, ",")
if KEYS[2] ~= "" then redis.call("SET", KEYS[2], joined, "PX", ARGV[3]) end
return {0, joined}
`
