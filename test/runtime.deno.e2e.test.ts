/**
 * Deno 2.9 (the `deno` devDependency's binary) serves `examples/web.ts` through `Deno.serve` and `SseWeb`,
 * importing the built package as a user's project has it: `node_modules/effect-sse` holding the ESM build of
 * the sources (the build's own tsconfig) and the package's `package.json`, next to the repository's dependencies.
 * The only flags are permissions, as narrow as they go: `--allow-net=127.0.0.1 --allow-env=PORT,HOST`; no
 * `--sloppy-imports`, no `--allow-all`. It passes the end-to-end checks the Node tests make.
 */
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { denoPath } from "./utils/runtimes.js"
import { type RuntimeApp, runtimeSuite } from "./utils/runtimeSuite.js"
import { repoRoot, spawnCommand } from "./utils/spawn.js"

const deno = denoPath()
let project = ""

/** A project with the built package in its node_modules, and the example, as a user would run it. */
const makeProject = (): string => {
  const dir = mkdtempSync(Path.join(tmpdir(), "effect-sse-deno-"))
  const modules = Path.join(dir, "node_modules")
  const pkg = Path.join(modules, "effect-sse")
  mkdirSync(pkg, { recursive: true })
  execFileSync(process.execPath, [
    Path.join(repoRoot, "node_modules", "typescript", "bin", "tsc"),
    "-p",
    Path.join(repoRoot, "tsconfig.build.json"),
    "--outDir",
    Path.join(pkg, "dist", "esm"),
    "--declaration",
    "false",
    "--declarationMap",
    "false",
    "--sourceMap",
    "false"
  ], { cwd: repoRoot, stdio: "pipe", timeout: 120_000 })
  const manifest = JSON.parse(readFileSync(Path.join(repoRoot, "package.json"), "utf8")) as Record<string, unknown>
  writeFileSync(
    Path.join(pkg, "package.json"),
    JSON.stringify({ name: manifest.name, version: manifest.version, type: "module", exports: manifest.exports })
  )
  writeFileSync(Path.join(pkg, "dist", "esm", "package.json"), JSON.stringify({ type: "module" }))
  // The dependencies, as npm installed them for the repository.
  for (const entry of readdirSync(Path.join(repoRoot, "node_modules"))) {
    if (entry === ".bin" || entry === "effect-sse" || entry.startsWith(".")) continue
    symlinkSync(Path.join(repoRoot, "node_modules", entry), Path.join(modules, entry))
  }
  writeFileSync(
    Path.join(dir, "package.json"),
    JSON.stringify({ name: "deno-consumer", private: true, type: "module" })
  )
  copyFileSync(Path.join(repoRoot, "examples", "web.ts"), Path.join(dir, "web.ts"))
  return dir
}

beforeAll(() => {
  project = makeProject()
}, 180_000)

afterAll(() => {
  if (project !== "") rmSync(project, { recursive: true, force: true })
})

const start: RuntimeApp["start"] = (port) =>
  Effect.gen(function*() {
    const process = yield* spawnCommand(
      deno,
      ["run", "--allow-net=127.0.0.1", "--allow-env=PORT,HOST", "web.ts"],
      {
        PORT: String(port),
        HOST: "127.0.0.1",
        NO_COLOR: "1",
        DENO_NO_UPDATE_CHECK: "1",
        DENO_DIR: Path.join(project, ".deno")
      },
      { cwd: project }
    )
    yield* process.waitForOutput("Listening on", "60 seconds")
    return process
  })

runtimeSuite({
  runtime: "Deno, examples/web.ts on the built package",
  time: { start, eventsPath: "/time" },
  chat: { start, eventsPath: "/events", messagesPath: "/messages" }
})
