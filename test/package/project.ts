/**
 * Helpers of the consumer check (test/package.e2e.test.ts): running commands with a time limit, packing the
 * library, installing it into a project of its own, and listing what a module exports to TypeScript.
 */
import { execFile } from "node:child_process"
import { copyFileSync, readdirSync, writeFileSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
export const consumerFiles = join(root, "test", "package", "consumer")
export const bin = (name: string): string => join(root, "node_modules", ".bin", name)

export interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command to its end (or kills it after `timeout` ms); never rejects, so a test can show the output. */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly timeout: number }
): Promise<Result> =>
  new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, timeout: options.timeout, killSignal: "SIGKILL", maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
        const killed = error !== null && error.killed ? `\n[killed after ${options.timeout} ms]` : ""
        resolve({ code, stdout, stderr: `${stderr}${killed}` })
      }
    )
  })

/** Fails with the command's output when it did not exit with 0. */
export const succeed = async (result: Promise<Result>, what: string): Promise<Result> => {
  const done = await result
  if (done.code !== 0) {
    throw new Error(`${what} exited with ${done.code}\n--- stdout\n${done.stdout}\n--- stderr\n${done.stderr}`)
  }
  return done
}

export interface Packed {
  readonly tarball: string
  readonly files: ReadonlyArray<string>
}

/**
 * `npm pack` of the repository into `destination`. npm runs `prepack` first, which is `npm run build`: the
 * tarball always holds a build of the current sources.
 */
export const pack = async (destination: string): Promise<Packed> => {
  const { stdout } = await succeed(
    run("npm", ["pack", "--json", "--pack-destination", destination], { cwd: root, timeout: 180_000 }),
    "npm pack"
  )
  // The build's own output comes first on stdout; npm's JSON report is the rest.
  const report = JSON.parse(stdout.slice(stdout.search(/^\[/m))) as ReadonlyArray<{
    readonly filename: string
    readonly files: ReadonlyArray<{ readonly path: string }>
  }>
  const [entry] = report
  if (entry === undefined) throw new Error(`npm pack reported nothing:\n${stdout}`)
  return { tarball: join(destination, entry.filename), files: entry.files.map((file) => file.path).sort() }
}

/**
 * A project of its own in `dir` (ESM, as `npm init` makes with `"type": "module"`), with `dependencies`
 * installed from npm's cache where it can, and the files of test/package/consumer.
 */
export const install = async (dir: string, dependencies: ReadonlyArray<string>): Promise<void> => {
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name: basename(dir), private: true, type: "module" }, null, 2)}\n`
  )
  await succeed(
    run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", ...dependencies], {
      cwd: dir,
      timeout: 240_000
    }),
    `npm install in ${dir}`
  )
  for (const file of readdirSync(consumerFiles)) copyFileSync(join(consumerFiles, file), join(dir, file))
}

/**
 * The names each module exports to TypeScript (values and types), by module file name without extension: the
 * same list for a module's source and its published declarations means no export was lost on the way.
 */
export const exportedNames = (
  files: ReadonlyArray<string>,
  options: ts.CompilerOptions
): Record<string, ReadonlyArray<string>> => {
  const program = ts.createProgram(files, { ...options, noEmit: true })
  const checker = program.getTypeChecker()
  return Object.fromEntries(files.map((file) => {
    const source = program.getSourceFile(file)
    const symbol = source === undefined ? undefined : checker.getSymbolAtLocation(source)
    const names = symbol === undefined ? [] : checker.getExportsOfModule(symbol).map((s) => s.name).sort()
    return [basename(file).replace(/\.d\.ts$|\.ts$/, ""), names]
  }))
}

/** Compiler options written as in a tsconfig.json, for the compiler API. */
export const compilerOptionsFromJson = (json: Readonly<Record<string, unknown>>, dir: string): ts.CompilerOptions => {
  const { errors, options } = ts.convertCompilerOptionsFromJson(json, dir)
  if (errors.length > 0) {
    throw new Error(errors.map((error) => ts.flattenDiagnosticMessageText(error.messageText, "\n")).join("\n"))
  }
  return options
}

/** The compiler options of a tsconfig file of the repository. */
export const compilerOptionsOf = (tsconfig: string): ts.CompilerOptions => {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(root, tsconfig), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"))
    }
  })
  if (parsed === undefined) throw new Error(`cannot read ${tsconfig}`)
  return parsed.options
}
