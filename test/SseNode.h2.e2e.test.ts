/**
 * SseNode on `node:http2`, cleartext (h2c) and TLS (a self-signed certificate made by the test): SSE responses,
 * the hub's fast path and ordinary responses over HTTP/2, with headers HTTP/2 allows; each stream accounted on its
 * own, so that a stalled stream is reset while another on the same connection keeps taking data; a graceful
 * shutdown that ends every stream; `SseNode.makeHandler` on an `http2` server of one's own, typed as it is; and
 * headless Chromium receiving events through `EventSource` over TLS HTTP/2.
 */
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Context, type Duration, Effect, Exit, Layer, Schema, Scope, Stream } from "effect"
import { createParser, type EventSourceMessage } from "eventsource-parser"
import * as Http2 from "node:http2"
import * as SseEvent from "../src/SseEvent.js"
import * as SseHub from "../src/SseHub.js"
import * as SseHubBackend from "../src/SseHubBackend.js"
import * as SseNode from "../src/SseNode.js"
import * as SseResponse from "../src/SseResponse.js"
import * as SseServer from "../src/SseServer.js"
import { launchChromiumWith } from "./utils/browser.js"
import { Waiters } from "./utils/hubClients.js"
import { type Certificate, selfSigned } from "./utils/tls.js"

/** Headers that belong to an HTTP/1 connection; an HTTP/2 response must carry none (RFC 9113, 8.2.2). */
const connectionSpecific = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]

class Notes extends Context.Tag("test/h2/Notes")<Notes, SseHub.SseHub<string>>() {}

const page = `<!doctype html><meta charset="utf-8"><title>h2</title><script>
window.received = []
const source = new EventSource("/notes")
source.onmessage = (e) => window.received.push({ data: e.data, id: e.lastEventId })
</script>`

/** 16 KiB events, as fast as the client takes them. */
const flood = Stream.repeatEffect(Effect.succeed(SseEvent.make("x".repeat(16 * 1024))))

const app = Effect.gen(function*() {
  const notes = yield* Notes
  return HttpRouter.empty.pipe(
    HttpRouter.get("/", HttpServerResponse.html(page)),
    HttpRouter.get("/json", HttpServerResponse.json({ ok: true })),
    HttpRouter.get(
      "/ticks",
      SseResponse.stream(Stream.make(SseEvent.make("one"), SseEvent.make("two")).pipe(Stream.concat(Stream.never)))
    ),
    HttpRouter.get("/notes", SseHub.serve()(notes)),
    HttpRouter.get("/flood", SseResponse.stream(flood, { writeTimeout: "2 seconds" }))
  )
})

const NotesLive = SseHub.layer(Notes, { schema: Schema.String, name: "h2-notes" }).pipe(
  Layer.provide(SseHubBackend.layerMemory)
)

type Kind = "h2c" | "TLS"

/** The app on `SseNode.layer` over HTTP/2, on 127.0.0.1 and a free port, until `scope` closes. */
const serveH2 = (kind: Kind, certificate: Certificate, scope: Scope.Scope) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      Layer.unwrapEffect(Effect.map(app, (router) => HttpServer.serve(router))).pipe(
        Layer.provideMerge(NotesLive),
        Layer.provideMerge(SseNode.layer(
          () =>
            kind === "h2c"
              ? Http2.createServer()
              : Http2.createSecureServer({ ...certificate, allowHTTP1: true }),
          { port: 0, host: "127.0.0.1" }
        ))
      )
    ).pipe(Scope.extend(scope), Effect.orDie)
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    const origin = `${kind === "h2c" ? "http" : "https"}://127.0.0.1:${address.port}`
    return {
      port: address.port,
      origin,
      notes: Context.get(context, Notes),
      sse: Context.get(context, SseServer.SseServer)
    }
  })

/** An HTTP/2 client session to `origin` (the test's certificate trusted), closed with the scope. */
const connect = (origin: string, certificate: Certificate) =>
  Effect.acquireRelease(
    Effect.async<Http2.ClientHttp2Session, Error>((resume) => {
      const session = Http2.connect(origin, { ca: certificate.cert })
      const onError = (error: Error) => resume(Effect.fail(error))
      session.once("error", onError)
      session.once("connect", () => {
        session.off("error", onError)
        session.on("error", () => {})
        resume(Effect.succeed(session))
      })
    }),
    (session) => Effect.sync(() => session.destroy())
  )

/** One HTTP/2 request, read as an event stream: its head, bytes, events, and how it finished. */
class H2Response {
  headers: Http2.IncomingHttpHeaders | undefined
  readonly events: Array<EventSourceMessage> = []
  readonly comments: Array<string> = []
  text = ""
  bytes = 0
  /** `end`: the stream ended cleanly; `reset`: it was reset, with `rstCode`. */
  finished: "end" | "reset" | undefined
  rstCode: number | undefined
  private readonly waiters = new Waiters()

  constructor(readonly stream: Http2.ClientHttp2Stream, options: { readonly keepText: boolean }) {
    const parser = createParser({
      onEvent: (event) => this.events.push(event),
      onComment: (comment) => this.comments.push(comment)
    })
    const decoder = new TextDecoder()
    stream.on("response", (headers) => {
      this.headers = headers
      this.waiters.notify()
    })
    stream.on("data", (chunk: Buffer) => {
      this.bytes += chunk.length
      if (options.keepText) {
        const text = decoder.decode(chunk, { stream: true })
        this.text += text
        parser.feed(text)
      }
      this.waiters.notify()
    })
    stream.on("end", () => {
      this.finished ??= "end"
      this.waiters.notify()
    })
    stream.on("error", () => {})
    stream.on("close", () => {
      if (stream.rstCode !== undefined && stream.rstCode !== Http2.constants.NGHTTP2_NO_ERROR) {
        this.rstCode = stream.rstCode
        this.finished = "reset"
      }
      this.finished ??= "end"
      this.waiters.notify()
    })
  }

  until(condition: (self: this) => boolean, label: string, timeout: Duration.DurationInput = "10 seconds") {
    return this.waiters.until(
      () => condition(this),
      () => `${label} (got ${this.bytes} bytes, ${this.events.length} events, finished ${this.finished})`,
      timeout
    )
  }
}

const request = (
  session: Http2.ClientHttp2Session,
  path: string,
  options: { readonly headers?: Http2.OutgoingHttpHeaders; readonly keepText?: boolean } = {}
) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      new H2Response(session.request({ ":path": path, accept: "text/event-stream", ...options.headers }), {
        keepText: options.keepText ?? true
      })
    ),
    (response) => Effect.sync(() => response.stream.destroy())
  )

const expectHttp2Head = (headers: Http2.IncomingHttpHeaders | undefined) => {
  expect(headers).toBeDefined()
  for (const name of connectionSpecific) expect(headers![name], name).toBeUndefined()
}

for (const kind of ["h2c", "TLS"] as const) {
  describe(`SseNode over HTTP/2 (${kind})`, () => {
    it.scopedLive("an SSE response: its head has no connection-specific header, then `: connected` and the events", () =>
      Effect.gen(function*() {
        const certificate = yield* selfSigned
        const server = yield* serveH2(kind, certificate, yield* Effect.scope)
        const session = yield* connect(server.origin, certificate)
        const ticks = yield* request(session, "/ticks")
        yield* ticks.until((self) => self.events.length >= 2, "two events")
        expectHttp2Head(ticks.headers)
        expect(ticks.headers![":status"]).toBe(200)
        expect(ticks.headers!["content-type"]).toMatch(/^text\/event-stream/)
        expect(ticks.headers!["cache-control"]).toBe("no-cache")
        expect(ticks.text).toBe(": connected\n\ndata: one\n\ndata: two\n\n")
        // An ordinary response on the same connection, with a valid HTTP/2 head too.
        const json = yield* request(session, "/json")
        yield* json.until((self) => self.finished !== undefined, "the JSON response")
        expectHttp2Head(json.headers)
        expect(json.finished).toBe("end")
        expect(JSON.parse(json.text)).toEqual({ ok: true })
        expect(ticks.finished).toBeUndefined()
      }))

    it.scopedLive("the hub's fast path: streams on one connection each get every message; Last-Event-ID resumes", () =>
      Effect.gen(function*() {
        const certificate = yield* selfSigned
        const server = yield* serveH2(kind, certificate, yield* Effect.scope)
        const session = yield* connect(server.origin, certificate)
        const readers = [yield* request(session, "/notes"), yield* request(session, "/notes")]
        yield* Effect.forEach(readers, (r) => r.until((self) => self.comments.includes("connected"), "connected"))
        const ids = yield* server.notes.publishAll(["a", "b", "c"])
        for (const reader of readers) {
          yield* reader.until((self) => self.events.length >= 3, "three messages")
          expectHttp2Head(reader.headers)
          expect(reader.events.map((e) => [e.id, e.data])).toEqual([[ids[0], `"a"`], [ids[1], `"b"`], [ids[2], `"c"`]])
        }
        const resumed = yield* request(session, "/notes", { headers: { "last-event-id": ids[0] } })
        yield* resumed.until((self) => self.events.length >= 2, "the replay")
        expect(resumed.events.map((e) => e.data)).toEqual([`"b"`, `"c"`])
      }))

    it.scopedLive(
      "a stalled stream is reset with CANCEL while another stream on the same connection keeps taking data",
      () =>
        Effect.gen(function*() {
          const certificate = yield* selfSigned
          const server = yield* serveH2(kind, certificate, yield* Effect.scope)
          const session = yield* connect(server.origin, certificate)
          // A connection window large enough that one stalled stream cannot block the connection (as browsers
          // set it): what is left to test is the server's accounting per stream.
          session.setLocalWindowSize(64 * 1024 * 1024)
          const stalled = yield* request(session, "/flood", { keepText: false })
          stalled.stream.pause()
          const reader = yield* request(session, "/flood", { keepText: false })
          yield* reader.until((self) => self.bytes > 0, "the reader's first bytes")
          expect(yield* server.sse.open).toBe(2)
          // The server drops the stalled stream (its write timeout is 2 s): one stream is left open.
          for (let i = 0; i < 200 && (yield* server.sse.open) === 2; i++) yield* Effect.sleep("100 millis")
          expect(yield* server.sse.open).toBe(1)
          // The reader never stopped: it has taken far more than the stalled stream's window, and keeps taking
          // data on the same connection after the drop.
          const atDrop = reader.bytes
          expect(atDrop).toBeGreaterThan(4 * 1024 * 1024)
          yield* reader.until((self) => self.bytes >= atDrop + 8 * 1024 * 1024, "8 MiB more for the reader")
          expect(reader.finished).toBeUndefined()
          expect(session.closed || session.destroyed).toBe(false)
          // The stalled stream was reset with CANCEL, after what its flow-control window let through, no more.
          stalled.stream.resume()
          yield* stalled.until((self) => self.finished !== undefined, "the stalled stream's reset")
          expect(stalled.finished).toBe("reset")
          expect(stalled.rstCode).toBe(Http2.constants.NGHTTP2_CANCEL)
          expect(stalled.bytes).toBeLessThan(1024 * 1024)
        }),
      60_000
    )

    it.scopedLive("releasing the server ends every stream cleanly, on one connection and on another, and it closes", () =>
      Effect.gen(function*() {
        const certificate = yield* selfSigned
        const serverScope = yield* Scope.make()
        const server = yield* serveH2(kind, certificate, serverScope)
        const first = yield* connect(server.origin, certificate)
        const second = yield* connect(server.origin, certificate)
        const streams = [
          yield* request(first, "/ticks"),
          yield* request(first, "/notes"),
          yield* request(first, "/ticks"),
          yield* request(second, "/notes")
        ]
        yield* Effect.forEach(streams, (s) => s.until((self) => self.comments.includes("connected"), "connected"))
        yield* server.notes.publish("bye")
        yield* streams[1].until((self) => self.events.length === 1, "the last note")
        yield* Scope.close(serverScope, Exit.void).pipe(
          Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("the shutdown hung") })
        )
        for (const stream of streams) {
          yield* stream.until((self) => self.finished !== undefined, "the end of the stream")
          expect(stream.finished).toBe("end")
        }
        expect(streams[0].text).toBe(": connected\n\ndata: one\n\ndata: two\n\n")
        expect(streams[3].events.map((e) => e.data)).toEqual([`"bye"`])
      }))
  })
}

describe("SseNode.makeHandler on an http2 server of one's own", () => {
  it.scopedLive("the listener fits http2.createServer as it is typed, and serves SSE over h2c", () =>
    Effect.gen(function*() {
      const sse = yield* SseServer.make()
      const router = HttpRouter.empty.pipe(
        HttpRouter.get(
          "/ticks",
          SseResponse.stream(Stream.make(SseEvent.make("one")).pipe(Stream.concat(Stream.never)))
        )
      )
      const handler = yield* SseNode.makeHandler(Effect.provideService(router, SseServer.SseServer, sse))
      const server = Http2.createServer(handler)
      const port = yield* Effect.acquireRelease(
        Effect.async<number>((resume) => {
          server.listen(0, "127.0.0.1", () => {
            const address = server.address()
            resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
          })
        }),
        () =>
          Effect.async<void>((resume) => {
            server.close(() => resume(Effect.void))
          })
      )
      const session = yield* connect(`http://127.0.0.1:${port}`, { key: "", cert: "" })
      const ticks = yield* request(session, "/ticks")
      yield* ticks.until((self) => self.events.length === 1, "the event")
      expectHttp2Head(ticks.headers)
      expect(ticks.text).toBe(": connected\n\ndata: one\n\n")
      session.close()
    }))
})

describe("headless Chromium over TLS HTTP/2", () => {
  it.scopedLive("EventSource on a page served over h2 receives the hub's messages", () =>
    Effect.gen(function*() {
      const certificate = yield* selfSigned
      const server = yield* serveH2("TLS", certificate, yield* Effect.scope)
      const browser = yield* launchChromiumWith(["--ignore-certificate-errors"])
      const page = yield* Effect.promise(() => browser.newPage())
      yield* Effect.promise(() => page.goto(`${server.origin}/`))
      const protocol = yield* Effect.promise(() =>
        page.evaluate(() =>
          (performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming).nextHopProtocol
        )
      )
      expect(protocol).toBe("h2")
      // The browser's stream is open once the hub counts it.
      for (let i = 0; i < 100 && (yield* server.notes.clientCount) === 0; i++) yield* Effect.sleep("50 millis")
      expect(yield* server.notes.clientCount).toBe(1)
      const ids = yield* server.notes.publishAll(["hello", "over h2"])
      const received = yield* Effect.promise(() =>
        page.waitForFunction(() => (window as unknown as { received: Array<unknown> }).received.length >= 2, null, {
          timeout: 10_000
        }).then(() => page.evaluate(() => (window as unknown as { received: Array<unknown> }).received))
      )
      expect(received).toEqual([{ data: `"hello"`, id: ids[0] }, { data: `"over h2"`, id: ids[1] }])
    }), 60_000)
})
