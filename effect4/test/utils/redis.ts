/**
 * A private `redis-server` for the Effect 4 line's Redis tests, as the Effect 3 line's test/utils/redis.ts starts
 * them: on a free port of 127.0.0.1, in a temporary directory, answering PING before the test goes on, and killed
 * (its directory removed) when the scope closes, whatever the outcome. Never a mock, never the machine's Redis.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

export class RedisTestError extends Data.TaggedError("RedisTestError")<{ readonly message: string }> {}

export interface RedisServer {
  readonly port: number
  readonly url: string
  readonly kill: Effect.Effect<void>
  readonly restart: Effect.Effect<void, RedisTestError>
}

/** A port that was free a moment ago (the server is started right away; a clash is retried). */
const freePort = Effect.callback<number, RedisTestError>((resume) => {
  const server = Net.createServer()
  server.once("error", (error) => resume(Effect.fail(new RedisTestError({ message: String(error) }))))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Processes still running when the worker exits (a crash, a timeout) are killed, so none outlives the run. */
const running = new Set<ChildProcess>()
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL")
})

const exited = (child: ChildProcess) =>
  Effect.callback<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    const onExit = () => resume(Effect.void)
    child.once("exit", onExit)
    return Effect.sync(() => child.off("exit", onExit))
  })

/** Whether the server at `url` answers PING within half a second. */
const answers = (url: string) =>
  Effect.tryPromise({
    try: async () => {
      const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 500 })
      redis.on("error", () => undefined)
      try {
        await redis.connect()
        return await redis.ping()
      } finally {
        redis.disconnect()
      }
    },
    catch: (cause) => new RedisTestError({ message: `no PONG from ${url}: ${String(cause)}` })
  })

/** Starts `redis-server` on `port` and waits until it answers, unless it exits first (port taken): bounded. */
const startOn = (port: number, dir: string) =>
  Effect.gen(function*() {
    let output = ""
    const child = spawn("redis-server", [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--daemonize",
      "no",
      "--logfile",
      ""
    ], { stdio: ["ignore", "pipe", "pipe"] })
    child.stdout?.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)))
    child.stderr?.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)))
    child.on("error", (error) => (output += `spawn error: ${error.message}\n`))
    running.add(child)
    child.once("exit", () => running.delete(child))
    const url = `redis://127.0.0.1:${port}`
    const ready = yield* Effect.raceFirst(
      answers(url).pipe(Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 100 }), Effect.result),
      Effect.andThen(
        exited(child),
        Effect.sync(() => Result.fail(new RedisTestError({ message: `redis-server exited:\n${output}` })))
      )
    )
    if (Result.isFailure(ready)) {
      yield* kill(child)
      return yield* Effect.fail(ready.failure)
    }
    return child
  })

/** SIGKILLs a process (no shutdown, no save) and waits, bounded, until it is gone. */
const kill = (child: ChildProcess) =>
  Effect.suspend(() => {
    if (child.exitCode !== null || child.signalCode !== null) return Effect.void
    child.kill("SIGKILL")
    return exited(child).pipe(Effect.timeout("5 seconds"), Effect.ignore)
  })

/**
 * A private `redis-server` on a free port, for as long as the scope: `kill` SIGKILLs it, `restart` starts it again
 * on the same port (empty: it saves nothing).
 */
export const privateRedis: Effect.Effect<RedisServer, RedisTestError, Scope.Scope> = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "effect-sse-e4-redis-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
  let current: ChildProcess | undefined
  yield* Effect.addFinalizer(() => current === undefined ? Effect.void : kill(current))
  const start = (port: number) =>
    Effect.map(startOn(port, dir), (child) => {
      current = child
      return port
    })
  const port = yield* Effect.flatMap(freePort, start).pipe(Effect.retry({ times: 3 }))
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: Effect.suspend(() => current === undefined ? Effect.void : kill(current)),
    restart: Effect.asVoid(start(port))
  }
})
