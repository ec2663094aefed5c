/**
 * The programs the tests need from the machine, and how `npm test` provides them: Debian's packages, installed
 * with apt-get when the run is root, else a failure that names the one command to run. Never a browser that
 * some tool downloads, and never a test that skips because a program is missing.
 */
import { spawn } from "node:child_process"
import { accessSync, constants } from "node:fs"
import { delimiter, join } from "node:path"

/** A program the tests run, and the Debian package that provides it. */
export interface Program {
  /** What it is, for messages. */
  readonly name: string
  readonly debianPackage: string
  readonly installed: () => boolean
}

/** Where the browser tests find Chromium: Debian's `chromium` package. */
export const chromiumPath = "/usr/bin/chromium"

const isExecutable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** Whether `command` is an executable file in one of `PATH`'s directories. */
export const onPath = (command: string): boolean =>
  (process.env.PATH ?? "").split(delimiter).some((dir) => dir !== "" && isExecutable(join(dir, command)))

export const chromium: Program = {
  name: `Chromium at ${chromiumPath}`,
  debianPackage: "chromium",
  installed: () => isExecutable(chromiumPath)
}

export const redisServer: Program = {
  name: "redis-server on PATH",
  debianPackage: "redis-server",
  installed: () => onPath("redis-server")
}

/** The HTTP/2 tests make their self-signed certificate with `openssl` (see `test/utils/tls.ts`). */
export const openssl: Program = {
  name: "openssl on PATH",
  debianPackage: "openssl",
  installed: () => onPath("openssl")
}

/** Everything `npm test` needs: the browser tests' Chromium, the Redis tests' `redis-server`, `openssl`. */
export const programs: ReadonlyArray<Program> = [chromium, redisServer, openssl]

/** The command a user who is not root runs to install `missing`. */
export const installCommand = (missing: ReadonlyArray<Program>): string =>
  `sudo apt-get install -y ${missing.map((program) => program.debianPackage).join(" ")}`

export class ProvisionError extends Error {
  override readonly name = "ProvisionError"
  constructor(message: string) {
    super(message)
    // The message says what to do; a stack trace into this file would only bury it.
    this.stack = `${this.name}: ${message}`
  }
}

/** Runs one command, keeping the tail of its output for the failure message; rejects unless it exits with 0. */
const run = (command: string, args: ReadonlyArray<string>): Promise<void> =>
  new Promise((resolve, reject) => {
    let output = ""
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-4000)
    }
    const child = spawn(command, args, {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    child.stdout.on("data", keep)
    child.stderr.on("data", keep)
    child.once("error", (error) => reject(new ProvisionError(`${command} did not start: ${error.message}`)))
    child.once("close", (code, signal) =>
      code === 0
        ? resolve()
        : reject(new ProvisionError(`${[command, ...args].join(" ")} failed (${signal ?? code}):\n${output}`)))
  })

// Waits for an apt run that holds the lock (an unattended upgrade, another install) instead of failing at once.
const aptOptions = ["-qq", "-o", "DPkg::Lock::Timeout=600"]

/**
 * Installs what is missing of `needed` (root: apt-get update, then apt-get install of the missing packages
 * only), or fails at once with the command to run (not root). Resolves without doing anything when all is there.
 */
export const provision = async (needed: ReadonlyArray<Program> = programs): Promise<void> => {
  const missing = needed.filter((program) => !program.installed())
  if (missing.length === 0) return
  const what = missing.map((program) => program.name).join(" and ")
  if (process.getuid?.() !== 0) {
    const command = installCommand(missing)
    throw new ProvisionError(`The tests need ${what}, which this machine lacks. Install with:\n\n  ${command}\n`)
  }
  const packages = missing.map((program) => program.debianPackage)
  console.log(`[effect-sse] the tests need ${what}: apt-get install -y ${packages.join(" ")} …`)
  await run("apt-get", [...aptOptions, "update"])
  await run("apt-get", [...aptOptions, "install", "-y", ...packages])
  const still = missing.filter((program) => !program.installed())
  if (still.length > 0) {
    throw new ProvisionError(
      `apt-get installed ${packages.join(" ")}, yet ${still.map((program) => program.name).join(" and ")} ` +
        "is still missing"
    )
  }
}
