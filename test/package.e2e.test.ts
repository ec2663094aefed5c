/**
 * The package as a user gets it from npm: `npm pack` (whose `prepack` builds dist/ from the current sources),
 * installed into temporary projects of their own in the OS's temp dir, with the peers at the versions this
 * repository pins. One project has every peer; a minimal one has only `effect` and `@effect/platform`, as a
 * user who never installed the optional peers (`@effect/platform-node`, `ioredis`). In them:
 *
 * - plain `node` runs the README-style tour as ESM (an event encoded and parsed back, a stream served by
 *   `SseNode.layer` on port 0 and read with node's HTTP client, a clean shutdown), and `require()`s every entry
 *   point as CommonJS;
 * - `tsc` compiles a typed tour under each module resolution mode (node10, node16, nodenext, bundler) with the
 *   strictest consumer flags and `skipLibCheck: false`, so our declarations are checked as shipped;
 * - esbuild bundles the portable part for node, and the root import for a browser;
 * - publint and arethetypeswrong find nothing to report in the tarball;
 * - without ioredis, building the Redis backend dies with a message naming the package to install.
 *
 * The temp dir is removed at the end. npm's cache makes the installs quick after the first run.
 */
import * as esbuild from "esbuild"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { publint } from "publint"
import { formatMessage } from "publint/utils"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { otherNode, resolutionModes, strictFlags, tourTs } from "./package/fixtures.js"
import {
  bin,
  compilerOptionsFromJson,
  compilerOptionsOf,
  exportedNames,
  install,
  pack,
  type Packed,
  root,
  run,
  succeed
} from "./package/project.js"

interface PackageJson {
  readonly exports: Record<string, unknown>
  readonly typesVersions: Record<string, Record<string, ReadonlyArray<string>>>
  readonly devDependencies: Record<string, string>
  readonly files: ReadonlyArray<string>
}

// Read before the build (which brings package.json in line with src/) can touch it.
const packageJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as PackageJson
const modules = readdirSync(join(root, "src"))
  .filter((file) => file.endsWith(".ts") && file !== "index.ts")
  .map((file) => file.slice(0, -".ts".length))
  .sort()
const specifiers = ["effect-sse", ...modules.map((name) => `effect-sse/${name}`)]
const pinned = (name: string): string => {
  const version = packageJson.devDependencies[name]
  if (version === undefined) throw new Error(`package.json pins no ${name}`)
  return `${name}@${version}`
}

// Each command of a check, and each check (several commands), are bounded: a hang shows its output.
const processTimeout = 20_000
const checkTimeout = 90_000

const wire = "event: greeting\nid: 1\ndata: hello\ndata: world\n\n"
const parsed = "[{\"_tag\":\"Event\",\"type\":\"greeting\",\"data\":\"hello\\nworld\",\"lastEventId\":\"1\"}]"

describe("package.json", () => {
  it("exports every src/*.ts but index.ts as ./<Name>, and index.ts as .", async () => {
    expect(Object.keys(packageJson.exports).sort()).toEqual(
      [".", "./package.json", ...modules.map((m) => `./${m}`)].sort()
    )
    expect(Object.keys(packageJson.typesVersions["*"] ?? {}).sort()).toEqual(modules)
    // The script that writes those fields agrees (it also checks main, module and types).
    await succeed(
      run(process.execPath, [join(root, "scripts", "entrypoints.mjs"), "--check"], { cwd: root, timeout: 10_000 }),
      "node scripts/entrypoints.mjs --check"
    )
  })
})

describe("the packed library", () => {
  let temp = ""
  let packed: Packed = { tarball: "", files: [] }
  let app = ""
  let minimal = ""
  const installed = () => join(app, "node_modules", "effect-sse")

  beforeAll(async () => {
    temp = mkdtempSync(join(tmpdir(), "effect-sse-package-"))
    app = join(temp, "app")
    minimal = join(temp, "minimal")
    mkdirSync(app)
    mkdirSync(minimal)
    packed = await pack(temp)
    const peers = ["effect", "@effect/platform"].map(pinned)
    await Promise.all([
      install(app, [
        packed.tarball,
        ...peers,
        ...["@effect/platform-node", "ioredis", "@types/node"].map(pinned),
        ...(otherNode === undefined ? [] : [otherNode.pkg])
      ]),
      install(minimal, [packed.tarball, ...peers])
    ])
  }, 420_000)

  // Two installed projects (a few hundred MB): removing them takes longer than a hook's default on a busy machine.
  afterAll(async () => {
    if (temp !== "") await rm(temp, { recursive: true, force: true })
  }, 300_000)

  it("holds the build, the sources, README, LICENSE and CHANGELOG, and nothing else", () => {
    const allowed = /^(dist\/(esm|cjs)\/.+|src\/.+\.ts|README\.md|LICENSE|CHANGELOG\.md|package\.json)$/
    expect(packed.files.filter((file) => !allowed.test(file))).toEqual([])
    for (const name of ["index", ...modules]) {
      for (const file of [`${name}.js`, `${name}.d.ts`, `${name}.d.ts.map`, `${name}.js.map`]) {
        expect(packed.files).toContain(`dist/esm/${file}`)
        expect(packed.files).toContain(`dist/cjs/${file}`)
      }
    }
    expect(packed.files).toEqual(expect.arrayContaining(["LICENSE", "README.md", "CHANGELOG.md"]))
    expect(JSON.parse(readFileSync(join(installed(), "dist", "cjs", "package.json"), "utf8"))).toEqual({
      type: "commonjs"
    })
    // Declaration maps lead to the shipped sources.
    const map = JSON.parse(readFileSync(join(installed(), "dist", "esm", "SseEvent.d.ts.map"), "utf8")) as {
      readonly sources: ReadonlyArray<string>
    }
    expect(map.sources.map((source) => resolve(installed(), "dist", "esm", source))).toEqual([
      join(installed(), "src", "SseEvent.ts")
    ])
    expect(readFileSync(join(installed(), "src", "SseEvent.ts"), "utf8")).toBe(
      readFileSync(join(root, "src", "SseEvent.ts"), "utf8")
    )
  })

  // The node running the tests, and Node 22 where npm has it for this platform.
  const nodes: Array<{ readonly name: string; readonly bin: () => string }> = [
    { name: `node ${process.version}`, bin: () => process.execPath }
  ]
  if (otherNode !== undefined) {
    const { bin, version } = otherNode
    nodes.push({ name: `node ${version}`, bin: () => join(app, ...bin) })
  }

  for (const node of nodes) {
    it(`runs the tour on plain ${node.name} as ESM: encode, parse, serve with SseNode, shut down`, async () => {
      const { stdout } = await succeed(run(node.bin(), ["tour.mjs"], { cwd: app, timeout: processTimeout }), "tour.mjs")
      expect(stdout.trim().split("\n")).toEqual([
        `encoded ${JSON.stringify(wire)}`,
        `parsed ${parsed}`,
        `served 200 text/event-stream ${JSON.stringify(`: connected\n\n${wire}`)}`,
        "shut down"
      ])
    }, checkTimeout)

    it(`loads every entry point on ${node.name} with require() as CommonJS, and import() as ESM, alike`, async () => {
      const cjs = await succeed(run(node.bin(), ["require.cjs"], { cwd: app, timeout: processTimeout }), "require.cjs")
      const required = JSON.parse(cjs.stdout) as Record<string, ReadonlyArray<string>>
      expect(Object.keys(required).sort()).toEqual([...specifiers].sort())
      for (const specifier of specifiers) expect(required[specifier], specifier).not.toEqual([])

      const esm = await succeed(run(node.bin(), ["import.mjs"], { cwd: app, timeout: processTimeout }), "import.mjs")
      expect(JSON.parse(esm.stdout)).toEqual(required)
    }, checkTimeout)
  }

  it("declares every export of every module, as the sources do", () => {
    const fromSources = exportedNames(
      ["index", ...modules].map((name) => join(root, "src", `${name}.ts`)),
      compilerOptionsOf("tsconfig.build.json")
    )
    const fromPackage = exportedNames(
      ["index", ...modules].map((name) => join(installed(), "dist", "esm", `${name}.d.ts`)),
      compilerOptionsFromJson({ ...strictFlags, module: "nodenext", moduleResolution: "nodenext" }, app)
    )
    expect(fromPackage).toEqual(fromSources)
  }, 60_000)

  for (const mode of resolutionModes) {
    it(`type-checks a consumer under moduleResolution ${mode.name}, strict, skipLibCheck false`, async () => {
      const dir = join(app, `ts-${mode.name}`)
      mkdirSync(dir, { recursive: true })
      for (const file of mode.files) writeFileSync(join(dir, file), tourTs)
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            ...strictFlags,
            skipLibCheck: false,
            module: mode.module,
            moduleResolution: mode.moduleResolution
          },
          files: mode.files
        })
      )
      const result = await run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", dir], {
        cwd: dir,
        timeout: 120_000
      })
      expect(`${result.stdout}${result.stderr}`).toBe("")
      expect(result.code).toBe(0)
    }, 150_000)
  }

  it("bundles the portable part of the tour for node with esbuild, and the bundle runs", async () => {
    const outfile = join(app, "out", "portable.mjs")
    const result = await esbuild.build({
      absWorkingDir: app,
      entryPoints: ["portable.mjs"],
      bundle: true,
      platform: "node",
      format: "esm",
      outfile,
      logLevel: "silent",
      metafile: true
    })
    expect([...result.errors, ...result.warnings]).toEqual([])
    expect(Object.keys(result.metafile.inputs)).toContain("node_modules/effect-sse/dist/esm/SseEvent.js")
    const { stdout } = await succeed(run(process.execPath, [outfile], { cwd: app, timeout: processTimeout }), "bundle")
    expect(stdout.trim().split("\n")).toEqual([`encoded ${JSON.stringify(wire)}`, `parsed ${parsed}`])
  }, checkTimeout)

  it("bundles the root import for a browser: no node: module in it", async () => {
    const result = await esbuild.build({
      absWorkingDir: minimal,
      entryPoints: ["browser.mjs"],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
      metafile: true
    })
    expect([...result.errors, ...result.warnings]).toEqual([])
    const inputs = Object.keys(result.metafile.inputs)
    expect(inputs).toContain("node_modules/effect-sse/dist/esm/index.js")
    expect(inputs.filter((input) => input.startsWith("node:") || input.includes("platform-node"))).toEqual([])
  })

  it("passes publint (every level, strict)", async () => {
    const tarball = readFileSync(packed.tarball)
    const { messages, pkg } = await publint({
      pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) },
      level: "suggestion",
      strict: true
    })
    expect(messages.map((message) => formatMessage(message, pkg))).toEqual([])
  })

  it("passes arethetypeswrong: every entry point resolves under node10, node16 (CJS and ESM) and bundler", async () => {
    const result = await run(bin("attw"), [packed.tarball, "--format", "json"], { cwd: temp, timeout: processTimeout })
    const report = JSON.parse(result.stdout) as {
      readonly analysis: {
        readonly problems: ReadonlyArray<unknown>
        readonly entrypoints: Record<
          string,
          { readonly resolutions: Record<string, { readonly resolution?: { readonly fileName: string } }> }
        >
      }
    }
    expect(report.analysis.problems).toEqual([])
    expect(Object.keys(report.analysis.entrypoints).sort()).toEqual(Object.keys(packageJson.exports).sort())
    for (const [subpath, entrypoint] of Object.entries(report.analysis.entrypoints)) {
      for (const kind of ["node10", "node16-cjs", "node16-esm", "bundler"]) {
        expect(entrypoint.resolutions[kind]?.resolution?.fileName, `${subpath} under ${kind}`).toBeDefined()
      }
    }
    expect(result.code).toBe(0)
  }, checkTimeout)

  it("without ioredis: the root and effect-sse/SseHubRedis import, and the Redis layer names the package", async () => {
    const rootImport = await succeed(
      run(process.execPath, ["browser.mjs"], { cwd: minimal, timeout: processTimeout }),
      "root"
    )
    expect(rootImport.stdout.trim().split(" ")).toContain("SseHub")
    for (const file of ["ioredis-missing.mjs", "ioredis-missing.cjs"]) {
      const { stdout } = await succeed(run(process.execPath, [file], { cwd: minimal, timeout: processTimeout }), file)
      expect(stdout).toContain("effect-sse/SseHubRedis needs the ioredis package")
      expect(stdout).toContain("npm install ioredis")
    }
  }, checkTimeout)
})
