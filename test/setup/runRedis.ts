/**
 * The run's own `redis-server`: one per `vitest run`, on a free 127.0.0.1 port, in a temporary directory, with
 * nothing persisted. The tests share it instead of a Redis the machine may (or may not) have on 6379, which they
 * neither depend on nor write into.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

export interface RunRedis {
  readonly url: string
  /** Stops the server (SIGTERM, then SIGKILL) and removes its directory. */
  readonly stop: () => Promise<void>
}

export class RunRedisError extends Error {
  override readonly name = "RunRedisError"
}

/** A port that was free a moment ago (a clash with another process is retried by the caller). */
const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** Whether the server at `port` answers PING with PONG within half a second. */
const pong = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    let reply = ""
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.once("error", () => done(false))
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.on("data", (chunk) => {
      reply += chunk.toString("utf8")
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"))
    })
  })

const hasExited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null

const exited = (child: ChildProcess, timeoutMillis: number): Promise<boolean> =>
  hasExited(child) ? Promise.resolve(true) : new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMillis)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve(true)
    })
  })

const stopProcess = async (child: ChildProcess): Promise<void> => {
  if (hasExited(child)) return
  child.kill("SIGTERM")
  if (!(await exited(child, 5000))) {
    child.kill("SIGKILL")
    await exited(child, 5000)
  }
}

/** Starts `redis-server` on `port`; resolves once it answers PING, or rejects with its output if it exits first. */
const startOn = async (port: number, dir: string): Promise<ChildProcess> => {
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
  let output = ""
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-8000)
  }
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  child.on("error", (error) => keep(Buffer.from(`spawn error: ${error.message}\n`)))
  // A crashed or killed vitest must not leave the server behind.
  const killOnExit = () => child.kill("SIGKILL")
  process.once("exit", killOnExit)
  child.once("exit", () => process.off("exit", killOnExit))
  for (let attempt = 0; attempt < 200 && !hasExited(child); attempt++) {
    if (await pong(port)) return child
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await stopProcess(child)
  throw new RunRedisError(`redis-server on 127.0.0.1:${port} did not answer PING:\n${output}`)
}

/** Starts the run's `redis-server` and resolves once it answers PING. */
export const startRunRedis = async (): Promise<RunRedis> => {
  const dir = mkdtempSync(join(tmpdir(), "effect-sse-run-redis-"))
  const failures: Array<string> = []
  // A port found free can be taken before the server binds it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    try {
      const child = await startOn(port, dir)
      return {
        url: `redis://127.0.0.1:${port}`,
        stop: async () => {
          await stopProcess(child)
          rmSync(dir, { recursive: true, force: true })
        }
      }
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error))
    }
  }
  rmSync(dir, { recursive: true, force: true })
  throw new RunRedisError(`could not start the tests' redis-server:\n${failures.join("\n")}`)
}
