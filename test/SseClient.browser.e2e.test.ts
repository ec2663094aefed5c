/**
 * `SseClient` in a real browser: `test/SseClient.browser.page.ts` (SseClient.connectSchema on FetchHttpClient),
 * bundled with esbuild for the browser, runs in headless Chromium against the chat example on 127.0.0.1. It
 * receives messages posted by another client, survives the server dropping every connection, resumes with
 * Last-Event-ID (no message lost, none repeated) and records its state changes.
 */
import { HttpServerRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { build } from "esbuild"
import { join } from "node:path"
import type { Page } from "playwright-core"
import { ChatHubLive, router } from "../examples/chat.js"
import type { Recorded } from "./SseClient.browser.page.js"
import { launchChromium } from "./utils/browser.js"
import { postJson } from "./utils/hubChat.js"
import * as TestServer from "./utils/server.js"

/** The page program, bundled for a browser: no `node:` module may be needed. */
const bundlePage = Effect.promise(() =>
  build({
    entryPoints: [join(import.meta.dirname, "SseClient.browser.page.ts")],
    bundle: true,
    write: false,
    metafile: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    logLevel: "silent"
  })
).pipe(Effect.map((result) => ({ code: result.outputFiles[0].text, inputs: Object.keys(result.metafile.inputs) })))

/** The chat example's router and hub on a real server, recording the Last-Event-ID of every GET /events. */
const chatServer = Effect.gen(function*() {
  const context = yield* Layer.build(ChatHubLive)
  const lastEventIds: Array<string | undefined> = []
  const app = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    if (request.url.startsWith("/events")) lastEventIds.push(request.headers["last-event-id"])
    return router
  }).pipe(Effect.provide(context))
  const server = yield* TestServer.serve(app, { server: "SseNode" })
  return { server, lastEventIds }
})

const read = (page: Page) =>
  Effect.promise(() =>
    page.evaluate(() => {
      const recorded = (globalThis as unknown as { __sse: Recorded }).__sse
      return {
        states: recorded.states,
        messages: recorded.messages,
        readyState: recorded.readyState(),
        error: recorded.error
      }
    })
  )

/** Waits (bounded) until the page has received `count` chat messages, the welcomes left out. */
const awaitMessages = (page: Page, count: number) =>
  Effect.promise(() =>
    page.waitForFunction(
      (n) =>
        (globalThis as unknown as { __sse: Recorded }).__sse.messages.filter((m) => m.user !== "System").length >= n,
      count,
      { timeout: 10_000 }
    )
  )

const idOf = (text: string) => (JSON.parse(text) as { id: string }).id

describe("SseClient in headless Chromium, against the chat example", () => {
  it.scopedLive(
    "receives messages posted by another client, survives a server-side drop and resumes with Last-Event-ID; the page sees Connecting, Open, Reconnecting, Open",
    () =>
      Effect.gen(function*() {
        const bundle = yield* bundlePage
        expect(bundle.inputs.filter((input) => input.startsWith("node:") || input.includes("platform-node"))).toEqual(
          []
        )
        const { lastEventIds, server } = yield* chatServer
        const port = server.port
        const origin = `http://127.0.0.1:${port}`

        const browser = yield* launchChromium
        const page = yield* Effect.promise(() => browser.newPage())
        const pageErrors: Array<string> = []
        page.on("pageerror", (error) => pageErrors.push(error.message))
        // The test page and its script are served by the browser itself, on the chat's origin, so the client's
        // requests to /events are same-origin; everything else goes to the chat server.
        yield* Effect.promise(() =>
          page.route(`${origin}/sse-client`, (route) =>
            route.fulfill({
              contentType: "text/html",
              body: `<!doctype html><title>SseClient</title><script type="module" src="/sse-client.js"></script>`
            }))
        )
        yield* Effect.promise(() =>
          page.route(`${origin}/sse-client.js`, (route) =>
            route.fulfill({ contentType: "text/javascript", body: bundle.code }))
        )
        yield* Effect.promise(() =>
          page.goto(`${origin}/sse-client`)
        )

        // Connected: the welcome (for this connection only, without an id) arrives first.
        yield* Effect.promise(() =>
          page.waitForFunction(() => (globalThis as unknown as { __sse: Recorded }).__sse.messages.length >= 1, null, {
            timeout: 10_000
          })
        )
        const posted: Array<string> = []
        for (const text of ["m1", "m2", "m3"]) {
          const response = yield* postJson(port, { user: "bob", text })
          expect(response.status).toBe(201)
          posted.push(idOf(response.text))
        }
        yield* awaitMessages(page, 3)

        // The server drops every connection; messages posted meanwhile come back from the hub's history.
        server.node.closeAllConnections()
        for (const text of ["m4", "m5"]) posted.push(idOf((yield* postJson(port, { user: "bob", text })).text))
        yield* awaitMessages(page, 5)
        posted.push(idOf((yield* postJson(port, { user: "bob", text: "m6" })).text))
        yield* awaitMessages(page, 6)

        const seen = yield* read(page)
        expect(seen.error).toBeUndefined()
        expect(pageErrors).toEqual([])
        const chat = seen.messages.filter((m) => m.user !== "System")
        expect(chat.map((m) => m.text)).toEqual(["m1", "m2", "m3", "m4", "m5", "m6"])
        expect(chat.map((m) => m.id)).toEqual(posted)
        // One welcome per connection.
        expect(seen.messages.filter((m) => m.user === "System").length).toBe(2)
        // The second request resumed after the last message seen before the drop.
        expect(lastEventIds).toEqual([undefined, posted[2]])

        expect(seen.states.map((s) => s.tag)).toEqual(["Connecting", "Open", "Reconnecting", "Open"])
        const [connecting, open, reconnecting, reopened] = seen.states
        expect(connecting.readyState).toBe(0)
        expect(open).toMatchObject({ readyState: 1, status: 200 })
        expect(open.contentType).toMatch(/^text\/event-stream/)
        expect(reconnecting).toEqual({
          tag: "Reconnecting",
          readyState: 0,
          cause: "Transport",
          delayMillis: 300,
          attempt: 1,
          lastEventId: posted[2]
        })
        expect(reopened).toMatchObject({ readyState: 1, status: 200 })
        expect(seen.readyState).toBe(1)
      }),
    60_000
  )
})
