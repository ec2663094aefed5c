/**
 * The end-to-end checks every runtime passes (Node's are in time/chat/shutdown tests; Bun and Deno run these):
 * the time and chat apps served by a real process on 127.0.0.1, talked to over real sockets. Headers,
 * `: connected`, events, resumption with `Last-Event-ID`, a stalled client dropped while a reader gets every
 * message, and a clean shutdown on SIGINT and SIGTERM (the process exits, every open stream ends cleanly).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, type Scope } from "effect"
import { post } from "./hubChat.js"
import { decodeResponse, type DrainedResponse, openReader, openStalled, type StalledClient } from "./hubClients.js"
import { freePort } from "./ports.js"
import type { Spawned } from "./spawn.js"
import * as SseSocket from "./sseSocket.js"

export interface RuntimeApp {
  /** The process serving the app on 127.0.0.1:`port`, up and listening. */
  readonly start: (port: number) => Effect.Effect<Spawned, Error, Scope.Scope>
  /** Where its event stream is. */
  readonly eventsPath: string
}

export interface RuntimeSuite {
  readonly runtime: string
  readonly time: RuntimeApp
  /** The chat: `eventsPath` serves the hub, `messagesPath` takes `{ user, text }` as JSON. */
  readonly chat: RuntimeApp & { readonly messagesPath: string }
}

const timeEvent = /event: time\nid: evt-(\d+)\ndata: (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)\n\n/g

const welcome = (clients: number) => `Welcome! ${clients} ${clients === 1 ? "client is" : "clients are"} connected.`

const started = (app: RuntimeApp) =>
  Effect.flatMap(freePort, (port) => Effect.map(app.start(port), (p) => ({ port, p })))

/** Waits (bounded) for the process to exit after `signal`; its exit. */
const stop = (process: Spawned, signal: NodeJS.Signals) =>
  Effect.suspend(() => {
    process.child.kill(signal)
    return process.exited.pipe(
      Effect.timeoutFail({
        duration: "10 seconds",
        onTimeout: () => new Error(`no exit within 10 s of ${signal}:\n${process.output()}`)
      })
    )
  })

/** Reads what a stalled client was sent, until its connection closes or its response has ended. */
const drainUntilOver = (stalled: StalledClient) =>
  Effect.async<DrainedResponse>((resume) => {
    const chunks: Array<Buffer> = []
    const done = () => resume(Effect.succeed(decodeResponse(Buffer.concat(chunks))))
    stalled.socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk)
      if (decodeResponse(Buffer.concat(chunks)).endedCleanly) done()
    })
    stalled.socket.once("close", done)
    stalled.socket.resume()
  }).pipe(
    Effect.timeoutFail({
      duration: "20 seconds",
      onTimeout: () => new Error("the stalled client's response neither ended nor was cut")
    })
  )

export const runtimeSuite = (suite: RuntimeSuite): void => {
  describe(`${suite.runtime}: the time app`, () => {
    it.live(
      "SSE headers, `: connected` at once, then a time event a second with ids counted per connection",
      () =>
        Effect.gen(function*() {
          const { port } = yield* started(suite.time)
          const client = yield* SseSocket.connect(port, { path: suite.time.eventsPath })
          const head = yield* client.readHead("10 seconds")
          expect(head.status).toBe(200)
          expect(head.headers["content-type"]).toMatch(/^text\/event-stream/)
          expect(head.headers["cache-control"]).toBe("no-cache")
          yield* client.readUntil(": connected\n\n", "5 seconds")
          expect(client.body.startsWith(": connected\n\n")).toBe(true)
          yield* client.readUntil("id: evt-2\n", "10 seconds")
          yield* client.readUntil("\n\n", "5 seconds")
          const events = Array.from(client.body.matchAll(timeEvent))
          expect(events.map((match) => match[1]).slice(0, 2)).toEqual(["1", "2"])
          // Another connection counts its own ids from 1.
          const second = yield* SseSocket.connect(port, { path: suite.time.eventsPath })
          yield* second.readUntil("id: evt-1\n", "10 seconds")
          expect(second.body.startsWith(": connected\n\nevent: time\nid: evt-1\ndata: ")).toBe(true)
        }).pipe(Effect.scoped),
      { timeout: 60_000 }
    )

    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      it.live(
        `on ${signal} with three clients connected, every stream ends cleanly and the process exits`,
        () =>
          Effect.gen(function*() {
            const { p, port } = yield* started(suite.time)
            const clients = yield* Effect.forEach(
              [1, 2, 3],
              () => SseSocket.connect(port, { path: suite.time.eventsPath })
            )
            yield* Effect.forEach(clients, (client) => client.readUntil("id: evt-1\n", "10 seconds"))
            const exit = yield* stop(p, signal)
            expect(exit, p.output()).toEqual({ code: 0, signal: null })
            expect(yield* Effect.forEach(clients, (client) => client.awaitEnd("5 seconds"))).toEqual([
              "end",
              "end",
              "end"
            ])
            for (const client of clients) {
              expect(client.body.startsWith(": connected\n\nevent: time\nid: evt-1\n")).toBe(true)
            }
          }).pipe(Effect.scoped),
        { timeout: 60_000 }
      )
    }
  })

  describe(`${suite.runtime}: the chat app`, () => {
    const { chat } = suite
    const reader = (port: number, headers?: Record<string, string>) =>
      openReader(port, { path: chat.eventsPath, ...(headers === undefined ? {} : { headers }) })
    const send = (port: number, text: string) =>
      Effect.flatMap(
        post(port, JSON.stringify({ user: "ann", text }), { path: chat.messagesPath }),
        (response) =>
          response.status === 201
            ? Effect.succeed((JSON.parse(response.text) as { id: string }).id)
            : Effect.fail(new Error(`POST answered ${response.status}: ${response.text}`))
      )

    it.live(
      "a welcome with the client count, posted messages to every client, resumption from Last-Event-ID",
      () =>
        Effect.gen(function*() {
          const { port } = yield* started(chat)
          const first = yield* reader(port)
          yield* first.atLeast(1)
          expect(first.status).toBe(200)
          expect(first.contentType).toMatch(/^text\/event-stream/)
          expect(first.comments[0]).toBe("connected")
          expect(JSON.parse(first.events[0].data)).toMatchObject({ user: "System", text: welcome(1) })
          expect(first.events[0].id).toBeUndefined()
          const ids: Array<string> = []
          for (const text of ["one", "two", "three"]) ids.push(yield* send(port, text))
          yield* first.atLeast(4)
          expect(first.events.slice(1).map((e) => [e.id, (JSON.parse(e.data) as { text: string }).text])).toEqual([
            [ids[0], "one"],
            [ids[1], "two"],
            [ids[2], "three"]
          ])
          const resumed = yield* reader(port, { "last-event-id": ids[0] })
          yield* resumed.atLeast(3)
          expect(resumed.events.map((e) => e.id)).toEqual([undefined, ids[1], ids[2]])
          expect(JSON.parse(resumed.events[0].data)).toMatchObject({ text: welcome(2) })
        }).pipe(Effect.scoped),
      { timeout: 60_000 }
    )

    it.live(
      "a client that stops reading is dropped; a reader on the same server gets every message",
      () =>
        Effect.gen(function*() {
          const { port } = yield* started(chat)
          const stalled = yield* openStalled(port, chat.eventsPath)
          const fast = yield* reader(port)
          yield* fast.atLeast(1)
          const text = "x".repeat(32 * 1024)
          const ids: Array<string> = []
          // Until a new client is welcomed as the second one (the reader and itself): the stalled one is gone.
          let clients = 0
          for (let round = 0; round < 40; round++) {
            for (let i = 0; i < 20; i++) ids.push(yield* send(port, `${ids.length} ${text}`))
            yield* fast.atLeast(1 + ids.length, "20 seconds")
            const probe = yield* reader(port)
            yield* probe.atLeast(1)
            const said = (JSON.parse(probe.events[0].data) as { text: string }).text
            probe.destroy()
            clients = Number(/(\d+) client/.exec(said)?.[1])
            if (clients === 2) break
            // Past the write timeout, the stall rule drops it even with nothing new: give the tick a moment.
            if (round >= 4) yield* Effect.sleep("1 second")
          }
          expect(clients).toBe(2)
          expect(fast.events.slice(1).map((e) => e.id)).toEqual(ids)
          const drained = yield* drainUntilOver(stalled)
          // It got a part of the stream, never all of it, and then its connection was closed (Node's server) or
          // its response ended (a Web handler cannot reach the connection).
          expect(drained.status).toBe(200)
          expect(drained.events.length).toBeLessThan(1 + ids.length)
        }).pipe(Effect.scoped),
      { timeout: 120_000 }
    )

    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      it.live(
        `on ${signal}, connected clients see their stream end cleanly and the process exits`,
        () =>
          Effect.gen(function*() {
            const { p, port } = yield* started(chat)
            const readers = [yield* reader(port), yield* reader(port)]
            yield* Effect.forEach(readers, (r) => r.atLeast(1))
            yield* send(port, "before the end")
            yield* Effect.forEach(readers, (r) => r.atLeast(2))
            const exit = yield* stop(p, signal)
            expect(exit, p.output()).toEqual({ code: 0, signal: null })
            for (const r of readers) expect((yield* r.awaitEnd("5 seconds")).finished).toBe("end")
          }).pipe(Effect.scoped),
        { timeout: 60_000 }
      )
    }
  })
}
