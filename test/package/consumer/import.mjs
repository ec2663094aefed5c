// Every entry point of the published package, loaded with `import()` as an ESM consumer would: prints the names
// each one exports, as require.cjs does for CommonJS.
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)
const { exports: entryPoints } = JSON.parse(readFileSync(require.resolve("effect-sse/package.json"), "utf8"))

const loaded = {}
for (const subpath of Object.keys(entryPoints)) {
  if (subpath === "./package.json") continue
  const specifier = subpath === "." ? "effect-sse" : `effect-sse/${subpath.slice(2)}`
  loaded[specifier] = Object.keys(await import(specifier)).sort()
}
console.log(JSON.stringify(loaded))
