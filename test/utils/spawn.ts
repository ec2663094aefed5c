/**
 * Running an example as a real process: `node --import tsx <file>`, with its output kept for assertions and
 * its exit observable. The process is killed (by its pid) when the scope closes if it is still running.
 */
import { Data, Deferred, type Duration, Effect, type Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export const repoRoot = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..", "..")

export class SpawnError extends Data.TaggedError("SpawnError")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

export interface ProcessExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface Spawned {
  readonly child: ChildProcess.ChildProcess
  /** Everything written to stdout and stderr so far. */
  readonly output: () => string
  /** Waits until the output contains `text`; fails if the process exits first or after `timeout`. */
  readonly waitForOutput: (text: string, timeout: Duration.DurationInput) => Effect.Effect<void, SpawnError>
  /** Completes with the exit code and signal when the process has exited. */
  readonly exited: Effect.Effect<ProcessExit>
}

/** Starts `node --import tsx <file>` in the repository with extra environment variables. */
export const spawnExample = (
  file: string,
  env: Readonly<Record<string, string>>
): Effect.Effect<Spawned, never, Scope.Scope> => spawnCommand(process.execPath, ["--import", "tsx", file], env)

/** Starts `command` with `args` in the repository (another runtime, say) with extra environment variables. */
export const spawnCommand = (
  command: string,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>>,
  options?: { readonly cwd?: string | undefined }
): Effect.Effect<Spawned, never, Scope.Scope> =>
  Effect.gen(function*() {
    const exit = yield* Deferred.make<ProcessExit>()
    let output = ""
    let ended = false
    const listeners = new Set<() => void>()
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = ChildProcess.spawn(command, args, {
          cwd: options?.cwd ?? repoRoot,
          env: { ...process.env, ...env },
          stdio: ["ignore", "pipe", "pipe"]
        })
        const append = (data: Buffer) => {
          output += data.toString("utf8")
          for (const listener of Array.from(listeners)) listener()
        }
        child.stdout!.on("data", append)
        child.stderr!.on("data", append)
        child.once("error", (error) => {
          // Not started (no such program): an exit with no code, its reason in the output.
          output += `${command} did not start: ${error.message}\n`
          ended = true
          Deferred.unsafeDone(exit, Effect.succeed({ code: null, signal: null }))
          for (const listener of Array.from(listeners)) listener()
        })
        child.once("exit", (code, signal) => {
          ended = true
          Deferred.unsafeDone(exit, Effect.succeed({ code, signal }))
          for (const listener of Array.from(listeners)) listener()
        })
        return child
      }),
      (child) =>
        Effect.suspend(() => {
          if (ended) return Effect.void
          child.kill("SIGKILL")
          return Effect.asVoid(Deferred.await(exit).pipe(Effect.timeout("5 seconds"), Effect.ignore))
        })
    )
    const waitForOutput = (text: string, timeout: Duration.DurationInput) =>
      Effect.async<void, SpawnError>((resume) => {
        const check = () => {
          if (output.includes(text)) {
            listeners.delete(check)
            resume(Effect.void)
          } else if (ended) {
            listeners.delete(check)
            resume(
              Effect.fail(new SpawnError({ detail: `exited before printing ${JSON.stringify(text)}:\n${output}` }))
            )
          }
        }
        listeners.add(check)
        check()
        return Effect.sync(() => listeners.delete(check))
      }).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new SpawnError({ detail: `no ${JSON.stringify(text)} in the output:\n${output}` })
        })
      )
    return { child, output: () => output, waitForOutput, exited: Deferred.await(exit) }
  })
