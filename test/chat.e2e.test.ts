/**
 * The chat example end to end: its router and hub on a real server (127.0.0.1, port 0), real HTTP clients, an
 * EventSource, headless Chromium driving the page, and the example run as its own process for shutdown.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { Context, Effect, FastCheck as fc, Layer } from "effect"
import { EventSource } from "eventsource"
import { ChatHub, ChatHubLive, chatHubOptions, maxBodyBytes, router } from "../examples/chat.js"
import * as SseHub from "../src/SseHub.js"
import * as SseHubBackend from "../src/SseHubBackend.js"
import { hubMetric } from "./utils/hub.js"
import { launchChromium, post, postJson, type PostResult, spawnChat } from "./utils/hubChat.js"
import { type ClientError, type EventReader, openReader, Waiters } from "./utils/hubClients.js"
import * as TestServer from "./utils/server.js"

/** The example's router and a hub on a real server (SseNode's, as the example runs), until the scope closes. */
const chatServerWith = <E>(hubLayer: Layer.Layer<ChatHub, E>) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(hubLayer).pipe(Effect.orDie)
    const server = yield* TestServer.serve(Effect.provide(router, context), { server: "SseNode" })
    return { hub: Context.get(context, ChatHub), port: server.port, server }
  })

const chatServer = chatServerWith(ChatHubLive)

/** A chat whose backend fails every publish as given: what the server answers then. */
const failingChat = (reason: "NotPublished" | "OutcomeUnknown") =>
  chatServerWith(
    SseHub.layer(ChatHub, chatHubOptions).pipe(
      Layer.provide(Layer.succeed(
        SseHubBackend.SseHubBackend,
        SseHubBackend.make({
          kind: "failing",
          open: (name, options) =>
            Effect.map(SseHubBackend.memory.open(name, options), (log) => ({
              ...log,
              publish: () => Effect.fail(new SseHub.HubUnavailable({ hub: name, reason, cause: "the test says so" }))
            }))
        })
      ))
    )
  )

class Chat extends Context.Tag("test/Chat")<Chat, Effect.Effect.Success<typeof chatServer>>() {}

interface Chatted {
  readonly user: string
  readonly text: string
  readonly timestamp: string
}

/** The chat messages (type `message`) a reader got, parsed; the welcome included. */
const messagesOf = (reader: EventReader): Array<Chatted> =>
  reader.events.filter((e) => e.event === undefined).map((e) => JSON.parse(e.data) as Chatted)

const welcomeText = (clients: number) => `Welcome! ${clients} ${clients === 1 ? "client is" : "clients are"} connected.`

describe("chat example: GET /events", () => {
  it.scopedLive("the first event is a welcome from System with the number of connected clients", () =>
    Effect.gen(function*() {
      const { port } = yield* chatServer
      const first = yield* openReader(port)
      yield* first.atLeast(1)
      const second = yield* openReader(port)
      yield* second.atLeast(1)
      for (const [reader, clients] of [[first, 1], [second, 2]] as const) {
        const [welcome] = reader.events
        expect(reader.status).toBe(200)
        expect(reader.contentType).toMatch(/^text\/event-stream/)
        // no id: a welcome must not move the client's last event id
        expect(welcome.id).toBeUndefined()
        expect(welcome.event).toBeUndefined()
        const message = JSON.parse(welcome.data) as Chatted
        expect(message).toMatchObject({ user: "System", text: welcomeText(clients) })
        expect(new Date(message.timestamp).toISOString()).toBe(message.timestamp)
      }
    }))

  it.scopedLive("resumes from Last-Event-ID: the welcome, then every message after that id; an unknown id is `lost`", () =>
    Effect.gen(function*() {
      const { port } = yield* chatServer
      const ids: Array<string> = []
      for (const text of ["one", "two", "three"]) {
        const response = yield* postJson(port, { user: "ann", text })
        ids.push((JSON.parse(response.text) as { id: string }).id)
      }
      const resumed = yield* openReader(port, { headers: { "last-event-id": ids[0] } })
      yield* resumed.atLeast(3)
      expect(resumed.events.map((e) => e.id)).toEqual([undefined, ids[1], ids[2]])
      expect(messagesOf(resumed).map((m) => m.text)).toEqual([welcomeText(1), "two", "three"])
      const stranger = yield* openReader(port, { headers: { "last-event-id": "yesterday" } })
      yield* stranger.atLeast(5)
      expect(stranger.events[1]).toEqual({ event: "lost", id: undefined, data: `{"lastEventId":"yesterday"}` })
      expect(stranger.events.slice(2).map((e) => e.id)).toEqual(ids)
    }))
})

layer(Layer.scoped(Chat, chatServer), { excludeTestServices: true })("chat example on one server", (it) => {
  it.effect("GET / is the page: message list, name and text inputs, send button, EventSource on /events, status", () =>
    Effect.gen(function*() {
      const { port } = yield* Chat
      const response = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/`))
      expect(response.status).toBe(200)
      expect(response.headers.get("content-type")).toMatch(/^text\/html/)
      const page = yield* Effect.promise(() => response.text())
      for (
        const part of [
          `id="messages"`,
          `id="user"`,
          `id="text"`,
          `id="send"`,
          `id="status"`,
          `new EventSource("/events")`
        ]
      ) expect(page).toContain(part)
      // messages are rendered as text, never as markup
      expect(page).toContain("textContent")
      expect(page).not.toMatch(/innerHTML|insertAdjacentHTML|outerHTML|document\.write/)
    }))

  it.scoped("POST /messages: the server stamps the message and both clients receive it as JSON, with the returned id", () =>
    Effect.gen(function*() {
      const { port } = yield* Chat
      const reader = yield* openReader(port)
      yield* reader.atLeast(1) // the welcome
      const received: Array<{ id: string; data: string }> = []
      const arrivals = new Waiters()
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          const source = new EventSource(`http://127.0.0.1:${port}/events`)
          source.onmessage = (event) => {
            received.push({ id: event.lastEventId, data: event.data })
            arrivals.notify()
          }
          return source
        }),
        (source) => Effect.sync(() => source.close())
      )
      yield* arrivals.until(() => received.length >= 1, () => "the EventSource's welcome", "10 seconds")
      const before = Date.now()
      const response = yield* postJson(port, { user: "ann", text: "hello, both" })
      const after = Date.now()
      expect(response.status).toBe(201)
      expect(response.contentType).toMatch(/^application\/json/)
      const { id } = JSON.parse(response.text) as { id: string }
      yield* reader.until((r) => r.lastId === id, "the message")
      yield* arrivals.until(() => received.some((e) => e.id === id), () => "the EventSource's message", "10 seconds")
      const viaReader = reader.events.find((e) => e.id === id)!
      const viaEventSource = received.find((e) => e.id === id)!
      expect(viaEventSource.data).toBe(viaReader.data)
      const message = JSON.parse(viaReader.data) as Chatted
      expect(Object.keys(message).sort()).toEqual(["text", "timestamp", "user"])
      expect(message).toMatchObject({ user: "ann", text: "hello, both" })
      const stamped = Date.parse(message.timestamp)
      expect(new Date(stamped).toISOString()).toBe(message.timestamp)
      expect(stamped).toBeGreaterThanOrEqual(before)
      expect(stamped).toBeLessThanOrEqual(after)
    }))

  const nasty = fc.oneof(
    fc.constantFrom("line one\nline two", "\r\nevent: x", "a\rb", "data: fake\n\nid: 999", ": comment\n\n", "\u2028x"),
    fc.string({ unit: "binary", minLength: 1, maxLength: 200 }),
    fc.array(fc.constantFrom("\r", "\n", "\r\n", "event: x", "data:", "id:", "retry: 1", ":", " ", "é", "🎉"), {
      minLength: 1,
      maxLength: 12
    }).map((parts) => "x" + parts.join(""))
  ).filter((text) => text.trim().length > 0)

  it.effect.prop(
    "any text, with newlines or '\\r\\nevent: x' in it, arrives as one intact message",
    { text: nasty, user: fc.constantFrom("ann", "bob\nby", "<b>eve</b>") },
    ({ text, user }) =>
      Effect.scoped(Effect.gen(function*() {
        const { port } = yield* Chat
        const reader = yield* openReader(port)
        yield* reader.atLeast(1)
        const response = yield* postJson(port, { user, text })
        expect(response.status).toBe(201)
        const { id } = JSON.parse(response.text) as { id: string }
        yield* reader.until((r) => r.lastId === id, "the message")
        expect(reader.events.length).toBe(2) // the welcome, and this one event: nothing split off
        expect(reader.events[1].event).toBeUndefined()
        expect(JSON.parse(reader.events[1].data)).toMatchObject({ user, text })
      })),
    { fastCheck: { numRuns: 40 } }
  )

  it.scoped("each bad input gets its status and a clear JSON error, and nothing invalid is ever broadcast", () =>
    Effect.gen(function*() {
      const { port } = yield* Chat
      const reader = yield* openReader(port)
      yield* reader.atLeast(1)
      const publishedBefore = yield* hubMetric("sse_hub_events_published", "chat")
      const big = JSON.stringify({ user: "ann", text: "x".repeat(maxBodyBytes) })
      const cases: ReadonlyArray<readonly [string, Effect.Effect<PostResult, ClientError>, number, RegExp]> = [
        ["invalid JSON", post(port, `{"user": "ann", "text": `), 400, /./],
        ["an empty body", post(port, ""), 400, /./],
        ["null", post(port, "null"), 400, /./],
        ["an array", post(port, `[{"user":"ann","text":"hi"}]`), 400, /./],
        ["a string", post(port, `"hi"`), 400, /./],
        ["a missing user", postJson(port, { text: "hi" }), 400, /user/],
        ["a missing text", postJson(port, { user: "ann" }), 400, /text/],
        ["an empty user", postJson(port, { user: "", text: "hi" }), 400, /user.*empty/],
        ["a blank text", postJson(port, { user: "ann", text: " \n\t " }), 400, /text.*empty/],
        ["a user that is not a string", postJson(port, { user: 42, text: "hi" }), 400, /user/],
        ["a text that is null", postJson(port, { user: "ann", text: null }), 400, /text/],
        ["invalid UTF-8", post(port, Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])), 400, /./],
        // nested 32 000 deep, inside the limit: formatting the value would overflow the stack (it was a 500)
        ["an array nested 32 000 deep", post(port, "[".repeat(32_000) + "]".repeat(32_000)), 400, /JSON object/],
        [
          "an object nested 20 000 deep in a field",
          post(port, `{"user":"ann","text":${"[".repeat(20_000)}${"]".repeat(20_000)}}`),
          400,
          /text must be a string/
        ],
        [
          "an Idempotency-Key with a space",
          postJson(port, { user: "ann", text: "hi" }, { "idempotency-key": "a b" }),
          400,
          /Idempotency-Key/
        ],
        ["a body over 64 KiB", post(port, big), 413, /65536/]
      ]
      for (const [label, request, status, error] of cases) {
        const response = yield* request
        expect({ label, status: response.status }).toEqual({ label, status })
        expect(response.contentType, label).toMatch(/^application\/json/)
        const body = JSON.parse(response.text) as { error: unknown }
        expect(typeof body.error, label).toBe("string")
        expect(body.error, label).toMatch(error)
      }
      // a valid message after all that: it is the first thing the client receives after its welcome
      const ok = yield* postJson(port, { user: "ann", text: "finally" })
      const { id } = JSON.parse(ok.text) as { id: string }
      yield* reader.until((r) => r.lastId === id, "the valid message")
      expect((yield* hubMetric("sse_hub_events_published", "chat")) - publishedBefore).toBe(1)
      expect(reader.events.map((e) => e.id)).toEqual([undefined, id])
      expect(messagesOf(reader).map((m) => m.text)).toEqual([welcomeText(1), "finally"])
    }))

  it.scoped("a body of exactly 64 KiB is accepted and broadcast whole; one byte more is 413", () =>
    Effect.gen(function*() {
      const { port } = yield* Chat
      const reader = yield* openReader(port)
      yield* reader.atLeast(1)
      const envelope = JSON.stringify({ user: "ann", text: "" }).length
      const exact = JSON.stringify({ user: "ann", text: "x".repeat(maxBodyBytes - envelope) })
      expect(Buffer.byteLength(exact)).toBe(maxBodyBytes)
      const accepted = yield* post(port, exact)
      expect(accepted.status).toBe(201)
      const { id } = JSON.parse(accepted.text) as { id: string }
      yield* reader.until((r) => r.lastId === id, "the big message")
      expect((JSON.parse(reader.events[1].data) as Chatted).text.length).toBe(maxBodyBytes - envelope)
      const over = yield* post(port, exact.replace(`"text":"`, `"text":"y`))
      expect(over.status).toBe(413)
    }))

  it.scoped("a body over 64 KiB sent without a Content-Length (chunked) is answered 413 too, and not broadcast", () =>
    Effect.gen(function*() {
      const { port } = yield* Chat
      const publishedBefore = yield* hubMetric("sse_hub_events_published", "chat")
      const big = JSON.stringify({ user: "ann", text: "x".repeat(maxBodyBytes) })
      const response = yield* post(port, big, { chunked: true })
      expect(response.status).toBe(413)
      expect(JSON.parse(response.text)).toEqual({ error: `The body is larger than ${maxBodyBytes} bytes` })
      expect(yield* hubMetric("sse_hub_events_published", "chat")).toBe(publishedBefore)
    }))

  it.scoped("the same Idempotency-Key posted twice is published once and answers the same id both times", () =>
    Effect.gen(function*() {
      const { port } = yield* Chat
      const reader = yield* openReader(port)
      yield* reader.atLeast(1)
      const publishedBefore = yield* hubMetric("sse_hub_events_published", "chat")
      const key = { "idempotency-key": "post-7f3a" }
      const first = yield* postJson(port, { user: "ann", text: "once" }, key)
      const again = yield* postJson(port, { user: "ann", text: "once" }, key)
      expect([first.status, again.status]).toEqual([201, 201])
      expect(JSON.parse(again.text)).toEqual(JSON.parse(first.text))
      const other = yield* postJson(port, { user: "ann", text: "another" }, { "idempotency-key": "post-8b21" })
      const { id } = JSON.parse(other.text) as { id: string }
      yield* reader.until((r) => r.lastId === id, "the second message")
      expect(messagesOf(reader).map((m) => m.text)).toEqual([welcomeText(1), "once", "another"])
      expect((yield* hubMetric("sse_hub_events_published", "chat")) - publishedBefore).toBe(2)
    }))

  it.scoped(
    "in a browser: the page sends a message with its form and another client receives it; text is never markup",
    () =>
      Effect.gen(function*() {
        const { port } = yield* Chat
        const browser = yield* launchChromium
        const page = yield* Effect.promise(() => browser.newPage())
        yield* Effect.promise(() => page.goto(`http://127.0.0.1:${port}/`))
        yield* Effect.promise(() => page.waitForSelector(`#status[data-state="open"]`, { timeout: 10_000 }))
        // the welcome is on the page
        yield* Effect.promise(() => page.waitForSelector("#messages li", { timeout: 10_000 }))
        const other = yield* openReader(port)
        yield* other.atLeast(1)

        const text = `<img src=x onerror="window.__pwned=1"> & <b>bold</b> "quoted"`
        yield* Effect.promise(() => page.fill("#user", "Ann <script>"))
        yield* Effect.promise(() => page.fill("#text", text))
        yield* Effect.promise(() => page.click("#send"))
        yield* other.until((r) => r.count >= 2, "the message sent from the page")
        expect(JSON.parse(other.events[1].data)).toMatchObject({ user: "Ann <script>", text })

        // the page shows it too (its own EventSource), as text
        yield* Effect.promise(() =>
          page.waitForFunction(() => document.querySelectorAll("#messages li").length >= 2, null, { timeout: 10_000 })
        )
        const shown = yield* Effect.promise(() =>
          page.evaluate(() => {
            const items = Array.from(document.querySelectorAll("#messages li"))
            const last = items[items.length - 1]
            return {
              user: last.querySelector(".user")?.textContent,
              text: last.querySelector(".text")?.textContent,
              markup: document.querySelectorAll("#messages img, #messages b, #messages script").length,
              pwned: (window as unknown as { __pwned?: number }).__pwned,
              input: (document.getElementById("text") as HTMLInputElement).value,
              error: document.getElementById("error")?.textContent
            }
          })
        )
        expect(shown).toEqual({ user: "Ann <script>", text, markup: 0, pwned: undefined, input: "", error: "" })

        // and a message POSTed by someone else appears on the page
        yield* postJson(port, { user: "bob", text: "hi from outside" })
        yield* Effect.promise(() =>
          page.waitForFunction(
            () =>
              Array.from(document.querySelectorAll("#messages .text")).some((e) => e.textContent === "hi from outside"),
            null,
            { timeout: 10_000 }
          )
        )
      }),
    30_000
  )
})

describe("chat example: when the hub cannot publish", () => {
  it.scopedLive("a message that was not published answers 503 (try again), one whose outcome is unknown 504 (retry with the key)", () =>
    Effect.gen(function*() {
      const refused = yield* failingChat("NotPublished")
      const notSent = yield* postJson(refused.port, { user: "ann", text: "hi" }, { "idempotency-key": "k1" })
      expect(notSent.status).toBe(503)
      expect(JSON.parse(notSent.text)).toEqual({
        error: "The chat is unavailable and the message was not sent; try again shortly"
      })
      const unknown = yield* failingChat("OutcomeUnknown")
      const maybe = yield* postJson(unknown.port, { user: "ann", text: "hi" }, { "idempotency-key": "k1" })
      expect(maybe.status).toBe(504)
      expect((JSON.parse(maybe.text) as { error: string }).error).toMatch(/may or may not.*same Idempotency-Key/)
    }))

  it.scopedLive(
    "in a browser: the page retries a message whose answer was lost with the same key, and it is broadcast once",
    () =>
      Effect.gen(function*() {
        const { port } = yield* chatServer
        const other = yield* openReader(port)
        yield* other.atLeast(1)
        const browser = yield* launchChromium
        const page = yield* Effect.promise(() => browser.newPage())
        // The first POST reaches the server and is published, but its answer is lost: the page sees a 504.
        const keys: Array<string | undefined> = []
        yield* Effect.promise(() =>
          page.route("**/messages", async (route) => {
            keys.push(route.request().headers()["idempotency-key"])
            const response = await route.fetch()
            if (keys.length === 1) await route.fulfill({ status: 504, json: { error: "lost" } })
            else await route.fulfill({ response })
          })
        )
        yield* Effect.promise(() => page.goto(`http://127.0.0.1:${port}/`))
        yield* Effect.promise(() => page.waitForSelector(`#status[data-state="open"]`, { timeout: 10_000 }))
        yield* Effect.promise(() => page.fill("#user", "ann"))
        yield* Effect.promise(() => page.fill("#text", "sent once"))
        yield* Effect.promise(() => page.click("#send"))
        yield* Effect.promise(() =>
          page.waitForFunction(() => (document.getElementById("text") as HTMLInputElement).value === "", null, {
            timeout: 10_000
          })
        )
        // A later message shows that nothing else is coming.
        const later = yield* postJson(port, { user: "bob", text: "after" })
        const { id } = JSON.parse(later.text) as { id: string }
        yield* other.until((r) => r.lastId === id, "the later message")
        expect(keys.length).toBe(2)
        expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/)
        expect(keys[1]).toBe(keys[0])
        expect(messagesOf(other).map((m) => m.text)).toEqual([welcomeText(1), "sent once", "after"])
      }),
    30_000
  )
})

describe("chat example as a process", () => {
  it.scopedLive(
    "SIGTERM shuts it down gracefully: connected clients see their stream end cleanly, the process exits 0",
    () =>
      Effect.gen(function*() {
        const chat = yield* spawnChat
        const reader = yield* openReader(chat.port)
        yield* reader.atLeast(1)
        const response = yield* postJson(chat.port, { user: "ann", text: "before the end" })
        expect(response.status).toBe(201)
        yield* reader.atLeast(2)
        chat.child.kill("SIGTERM")
        const ended = yield* reader.awaitEnd("10 seconds")
        expect(ended.finished).toBe("end")
        const exit = yield* chat.exited
        expect(exit, chat.output()).toEqual({ code: 0, signal: null })
      }),
    30_000
  )
})
