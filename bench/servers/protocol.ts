/**
 * The protocol every benchmark server speaks, and the pieces the servers share.
 *
 * - `GET /events`: an SSE stream. Event ids are whatever the server assigns; every event's data is
 *   `<seq> <publish time in µs since the epoch> <padding>`, exactly `size` bytes (longer only if the two
 *   numbers do not fit), so that the generator can check order and exactly-once, and measure latency.
 * - `POST /broadcast?count=M&size=S[&rate=R][&batch=B][&yield=0]`: the server publishes M events of S bytes,
 *   numbered 0..M-1, as fast as it can or R per second. It answers `202` at once and publishes afterwards.
 *   `batch` (effect-sse only) publishes with `publishAll` B at a time; `yield=0` (plain JS servers only)
 *   publishes in one synchronous loop instead of one event per turn of the event loop.
 * - `GET /stats`: `{ clients, memory: process.memoryUsage(), cpu: process.cpuUsage(), pid, uptime }`.
 * - `POST /gc`: runs `global.gc()` twice if the process was started with `--expose-gc` (else 501).
 * - `GET /time`: `{ now }`, the server's clock in µs, to check the two processes' clocks agree.
 *
 * Servers listen on 127.0.0.1 and `PORT` only.
 */
import { setImmediate as nextTurn, setTimeout as sleep } from "node:timers/promises"

/** The only address a benchmark server listens on. */
export const host = "127.0.0.1"

const portFrom = (name: string): number => {
  const value = Number(process.env[name])
  if (!Number.isInteger(value) || value <= 0 || value > 65535) {
    console.error(`${name} must be set to a TCP port`)
    process.exit(2)
  }
  return value
}

/** The port from `PORT`; the servers refuse to start without one. */
export const port = (): number => portFrom("PORT")

/** The HTTP/2 (h2c) port of the servers that also serve HTTP/2 (`*-h2`), from `H2_PORT`. */
export const h2Port = (): number => portFrom("H2_PORT")

/**
 * How many events a subscriber may have waiting before it is dropped: the effect-sse hub's `bufferSize`,
 * and, times the event size, the bound on what the plain servers let a response buffer.
 */
export const bufferSize = 1024

/** The plain `node:http` server destroys a response whose unsent bytes exceed this (1 MiB). */
export const maxBufferedBytes = 1024 * 1024

/** The effect-sse hub keeps this many events for resumption (its default). */
export const historySize = 1000

/** The clock every process stamps and reads events with: µs since the epoch, sub-ms precise. */
export const nowMicros = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000)

let padding = "x".repeat(1024)

/** Event data: `<seq> <publish time µs> <padding>`, `size` bytes. */
export const makeData = (seq: number, size: number): string => {
  const head = `${seq} ${nowMicros()} `
  const missing = size - head.length
  if (missing <= 0) return head
  if (missing > padding.length) padding = "x".repeat(missing)
  return head + padding.slice(0, missing)
}

export interface BroadcastParams {
  readonly count: number
  readonly size: number
  /** Events per second; `undefined`: as fast as possible. */
  readonly rate: number | undefined
  /** effect-sse: publish with `publishAll`, this many at a time (1: `publish` in a loop). */
  readonly batch: number
  /** Plain JS servers: give the event loop a turn after each event (the default) or not. */
  readonly yieldEach: boolean
}

/** Reads the query of `POST /broadcast`; a string is the reason it is refused. */
export const parseBroadcast = (url: string): BroadcastParams | string => {
  const query = new URL(url, "http://127.0.0.1").searchParams
  const count = Number(query.get("count") ?? "NaN")
  const size = Number(query.get("size") ?? "128")
  const rate = query.get("rate") === null ? undefined : Number(query.get("rate"))
  const batch = Number(query.get("batch") ?? "1")
  if (!Number.isInteger(count) || count < 0 || count > 10_000_000) return "count must be an integer in 0..10^7"
  if (!Number.isInteger(size) || size < 0 || size > 1024 * 1024) return "size must be an integer in 0..2^20"
  if (rate !== undefined && !(rate > 0 && rate <= 1_000_000)) return "rate must be in (0, 10^6]"
  if (!Number.isInteger(batch) || batch < 1 || batch > 100_000) return "batch must be an integer in 1..10^5"
  return { count, size, rate, batch, yieldEach: query.get("yield") !== "0" }
}

/**
 * Publishes `count` events through `publish`, for the servers written with plain JS: one event per turn of
 * the event loop when as fast as possible (as if each came from I/O), else on an absolute schedule of `rate`
 * per second.
 */
export const runBroadcast = async (
  params: BroadcastParams,
  publish: (data: string, seq: number) => void
): Promise<void> => {
  const start = performance.now()
  for (let seq = 0; seq < params.count; seq++) {
    publish(makeData(seq, params.size), seq)
    if (params.rate !== undefined) {
      const wait = start + ((seq + 1) * 1000) / params.rate - performance.now()
      if (wait > 0) await sleep(wait)
    } else if (params.yieldEach) {
      await nextTurn()
    }
  }
}

export interface Stats {
  readonly clients: number
  readonly memory: NodeJS.MemoryUsage
  readonly cpu: NodeJS.CpuUsage
  readonly pid: number
  readonly uptime: number
}

/** The body of `GET /stats`. */
export const stats = (clients: number): Stats => ({
  clients,
  memory: process.memoryUsage(),
  cpu: process.cpuUsage(),
  pid: process.pid,
  uptime: process.uptime()
})

/**
 * Runs a full GC twice if `--expose-gc` was given (Node), or with `Bun.gc(true)` on Bun (which has no
 * `--expose-gc`); returns whether it could.
 */
export const collectGarbage = (): boolean => {
  const bun = (globalThis as { Bun?: { gc: (force: boolean) => void } }).Bun
  const gc = (globalThis as { gc?: () => void }).gc ?? (bun === undefined ? undefined : () => bun.gc(true))
  if (gc === undefined) return false
  gc()
  gc()
  return true
}

/** Exits on SIGTERM/SIGINT through `process.exit`, so that `--cpu-prof` writes its profile. */
export const exitOnSignals = (): void => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => process.exit(0))
}
