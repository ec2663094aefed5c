/**
 * Prints the frames of a V8 `.cpuprofile` (from `node --cpu-prof`) that take the most self time, with
 * file:line, their share of the busy (non-idle) time, and their inclusive time.
 *
 *   npx tsx bench/profile-summary.ts bench/tmp/effect-sse-fanout.cpuprofile [--top 25] [--by function|file]
 *
 * `--by file` adds the self time up per script (which package dominates). Given a directory, it reads the
 * newest `.cpuprofile` in it.
 *
 * tsx compiles TypeScript to one line per file, so a profile's positions in our `.ts` files are columns of
 * that line: they are mapped back to source lines by compiling the file again the way tsx does (esbuild,
 * whitespace minified, with a source map). That reads the file as it is now: a file edited since the profile
 * was taken maps to wrong lines (the summary warns).
 */
import { transformSync } from "esbuild"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}

interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly endTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

export interface Frame {
  readonly name: string
  readonly location: string
  readonly selfMs: number
  readonly totalMs: number
}

export interface Summary {
  readonly wallMs: number
  readonly busyMs: number
  readonly idleMs: number
  readonly gcMs: number
  readonly frames: ReadonlyArray<Frame>
}

// -----------------------------------------------------------------------------
// mapping tsx's output back to source lines
// -----------------------------------------------------------------------------

const base64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/** Decodes one line of source-map mappings into [generated column, source line] pairs, in order. */
const decodeLine = (mappings: string): Array<readonly [number, number]> => {
  const out: Array<readonly [number, number]> = []
  let column = 0
  let sourceLine = 0
  for (const segment of mappings.split(",")) {
    if (segment.length === 0) continue
    const fields: Array<number> = []
    let value = 0
    let shift = 0
    for (const ch of segment) {
      const digit = base64.indexOf(ch)
      value += (digit & 31) << shift
      if (digit & 32) {
        shift += 5
      } else {
        fields.push(value & 1 ? -(value >>> 1) : value >>> 1)
        value = 0
        shift = 0
      }
    }
    column += fields[0]
    if (fields.length >= 3) sourceLine += fields[2]
    out.push([column, sourceLine])
  }
  return out
}

const maps = new Map<string, Array<readonly [number, number]> | undefined>()
export const staleSources = new Set<string>()

/** The 1-based source line of a position in tsx's output for `path`, if it can be mapped. */
const sourceLine = (path: string, line: number, column: number, profileTime: number): number | undefined => {
  if (!maps.has(path)) {
    try {
      const source = readFileSync(path, "utf8")
      if (statSync(path).mtimeMs > profileTime) staleSources.add(path)
      const result = transformSync(source, {
        loader: path.endsWith(".tsx") ? "tsx" : "ts",
        format: "esm",
        target: `node${process.versions.node}`,
        sourcemap: "external",
        minifyWhitespace: true,
        keepNames: true,
        sourcefile: path
      })
      const map = JSON.parse(result.map) as { mappings: string }
      maps.set(path, decodeLine(map.mappings.split(";")[0]))
    } catch {
      maps.set(path, undefined)
    }
  }
  const segments = maps.get(path)
  if (segments === undefined || line !== 0) return undefined
  let found: number | undefined
  for (const [col, src] of segments) {
    if (col > column) break
    found = src
  }
  return found === undefined ? undefined : found + 1
}

let currentProfileTime = Infinity

const special = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"])

const shortUrl = (url: string): string => {
  if (url === "") return ""
  const path = url.startsWith("file://") ? fileURLToPath(url) : url
  const nm = path.lastIndexOf("/node_modules/")
  if (nm >= 0) return path.slice(nm + "/node_modules/".length)
  return path.startsWith("/") ? relative(process.cwd(), path) : path
}

/** Self and inclusive time per frame (function name + location), or per script with `by: "file"`. */
export const summarize = (profile: Profile, by: "function" | "file" = "function"): Summary => {
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const node of profile.nodes) {
    byId.set(node.id, node)
    for (const child of node.children ?? []) parent.set(child, node.id)
  }
  const selfUs = new Map<number, number>()
  // A sample's delta is the time until the next sample: attribute it to the sample it follows.
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i + 1] ?? 0
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + delta)
  }
  const lineOf = (frame: CallFrame): number => {
    if (/\.(ts|tsx|mts)$/.test(frame.url) && !frame.url.includes("/node_modules/") && frame.url.startsWith("file://")) {
      const mapped = sourceLine(fileURLToPath(frame.url), frame.lineNumber, frame.columnNumber, currentProfileTime)
      if (mapped !== undefined) return mapped
    }
    return frame.lineNumber + 1
  }
  const keyOf = (frame: CallFrame): string => {
    const location = frame.url === "" ? "" : `${shortUrl(frame.url)}${by === "file" ? "" : `:${lineOf(frame)}`}`
    return by === "file" ? location || frame.functionName : `${frame.functionName || "(anonymous)"}\u0000${location}`
  }
  const self = new Map<string, number>()
  const total = new Map<string, number>()
  let idle = 0
  let gc = 0
  let all = 0
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!
    all += us
    const name = node.callFrame.functionName
    if (name === "(idle)") idle += us
    if (name === "(garbage collector)") gc += us
    const key = special.has(name) ? name : keyOf(node.callFrame)
    self.set(key, (self.get(key) ?? 0) + us)
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame
      const k = special.has(frame.functionName) ? frame.functionName : keyOf(frame)
      if (seen.has(k)) continue
      seen.add(k)
      total.set(k, (total.get(k) ?? 0) + us)
    }
  }
  const frames = Array.from(self, ([key, us]): Frame => {
    const [name, location = ""] = key.split("\u0000")
    return { name, location, selfMs: us / 1000, totalMs: (total.get(key) ?? us) / 1000 }
  }).sort((a, b) => b.selfMs - a.selfMs)
  return { wallMs: all / 1000, busyMs: (all - idle) / 1000, idleMs: idle / 1000, gcMs: gc / 1000, frames }
}

const newestProfile = (path: string): string => {
  if (!statSync(path).isDirectory()) return path
  const files = readdirSync(path).filter((f) => f.endsWith(".cpuprofile")).map((f) => join(path, f))
  if (files.length === 0) throw new Error(`no .cpuprofile in ${path}`)
  return files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]
}

/** The summary as a Markdown table. */
export const format = (summary: Summary, top: number): string => {
  const pct = (ms: number) => `${((ms / Math.max(summary.busyMs, 1e-9)) * 100).toFixed(1)}%`
  const lines = [
    `profiled ${summary.wallMs.toFixed(0)} ms: busy ${summary.busyMs.toFixed(0)} ms, idle ${
      summary.idleMs.toFixed(0)
    } ms, GC ${summary.gcMs.toFixed(0)} ms (${pct(summary.gcMs)} of busy)`,
    "",
    "| # | self ms | self % of busy | total ms | function | location |",
    "| ---: | ---: | ---: | ---: | --- | --- |"
  ]
  summary.frames.filter((f) => f.name !== "(idle)").slice(0, top).forEach((f, i) => {
    lines.push(
      `| ${i + 1} | ${f.selfMs.toFixed(1)} | ${pct(f.selfMs)} | ${f.totalMs.toFixed(1)} | \`${f.name}\` | ${
        f.location === "" ? "" : `\`${f.location}\``
      } |`
    )
  })
  return lines.join("\n")
}

const main = () => {
  const args = process.argv.slice(2)
  const flag = (name: string): string | undefined => {
    const i = args.indexOf(name)
    if (i < 0) return undefined
    const value = args[i + 1]
    args.splice(i, 2)
    return value
  }
  const top = Number(flag("--top") ?? "25")
  const by = flag("--by") === "file" ? "file" : "function"
  if (args.length === 0) {
    console.error("usage: npx tsx bench/profile-summary.ts <file.cpuprofile | dir> [--top 25] [--by function|file]")
    process.exit(2)
  }
  for (const arg of args) {
    const file = newestProfile(arg)
    const profile = JSON.parse(readFileSync(file, "utf8")) as Profile
    currentProfileTime = statSync(file).mtimeMs
    staleSources.clear()
    console.log(`## ${relative(process.cwd(), file)}\n`)
    console.log(format(summarize(profile, by), top))
    for (const path of staleSources) {
      console.log(
        `\nwarning: ${relative(process.cwd(), path)} changed after the profile was taken; its lines may be off`
      )
    }
    console.log("")
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main()
