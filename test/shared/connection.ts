/**
 * What `SseConnection.upgrade` must do on the wire on both lines, as one spec that each line's test file runs against
 * its own module through a small adapter (Effect 3: test/shared.connection.test.ts; Effect 4:
 * effect4/test/SseConnection.test.ts). Each line serves the same handful of handlers (the scenarios), and the spec
 * reads them with node's HTTP client on 127.0.0.1. Like wire.ts it imports no test runner.
 */
import * as Http from "node:http"

/**
 * The handlers a line serves, each at every path:
 *
 * - `events`: `send` (method and `SseConnection.send`) of events with data `a` and `b`, `sendData("c")`,
 *   `sendJSON({ n: 1 })`, then the handler returns;
 * - `echoLastEventId`: `sendData` of `connection.lastEventId` (`-` when `None`), then returns;
 * - `retry`: served with `{ retry: 1500 millis }`, `sendData("x")`, then returns;
 * - `close`: `sendData("a")`, `close`, then waits forever;
 * - `stayOpen`: `sendData("a")`, then waits forever.
 *
 * Every handler adds a finalizer to its scope that resolves `finalized`; all are served with keep-alive off.
 */
export type Scenario = "events" | "echoLastEventId" | "retry" | "close" | "stayOpen"

export interface Served {
  readonly port: number
  /** Resolves once the handler's scope has closed. */
  readonly finalized: Promise<void>
  readonly stop: () => Promise<void>
}

/** One line's `SseConnection.upgrade`, serving a scenario on 127.0.0.1. */
export interface ConnectionLine {
  readonly serve: (scenario: Scenario) => Promise<Served>
}

export interface Harness {
  readonly describe: (name: string, body: () => void) => void
  readonly it: (name: string, body: () => Promise<void>) => void
  readonly expect: (actual: unknown) => { toEqual: (expected: unknown) => void }
}

interface Received {
  readonly status: number | undefined
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
  readonly complete: boolean
}

/** A GET; `until(text)` resolves once the body holds `text`, `done` at the end of the response. */
const get = (port: number, options?: { readonly path?: string; readonly headers?: Http.OutgoingHttpHeaders }) => {
  let body = ""
  let request: Http.ClientRequest | undefined
  const waiting: Array<{ readonly text: string; readonly resolve: () => void }> = []
  const done = new Promise<Received>((resolve, reject) => {
    request = Http.get({ host: "127.0.0.1", port, path: options?.path ?? "/", headers: options?.headers }, (res) => {
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => {
        body += chunk
        for (const w of waiting.filter((w) => body.includes(w.text))) {
          waiting.splice(waiting.indexOf(w), 1)
          w.resolve()
        }
      })
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body, complete: res.complete }))
      res.on("error", reject)
      res.on("aborted", () => reject(new Error(`aborted after ${JSON.stringify(body)}`)))
    })
    request.on("error", reject)
  })
  // A test that leaves does not wait for the end: its rejection is expected.
  done.catch(() => {})
  const until = (text: string) =>
    body.includes(text) ? Promise.resolve() : new Promise<void>((resolve) => waiting.push({ text, resolve }))
  return { done, until, leave: () => request?.destroy() }
}

const connected = ": connected\n\n"

/** Runs the spec against one line. */
export const connectionSpec = (line: ConnectionLine, { describe, expect, it }: Harness): void => {
  const against = async (scenario: Scenario, check: (served: Served) => Promise<void>) => {
    const served = await line.serve(scenario)
    try {
      await check(served)
    } finally {
      await served.stop()
    }
  }

  describe("SseConnection.upgrade (shared connection spec)", () => {
    it("answers 200 with the SSE headers, `: connected`, the events, and ends when the handler returns", () =>
      against("events", async (served) => {
        const received = await get(served.port).done
        await served.finalized
        expect([
          received.status,
          received.headers["content-type"],
          received.headers["cache-control"],
          received.headers["x-accel-buffering"]
        ]).toEqual([200, "text/event-stream", "no-cache", "no"])
        expect([received.body, received.complete]).toEqual([
          `${connected}data: a\n\ndata: b\n\ndata: c\n\ndata: {"n":1}\n\n`,
          true
        ])
      }))

    it("reads Last-Event-ID as UTF-8 bytes, else the lastEventId query parameter, else None", () =>
      against("echoLastEventId", async (served) => {
        const utf8 = Buffer.from("évt-😀", "utf8").toString("latin1")
        const bodies = [
          (await get(served.port, { headers: { "last-event-id": utf8 } }).done).body,
          (await get(served.port, { path: "/?lastEventId=q7" }).done).body,
          (await get(served.port, { path: "/?lastEventId=q7", headers: { "last-event-id": "h1" } }).done).body,
          (await get(served.port).done).body
        ]
        expect(bodies).toEqual([
          `${connected}data: évt-😀\n\n`,
          `${connected}data: q7\n\n`,
          `${connected}data: h1\n\n`,
          `${connected}data: -\n\n`
        ])
      }))

    it("writes the retry option right after `: connected`", () =>
      against("retry", async (served) => {
        expect((await get(served.port).done).body).toEqual(`${connected}retry: 1500\n\ndata: x\n\n`)
      }))

    it("close delivers what was sent, ends the response cleanly, and closes the handler's scope", () =>
      against("close", async (served) => {
        const received = await get(served.port).done
        await served.finalized
        expect([received.body, received.complete]).toEqual([`${connected}data: a\n\n`, true])
      }))

    it("the client leaving closes the handler's scope", () =>
      against("stayOpen", async (served) => {
        const client = get(served.port)
        await client.until(`${connected}data: a\n\n`)
        client.leave()
        await served.finalized
      }))
  })
}
