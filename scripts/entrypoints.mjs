/**
 * The package's entry points, derived from `src/`: every `src/*.ts` but `index.ts` is a public subpath
 * `./<Name>`, and `index.ts` is `.`. From them come the `exports`, `typesVersions`, `main`, `module` and `types`
 * fields of package.json, so a new module is published by adding its file.
 *
 *   node scripts/entrypoints.mjs          writes those fields into package.json (when they differ)
 *   node scripts/entrypoints.mjs --check  exits 1 when package.json is out of date
 *
 * Layout (see scripts/build.mjs): dist/esm holds ESM JavaScript and its declarations (the package is
 * `"type": "module"`), dist/cjs the CommonJS JavaScript and its own declarations under a `{"type":"commonjs"}`
 * package.json, so `import` and `require` each get declarations of their own format.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export const root = join(dirname(fileURLToPath(import.meta.url)), "..")

/** The public module names, sorted: `src/<Name>.ts` for every file but index.ts. */
export const modules = (dir = root) =>
  readdirSync(join(dir, "src"), { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts"))
    .map((entry) => entry.name.slice(0, -".ts".length))
    .filter((name) => name !== "index")
    .sort()

const conditions = (file) => ({
  import: { types: `./dist/esm/${file}.d.ts`, default: `./dist/esm/${file}.js` },
  require: { types: `./dist/cjs/${file}.d.ts`, default: `./dist/cjs/${file}.js` }
})

/** The package.json fields that follow from the module list. */
export const fields = (names) => ({
  main: "./dist/cjs/index.js",
  module: "./dist/esm/index.js",
  types: "./dist/cjs/index.d.ts",
  exports: {
    "./package.json": "./package.json",
    ".": conditions("index"),
    ...Object.fromEntries(names.map((name) => [`./${name}`, conditions(name)]))
  },
  // For `moduleResolution: node10`, which ignores `exports`: `effect-sse/SseHub` finds its declarations here.
  typesVersions: {
    "*": Object.fromEntries(names.map((name) => [name, [`./dist/cjs/${name}.d.ts`]]))
  }
})

const packageJsonPath = join(root, "package.json")

/** package.json with the derived fields in place (existing keys keep their position). */
export const updated = (pkg, names = modules()) => {
  const next = { ...pkg }
  for (const [key, value] of Object.entries(fields(names))) next[key] = value
  return next
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]
if (isMain) {
  const text = readFileSync(packageJsonPath, "utf8")
  const next = `${JSON.stringify(updated(JSON.parse(text)), null, 2)}\n`
  if (process.argv.includes("--check")) {
    if (next !== text) {
      console.error("package.json's exports do not match src/*.ts: run `node scripts/entrypoints.mjs`")
      process.exit(1)
    }
  } else if (next !== text) {
    writeFileSync(packageJsonPath, next)
    console.log(`package.json: exports for ${modules().length} modules and the root`)
  }
}
