/**
 * The benchmark harness (`npm run bench`): starts each server pinned to core 0 and the load generator
 * (`bench/loadgen.ts`) pinned to core 1, runs every scenario against every server, and regenerates
 * `bench/RESULTS.md` (the part between its BEGIN/END markers; the hand-written "Reading" and the
 * "Parser throughput" section are kept as they are).
 *
 *   npx tsx bench/run.ts                                              # everything, writes RESULTS.md
 *   npx tsx bench/run.ts --scenario fanout --servers effect-sse,node --clients 1000
 *   npx tsx bench/run.ts --scenario fanout --servers effect-sse --clients 1000 --cpu-prof
 *   npx tsx bench/run.ts --quick                                      # small sizes, a smoke test
 *
 * Options:
 *   --scenario a,b     fanout, latency, idle, churn, slow, parser (default: all)
 *   --servers a,b      effect-sse, effect-sse-node, node, effect-platform, better-sse, hono (default: all)
 *   --clients N[,N]    clients for fanout (default 100,1000), latency (1000) and idle (5000); readers for slow (20)
 *   --events M         events per broadcast (fanout 2000, latency 220 of which 20 warm-up, slow 20000)
 *   --size S           event data bytes (fanout/latency 128, slow 1024)
 *   --rate R           latency: events per second (20)
 *   --reps N           repetitions of throughput figures (3); the median is reported
 *   --limit SECONDS    hard limit of one repetition (fanout 30/60, others 60)
 *   --query Q          extra query for POST /broadcast, e.g. batch=100 (effect-sse) or yield=0 (plain JS)
 *   --cpu-prof         run the servers with `node --cpu-prof`; profiles go to bench/tmp/<server>-<job>.cpuprofile
 *   --loader L         build (default): servers compiled with esbuild and run by plain Node; tsx: run through tsx
 *   --quick            small sizes for a quick check (never written to RESULTS.md)
 *   --write/--no-write update bench/results/latest.json and RESULTS.md (default: only for a full run)
 *   --report           regenerate RESULTS.md from bench/results/latest.json without running anything
 *
 * A subset run with --write replaces only its own rows in bench/results/latest.json, so one scenario can be
 * re-measured without re-running everything.
 */
import { execFileSync, spawn } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { cpus, release, totalmem } from "node:os"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import type { LoadConfig, RepResult, Scenario, ScenarioResult } from "./loadgen.js"
import {
  benchDir,
  exited,
  hasTaskset,
  nodeCommand,
  root,
  runLoadgen,
  type Running,
  serverFile,
  type ServerLoader,
  startServer,
  stopServer,
  tmpDir,
  track,
  useServerLoader
} from "./processes.js"

const resultsFile = join(benchDir, "results", "latest.json")
const reportFile = join(benchDir, "RESULTS.md")

const allServers = ["effect-sse", "effect-sse-node", "node", "effect-platform", "better-sse", "hono"] as const
const allScenarios = ["fanout", "latency", "idle", "churn", "slow", "parser"] as const
type ScenarioName = typeof allScenarios[number]

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

const serverQuery = (server: string): string | undefined =>
  server.includes("+") ? server.slice(server.indexOf("+") + 1) : undefined

/** Extra rows of the default fan-out: effect-sse publishing in a tight loop, as well as paced like the others. */
const extraFanoutServers = ["effect-sse+yield=0"]

interface Options {
  readonly scenarios: ReadonlyArray<ScenarioName>
  readonly servers: ReadonlyArray<string>
  readonly defaultServers: boolean
  readonly clients: ReadonlyArray<number> | undefined
  readonly events: number | undefined
  readonly size: number | undefined
  readonly rate: number | undefined
  readonly reps: number | undefined
  readonly limit: number | undefined
  readonly query: string | undefined
  readonly cpuProf: boolean
  readonly loader: ServerLoader
  readonly quick: boolean
  readonly write: boolean
  readonly report: boolean
}

const parseOptions = (argv: ReadonlyArray<string>): Options => {
  const values = new Map<string, string>()
  const flags = new Set<string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (!arg.startsWith("--")) throw new Error(`unexpected argument ${arg}`)
    const [name, inline] = arg.slice(2).split("=", 2)
    if (["cpu-prof", "quick", "write", "no-write", "report", "help"].includes(name)) flags.add(name)
    else if (inline !== undefined) values.set(name, inline)
    else if (i + 1 < argv.length) values.set(name, argv[++i])
    else throw new Error(`--${name} needs a value`)
  }
  if (flags.has("help")) {
    console.log(readFileSync(fileURLToPath(import.meta.url), "utf8").split("*/")[0])
    process.exit(0)
  }
  const list = (name: string) => values.get(name)?.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
  const num = (name: string) => (values.has(name) ? Number(values.get(name)) : undefined)
  const scenarios = (list("scenario") ?? allScenarios) as Array<ScenarioName>
  for (const s of scenarios) if (!allScenarios.includes(s)) throw new Error(`unknown scenario ${s}`)
  const servers = list("servers") ?? list("server") ?? [...allServers]
  for (const s of servers) {
    if (!existsSync(join(benchDir, "servers", `${serverFile(s)}.ts`))) throw new Error(`unknown server ${s}`)
  }
  const full = !values.has("scenario") && !values.has("servers") && !values.has("server") && values.size === 0 &&
    !flags.has("quick")
  const known = [
    "scenario",
    "servers",
    "server",
    "clients",
    "events",
    "size",
    "rate",
    "reps",
    "limit",
    "query",
    "loader"
  ]
  const loader = values.get("loader") ?? "build"
  if (loader !== "build" && loader !== "tsx") throw new Error(`--loader must be build or tsx, not ${loader}`)
  for (const name of values.keys()) if (!known.includes(name)) throw new Error(`unknown option --${name}`)
  return {
    scenarios,
    servers,
    defaultServers: !values.has("servers") && !values.has("server"),
    clients: list("clients")?.map(Number),
    events: num("events"),
    size: num("size"),
    rate: num("rate"),
    reps: num("reps"),
    limit: num("limit"),
    query: values.get("query"),
    cpuProf: flags.has("cpu-prof"),
    loader,
    quick: flags.has("quick"),
    write: flags.has("quick") ? false : flags.has("write") ? true : flags.has("no-write") ? false : full,
    report: flags.has("report")
  }
}

// -----------------------------------------------------------------------------
// jobs
// -----------------------------------------------------------------------------

interface Job {
  readonly scenario: Scenario
  /** Distinguishes jobs of one scenario: `100`, `1000`, `without`, `with`. */
  readonly variant: string
  readonly server: string
  readonly load: Omit<LoadConfig, "port">
}

const jobsOf = (options: Options): Array<Job> => {
  const q = options.quick
  const reps = options.reps ?? 3
  const limit = (seconds: number) => (options.limit ?? seconds) * 1000
  const jobs: Array<Job> = []
  for (const scenario of options.scenarios) {
    const servers = scenario === "fanout" && options.defaultServers
      ? [...options.servers, ...extraFanoutServers]
      : options.servers
    for (const server of servers) {
      const query = [serverQuery(server), options.query].filter((q) => q !== undefined).join("&")
      const extra = query === "" ? {} : { query }
      switch (scenario) {
        case "fanout":
          for (const clients of options.clients ?? (q ? [100, 300] : [100, 1000])) {
            jobs.push({
              scenario,
              variant: String(clients),
              server,
              load: {
                scenario,
                clients,
                events: options.events ?? (q ? 500 : 2000),
                size: options.size ?? 128,
                reps,
                limitMs: limit(clients >= 1000 ? 60 : 30),
                ...extra
              }
            })
          }
          break
        case "latency":
          jobs.push({
            scenario,
            variant: "",
            server,
            load: {
              scenario,
              clients: options.clients?.[0] ?? (q ? 300 : 1000),
              events: options.events ?? (q ? 60 : 220),
              warmup: 20,
              rate: options.rate ?? 20,
              size: options.size ?? 128,
              reps: q ? 1 : reps,
              limitMs: limit(60),
              ...extra
            }
          })
          break
        case "idle":
          jobs.push({
            scenario,
            variant: "",
            server,
            load: {
              scenario,
              clients: options.clients?.[0] ?? (q ? 1000 : 5000),
              events: 0,
              size: 0,
              reps: 1,
              limitMs: limit(60)
            }
          })
          break
        case "churn":
          jobs.push({
            scenario,
            variant: "",
            server,
            load: {
              scenario,
              clients: 0,
              events: 0,
              size: 0,
              cycles: q ? 500 : 2000,
              concurrency: 50,
              reps,
              limitMs: limit(60)
            }
          })
          break
        case "slow":
          for (const stalled of [false, true]) {
            jobs.push({
              scenario,
              variant: stalled ? "with" : "without",
              server,
              load: {
                scenario,
                clients: options.clients?.[0] ?? 20,
                events: options.events ?? (q ? 5000 : 20000),
                size: options.size ?? 1024,
                stalled,
                reps,
                limitMs: limit(60),
                ...extra
              }
            })
          }
          break
        case "parser":
          break
      }
    }
  }
  return jobs
}

// -----------------------------------------------------------------------------
// results
// -----------------------------------------------------------------------------

interface JobResult {
  readonly scenario: Scenario
  readonly variant: string
  readonly server: string
  readonly date: string
  /** The commit (and whether src/ had uncommitted changes) the job ran against. */
  readonly commit?: string | undefined
  /** How the server ran (see `ServerLoader`); absent in results from before servers were built. */
  readonly loader?: ServerLoader | undefined
  readonly result?: ScenarioResult | undefined
  readonly error?: string | undefined
  readonly profile?: string | undefined
}

interface Meta {
  readonly date: string
  readonly node: string
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly os: string
  readonly commit: string
  readonly versions: Record<string, string>
  readonly pinned: boolean
}

interface Store {
  meta: Meta
  jobs: Array<JobResult>
}

const versionOf = (pkg: string): string => {
  try {
    return (JSON.parse(readFileSync(join(root, "node_modules", pkg, "package.json"), "utf8")) as { version: string })
      .version
  } catch {
    return "?"
  }
}

const loaderText = (store: Store): string => {
  const loaders = new Set(store.jobs.map((j) => j.loader ?? "tsx"))
  if (loaders.size > 1) {
    return "**Rows were measured with servers run differently (built and through tsx): compare with care.**"
  }
  return loaders.has("build")
    ? "Every server, effect-sse's sources included, is compiled by esbuild into one JavaScript file and run by plain " +
      "Node (`--loader build`, the default): as a deployed server runs. Through tsx (`--loader tsx`), every closure " +
      "created pays for tsx keeping function names and every error stack is mapped through source maps, which weighs " +
      "on the Effect-based servers far more than on the others."
    : "Every server ran through tsx (`--loader tsx`)."
}

const metaNow = (): Meta => {
  let commit = "unknown"
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim()
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd: root, encoding: "utf8" }).trim()
    if (dirty.length > 0) commit += " (src/ with uncommitted changes)"
  } catch {
    // not a git checkout
  }
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? "unknown CPU",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${process.platform} ${release()}`,
    commit,
    versions: Object.fromEntries(
      ["effect", "@effect/platform", "@effect/platform-node", "better-sse", "hono", "@hono/node-server", "tsx"].map((
        p
      ) => [p, versionOf(p)])
    ),
    pinned: hasTaskset
  }
}

const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

const finishedReps = (r: ScenarioResult | undefined): Array<RepResult> => r?.reps.filter((x) => x.finished) ?? []

/** The median of a figure over the repetitions, if every repetition finished. */
const medianOf = (r: ScenarioResult | undefined, f: (rep: RepResult) => number): number | undefined => {
  if (
    r === undefined || r.error !== undefined || r.reps.length === 0 ||
    r.reps.some((x) => !x.finished || x.reason !== undefined)
  ) {
    return undefined
  }
  return median(r.reps.map(f))
}

// -----------------------------------------------------------------------------
// the report
// -----------------------------------------------------------------------------

const BEGIN = "<!-- BEGIN generated by bench/run.ts: edit the Reading section instead -->"
const END = "<!-- END generated by bench/run.ts -->"

const fmt = (n: number | undefined, digits = 0): string =>
  n === undefined || !Number.isFinite(n)
    ? "—"
    : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
const mib = (bytes: number | undefined, digits = 1) => (bytes === undefined ? "—" : fmt(bytes / 2 ** 20, digits))
const kib = (bytes: number | undefined, digits = 1) => (bytes === undefined ? "—" : fmt(bytes / 1024, digits))
const ratio = (x: number | undefined, base: number | undefined) =>
  x === undefined || base === undefined || base === 0 ? "—" : `${(x / base).toFixed(2)}×`

const find = (store: Store, scenario: Scenario, variant: string, server: string) =>
  store.jobs.find((j) => j.scenario === scenario && j.variant === variant && j.server === server)

/** What went wrong with a job, in a few words, or "ok". */
const status = (job: JobResult | undefined): string => {
  if (job === undefined) return "not run"
  if (job.error !== undefined) return job.error
  const r = job.result!
  if (r.error !== undefined) return r.error
  const bad = r.reps.find((x) => !x.finished || x.reason !== undefined)
  if (bad !== undefined) return bad.reason ?? "did not finish"
  return "ok"
}

const checkCell = (job: JobResult | undefined): string => {
  const s = status(job)
  if (s !== "ok") return s
  const reps = job!.result!.reps
  const clients = reps.reduce((n, r) => n + r.check.clients, 0)
  const complete = reps.reduce((n, r) => n + r.check.complete, 0)
  return complete === clients ? "every event once, in order" : `${clients - complete} clients incomplete`
}

const cpuCell = (job: JobResult | undefined) => {
  const reps = finishedReps(job?.result)
  if (reps.length === 0) return "—"
  return `${fmt(median(reps.map((r) => r.serverCpu)))}% / ${fmt(median(reps.map((r) => r.generatorCpu)))}%`
}

const serversIn = (store: Store, scenario: Scenario): Array<string> => {
  const present = [...new Set(store.jobs.filter((j) => j.scenario === scenario).map((j) => j.server))]
  const rank = (s: string) => {
    const i = allServers.indexOf(serverFile(s) as typeof allServers[number])
    return (i < 0 ? allServers.length : i) * 2 + (s.includes("+") ? 1 : 0)
  }
  return present.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
}

const variantsIn = (store: Store, scenario: Scenario): Array<string> =>
  [...new Set(store.jobs.filter((j) => j.scenario === scenario).map((j) => j.variant))].sort((a, b) =>
    Number(a) - Number(b)
  )

const repsCell = (r: ScenarioResult | undefined, f: (rep: RepResult) => number) =>
  r === undefined || r.reps.length === 0
    ? "—"
    : r.reps.map((x) => (x.finished && x.reason === undefined ? fmt(f(x)) : `failed (${fmt(f(x))})`)).join(", ")

const fanoutTable = (store: Store): Array<string> => {
  const out: Array<string> = []
  for (const variant of variantsIn(store, "fanout")) {
    const any = store.jobs.find((j) => j.scenario === "fanout" && j.variant === variant)?.result?.config
    out.push(
      `### ${variant} clients, ${fmt(any?.events)} events of ${any?.size} B, as fast as possible`,
      "",
      "| server | deliveries/s (median) | × node | runs | server / generator CPU | check |",
      "| --- | ---: | ---: | --- | ---: | --- |"
    )
    const base = medianOf(find(store, "fanout", variant, "node")?.result, (r) => r.deliveriesPerSec)
    for (const server of serversIn(store, "fanout")) {
      const job = find(store, "fanout", variant, server)
      if (job === undefined) continue
      const value = medianOf(job.result, (r) => r.deliveriesPerSec)
      out.push(
        `| ${server} | ${fmt(value)} | ${ratio(value, base)} | ${repsCell(job.result, (r) => r.deliveriesPerSec)} | ${
          cpuCell(job)
        } | ${checkCell(job)} |`
      )
    }
    out.push("")
  }
  return out
}

/** The latency figures of the run whose p99 is the median (each run's percentiles belong together). */
const medianLatency = (r: ScenarioResult | undefined) => {
  const runs = finishedReps(r).filter((x) => x.latency !== undefined)
    .sort((a, b) => a.latency!.p99 - b.latency!.p99)
  return runs.length === 0 ? undefined : runs[Math.floor((runs.length - 1) / 2)].latency
}

const latencyTable = (store: Store): Array<string> => {
  const any = store.jobs.find((j) => j.scenario === "latency")?.result?.config
  const out = [
    `${fmt(any?.clients)} clients, ${any?.rate} events/s of ${any?.size} B; ${
      fmt((any?.events ?? 0) - (any?.warmup ?? 0))
    } events measured after ${any?.warmup} warm-up events, from the publish timestamp to the generator's read; ${
      any?.reps ?? 1
    } runs, the figures of the run with the median p99.`,
    "",
    "| server | p50 ms | p90 ms | p99 ms | max ms | p99 × node | p99 of each run | server / generator CPU | check |",
    "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |"
  ]
  const lat = (server: string) => medianLatency(find(store, "latency", "", server)?.result)
  const base = lat("node")?.p99
  for (const server of serversIn(store, "latency")) {
    const job = find(store, "latency", "", server)
    const l = lat(server)
    out.push(
      `| ${server} | ${fmt(l?.p50, 2)} | ${fmt(l?.p90, 2)} | ${fmt(l?.p99, 2)} | ${fmt(l?.max, 1)} | ${
        ratio(l?.p99, base)
      } | ${repsCell(job?.result, (r) => r.latency?.p99 ?? NaN)} | ${cpuCell(job)} | ${checkCell(job)} |`
    )
  }
  const clock = store.jobs.find((j) => j.scenario === "latency")?.result?.clock
  if (clock !== undefined) {
    out.push(
      "",
      `Clocks: the server's clock read ${fmt(clock.offsetUs)} µs from the generator's (best round trip ${
        fmt(clock.rttUs)
      } µs), ${clock.applied ? "corrected for" : "within the measurement error, so not corrected"}.`
    )
  }
  out.push("")
  return out
}

const idleTable = (store: Store): Array<string> => {
  const any = store.jobs.find((j) => j.scenario === "idle")?.result?.config
  const out = [
    `${
      fmt(any?.clients)
    } idle connections; memory after a full GC with them open, minus before they opened, ÷ connections.`,
    "",
    "| server | RSS / conn KiB | × node | heap+external / conn KiB | × node | RSS before → with MiB | opened/s | note |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
  ]
  const mem = (server: string) => find(store, "idle", "", server)?.result?.memory
  const base = mem("node")
  for (const server of serversIn(store, "idle")) {
    const job = find(store, "idle", "", server)
    const m = mem(server)
    out.push(
      `| ${server} | ${kib(m?.rssPerConnection, 2)} | ${ratio(m?.rssPerConnection, base?.rssPerConnection)} | ${
        kib(m?.heapPerConnection, 2)
      } | ${ratio(m?.heapPerConnection, base?.heapPerConnection)} | ${mib(m?.before.rss)} → ${mib(m?.after.rss)} | ${
        fmt(m?.connectsPerSec)
      } | ${status(job)} |`
    )
  }
  out.push("")
  return out
}

const churnTable = (store: Store): Array<string> => {
  const any = store.jobs.find((j) => j.scenario === "churn")?.result?.config
  const out = [
    `${
      fmt(any?.cycles)
    } cycles per run (connect, read the response head, disconnect), ${any?.concurrency} at a time, ${any?.reps} runs; memory after a full GC before the first run and after the last.`,
    "",
    "| server | connects/s (median) | × node | runs | clients after | heap+external MiB before → after | RSS MiB before → after | server / generator CPU | note |",
    "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |"
  ]
  const base = medianOf(find(store, "churn", "", "node")?.result, (r) => r.connectsPerSec ?? 0)
  for (const server of serversIn(store, "churn")) {
    const job = find(store, "churn", "", server)
    const r = job?.result
    const value = medianOf(r, (x) => x.connectsPerSec ?? 0)
    const m = r?.memory
    out.push(
      `| ${server} | ${fmt(value)} | ${ratio(value, base)} | ${repsCell(r, (x) => x.connectsPerSec ?? 0)} | ${
        fmt(m?.drained?.clients)
      } | ${mib(m === undefined ? undefined : m.before.heapUsed + m.before.external)} → ${
        mib(m === undefined ? undefined : m.after.heapUsed + m.after.external)
      } | ${mib(m?.before.rss)} → ${mib(m?.after.rss)} | ${cpuCell(job)} | ${status(job)} |`
    )
  }
  out.push("")
  return out
}

/** What the effect-sse hub's configuration bounds a slow client's memory by (see bench/servers/protocol.ts). */
const predictedBound = (size: number) => {
  const bufferSize = 1024
  const history = 1000
  // id: <16 digits>\ndata: <size>\n\n
  const eventBytes = size + "id: 1795517527412001\ndata: \n\n".length
  return { bufferSize, history, eventBytes, slowClient: bufferSize * eventBytes, historyBytes: history * eventBytes }
}

/** The median over the runs of the peak RSS of each. */
const medianPeak = (job: JobResult | undefined) => {
  const reps = finishedReps(job?.result)
  return reps.length === 0 ? undefined : median(reps.map((r) => r.peakRss))
}

/** The median over the runs of the heap+external the server held after GC once the readers were done. */
const medianHeld = (job: JobResult | undefined) => {
  const reps = finishedReps(job?.result).filter((r) => r.retained !== undefined)
  return reps.length === 0 ? undefined : median(reps.map((r) => r.retained!.heapUsed + r.retained!.external))
}

const slowTable = (store: Store): Array<string> => {
  const any = store.jobs.find((j) => j.scenario === "slow")?.result?.config
  const size = any?.size ?? 1024
  const bound = predictedBound(size)
  const out = [
    `${any?.clients} readers and, in the second run, one client that connects and never reads; ${
      fmt(any?.events)
    } events of ${size} B as fast as possible, ${any?.reps} runs each. "Dropped": the server closed the stalled ` +
    "connection (the client, reading at last, found the end of its stream). \"Held after the run\": the server's " +
    "heap+external after a full GC once the readers got every event, before the stalled client reads (what a " +
    "stalled client still costs). Peak RSS: median over the runs, sampled from /proc every 25 ms; it moves with GC " +
    "timing by far more than a 1 MiB bound.",
    "",
    `Bound predicted by the effect-sse hub's configuration: bufferSize ${bound.bufferSize} × ${bound.eventBytes} B per event = ${
      mib(bound.slowClient, 2)
    } MiB for the stalled client's buffer (plus the history, ${bound.history} events = ${
      mib(bound.historyBytes, 2)
    } MiB, present in both runs, and the socket buffers). The plain node server destroys a response holding over 1 MiB.`,
    "",
    "| server | readers' deliveries/s without | with | with ÷ without | stalled client dropped | it received | held after the run, MiB without → with | peak RSS MiB without → with | check |",
    "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |"
  ]
  for (const server of serversIn(store, "slow")) {
    const without = find(store, "slow", "without", server)
    const withJob = find(store, "slow", "with", server)
    const a = medianOf(without?.result, (r) => r.deliveriesPerSec)
    const b = medianOf(withJob?.result, (r) => r.deliveriesPerSec)
    const stalledReps = finishedReps(withJob?.result).map((r) => r.stalled).filter((s) => s !== undefined)
    const dropped = stalledReps.length === 0
      ? "—"
      : stalledReps.every((s) => s.dropped)
      ? "yes"
      : stalledReps.some((s) => s.dropped)
      ? `${stalledReps.filter((s) => s.dropped).length} of ${stalledReps.length} runs`
      : "no"
    const stalledOk = stalledReps.every((s) => s.check.duplicates === 0 && s.check.outOfOrder === 0)
    const received = stalledReps.length === 0 ? "—" : stalledReps.map((s) => fmt(s.received)).join(", ")
    const peakA = medianPeak(without)
    const peakB = medianPeak(withJob)
    const heldA = medianHeld(without)
    const heldB = medianHeld(withJob)
    const check = [checkCell(without), checkCell(withJob)]
    out.push(
      `| ${server} | ${fmt(a)} | ${fmt(b)} | ${ratio(b, a)} | ${dropped} | ${received}${
        stalledOk ? "" : " (out of order!)"
      } | ${mib(heldA)} → ${mib(heldB)} | ${mib(peakA)} → ${mib(peakB)} | ${
        check[0] === check[1] ? check[0] : `without: ${check[0]}; with: ${check[1]}`
      } |`
    )
  }
  out.push("")
  return out
}

/** The parser ratios, read from the "Parser throughput" section that bench/parser.ts writes. */
const parserRatios = (text: string): Array<number> => {
  const start = text.indexOf("## Parser throughput")
  if (start < 0) return []
  const next = text.indexOf("\n## ", start + 1)
  const section = text.slice(start, next < 0 ? undefined : next)
  // The first ratio of each table row: SseParser ÷ eventsource-parser on the same bytes.
  return section.split("\n").filter((line) => line.startsWith("|")).map((line) => /\|\s*([\d.]+)×\s*\|/.exec(line))
    .filter((m) => m !== null).map((m) => Number(m[1]))
}

const targetRows = (store: Store, existing: string, subject: string): Array<string> => {
  const out = [
    "| target (effect-sse vs plain node:http, same run) | measured | met |",
    "| --- | --- | --- |"
  ]
  const yes = (b: boolean | undefined) => (b === undefined ? "—" : b ? "yes" : "**no**")
  for (const variant of variantsIn(store, "fanout")) {
    const v = (server: string) => medianOf(find(store, "fanout", variant, server)?.result, (r) => r.deliveriesPerSec)
    const e = v(subject)
    const n = v("node")
    const peers = ["better-sse", "hono"].map(v)
    const ahead = e === undefined ? undefined : peers.every((p) => p === undefined || e > p)
    out.push(
      `| fan-out at ${variant} clients ≥ 0.9× node and ahead of better-sse and Hono | ${ratio(e, n)} node; better-sse ${
        ratio(peers[0], e)
      } and Hono ${ratio(peers[1], e)} of it | ${
        yes(e === undefined || n === undefined ? undefined : e / n >= 0.9 && ahead === true)
      } |`
    )
  }
  const lat = (server: string) => medianLatency(find(store, "latency", "", server)?.result)?.p99
  const le = lat(subject)
  const ln = lat("node")
  out.push(
    `| latency p99 ≤ 1.2× | ${ratio(le, ln)} (${fmt(le, 2)} ms vs ${fmt(ln, 2)} ms) | ${
      yes(le === undefined || ln === undefined ? undefined : le / ln <= 1.2)
    } |`
  )
  const idle = (server: string) => find(store, "idle", "", server)?.result?.memory
  const ie = idle(subject)
  const inode = idle("node")
  out.push(
    `| idle memory per connection ≤ 1.5× | RSS ${ratio(ie?.rssPerConnection, inode?.rssPerConnection)}, heap ${
      ratio(ie?.heapPerConnection, inode?.heapPerConnection)
    } | ${
      yes(
        ie?.rssPerConnection === undefined || inode?.rssPerConnection === undefined
          ? undefined
          : ie.rssPerConnection / inode.rssPerConnection <= 1.5 &&
            ie.heapPerConnection! / inode.heapPerConnection! <= 1.5
      )
    } |`
  )
  const churn = (server: string) => medianOf(find(store, "churn", "", server)?.result, (r) => r.connectsPerSec ?? 0)
  const ce = churn(subject)
  const cn = churn("node")
  const drained = find(store, "churn", "", subject)?.result?.memory?.drained?.clients
  out.push(
    `| connects per second ≥ 0.5× (and clients back to 0) | ${ratio(ce, cn)}; clients after: ${fmt(drained)} | ${
      yes(ce === undefined || cn === undefined ? undefined : ce / cn >= 0.5 && drained === 0)
    } |`
  )
  const sw = medianOf(find(store, "slow", "without", subject)?.result, (r) => r.deliveriesPerSec)
  const sWith = find(store, "slow", "with", subject)?.result
  const sb = medianOf(sWith, (r) => r.deliveriesPerSec)
  const stalled = finishedReps(sWith).map((r) => r.stalled)
  const dropped = stalled.length > 0 && stalled.every((s) => s?.dropped === true)
  const heldA = medianHeld(find(store, "slow", "without", subject))
  const heldB = medianHeld(find(store, "slow", "with", subject))
  const bound = predictedBound(sWith?.config.size ?? 1024)
  const extra = heldA === undefined || heldB === undefined ? undefined : heldB - heldA
  const within = extra === undefined ? undefined : extra <= bound.slowClient
  out.push(
    `| slow client: readers keep ≥ 0.9×, memory within the configured bound, slow client dropped | readers ${
      ratio(sb, sw)
    }; held after the run ${extra === undefined ? "—" : `${extra >= 0 ? "+" : ""}${mib(extra, 2)}`} MiB vs bound ${
      mib(bound.slowClient, 2)
    } MiB; dropped: ${stalled.length === 0 ? "—" : dropped ? "yes" : "no"} | ${
      yes(sb === undefined || sw === undefined ? undefined : sb / sw >= 0.9 && within === true && dropped)
    } |`
  )
  const ratios = parserRatios(existing)
  out.push(
    `| parser ≥ 1.0× eventsource-parser | ${
      ratios.length === 0
        ? "— (see Parser throughput)"
        : `${Math.min(...ratios).toFixed(2)}× at worst (see Parser throughput)`
    } | ${yes(ratios.length === 0 ? undefined : Math.min(...ratios) >= 1)} |`
  )
  return out
}

/** The serving paths measured against the targets: a route on Effect's HTTP server, and `serveNode`. */
const subjects = [
  { server: "effect-sse", label: "`hub.serve` (Effect's HTTP server)" },
  { server: "effect-sse-node", label: "`hub.serveNode` (a `node:http` listener)" }
] as const

const targetsTable = (store: Store, existing: string): Array<string> => {
  const present = subjects.filter((s) => store.jobs.some((j) => serverFile(j.server) === s.server))
  const tables = present.map((s) => targetRows(store, existing, s.server))
  if (tables.length === 0) return targetRows(store, existing, "effect-sse")
  const cells = (line: string) => line.slice(2, -2).split(" | ")
  const out = [
    `| target (vs plain node:http, same run) | ${present.map((s) => `${s.label} | met`).join(" | ")} |`,
    `| --- | ${present.map(() => "--- | ---").join(" | ")} |`
  ]
  for (let i = 2; i < tables[0].length; i++) {
    const label = cells(tables[0][i])[0]
    out.push(`| ${label} | ${tables.map((t) => cells(t[i]).slice(1).join(" | ")).join(" | ")} |`)
  }
  return out
}

const generated = (store: Store, existing: string): string => {
  const m = store.meta
  const v = m.versions
  const dates = [...new Set(store.jobs.map((j) => j.date.slice(0, 10)))].sort()
  const profiles = store.jobs.filter((j) => j.profile !== undefined)
  const commits = new Map<string, Set<string>>()
  for (const j of store.jobs) {
    const c = j.commit ?? m.commit
    commits.set(c, (commits.get(c) ?? new Set()).add(j.scenario))
  }
  const commitText = commits.size <= 1
    ? `commit ${m.commit}`
    : "commits " + [...commits].map(([c, scenarios]) => `${c} (${[...scenarios].join(", ")})`).join("; ")
  return [
    BEGIN,
    "",
    `Regenerated ${m.date.slice(0, 16).replace("T", " ")} UTC by \`npm run bench\` (\`bench/run.ts\`${
      dates.length > 1 ? `; rows measured on ${dates.join(", ")}` : ""
    }). Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}. effect ${v.effect}, ` +
    `@effect/platform ${v["@effect/platform"]}, @effect/platform-node ${v["@effect/platform-node"]}, better-sse ${
      v["better-sse"]
    }, hono ${v.hono}, @hono/node-server ${v["@hono/node-server"]}; ${commitText}.`,
    "",
    m.pinned
      ? "Each server runs alone on core 0 and the load generator on core 1 (`taskset`); CPU columns are % of one core " +
        "(server / generator), from the server's `process.cpuUsage()` and the generator's own. Every client checks " +
        "that it gets every event exactly once and in order. Throughput figures are the median of the runs listed."
      : "**taskset was not available: processes were not pinned.**",
    "",
    loaderText(store),
    "",
    "## Targets",
    "",
    ...targetsTable(store, existing),
    "",
    "## Fan-out",
    "",
    "How the servers publish \"as fast as possible\": node, better-sse and Hono publish one event per turn of the " +
    "event loop (`await setImmediate()` after each, as if each event came from I/O), so every event is its own " +
    "write; effect-sse does the same (`hub.publish`, then a `setImmediate` turn). `effect-sse+yield=0` publishes " +
    "in a tight `Effect.forEach(events, hub.publish)` loop, the way a user would write a burst. Deliveries/s: " +
    "events received by all clients ÷ time from sending `POST /broadcast` to the last receipt.",
    "",
    ...fanoutTable(store),
    "## Latency",
    "",
    ...latencyTable(store),
    "## Idle memory per connection",
    "",
    ...idleTable(store),
    "## Connection churn",
    "",
    ...churnTable(store),
    "## Slow client",
    "",
    ...slowTable(store),
    ...(profiles.length === 0
      ? []
      : ["CPU profiles of this run: " + profiles.map((j) => `\`${j.profile}\``).join(", ") + ".", ""]),
    END
  ].join("\n")
}

const readingStub = [
  "## Reading",
  "",
  "<!-- Written by hand after looking at the numbers; bench/run.ts never rewrites this section. -->",
  "",
  "(not written yet)",
  ""
].join("\n")

const writeReport = (store: Store) => {
  const existing = existsSync(reportFile) ? readFileSync(reportFile, "utf8") : ""
  const block = generated(store, existing)
  let text: string
  const begin = existing.indexOf(BEGIN)
  const end = existing.indexOf(END)
  if (begin >= 0 && end > begin) {
    text = existing.slice(0, begin) + block + existing.slice(end + END.length)
  } else {
    // First time: the generated block and a Reading section go before the parser section, which stays last
    // (bench/parser.ts replaces it up to the next heading or the end of the file).
    const head = existing.length === 0 ? "# Benchmark results\n\n" : ""
    const parser = existing.indexOf("## Parser throughput")
    text = parser < 0
      ? head + existing.replace(/\n*$/, existing.length === 0 ? "" : "\n\n") + block + "\n\n" + readingStub
      : existing.slice(0, parser) + block + "\n\n" + readingStub + "\n" + existing.slice(parser)
  }
  writeFileSync(reportFile, text)
}

// -----------------------------------------------------------------------------
// main
// -----------------------------------------------------------------------------

const runParser = async (write: boolean): Promise<void> => {
  const { args, cmd } = nodeCommand(0, [], join(benchDir, "parser.ts"), write ? ["--write"] : [])
  const child = track(spawn(cmd, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"] }))
  if (!(await exited(child, 10 * 60_000))) {
    child.kill("SIGKILL")
    console.error("parser: did not finish in 600 s")
  }
}

const main = async () => {
  const options = parseOptions(process.argv.slice(2))
  if (options.report) {
    writeReport(JSON.parse(readFileSync(resultsFile, "utf8")) as Store)
    console.log(`regenerated ${relative(root, reportFile)} from ${relative(root, resultsFile)}`)
    return
  }
  mkdirSync(tmpDir, { recursive: true })
  const jobs = jobsOf(options)
  useServerLoader(options.loader)
  const started = performance.now()
  const meta = metaNow()
  console.log(
    `${jobs.length} jobs: ${options.scenarios.join(", ")} × ${options.servers.join(", ")}${
      options.cpuProf ? " (with --cpu-prof)" : ""
    }${hasTaskset ? "" : " — taskset not found, processes are NOT pinned"}`
  )
  const results: Array<JobResult> = []
  for (const job of jobs) {
    const label = `${job.scenario}${job.variant === "" ? "" : `-${job.variant}`}`
    console.log(`\n▶ ${label} — ${job.server}`)
    const date = new Date().toISOString()
    let server: Running | undefined
    let profile: string | undefined
    try {
      server = await startServer(job.server, label, options.cpuProf)
      const config: LoadConfig = { ...job.load, port: server.port }
      const result = await runLoadgen(config, job.load.reps * (job.load.limitMs + 90_000) + 120_000)
      if (result.error !== undefined) console.log(`  error: ${result.error}`)
      profile = await stopServer(server, job.server, label)
      server = undefined
      results.push({
        scenario: job.scenario,
        variant: job.variant,
        server: job.server,
        date,
        commit: meta.commit,
        loader: options.loader,
        result,
        profile: profile === undefined ? undefined : relative(root, profile)
      })
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      console.log(`  failed: ${message}`)
      results.push({
        scenario: job.scenario,
        variant: job.variant,
        server: job.server,
        date,
        commit: meta.commit,
        loader: options.loader,
        error: message
      })
    } finally {
      if (server !== undefined) profile = await stopServer(server, job.server, label)
    }
    if (profile !== undefined) console.log(`  profile: ${relative(root, profile)}`)
  }
  if (options.scenarios.includes("parser")) {
    console.log("\n▶ parser")
    await runParser(options.write)
  }

  const runStore: Store = { meta, jobs: results }
  const stamp = meta.date.replace(/[:.]/g, "-")
  writeFileSync(join(tmpDir, `results-${stamp}.json`), JSON.stringify(runStore, null, 2))
  const existing = existsSync(reportFile) ? readFileSync(reportFile, "utf8") : ""
  console.log("\n" + generated(runStore, existing).split("\n").slice(2, -1).join("\n"))
  if (options.write && results.length > 0) {
    const full = options.scenarios.length === allScenarios.length && options.servers.length === allServers.length
    let store: Store = { meta, jobs: [] }
    if (!full && existsSync(resultsFile)) store = JSON.parse(readFileSync(resultsFile, "utf8")) as Store
    store.meta = meta
    for (const r of results) {
      store.jobs = store.jobs.filter((j) =>
        !(j.scenario === r.scenario && j.variant === r.variant && j.server === r.server)
      )
      store.jobs.push(r)
    }
    mkdirSync(dirname(resultsFile), { recursive: true })
    writeFileSync(resultsFile, JSON.stringify(store, null, 2) + "\n")
    writeReport(store)
    console.log(`\nwrote ${relative(root, resultsFile)} and ${relative(root, reportFile)}`)
  }
  console.log(
    `\ndone in ${((performance.now() - started) / 1000).toFixed(0)} s; raw results in ${
      relative(root, join(tmpDir, `results-${stamp}.json`))
    }`
  )
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error instanceof Error ? error.message : error)
    process.exit(1)
  }
)
