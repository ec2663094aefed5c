/**
 * Deliveries per second through the Redis hub, next to the in-memory hub: the same fan-out (clients reading
 * over real sockets, every event checked to arrive once and in order) against
 *
 * - `effect-sse`: the in-memory hub, one process;
 * - `effect-sse-redis ×1`: the Redis hub, one process (what Redis adds: an XADD per publish, a blocking XREAD);
 * - `effect-sse-redis ×2`: the Redis hub, two processes sharing one stream, clients split between them, the
 *   broadcast published on the first: every event crosses Redis to reach the second.
 *
 * Servers run on core 0 (both of them, in the two-process case) and the generator on core 1; Redis runs
 * where the machine put it (`REDIS_URL`, default redis://127.0.0.1:6379), so with two cores these figures are
 * for comparing the three set-ups with each other, not for capacity planning.
 *
 *   npx tsx bench/redis.ts [--clients 200] [--events 2000] [--reps 3] [--write]
 */
import { Redis } from "ioredis"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { LoadConfig } from "./loadgen.js"
import { benchDir, hasTaskset, runLoadgen, startServer, stopServer } from "./processes.js"

const flag = (name: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? undefined : process.argv[i + 1]
}
const clients = Number(flag("clients") ?? "200")
const events = Number(flag("events") ?? "2000")
const reps = Number(flag("reps") ?? "3")
const size = 128
const write = process.argv.includes("--write")
const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"

interface Setup {
  readonly name: string
  readonly server: string
  readonly processes: number
}

const setups: ReadonlyArray<Setup> = [
  { name: "effect-sse (in-memory hub), 1 process", server: "effect-sse", processes: 1 },
  { name: "effect-sse-redis, 1 process", server: "effect-sse-redis", processes: 1 },
  { name: "effect-sse-redis, 2 processes", server: "effect-sse-redis", processes: 2 }
]

interface Row {
  readonly setup: Setup
  readonly runs: ReadonlyArray<number | string>
  readonly median: number | undefined
  readonly cpu: string
}

const median = (values: ReadonlyArray<number>): number | undefined => {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

const measure = async (setup: Setup, redis: Redis): Promise<Row> => {
  const runs: Array<number | string> = []
  let cpu = ""
  for (let rep = 0; rep < reps; rep++) {
    // A fresh stream per repetition: the processes of one repetition share it, repetitions do not mix.
    const key = `effect-sse:bench-redis-${process.pid}-${rep}`
    const servers = []
    try {
      for (let i = 0; i < setup.processes; i++) {
        servers.push(await startServer(setup.server, `redis-${i}`, false, { SSE_BENCH_KEY: key, REDIS_URL: url }))
      }
      const config: LoadConfig = {
        scenario: "fanout",
        port: servers[0].port,
        clientPorts: servers.map((s) => s.port),
        clients,
        events,
        size,
        reps: 1,
        limitMs: 120_000
      }
      const result = await runLoadgen(config, 180_000)
      const r = result.reps[0]
      if (r === undefined || !r.finished || r.check.complete !== r.check.clients) {
        runs.push(`failed (${r?.reason ?? r?.check.firstError ?? result.error ?? "no result"})`)
      } else {
        runs.push(Math.round(r.deliveriesPerSec))
        cpu = `${r.serverCpu.toFixed(0)}% / ${r.generatorCpu.toFixed(0)}%`
      }
    } catch (error) {
      runs.push(`failed (${error instanceof Error ? error.message : String(error)})`)
    } finally {
      for (let i = 0; i < servers.length; i++) await stopServer(servers[i], setup.server, `redis-${i}`)
      await redis.del(key)
    }
  }
  return { setup, runs, median: median(runs.filter((r): r is number => typeof r === "number")), cpu }
}

const main = async () => {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await redis.connect()
  const rows: Array<Row> = []
  try {
    for (const setup of setups) {
      console.log(`▶ ${setup.name}`)
      const row = await measure(setup, redis)
      console.log(`  ${row.runs.join(", ")}`)
      rows.push(row)
    }
  } finally {
    redis.disconnect()
  }
  const base = rows[0].median
  const table = [
    "## Redis hub (several processes)",
    "",
    `\`npx tsx bench/redis.ts --write\`, ${
      new Date().toISOString().slice(0, 10)
    }: ${clients} clients, ${events} events of ` +
    `${size} B published one per turn of the event loop (an XADD each on Redis), ${reps} repetitions, median. ` +
    (hasTaskset ? "Servers on core 0, the generator on core 1; Redis unpinned." : "Processes not pinned."),
    "",
    "| set-up | deliveries/s (median) | × in-memory | runs | server / generator CPU (last run, first server) |",
    "| --- | ---: | ---: | --- | ---: |",
    ...rows.map((row) =>
      `| ${row.setup.name} | ${row.median?.toLocaleString("en-US") ?? "—"} | ${
        row.median === undefined || base === undefined ? "—" : `${(row.median / base).toFixed(2)}×`
      } | ${row.runs.map((r) => typeof r === "number" ? r.toLocaleString("en-US") : r).join(", ")} | ${row.cpu} |`
    ),
    ""
  ].join("\n")
  console.log(`\n${table}`)
  if (write) {
    const file = join(benchDir, "RESULTS.md")
    const text = readFileSync(file, "utf8")
    const start = text.indexOf("## Redis hub (several processes)")
    const next = start < 0 ? -1 : text.indexOf("\n## ", start + 1)
    const updated = start < 0
      ? `${text.trimEnd()}\n\n${table}`
      : `${text.slice(0, start)}${table}${next < 0 ? "" : text.slice(next)}`
    writeFileSync(file, updated)
    console.log(`wrote ${file}`)
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error instanceof Error ? error.message : error)
    process.exit(1)
  }
)
