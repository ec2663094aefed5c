/**
 * The benchmark harness (`npm run bench`): starts each server pinned to core 0 and the load generator
 * (`bench/loadgen.ts`) pinned to core 1, runs every scenario against its servers (`bench/catalog.ts`), the
 * current ones and those of the previous release (`<server>@0.1`) in the same run, and regenerates
 * `bench/RESULTS.md` (`bench/report.ts`: the part between its BEGIN/END markers; the hand-written "Reading" and
 * the "Parser throughput" section are kept as they are).
 *
 *   npx tsx bench/run.ts                                              # everything, writes RESULTS.md
 *   npx tsx bench/run.ts --scenario fanout --servers effect-sse,node --clients 1000
 *   npx tsx bench/run.ts --scenario fanout --servers effect-sse --clients 1000 --cpu-prof
 *   npx tsx bench/run.ts --quick                                      # small sizes, a smoke test
 *
 * Options:
 *   --scenario a,b     fanout, latency, idle, churn, slow, stream-idle, shutdown, stalled-resume, bun-fanout, bun-idle,
 *                      bun-stream-idle, h2-fanout, h2-latency, effect4-fanout, effect4-idle, parser (default: all);
 *                      groups: bun (the three bun-*), h2 (both h2-*), effect4 (both effect4-*)
 *   --servers a,b      any of bench/catalog.ts (default: each scenario's own list; a named server runs in every
 *                      chosen scenario it can: the stream servers publish nothing, h2-* only runs *-h2 servers);
 *                      `<server>~bun` / `<server>~node22` runs a server's file on Bun / on Node 22
 *   --clients N[,N]    clients for fanout, bun-fanout, effect4-fanout (default 100,1000), latency, h2-fanout and
 *                      h2-latency (1000), idle, stream-idle, bun-idle, bun-stream-idle, effect4-idle (5000),
 *                      shutdown (4000), stalled-resume (30 stalled); readers for slow (20)
 *   --sessions S[,S]   h2-*: the HTTP/2 sessions the clients' streams are spread over, one job each, after the
 *                      HTTP/1.1 job of the same server (default 1,10)
 *   --events M         events per broadcast (fanout 2000, latency 220 of which 20 warm-up, slow 20000), or in the
 *                      history (stalled-resume 1000)
 *   --size S           event data bytes (fanout/latency 128, slow 1024, stalled-resume 16384)
 *   --rate R           latency: events per second (20)
 *   --reps N           repetitions of throughput figures (3); the median is reported
 *   --limit SECONDS    hard limit of one repetition (fanout 30/60, others 60)
 *   --query Q          extra query for POST /broadcast, e.g. batch=100 (effect-sse) or yield=0 (plain JS)
 *   --cpu-prof         run the servers with `node --cpu-prof`; profiles go to bench/tmp/<server>-<job>.cpuprofile
 *   --loader L         build (default): servers compiled with esbuild and run by plain Node; tsx: run through tsx
 *   --quick            small sizes for a quick check (never written to RESULTS.md); implies --no-wait
 *   --no-wait          do not wait for a quiet machine before each job nor run disturbed jobs again (smoke checks
 *                      on a busy machine: the figures are not to be trusted)
 *   --write/--no-write update bench/results/latest.json and RESULTS.md (default: only for a full run)
 *   --report           regenerate RESULTS.md from bench/results/latest.json without running anything
 *
 * A subset run with --write replaces only its own rows in bench/results/latest.json, so one scenario can be
 * re-measured without re-running everything.
 */
import { execFileSync, spawn } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { cpus, release, totalmem } from "node:os"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import {
  allScenarios,
  canRun,
  defaultServersOf,
  type JobScenario,
  loadScenarioOf,
  pathOf,
  scenarioGroups,
  type ScenarioName
} from "./catalog.js"
import type { LoadConfig } from "./loadgen.js"
import {
  before,
  benchDir,
  buildServers,
  effect4Dir,
  exited,
  hasTaskset,
  nodeCommand,
  root,
  runLoadgen,
  type Running,
  runtimeBinary,
  runtimeOf,
  type ServerLoader,
  serverSource,
  startServer,
  stopServer,
  tmpDir,
  track,
  useServerLoader
} from "./processes.js"

import {
  generated,
  type JobResult,
  type Meta,
  type Quiet,
  reportFile,
  resultsFile,
  type Store,
  writeReport
} from "./report.js"

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

const serverQuery = (server: string): string | undefined =>
  server.includes("+") ? server.slice(server.indexOf("+") + 1) : undefined

interface Options {
  readonly scenarios: ReadonlyArray<ScenarioName>
  /** The servers named with --servers; `undefined`: each scenario's own. */
  readonly servers: ReadonlyArray<string> | undefined
  readonly clients: ReadonlyArray<number> | undefined
  /** h2-*: the HTTP/2 sessions the streams are spread over, one job each. */
  readonly sessions: ReadonlyArray<number> | undefined
  readonly events: number | undefined
  readonly size: number | undefined
  readonly rate: number | undefined
  readonly reps: number | undefined
  readonly limit: number | undefined
  readonly query: string | undefined
  readonly cpuProf: boolean
  readonly loader: ServerLoader
  readonly quick: boolean
  /** Skip the wait for a quiet machine and the re-run of disturbed jobs (smoke checks on a busy machine). */
  readonly noWait: boolean
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
    if (["cpu-prof", "quick", "no-wait", "write", "no-write", "report", "help"].includes(name)) flags.add(name)
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
  const named = (list("scenario") ?? allScenarios).flatMap((s) => scenarioGroups[s] ?? [s]) as Array<ScenarioName>
  const scenarios = [...new Set(named)]
  for (const s of scenarios) {
    if (!allScenarios.includes(s)) {
      throw new Error(`unknown scenario ${s} (groups: ${Object.keys(scenarioGroups).join(", ")})`)
    }
  }
  const servers = list("servers") ?? list("server")
  for (const s of servers ?? []) {
    if (serverSource(s) === undefined) throw new Error(`unknown server ${s}`)
    runtimeOf(s)
  }
  const full = !values.has("scenario") && !values.has("servers") && !values.has("server") &&
    [...values.keys()].every((name) => name === "reps") &&
    !flags.has("quick")
  const known = [
    "scenario",
    "servers",
    "server",
    "clients",
    "sessions",
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
    clients: list("clients")?.map(Number),
    sessions: list("sessions")?.map(Number),
    events: num("events"),
    size: num("size"),
    rate: num("rate"),
    reps: num("reps"),
    limit: num("limit"),
    query: values.get("query"),
    cpuProf: flags.has("cpu-prof"),
    loader,
    quick: flags.has("quick"),
    noWait: flags.has("no-wait") || flags.has("quick"),
    write: flags.has("quick") ? false : flags.has("write") ? true : flags.has("no-write") ? false : full,
    report: flags.has("report")
  }
}

// -----------------------------------------------------------------------------
// jobs
// -----------------------------------------------------------------------------

interface Job {
  readonly scenario: JobScenario
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
  // The scenarios of the targets first, so that a run cut short has them.
  const first: ReadonlyArray<ScenarioName> = ["stream-idle", "idle", "churn", "shutdown", "stalled-resume"]
  const ordered = [...options.scenarios].sort((a, b) =>
    (first.includes(a) ? first.indexOf(a) : first.length) - (first.includes(b) ? first.indexOf(b) : first.length)
  )
  for (const scenario of ordered) {
    if (scenario === "parser") continue
    const servers = (options.servers ?? defaultServersOf(scenario)).filter((server) => canRun(scenario, server))
    for (const server of servers) {
      const query = [serverQuery(server), options.query].filter((q) => q !== undefined).join("&")
      const extra = query === "" ? {} : { query }
      switch (scenario) {
        case "h2-fanout":
        case "h2-latency": {
          // The same server, its clients as HTTP/1.1 connections, then as streams over each number of sessions.
          const latency = scenario === "h2-latency"
          for (const sessions of [undefined, ...(options.sessions ?? [1, 10])]) {
            jobs.push({
              scenario,
              variant: sessions === undefined ? "h1" : `h2x${sessions}`,
              server,
              load: {
                scenario: loadScenarioOf(scenario),
                clients: options.clients?.[0] ?? (q ? 300 : 1000),
                events: options.events ?? (latency ? (q ? 60 : 220) : (q ? 500 : 2000)),
                size: options.size ?? 128,
                reps: latency && q ? 1 : reps,
                limitMs: limit(60),
                ...(latency ? { warmup: 20, rate: options.rate ?? 20 } : {}),
                ...(sessions === undefined ? {} : { h2Sessions: sessions }),
                ...extra
              }
            })
          }
          break
        }
        case "fanout":
        case "bun-fanout":
        case "effect4-fanout":
          for (const clients of options.clients ?? (q ? [100, 300] : [100, 1000])) {
            jobs.push({
              scenario,
              variant: String(clients),
              server,
              load: {
                scenario: "fanout",
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
        case "stream-idle":
        case "bun-idle":
        case "bun-stream-idle":
        case "effect4-idle": {
          const load = loadScenarioOf(scenario)
          jobs.push({
            scenario,
            variant: "",
            server,
            load: {
              scenario: load,
              clients: options.clients?.[0] ?? (q ? 1000 : 5000),
              events: 0,
              size: 0,
              reps: 1,
              limitMs: limit(60),
              path: pathOf(load, server)
            }
          })
          break
        }
        case "shutdown":
          jobs.push({
            scenario,
            variant: "",
            server,
            load: {
              scenario,
              clients: options.clients?.[0] ?? (q ? 1000 : 4000),
              events: 0,
              size: 0,
              reps: 1,
              limitMs: limit(30),
              path: pathOf(scenario, server)
            }
          })
          break
        case "stalled-resume":
          jobs.push({
            scenario,
            variant: "",
            server,
            load: {
              scenario,
              clients: 0,
              stalledClients: options.clients?.[0] ?? 30,
              events: options.events ?? 1000,
              size: options.size ?? 16384,
              receiveBuffer: 4096,
              holdMs: q ? 15_000 : 30_000,
              reps: 1,
              limitMs: limit(60),
              path: pathOf(scenario, server)
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
              limitMs: limit(60),
              path: pathOf(scenario, server)
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
      }
    }
  }
  return jobs
}

// -----------------------------------------------------------------------------
// results
// -----------------------------------------------------------------------------

const versionOf = (pkg: string, modules = join(root, "node_modules")): string => {
  try {
    return (JSON.parse(readFileSync(join(modules, pkg, "package.json"), "utf8")) as { version: string })
      .version
  } catch {
    return "?"
  }
}

/** `bun --version`, `node --version` of Node 22; "?" when the binary is not installed. */
const binaryVersion = (runtime: "bun" | "node22"): string => {
  try {
    return execFileSync(runtimeBinary(runtime), ["--version"], { encoding: "utf8", timeout: 10_000 }).trim()
  } catch {
    return "?"
  }
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
    before: { version: before.version, commit: before.commit },
    versions: {
      ...Object.fromEntries(
        [
          "effect",
          "@effect/platform",
          "@effect/platform-node",
          "@effect/platform-bun",
          "better-sse",
          "hono",
          "@hono/node-server",
          "tsx"
        ].map((p) => [p, versionOf(p)])
      ),
      "effect@4": versionOf("effect", join(effect4Dir, "node_modules")),
      "@effect/platform-node@4": versionOf("@effect/platform-node", join(effect4Dir, "node_modules")),
      bun: binaryVersion("bun"),
      node22: binaryVersion("node22")
    },
    pinned: hasTaskset
  }
}

// -----------------------------------------------------------------------------
// a quiet machine
// -----------------------------------------------------------------------------

/** One process of /proc: its parent, its CPU time (user + system, in jiffies) and its nice value. */
interface Proc {
  readonly ppid: number
  readonly ticks: number
  readonly nice: number
}

/** Every process now, by pid. */
const processes = (): Map<number, Proc> => {
  const out = new Map<number, Proc>()
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8")
      // fields from 3 (state) on, after the parenthesised command name: ppid 4, utime 14, stime 15, nice 19
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      out.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), nice: Number(f[16]) })
    } catch {
      // the process ended meanwhile
    }
  }
  return out
}

/** This harness and its descendants (the servers, the generators). */
const ownTree = (procs: Map<number, Proc>, into: Set<number>): Set<number> => {
  into.add(process.pid)
  for (let grew = true; grew;) {
    grew = false
    for (const [pid, p] of procs) {
      if (!into.has(pid) && into.has(p.ppid)) {
        into.add(pid)
        grew = true
      }
    }
  }
  return into
}

/**
 * Processes at nice 10 or more (other work's tests, run with `nice -n 19`) give way to ours and are left out;
 * so are kernel threads, which do our own network work, and this harness's processes.
 */
const niceIgnored = 10

/**
 * CPU that other processes used between two samples, in jiffies (a process started meanwhile counts whole):
 * un-niced ones, or (`niced`) those at nice 10 or more.
 */
const othersTicks = (a: Map<number, Proc>, b: Map<number, Proc>, niced = false): number => {
  const ours = ownTree(b, ownTree(a, new Set()))
  let sum = 0
  for (const [pid, p] of b) {
    if (ours.has(pid) || (p.nice >= niceIgnored) !== niced || pid === 2 || p.ppid === 2) continue
    sum += Math.max(0, p.ticks - (a.get(pid)?.ticks ?? 0))
  }
  return sum
}

/** The jiffies per second of /proc (USER_HZ), 100 on Linux. */
const userHz = 100

/** How much CPU other un-niced processes used over `ms`, in % of one core. */
const othersBusy = async (ms: number): Promise<number> => {
  const a = processes()
  const t0 = performance.now()
  await new Promise((resolve) => setTimeout(resolve, ms))
  const b = processes()
  return (othersTicks(a, b) / userHz / ((performance.now() - t0) / 1000)) * 100
}

/** Other processes busier than this (% of one core) mean someone else is measuring or building. */
const quietBusyPercent = 25

/** The busiest processes now (the second of two `top` samples, a second apart). */
const topProcesses = (): string | undefined => {
  try {
    const out = execFileSync("top", ["-bn2", "-d1", "-w", "160"], { encoding: "utf8" })
    const last = out.slice(out.lastIndexOf("  PID "))
    return last.split("\n").slice(0, 6).join("\n")
  } catch {
    return undefined
  }
}

/**
 * Before each job (no server or generator of ours running): waits while another process keeps a core busy,
 * polling every 30 s for at most 20 minutes, and says so. The job then runs either way; its result notes the wait.
 */
const waitForQuiet = async (): Promise<Quiet> => {
  const started = performance.now()
  let busy = await othersBusy(2000)
  // What the last job left behind (sockets closing, a process exiting) settles within a few seconds.
  if (busy > quietBusyPercent) busy = await othersBusy(3000)
  const firstLook = performance.now()
  let others: string | undefined
  while (busy > quietBusyPercent && performance.now() - started < 20 * 60_000) {
    others = topProcesses()
    console.log(`  the machine is busy (others at ${busy.toFixed(0)} % of a core); waiting 30 s:\n${others ?? ""}`)
    await new Promise((resolve) => setTimeout(resolve, 30_000))
    busy = await othersBusy(2000)
  }
  const waitedS = Math.round((performance.now() - firstLook) / 1000)
  return { busiestCore: busy, waitedS, ...(others === undefined ? {} : { others }) }
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

/** Above this (% of one core, over the whole job), another process disturbed the job. */
const disturbedPercent = 10
const maxAttempts = 2

/** Runs one job: waits for a quiet machine, starts the server, runs the generator, stops the server. */
const runJob = async (job: Job, label: string, options: Options, meta: Meta): Promise<JobResult> => {
  const date = new Date().toISOString()
  let server: Running | undefined
  let profile: string | undefined
  const quiet = options.noWait ? { busiestCore: await othersBusy(500), waitedS: 0 } : await waitForQuiet()
  const before = processes()
  const t0 = performance.now()
  const common = {
    scenario: job.scenario,
    variant: job.variant,
    server: job.server,
    date,
    commit: meta.commit,
    loader: options.loader,
    quiet
  }
  // What other processes used while the job ran, in % of one core: every core's busy time but ours.
  const othersPercent = () => {
    const seconds = (performance.now() - t0) / 1000
    const after = processes()
    const percent = (ticks: number) => (seconds <= 0 ? 0 : (ticks / userHz / seconds) * 100)
    return { others: percent(othersTicks(before, after)), niced: percent(othersTicks(before, after, true)) }
  }
  try {
    server = await startServer(job.server, label, options.cpuProf)
    const config: LoadConfig = {
      ...job.load,
      port: server.port,
      ...(job.load.h2Sessions === undefined || server.h2Port === undefined ? {} : { h2Port: server.h2Port })
    }
    const result = await runLoadgen(config, job.load.reps * (job.load.limitMs + 90_000) + 120_000)
    if (result.error !== undefined) console.log(`  error: ${result.error}`)
    profile = await stopServer(server, job.server, label)
    server = undefined
    if (profile !== undefined) console.log(`  profile: ${relative(root, profile)}`)
    return {
      ...common,
      result,
      profile: profile === undefined ? undefined : relative(root, profile),
      ...othersPercent()
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    console.log(`  failed: ${message}`)
    return { ...common, error: message }
  } finally {
    if (server !== undefined) await stopServer(server, job.server, label)
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
    `${jobs.length} jobs: ${options.scenarios.join(", ")} × ${
      options.servers?.join(", ") ?? "each scenario's servers"
    }${options.cpuProf ? " (with --cpu-prof)" : ""}${
      hasTaskset ? "" : " — taskset not found, processes are NOT pinned"
    }`
  )
  // Every server is built before the first job, so that no build runs while a job is measured.
  await buildServers([...new Set(jobs.map((j) => j.server))])
  const results: Array<JobResult> = []
  for (const job of jobs) {
    const label = `${job.scenario}${job.variant === "" ? "" : `-${job.variant}`}`
    console.log(`\n▶ ${label} — ${job.server}`)
    // A job that another process disturbed is run again, after the machine is quiet, up to twice; the
    // disturbed attempts are kept with the result.
    // After the last attempt, the least disturbed one is the result.
    const attempts: Array<JobResult> = []
    for (let attempt = 1;; attempt++) {
      const run = await runJob(job, label, options, meta)
      const others = run.others ?? 0
      console.log(
        `  other processes: ${others.toFixed(1)} % of a core during the job (niced ones: ${
          (run.niced ?? 0).toFixed(0)
        } %)`
      )
      attempts.push(run)
      if (others <= disturbedPercent || attempt === maxAttempts || run.error !== undefined || options.noWait) break
      console.log(`  disturbed (over ${disturbedPercent} %): running it again`)
    }
    const kept = attempts.reduce((
      best,
      a
    ) => (a.error === undefined && (a.others ?? 0) < (best.others ?? 0) ? a : best))
    const disturbed = attempts.filter((a) => a !== kept)
    results.push(disturbed.length === 0 ? kept : { ...kept, disturbedAttempts: disturbed })
    // Saved after every job, so that a run cut short keeps what it measured.
    writeFileSync(join(tmpDir, "results-partial.json"), JSON.stringify({ meta, jobs: results }, null, 2))
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
    const full = allScenarios.every((s) => options.scenarios.includes(s)) && options.servers === undefined
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
