// Builds the Effect 4 line: ESM and declarations in dist/, compiled from effect4/src and the shared core in
// ../src/core (which the compiler follows from the imports; it is never copied into the repository).
import { execFileSync } from "node:child_process"
import { rmSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = join(dirname(fileURLToPath(import.meta.url)), "..")
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
rmSync(join(here, "dist"), { recursive: true, force: true })
execFileSync(process.execPath, [tsc, "-p", join(here, "tsconfig.build.json")], { stdio: "inherit", cwd: here })
