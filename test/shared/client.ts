/**
 * The reconnecting client's behaviour both lines must have, as one spec that each line's test file runs against its
 * own `SseClient.connect` through a small adapter (Effect 3: test/shared.client.test.ts; Effect 4:
 * effect4/test/SseClient.test.ts). The server is a raw `node:http` one on 127.0.0.1, port 0, that serves chosen
 * bytes and knows nothing of Effect, so both lines are held to the same wire. Like wire.ts it imports no test
 * runner: each line passes its own `describe`, `it` and `expect`.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

// -----------------------------------------------------------------------------
// a scripted server
// -----------------------------------------------------------------------------

/** A request as the server saw it. */
export interface Seen {
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  /** `Last-Event-ID` read back from its UTF-8 bytes, `undefined` when absent. */
  readonly lastEventId: string | undefined
  /** Resolves when this request's connection is closed, by either side. */
  readonly closed: Promise<void>
}

/** Answers request number `index` (from 0). */
export type Handler = (response: Http.ServerResponse, seen: Seen, index: number) => void

export interface Server {
  readonly origin: string
  readonly requests: ReadonlyArray<Seen>
  readonly close: () => Promise<void>
}

/** A server that hands request `n` to `handlers[n]`; the last handler answers any further request. */
export const scripted = (...handlers: ReadonlyArray<Handler>): Promise<Server> =>
  new Promise((resolve) => {
    const requests: Array<Seen> = []
    const server = Http.createServer((req, res) => {
      const raw = req.headers["last-event-id"]
      const seen: Seen = {
        path: req.url ?? "",
        headers: req.headers,
        // Node reads header bytes as latin1; the client sends the id's UTF-8 bytes.
        lastEventId: raw === undefined ? undefined : Buffer.from(String(raw), "latin1").toString("utf8"),
        closed: new Promise<void>((done) => res.once("close", () => done()))
      }
      const index = requests.push(seen) - 1
      handlers[Math.min(index, handlers.length - 1)](res, seen, index)
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        origin: `http://127.0.0.1:${port}`,
        requests,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })

/** An event stream made of `body`, then a clean end of the response (unless told to stay open). */
export const sse =
  (body: string, options?: { readonly stayOpen?: boolean; readonly contentType?: string }): Handler => (res) => {
    res.writeHead(200, { "content-type": options?.contentType ?? "text/event-stream" })
    if (options?.stayOpen === true) res.write(body)
    else res.end(body)
  }

/** An event stream made of `body`, then a broken connection (no end of the response). */
export const sseThenBreak = (body: string): Handler => (res) => {
  res.writeHead(200, { "content-type": "text/event-stream" })
  res.write(body, () => res.destroy())
}

/** A bodiless answer with this status. */
export const status = (code: number, headers?: Http.OutgoingHttpHeaders): Handler => (res) => {
  res.writeHead(code, headers)
  res.end()
}

export const noContent = status(204)

// -----------------------------------------------------------------------------
// the adapter each line provides
// -----------------------------------------------------------------------------

/** An event as plain data. */
export interface EventView {
  readonly type: string
  readonly data: string
  readonly lastEventId: string
}

/** A client state as plain data: its tag, and the fields the spec checks. */
export type StateView =
  | { readonly _tag: "Connecting" | "Open" | "Closed" }
  | {
    readonly _tag: "Reconnecting"
    readonly delayMillis: number
    readonly attempt: number
    readonly lastEventId: string
    readonly cause: string | undefined
  }
  | { readonly _tag: "Stopped"; readonly reason: string }
  | { readonly _tag: "Failed"; readonly reason: string }

/** What one run of a client did. */
export interface Run {
  readonly events: ReadonlyArray<EventView>
  /** How `client.events` ended: cleanly, or with the error's reason, status and content type. */
  readonly end:
    | { readonly _tag: "End" }
    | {
      readonly _tag: "Error"
      readonly reason: string
      readonly status: number | undefined
      readonly contentType: string | undefined
    }
  /** Every state from the first one `changes` gave. */
  readonly states: ReadonlyArray<StateView>
  /** `readyState` once the events ended. */
  readonly readyState: number
}

export interface RunOptions {
  /** The reconnection time, in milliseconds. */
  readonly retry: number
  readonly lastEventId?: string
  readonly reconnect?: boolean
  /** Calls `client.close` once this many events were read. */
  readonly closeAfter?: number
}

/** One line's `SseClient.connect`, run to the end of its events and reported as plain data. */
export interface ClientLine {
  readonly run: (url: string, options: RunOptions) => Promise<Run>
}

export interface Harness {
  readonly describe: (name: string, body: () => void) => void
  readonly it: (name: string, body: () => Promise<void>) => void
  readonly expect: (actual: unknown) => { toEqual: (expected: unknown) => void }
}

const event = (data: string, lastEventId = "", type = "message"): EventView => ({ type, data, lastEventId })

const ended = { _tag: "End" } as const

/**
 * The tags of a run's states after the initial `Connecting`, which a recorder that subscribes a moment late sees
 * replaced by the state it subscribed in.
 */
const tags = (run: Run): ReadonlyArray<string> => {
  const all = run.states.map((state) => state._tag)
  return all[0] === "Connecting" ? all.slice(1) : all
}

/** The `Reconnecting` states of a run. */
const reconnections = (run: Run) => run.states.flatMap((state) => state._tag === "Reconnecting" ? [state] : [])

/** Runs the spec against one line. */
export const clientSpec = (line: ClientLine, { describe, expect, it }: Harness): void => {
  /** Starts a server, runs the client against `path` on it, and closes the server whatever happens. */
  const against = async (
    handlers: ReadonlyArray<Handler>,
    options: RunOptions,
    check: (run: Run, server: Server) => void | Promise<void>
  ) => {
    const server = await scripted(...handlers)
    try {
      const run = await line.run(`${server.origin}/events`, options)
      await check(run, server)
    } finally {
      await server.close()
    }
  }

  describe("SseClient.connect (shared client spec)", () => {
    it("sends Accept and Cache-Control, no Last-Event-ID at first, reads the events, and stops on 204", () =>
      against([sse("id: 1\nevent: greet\ndata: hello\n\n"), noContent], { retry: 1 }, (run, server) => {
        expect(run.events).toEqual([event("hello", "1", "greet")])
        expect(run.end).toEqual(ended)
        const first = server.requests[0]
        expect([first.path, first.headers["accept"], first.headers["cache-control"], first.lastEventId]).toEqual(
          ["/events", "text/event-stream", "no-cache", undefined]
        )
        expect(run.states.at(-1)).toEqual({ _tag: "Stopped", reason: "NoContent" })
        expect(run.readyState).toEqual(2)
      }))

    it("reconnects after the server closes the stream, with Last-Event-ID, losing and repeating nothing", () =>
      against(
        [
          sse("id: 1\ndata: a\n\nid: 2\ndata: b\n\n"),
          sse("id: 3\ndata: c\n\n", { contentType: "Text/Event-Stream; charset=utf-8" }),
          sse("id: 4\ndata: d\n\n"),
          noContent
        ],
        { retry: 1 },
        (run, server) => {
          expect(run.events).toEqual([event("a", "1"), event("b", "2"), event("c", "3"), event("d", "4")])
          expect(server.requests.map((r) => r.lastEventId)).toEqual([undefined, "2", "3", "4"])
          expect(tags(run)).toEqual([
            "Open",
            "Reconnecting",
            "Open",
            "Reconnecting",
            "Open",
            "Reconnecting",
            "Stopped"
          ])
          expect(reconnections(run).map((r) => [r.attempt, r.lastEventId, r.cause])).toEqual([
            [1, "2", undefined],
            [1, "3", undefined],
            [1, "4", undefined]
          ])
        }
      ))

    it("reconnects after a network error in the middle of the body; the cut event is discarded", () =>
      against(
        [sseThenBreak("id: 1\ndata: a\n\nid: 2\ndata: cut"), sse("data: b\n\n"), noContent],
        { retry: 1 },
        (run, server) => {
          expect(run.events).toEqual([event("a", "1"), event("b", "1")])
          expect(server.requests.map((r) => r.lastEventId)).toEqual([undefined, "1", "1"])
          expect(reconnections(run).map((r) => r.cause)).toEqual(["Transport", undefined])
        }
      ))

    it("waits the retry option first, then the reconnection time the server's retry: sets", () =>
      against(
        [sse("data: a\n\n"), sse("retry: 9\ndata: b\n\n"), sse("retry: x\ndata: c\n\n"), noContent],
        { retry: 5 },
        (run) => {
          expect(run.events).toEqual([event("a"), event("b"), event("c")])
          // An invalid retry: is ignored, so the last valid one holds.
          expect(reconnections(run).map((r) => r.delayMillis)).toEqual([5, 9, 9])
        }
      ))

    it("sends the lastEventId option first; a non-ASCII id as its UTF-8 bytes; none after an empty id", () =>
      against(
        [sse("id: évt-😀\ndata: a\n\n"), sse("id\ndata: b\n\n"), sse("data: c\n\n"), noContent],
        { retry: 1, lastEventId: "41" },
        (run, server) => {
          expect(run.events).toEqual([event("a", "évt-😀"), event("b"), event("c")])
          expect(server.requests.map((r) => r.lastEventId)).toEqual(["41", "évt-😀", undefined, undefined])
        }
      ))

    it("fails on a status other than 200 and 204 with Status, and does not reconnect", () =>
      against([status(500), sse("data: never\n\n")], { retry: 1 }, (run, server) => {
        expect(run.events).toEqual([])
        expect(run.end).toEqual({ _tag: "Error", reason: "Status", status: 500, contentType: undefined })
        expect(run.states.at(-1)).toEqual({ _tag: "Failed", reason: "Status" })
        expect(run.readyState).toEqual(2)
        expect(server.requests.length).toEqual(1)
      }))

    it("fails on a Content-Type that is not text/event-stream with ContentType, and does not reconnect", () =>
      against(
        [sse("data: x\n\n", { contentType: "text/plain" }), sse("data: never\n\n")],
        { retry: 1 },
        (run, server) => {
          expect(run.events).toEqual([])
          expect(run.end).toEqual({ _tag: "Error", reason: "ContentType", status: 200, contentType: "text/plain" })
          expect(run.states.at(-1)).toEqual({ _tag: "Failed", reason: "ContentType" })
          expect(server.requests.length).toEqual(1)
        }
      ))

    it("stops without error on a first 204: no event, no reconnection", () =>
      against([noContent, sse("data: never\n\n")], { retry: 1 }, (run, server) => {
        expect([run.events, run.end, run.readyState]).toEqual([[], ended, 2])
        expect(tags(run)).toEqual(["Stopped"])
        expect(server.requests.length).toEqual(1)
      }))

    it("with reconnect off, a clean end stops the client (End) after one request", () =>
      against([sse("data: a\n\n"), sse("data: never\n\n")], { retry: 1, reconnect: false }, (run, server) => {
        expect([run.events, run.end]).toEqual([[event("a")], ended])
        expect(run.states.at(-1)).toEqual({ _tag: "Stopped", reason: "End" })
        expect(server.requests.length).toEqual(1)
      }))

    it("close aborts the open connection: the events end, the state is Closed, readyState CLOSED", () =>
      against([sse("id: 1\ndata: a\n\n", { stayOpen: true }), sse("data: never\n\n")], {
        retry: 1,
        closeAfter: 1
      }, async (run, server) => {
        expect([run.events, run.end, run.readyState]).toEqual([[event("a", "1")], ended, 2])
        expect(run.states.at(-1)).toEqual({ _tag: "Closed" })
        // The server sees the connection go: the client aborted it (the server never ends this response).
        await server.requests[0].closed
        expect(server.requests.length).toEqual(1)
      }))
  })
}
