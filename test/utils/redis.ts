/**
 * Redis for the Redis hub's tests, always a real server (never a mock):
 *
 * - the run's own `redis-server`, which `test/setup/global.ts` starts on a free port before any test file and
 *   hands to the workers (`redisUrl`); not the machine's Redis on 6379, nor whatever `REDIS_URL` said before;
 * - private `redis-server` processes on a free port in a temporary directory, which a test can SIGKILL and
 *   restart on the same port and directory, stall (SIGSTOP) and resume (SIGCONT), or start only later, so that
 *   the port refuses connections until then.
 *
 * `npm test` installs `redis-server` when it is missing (see `test/setup/provision.ts`), so a suite never skips:
 * when what it needs is unavailable anyway, `describeWithRedis` turns it into a failing test saying why.
 */
import { describe, it } from "@effect/vitest"
import type { Exit } from "effect"
import {
  Data,
  Duration,
  Effect,
  Either,
  Fiber,
  type Layer,
  Logger,
  Schedule,
  type Scope,
  Stream,
  SubscriptionRef
} from "effect"
import { Redis } from "ioredis"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { inject } from "vitest"
import type * as SseHub from "../../src/SseHub.js"
import { installCommand, redisServer } from "../setup/provision.js"

export class RedisTestError extends Data.TaggedError("RedisTestError")<{ readonly message: string }> {}

// -----------------------------------------------------------------------------
// availability, decided once
// -----------------------------------------------------------------------------

/** Where a hub connects when neither `redis.url` nor the `REDIS_URL` config says otherwise. */
export const defaultRedisUrl = "redis://127.0.0.1:6379"

const providedUrl: string | undefined = inject("redisUrl")
if (providedUrl === undefined) {
  throw new RedisTestError({
    message: "no Redis URL was provided to this test worker: run the tests with vitest.config.ts, whose " +
      "globalSetup (test/setup/global.ts) starts the run's redis-server"
  })
}

/** The run's own Redis, which the tests share: started by `test/setup/global.ts`. */
export const redisUrl: string = providedUrl

/**
 * Always true: Redis is always required. `SSE_REQUIRE_REDIS=1` (which older CI scripts set) is accepted and has
 * no effect.
 */
export const requireRedis: boolean = true

/** Sends one PING with a connection that never retries; resolves with the reason it failed, if it did. */
export const ping = async (url: string, timeoutMillis = 1000): Promise<string | undefined> => {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMillis
  })
  // The connection's own error (ECONNREFUSED…) says more than the rejected command's "Connection is closed".
  let cause: string | undefined
  redis.on("error", (error: Error) => {
    cause ??= error.message
  })
  try {
    await redis.connect()
    const pong = await redis.ping()
    return pong === "PONG" ? undefined : `PING answered ${JSON.stringify(pong)}`
  } catch (error) {
    return cause ?? (error instanceof Error ? error.message : String(error))
  } finally {
    redis.disconnect()
  }
}

const redisServerProblem = (): string | undefined => {
  const result = spawnSync("redis-server", ["--version"], { encoding: "utf8", timeout: 5000 })
  if (result.error !== undefined) {
    return `redis-server is not on PATH (${result.error.message}); npm test installs it when run as root, ` +
      `else run: ${installCommand([redisServer])}`
  }
  return result.status === 0 ? undefined : `redis-server --version exited with ${result.status}`
}

/** Why the run's Redis cannot be used, or undefined when it answered PING. */
export const sharedRedisProblem: string | undefined = await ping(redisUrl).then((reason) =>
  reason === undefined ? undefined : `the run's redis-server is not reachable at ${redisUrl} (${reason})`
)

/** Why private servers cannot be started, or undefined when `redis-server` runs. */
export const privateRedisProblem: string | undefined = redisServerProblem()

/** What a suite needs: the run's shared Redis (`redisUrl`), and/or the `redis-server` binary for private servers. */
export type Need = "shared" | "private"

/**
 * A `describe` for suites that need Redis. When what it needs is unavailable, the suite is replaced by one test
 * that fails saying why: it is never skipped.
 */
export const describeWithRedis = (name: string, needs: ReadonlyArray<Need>, body: () => void): void => {
  const problems: Array<string> = []
  if (needs.includes("shared") && sharedRedisProblem !== undefined) problems.push(sharedRedisProblem)
  if (needs.includes("private") && privateRedisProblem !== undefined) problems.push(privateRedisProblem)
  if (problems.length === 0) {
    describe(name, body)
    return
  }
  const why = `Redis is required but unavailable: ${problems.join("; ")}`
  describe(name, () => {
    it(why, () => {
      throw new RedisTestError({ message: why })
    })
  })
}

// -----------------------------------------------------------------------------
// connections and keys
// -----------------------------------------------------------------------------

/** Runs one command on an admin connection. */
export const call = <A>(redis: Redis, run: (redis: Redis) => Promise<A>): Effect.Effect<A, RedisTestError> =>
  Effect.tryPromise({
    try: () => run(redis),
    catch: (error) => new RedisTestError({ message: `a Redis command failed: ${String(error)}` })
  })

/** An admin connection for assertions (XRANGE, XLEN, CLIENT LIST); closed with the scope. */
export const admin = (url: string): Effect.Effect<Redis, RedisTestError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 })
        redis.on("error", () => {})
        await redis.connect()
        return redis
      },
      catch: (error) => new RedisTestError({ message: `cannot connect to ${url}: ${String(error)}` })
    }),
    (redis) => Effect.sync(() => redis.disconnect())
  )

/** A stream key of its own for one test, deleted (best effort) when the scope closes. */
export const streamKey = (redis: Redis, label: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => `effect-sse-test:${label}:${randomUUID()}`),
    (key) => Effect.ignore(call(redis, (r) => r.del(key)))
  )

/**
 * A key prefix of its own for one test's hubs (a hub's stream is `<prefix><hub name>`, as `SseHubRedis`'s `prefix`
 * option says); every key under it is deleted (best effort) when the scope closes.
 */
export const keyPrefix = (redis: Redis, label: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => `effect-sse-test:${label}:${randomUUID()}:`),
    (prefix) =>
      Effect.ignore(call(redis, async (r) => {
        const keys = await r.keys(`${prefix}*`)
        if (keys.length > 0) await r.del(...keys)
      }))
  )

/** The ids of the stream's entries, oldest first. */
export const streamIds = (redis: Redis, key: string): Effect.Effect<Array<string>, RedisTestError> =>
  Effect.map(call(redis, (r) => r.xrange(key, "-", "+")), (entries) => entries.map(([id]) => id))

/** Orders Redis stream ids `<ms>-<seq>` numerically. */
export const compareStreamIds = (a: string, b: string): number => {
  const [ams, aseq] = a.split("-").map(BigInt)
  const [bms, bseq] = b.split("-").map(BigInt)
  return ams !== bms ? (ams < bms ? -1 : 1) : aseq === bseq ? 0 : aseq < bseq ? -1 : 1
}

export const isStreamId = (id: string | undefined): boolean => id !== undefined && /^\d+-\d+$/.test(id)

/** The number of connections to the server other than `self`'s own (`CLIENT LIST`). */
export const otherConnections = (self: Redis): Effect.Effect<number, RedisTestError> =>
  Effect.gen(function*() {
    const id = yield* call(self, (r) => r.client("ID"))
    const list = yield* call(self, (r) => r.client("LIST"))
    return String(list).split("\n").filter((line) => line.startsWith("id=") && !line.startsWith(`id=${id} `))
      .length
  })

/** Polls `check` every 50 ms until it holds, at most `times` times; fails with `label` otherwise. */
export const eventually = <E>(
  check: Effect.Effect<boolean, E>,
  label: string,
  times = 100
): Effect.Effect<void, E | RedisTestError> =>
  check.pipe(
    Effect.filterOrFail((ok) => ok, () => new RedisTestError({ message: `never happened: ${label}` })),
    Effect.retry({ schedule: Schedule.spaced("50 millis"), times }),
    Effect.asVoid
  )

// -----------------------------------------------------------------------------
// private redis-server processes
// -----------------------------------------------------------------------------

export interface RedisServer {
  readonly port: number
  readonly url: string
  readonly dir: string
  /** SIGKILLs the server (no shutdown, no save) and waits until the process is gone. */
  readonly kill: Effect.Effect<void, RedisTestError>
  /**
   * Starts the server (again) on the same port and directory and waits until it answers PING: after `kill`, or
   * the first start of a server made with `started: false`.
   */
  readonly restart: Effect.Effect<void, RedisTestError>
  /**
   * Stalls the server (SIGSTOP): its sockets stay open and the kernel still accepts connections, but nothing is
   * answered until `resume`. What clients write meanwhile waits in the socket and runs when it resumes.
   */
  readonly pause: Effect.Effect<void, RedisTestError>
  /** Lets a paused server run again (SIGCONT) and waits until it answers PING. */
  readonly resume: Effect.Effect<void, RedisTestError>
  /** What the server printed, for failure messages. */
  readonly log: () => string
}

/** A port that was free a moment ago (the server is started right away; a clash is retried). */
export const freePort: Effect.Effect<number, RedisTestError> = Effect.async<number, RedisTestError>((resume) => {
  const server = Net.createServer()
  server.once("error", (error) => resume(Effect.fail(new RedisTestError({ message: String(error) }))))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** A child process's exit, as an Effect (already exited: at once). */
export const exited = (child: ChildProcess): Effect.Effect<number | null> =>
  Effect.async<number | null>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.succeed(child.exitCode))
    const onExit = (code: number | null) => resume(Effect.succeed(code))
    child.once("exit", onExit)
    return Effect.sync(() => child.off("exit", onExit))
  })

/** SIGKILLs a child process (if still running) and waits for its exit, bounded. */
export const killProcess = (child: ChildProcess, signal: NodeJS.Signals = "SIGKILL") =>
  Effect.suspend(() => {
    if (child.exitCode !== null || child.signalCode !== null) return Effect.void
    child.kill(signal)
    return exited(child).pipe(
      Effect.timeoutFail({
        duration: "5 seconds",
        onTimeout: () => new RedisTestError({ message: `process ${child.pid} did not exit on ${signal}` })
      }),
      Effect.asVoid
    )
  })

/** Processes still running when the worker exits (a crash, a timeout) are killed, so none outlives the run. */
const running = new Set<ChildProcess>()
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL")
})

/** Spawns a process that is killed when the worker exits, and keeps the tail of its output. */
export const spawnTracked = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv } = {}
): { readonly child: ChildProcess; readonly output: () => string } => {
  let output = ""
  const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] })
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-8000)
  }
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  child.on("error", (error) => keep(Buffer.from(`spawn error: ${error.message}\n`)))
  running.add(child)
  child.once("exit", () => running.delete(child))
  return { child, output: () => output }
}

const launch = (port: number, dir: string) =>
  spawnTracked("redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    // Every acknowledged write is on disk before the reply (AOF, fsync always), so a SIGKILL loses nothing
    // Redis acknowledged: after a restart the stream is what it was, and the test measures the hub's recovery,
    // not Redis's persistence settings. Without it the restarted server would be empty.
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--dir",
    dir,
    "--daemonize",
    "no",
    "--logfile",
    ""
  ])

/** Waits (bounded) until the process is stopped, as Linux's `/proc/<pid>/stat` says; elsewhere, not at all. */
const stopped = (pid: number | undefined) =>
  Effect.sync(() => {
    try {
      // The state is the field after the command name, which is in parentheses.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
      return stat.slice(stat.lastIndexOf(")") + 2).startsWith("T")
    } catch {
      return true
    }
  }).pipe(
    Effect.filterOrFail((done) => done, () => new RedisTestError({ message: `process ${pid} did not stop` })),
    Effect.retry({ schedule: Schedule.spaced("10 millis"), times: 200 }),
    Effect.asVoid
  )

/** Waits until the server at `url` answers PING (bounded). */
const answers = (url: string) =>
  Effect.promise(() => ping(url, 500)).pipe(
    Effect.filterOrFail(
      (reason) => reason === undefined,
      (reason) => new RedisTestError({ message: `no PONG from ${url}: ${reason}` })
    ),
    Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 100 })
  )

/** Starts `redis-server` on `port` and waits until it answers PING (bounded), or fails with its output. */
const startOn = (port: number, dir: string) =>
  Effect.gen(function*() {
    const server = launch(port, dir)
    const ready = answers(`redis://127.0.0.1:${port}`)
    // Ready, unless the process exits first (port taken, bad option).
    const outcome = yield* Effect.raceFirst(
      Effect.either(ready),
      Effect.map(exited(server.child), (code) =>
        Either.left(new RedisTestError({ message: `redis-server exited with ${code}` })))
    )
    if (Either.isLeft(outcome)) {
      yield* Effect.ignore(killProcess(server.child))
      return yield* new RedisTestError({
        message: `redis-server on port ${port} did not start: ${outcome.left.message}\n${server.output()}`
      })
    }
    return server
  })

/**
 * A private `redis-server` with its own temporary directory, for tests that kill, stall and restart Redis or
 * count its connections. Killed (after a SIGCONT, should it be paused), and its directory removed, when the
 * scope closes, whatever the outcome.
 *
 * - `port`: the port to use (default: a free one);
 * - `started: false`: nothing listens on the port until `restart` — a Redis that refuses connections, then
 *   comes up on a known address.
 */
export const privateRedisWith = (
  options: { readonly port?: number | undefined; readonly started?: boolean | undefined } = {}
): Effect.Effect<RedisServer, RedisTestError, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "effect-sse-redis-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
    let current: ReturnType<typeof launch> | undefined
    yield* Effect.addFinalizer(() =>
      current === undefined ? Effect.void : Effect.suspend(() => {
        current?.child.kill("SIGCONT")
        return Effect.ignore(killProcess(current!.child))
      })
    )
    const start = (port: number) =>
      Effect.map(startOn(port, dir), (started) => {
        current = started
        return port
      })
    // A port found free can be taken before the server binds it: try a few (unless the port was given).
    const port = options.started === false
      ? options.port ?? (yield* freePort)
      : options.port !== undefined
      ? yield* start(options.port)
      : yield* Effect.flatMap(freePort, start).pipe(Effect.retry({ times: 3 }))
    const url = `redis://127.0.0.1:${port}`
    const signal = (name: NodeJS.Signals) =>
      Effect.suspend(() => {
        const child = current?.child
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
          return Effect.fail(new RedisTestError({ message: `no redis-server runs on port ${port} to ${name}` }))
        }
        child.kill(name)
        return name === "SIGSTOP" ? stopped(child.pid) : Effect.void
      })
    return {
      port,
      url,
      dir,
      kill: Effect.suspend(() => current === undefined ? Effect.void : killProcess(current.child)),
      restart: Effect.asVoid(start(port)),
      pause: signal("SIGSTOP"),
      resume: Effect.zipRight(signal("SIGCONT"), answers(url)),
      log: () => current?.output() ?? ""
    }
  })

/** A private `redis-server` on a free port, started (see {@link privateRedisWith}). */
export const privateRedis: Effect.Effect<RedisServer, RedisTestError, Scope.Scope> = privateRedisWith()

/**
 * A retry schedule that waits, before each retry, until `gate` is open: a test holds a hub's reader back (its
 * `reconnect` option) while it arranges what happens in Redis meanwhile.
 */
export const gated = (
  gate: Effect.Latch,
  schedule: Schedule.Schedule<unknown, unknown> = Schedule.spaced("50 millis")
): Schedule.Schedule<unknown, unknown> => Schedule.tapOutput(schedule, () => gate.await)

// -----------------------------------------------------------------------------
// observing subscribers and logs
// -----------------------------------------------------------------------------

export interface Received<A> {
  /** Everything received so far (a live array). */
  readonly items: ReadonlyArray<A>
  /** Waits until `n` items arrived and returns them; fails after `timeout` with what arrived (a bound). */
  readonly atLeast: (n: number, timeout?: Duration.DurationInput) => Effect.Effect<ReadonlyArray<A>, RedisTestError>
  /** Waits until an item satisfies `predicate` and returns everything so far; fails after `timeout`. */
  readonly seen: (
    predicate: (item: A) => boolean,
    label: string,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<ReadonlyArray<A>, RedisTestError>
  /** The stream's end, if it ended: `undefined` while it runs. */
  readonly ended: () => Exit.Exit<void, unknown> | undefined
  /** Waits for the end of the stream (bounded). */
  readonly end: Effect.Effect<Exit.Exit<void, unknown>, RedisTestError>
}

/** Reads `stream` in a fiber of the current scope, as a consumer that keeps up. */
export const receive = <A, E>(stream: Stream.Stream<A, E>): Effect.Effect<Received<A>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const items: Array<A> = []
    const count = yield* SubscriptionRef.make(0)
    let ended: Exit.Exit<void, unknown> | undefined
    const fiber = yield* stream.pipe(
      Stream.runForEach((item) => {
        items.push(item)
        return SubscriptionRef.set(count, items.length)
      }),
      Effect.onExit((exit) =>
        Effect.sync(() => {
          ended = exit
        })
      ),
      Effect.forkScoped
    )
    const waitUntil = (done: () => boolean, label: string, timeout: Duration.DurationInput) =>
      Stream.runDrain(Stream.takeUntil(count.changes, done)).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new RedisTestError({
              message: `waited ${Duration.format(timeout)} for ${label}; got ${items.length} items, the last: ${
                JSON.stringify(items.slice(-5))
              }`
            })
        }),
        Effect.as(items)
      )
    return {
      items,
      atLeast: (n, timeout = "5 seconds") => waitUntil(() => items.length >= n, `${n} items`, timeout),
      seen: (predicate, label, timeout = "5 seconds") => waitUntil(() => items.some(predicate), label, timeout),
      ended: () => ended,
      end: Fiber.await(fiber).pipe(
        Effect.timeoutFail({
          duration: "5 seconds",
          onTimeout: () => new RedisTestError({ message: "the stream did not end" })
        })
      )
    }
  })

/** A logger that keeps every message, so that expected warnings neither clutter the output nor go unchecked. */
export const captureLogs = (): { readonly lines: Array<string>; readonly layer: Layer.Layer<never> } => {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push(`${logLevel.label} ${Array.isArray(message) ? message.map(String).join(" ") : String(message)}`)
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

// -----------------------------------------------------------------------------
// hubs
// -----------------------------------------------------------------------------

/** Subscribes to `hub` and reads the events in a fiber of the current scope. */
export const subscribeAll = <A, S, T>(hub: SseHub.SseHub<A, S, T>, options?: SseHub.SubscribeOptions<S>) =>
  Effect.flatMap(hub.subscribe(options), receive)

/**
 * Waits until every hub's reader delivers. A Redis hub's reader starts in the background after the hub is
 * built, and a publish that reaches Redis before its first read is never delivered locally, so tests about
 * anything else first publish a probe (by default one per hub, which also connects each hub's publisher) and
 * wait until a subscriber of every hub has the last one. It is the last thing published, so nothing is left in
 * flight; a probe that arrives late is an earlier one, so the short waits are safe.
 */
export const ready = <A, S, T>(
  hubs: ReadonlyArray<SseHub.SseHub<A, S, T>>,
  probe: A,
  publishers: ReadonlyArray<SseHub.SseHub<A, S, T>> = hubs
): Effect.Effect<void, RedisTestError | SseHub.PublishError> =>
  Effect.scoped(Effect.gen(function*() {
    const probes = yield* Effect.forEach(hubs, (hub) => subscribeAll(hub))
    yield* Effect.gen(function*() {
      let last = ""
      for (const hub of publishers) last = yield* hub.publish(probe)
      yield* Effect.forEach(
        probes,
        (received) => received.seen((e) => e.id === last, `the probe ${last}`, "250 millis")
      )
    }).pipe(Effect.retry({ times: 20 }))
  }))
