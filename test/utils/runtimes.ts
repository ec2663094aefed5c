/**
 * The Bun and Deno binaries the runtime tests run, as npm installs them (the `bun` and `deno` devDependencies):
 * the packages' own binary when their postinstall ran, else the binary of the platform package they depend on
 * (`@oven/bun-linux-x64`, `@deno/linux-x64-glibc`…), which is there even where npm blocks install scripts. A
 * missing binary fails naming `npm install`; nothing is downloaded from anywhere else.
 */
import { accessSync, constants, readdirSync, statSync } from "node:fs"
import * as Path from "node:path"
import { repoRoot } from "./spawn.js"

const modules = Path.join(repoRoot, "node_modules")

/** An executable of real size: the `bun` package ships a small placeholder that its postinstall replaces. */
const isBinary = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK)
    return statSync(path).size > 1024 * 1024
  } catch {
    return false
  }
}

/** The packages of `scope` whose names start with `prefix` (the platform packages npm installed). */
const platformPackages = (scope: string, prefix: string): Array<string> => {
  try {
    return readdirSync(Path.join(modules, scope)).filter((name) => name.startsWith(prefix))
      .map((name) => Path.join(modules, scope, name))
  } catch {
    return []
  }
}

const locate = (name: string, candidates: ReadonlyArray<string>): string => {
  const found = candidates.find(isBinary)
  if (found !== undefined) return found
  throw new Error(
    `The runtime tests need the ${name} binary from the "${name}" devDependency, which is not installed. ` +
      `Run \`npm install\` in ${repoRoot}. Looked at:\n${candidates.map((c) => `  ${c}`).join("\n")}`
  )
}

/** The path of the Bun binary. */
export const bunPath = (): string =>
  locate("bun", [
    Path.join(modules, "bun", "bin", "bun.exe"),
    ...platformPackages("@oven", "bun-").map((dir) => Path.join(dir, "bin", "bun"))
  ])

/** The path of the Deno binary. */
export const denoPath = (): string =>
  locate("deno", [
    Path.join(modules, "deno", "deno"),
    ...platformPackages("@deno", "").map((dir) => Path.join(dir, "deno"))
  ])
