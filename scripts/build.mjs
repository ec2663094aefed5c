/**
 * `npm run build` (and `prepack`, so `npm pack` / `npm publish` always ship a fresh build):
 *
 * 1. package.json's `exports` / `typesVersions` are brought in line with src/*.ts (scripts/entrypoints.mjs);
 * 2. dist/ is emptied, then tsc compiles src/ twice, in parallel:
 *    - tsconfig.build.json     → dist/esm: ESM JavaScript, `.d.ts`, declaration maps and source maps;
 *    - tsconfig.build.cjs.json → dist/cjs: the same as CommonJS, with its own `.d.ts`;
 *    both with `stripInternal`, so what is marked `@internal` is not in the declarations;
 * 3. dist/cjs/package.json says `{"type":"commonjs"}` (the package itself is `"type": "module"`), and
 *    dist/esm/package.json `{"type":"module"}`;
 * 4. every entry point of package.json is checked to exist.
 *
 * Any type error fails the build: a package is never built from code that does not compile.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { modules, root, updated } from "./entrypoints.mjs"

const tsc = join(root, "node_modules", "typescript", "bin", "tsc")

const compile = (project) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, "-p", join(root, project)], { cwd: root, stdio: "inherit" })
    child.on("error", reject)
    child.on("exit", (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`tsc -p ${project} failed (${signal ?? `exit code ${code}`})`)))
  })

const started = Date.now()

const packageJsonPath = join(root, "package.json")
const text = readFileSync(packageJsonPath, "utf8")
const pkg = updated(JSON.parse(text), modules())
const next = `${JSON.stringify(pkg, null, 2)}\n`
if (next !== text) {
  writeFileSync(packageJsonPath, next)
  console.log("package.json: exports and typesVersions updated from src/*.ts")
}

const dist = join(root, "dist")
rmSync(dist, { recursive: true, force: true })
await Promise.all([compile("tsconfig.build.json"), compile("tsconfig.build.cjs.json")])

mkdirSync(join(dist, "cjs"), { recursive: true })
writeFileSync(join(dist, "cjs", "package.json"), `${JSON.stringify({ type: "commonjs" }, null, 2)}\n`)
writeFileSync(join(dist, "esm", "package.json"), `${JSON.stringify({ type: "module" }, null, 2)}\n`)

const targets = (value) => typeof value === "string" ? [value] : Object.values(value).flatMap(targets)
const missing = [...targets(pkg.exports), pkg.main, pkg.module, pkg.types, ...targets(pkg.typesVersions)]
  .filter((file) => !existsSync(join(root, file)))
if (missing.length > 0) {
  console.error(`build: package.json points at files the build did not write:\n  ${missing.join("\n  ")}`)
  process.exit(1)
}
console.log(`build: dist/esm and dist/cjs for ${modules().length} modules in ${Date.now() - started} ms`)
