/**
 * Helpers for the chat example's end-to-end tests: a POST over Node's HTTP client (with or without a
 * Content-Length), the example run as its own process, and headless Chromium (from ./browser.js).
 */
import { Effect, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Http from "node:http"
import { fileURLToPath } from "node:url"
import { ClientError } from "./hubClients.js"

export interface PostResult {
  readonly status: number
  readonly contentType: string | undefined
  readonly text: string
}

/**
 * POSTs `body` to 127.0.0.1:`port`; `chunked` sends it without a Content-Length, in 16 KiB chunks, as a
 * streaming client would. Resolves with the response, even if the server answered before reading the whole body.
 */
export const post = (
  port: number,
  body: string | Uint8Array,
  options: {
    readonly chunked?: boolean
    readonly path?: string
    readonly contentType?: string
    readonly headers?: Record<string, string>
  } = {}
): Effect.Effect<PostResult, ClientError> =>
  Effect.async<PostResult, ClientError>((resume) => {
    const bytes = Buffer.from(body)
    const headers: Record<string, string | number> = {
      "content-type": options.contentType ?? "application/json",
      ...options.headers
    }
    if (options.chunked !== true) headers["content-length"] = bytes.length
    const request = Http.request({
      host: "127.0.0.1",
      port,
      path: options.path ?? "/messages",
      method: "POST",
      headers,
      agent: false
    })
    let answered = false
    request.on("response", (response) => {
      answered = true
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("end", () =>
        resume(Effect.succeed({
          status: response.statusCode ?? 0,
          contentType: response.headers["content-type"],
          text: Buffer.concat(chunks).toString("utf8")
        })))
    })
    request.on("error", (error) => {
      // A server that answers early may close the connection while the body is still being sent.
      if (!answered) resume(Effect.fail(new ClientError({ detail: `POST failed: ${error.message}` })))
    })
    if (options.chunked === true) {
      for (let at = 0; at < bytes.length; at += 16 * 1024) request.write(bytes.subarray(at, at + 16 * 1024))
    } else {
      request.write(bytes)
    }
    request.end()
    return Effect.sync(() => request.destroy())
  }).pipe(
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new ClientError({ detail: "POST timed out" }) })
  )

/** POSTs a JSON value. */
export const postJson = (port: number, value: unknown, headers?: Record<string, string>) =>
  post(port, JSON.stringify(value), headers === undefined ? {} : { headers })

const repoRoot = fileURLToPath(new URL("../..", import.meta.url))

export interface ChatProcess {
  readonly child: ChildProcess
  readonly port: number
  /** Everything the process wrote so far (stdout and stderr). */
  readonly output: () => string
  /** Waits (bounded) until the process exits; its exit code, or the signal that killed it. */
  readonly exited: Effect.Effect<{ readonly code: number | null; readonly signal: string | null }, ClientError>
}

/**
 * Runs `examples/chat.ts` as its own Node process (through tsx's loader), on 127.0.0.1 and a free port
 * (`PORT=0`), and waits until it logs the address it listens on. Killed when the scope closes if still running.
 */
export const spawnChat: Effect.Effect<ChatProcess, ClientError, Scope.Scope> = Effect.acquireRelease(
  Effect.async<ChatProcess, ClientError>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", "examples/chat.ts"], {
      cwd: repoRoot,
      env: { ...process.env, PORT: "0", HOST: "127.0.0.1", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    let exit: { code: number | null; signal: string | null } | undefined
    const onExit = new Set<() => void>()
    let started = false
    const exited = Effect.async<{ code: number | null; signal: string | null }>((done) => {
      if (exit !== undefined) return done(Effect.succeed(exit))
      const wake = () => done(Effect.succeed(exit!))
      onExit.add(wake)
      return Effect.sync(() => onExit.delete(wake))
    }).pipe(
      Effect.timeoutFail({
        duration: "10 seconds",
        onTimeout: () => new ClientError({ detail: `the chat process did not exit; output:\n${output}` })
      })
    )
    const onOutput = (chunk: Buffer) => {
      output += chunk.toString("utf8")
      const address = /Listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)
      if (address !== null && !started) {
        started = true
        resume(Effect.succeed({ child, port: Number(address[1]), output: () => output, exited }))
      }
    }
    child.stdout!.on("data", onOutput)
    child.stderr!.on("data", onOutput)
    child.once("exit", (code, signal) => {
      exit = { code, signal }
      for (const wake of Array.from(onExit)) wake()
      if (!started) resume(Effect.fail(new ClientError({ detail: `the chat process exited early:\n${output}` })))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  }).pipe(
    Effect.timeoutFail({
      duration: "20 seconds",
      onTimeout: () => new ClientError({ detail: "the chat process did not start listening" })
    })
  ),
  ({ child }) =>
    Effect.sync(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    })
)

export { chromiumPath, launchChromium } from "./browser.js"
