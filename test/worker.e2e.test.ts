/**
 * The Worker-style check: `examples/worker.ts` (the Web apps' `fetch` handler on `SseWeb`) and the root entry
 * of the package, bundled by esbuild for the browser platform, where any `node:` import fails the build, then run
 * in a module Web Worker of headless Chromium: no `node:` module, no `process`, only the Web platform. The worker
 * calls the handler as a runtime would and reads the `Response` streams: the time app's events, the chat's
 * welcome, a posted message, resumption from `Last-Event-ID`, and `dispose` ending an open stream cleanly.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as esbuild from "esbuild"
import * as Http from "node:http"
import { launchChromium } from "./utils/browser.js"
import { repoRoot } from "./utils/spawn.js"

/** The worker's script: every step's outcome, posted back to the page. */
const scenario = `
import worker from "./examples/worker.ts"
import { dispose } from "./examples/web.ts"
import * as Sse from "effect-sse"

const decoder = new TextDecoder()
/** Reads a response's body until "until" holds of the text (or the body ends); the reader stays usable. */
const reading = (response) => {
  const reader = response.body.getReader()
  const state = { text: "", done: false }
  state.until = async (until) => {
    while (!state.done && !until(state.text)) {
      const { done, value } = await reader.read()
      if (done) state.done = true
      else state.text += decoder.decode(value, { stream: true })
    }
    return state.text
  }
  return state
}

self.onmessage = async () => {
  const out = {}
  try {
    out.globals = { process: typeof globalThis.process, require: typeof globalThis.require, Buffer: typeof globalThis.Buffer }
    out.rootEvent = Sse.SseEvent.make("from the root entry").data
    const time = await worker.fetch(new Request("http://worker.test/time"))
    out.time = { status: time.status, type: time.headers.get("content-type") }
    out.time.text = await reading(time).until((t) => /id: evt-1\\ndata: [^\\n]+\\n\\n/.test(t))
    const events = reading(await worker.fetch(new Request("http://worker.test/events")))
    await events.until((t) => t.includes("Welcome!"))
    const ids = []
    for (const text of ["one", "two"]) {
      const posted = await worker.fetch(new Request("http://worker.test/messages", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user: "ann", text })
      }))
      out.postStatus = posted.status
      ids.push((await posted.json()).id)
    }
    out.ids = ids
    out.events = await events.until((t) => t.includes('"text":"two"'))
    const resumed = reading(await worker.fetch(new Request("http://worker.test/events", { headers: { "last-event-id": ids[0] } })))
    out.resumed = await resumed.until((t) => t.includes('"text":"two"'))
    await dispose()
    out.afterDispose = { text: await events.until(() => false), done: events.done }
  } catch (error) {
    out.error = String(error && error.stack || error)
  }
  self.postMessage(out)
}
`

const page = `<!doctype html><meta charset="utf-8"><title>worker</title><script>
const worker = new Worker("/worker.js", { type: "module" })
worker.onmessage = (e) => { window.result = e.data }
worker.onerror = (e) => { window.result = { error: "worker error: " + e.message } }
worker.postMessage("go")
</script>`

/** The scenario bundled for the browser: a `node:` import anywhere in what it pulls in fails here. */
const bundle = Effect.promise(() =>
  esbuild.build({
    stdin: { contents: scenario, resolveDir: repoRoot, loader: "ts", sourcefile: "scenario.ts" },
    bundle: true,
    format: "esm",
    platform: "browser",
    write: false,
    logLevel: "silent",
    tsconfig: `${repoRoot}/tsconfig.json`,
    plugins: [{
      name: "no-node",
      setup(build) {
        build.onResolve({ filter: /^node:/ }, (args) => ({
          errors: [{ text: `${args.importer} imports ${args.path}: not available on a Worker runtime` }]
        }))
      }
    }]
  }).then((result) => ({ ok: true as const, code: result.outputFiles[0].text }), (error: unknown) => ({
    ok: false as const,
    error: String(error)
  }))
)

/** Serves the page and the bundle on 127.0.0.1 and a free port, until the scope closes. */
const servePage = (code: string) =>
  Effect.acquireRelease(
    Effect.async<Http.Server>((resume) => {
      const server = Http.createServer((request, response) => {
        if (request.url === "/worker.js") {
          response.writeHead(200, { "content-type": "text/javascript" }).end(code)
        } else {
          response.writeHead(200, { "content-type": "text/html" }).end(page)
        }
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  )

interface Result {
  readonly error?: string
  readonly globals: Record<string, string>
  readonly rootEvent: string
  readonly time: { readonly status: number; readonly type: string; readonly text: string }
  readonly postStatus: number
  readonly ids: ReadonlyArray<string>
  readonly events: string
  readonly resumed: string
  readonly afterDispose: { readonly text: string; readonly done: boolean }
}

describe("a Worker runtime: no node: module", () => {
  it.scopedLive(
    "the Web handler and the root entry bundle for the browser, and serve SSE inside a Web Worker",
    () =>
      Effect.gen(function*() {
        const built = yield* bundle
        if (!built.ok) expect.fail(built.error)
        const server = yield* servePage(built.code)
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        const browser = yield* launchChromium
        const tab = yield* Effect.promise(() => browser.newPage())
        yield* Effect.promise(() => tab.goto(`http://127.0.0.1:${port}/`))
        const result = yield* Effect.promise(() =>
          tab.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, null, {
            timeout: 20_000
          }).then(() => tab.evaluate(() => (window as unknown as { result: Result }).result))
        )
        expect(result.error).toBeUndefined()
        expect(result.globals).toEqual({ process: "undefined", require: "undefined", Buffer: "undefined" })
        expect(result.rootEvent).toBe("from the root entry")
        expect(result.time.status).toBe(200)
        expect(result.time.type).toMatch(/^text\/event-stream/)
        expect(result.time.text).toMatch(
          /^: connected\n\nevent: time\nid: evt-1\ndata: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n\n$/
        )
        expect(result.postStatus).toBe(201)
        const [one, two] = result.ids
        expect(result.events).toMatch(
          /^: connected\n\ndata: \{"user":"System","text":"Welcome! 1 client is connected\./
        )
        expect(result.events).toContain(`id: ${one}\ndata: {"user":"ann","text":"one",`)
        expect(result.events).toContain(`id: ${two}\ndata: {"user":"ann","text":"two",`)
        // Resumed after the first message: the welcome, then only the second.
        expect(result.resumed).not.toContain(`id: ${one}\n`)
        expect(result.resumed).toContain(`id: ${two}\ndata: {"user":"ann","text":"two",`)
        // dispose() ended the open stream: its body is done, nothing lost before the end.
        expect(result.afterDispose.done).toBe(true)
        expect(result.afterDispose.text.startsWith(result.events)).toBe(true)
      }),
    60_000
  )
})
