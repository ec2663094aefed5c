/**
 * Node's HTTP client against 127.0.0.1, for the end-to-end tests: a GET whose body is collected as it arrives.
 */
import * as Http from "node:http"

export interface Received {
  readonly status: number | undefined
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
  readonly complete: boolean
}

export interface Reading {
  /** Resolves once the body read so far matches `pattern`, with the body so far (rejects if it ends first). */
  readonly until: (pattern: string | RegExp) => Promise<string>
  /** Resolves with the status and headers once they arrive. */
  readonly head: Promise<{ readonly status: number | undefined; readonly headers: Http.IncomingHttpHeaders }>
  /** Resolves when the response has ended, rejects if it was cut or could not be made. */
  readonly done: Promise<Received>
  readonly body: () => string
  /** The body's chunks as they arrived. */
  readonly chunks: () => ReadonlyArray<string>
  readonly close: () => void
}

export const get = (
  port: number,
  path: string,
  headers: Record<string, string> = {}
): Reading => {
  let body = ""
  const chunks: Array<string> = []
  const waiters = new Set<() => void>()
  let request: Http.ClientRequest | undefined
  let onHead: (head: { status: number | undefined; headers: Http.IncomingHttpHeaders }) => void = () => {}
  const head = new Promise<{ status: number | undefined; headers: Http.IncomingHttpHeaders }>((resolve) =>
    onHead = resolve
  )
  const done = new Promise<Received>((resolve, reject) => {
    request = Http.get({ host: "127.0.0.1", port, path, headers }, (res) => {
      onHead({ status: res.statusCode, headers: res.headers })
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => {
        body += chunk
        chunks.push(chunk)
        for (const waiter of [...waiters]) waiter()
      })
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body, complete: res.complete }))
      res.on("error", reject)
      res.on("aborted", () => reject(new Error(`aborted after ${JSON.stringify(body)}`)))
    })
    request.on("error", reject)
  })
  const until = (pattern: string | RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        if (typeof pattern === "string" ? body.includes(pattern) : pattern.test(body)) {
          waiters.delete(check)
          resolve(body)
        }
      }
      waiters.add(check)
      check()
      done.then(
        () => {
          check()
          if (waiters.delete(check)) reject(new Error(`ended before ${String(pattern)}: ${JSON.stringify(body)}`))
        },
        (error: unknown) => {
          if (waiters.delete(check)) reject(error)
        }
      )
    })
  done.catch(() => {})
  return { head, until, done, body: () => body, chunks: () => chunks, close: () => request?.destroy() }
}

/** A request with a JSON body; resolves with the status and body. */
export const postJson = (port: number, path: string, value: unknown): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const payload = JSON.stringify(value)
    const request = Http.request({
      host: "127.0.0.1",
      port,
      path,
      method: "POST",
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
    }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => body += chunk)
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
      res.on("error", reject)
    })
    request.on("error", reject)
    request.end(payload)
  })
