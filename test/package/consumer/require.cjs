// Every entry point of the published package, loaded with `require` as a CommonJS consumer would: prints the
// names each one exports. The list of entry points is the package's own `exports`.
/* eslint-disable @typescript-eslint/no-require-imports */
const { exports: entryPoints } = require("effect-sse/package.json")

const loaded = {}
for (const subpath of Object.keys(entryPoints)) {
  if (subpath === "./package.json") continue
  const specifier = subpath === "." ? "effect-sse" : `effect-sse/${subpath.slice(2)}`
  loaded[specifier] = Object.keys(require(specifier)).sort()
}
console.log(JSON.stringify(loaded))
