/**
 * Hono: `streamSSE` on `@hono/node-server`, the idiomatic way: an in-process `EventEmitter` broadcasts each
 * event, and every connection runs its own loop that queues what the emitter hands it and awaits
 * `stream.writeSSE` for each queued event (so the loop follows the socket's backpressure).
 *
 * Like most hand-written Hono code the per-connection queue is unbounded: a client that stops reading keeps
 * its events queued. Publishing as fast as possible gives the event loop a turn after each event, like the
 * plain node server. `POST /broadcast` answers 202 at once.
 *
 *   PORT=8080 npx tsx bench/servers/hono.ts
 */
import { serve } from "@hono/node-server"
import { Hono } from "hono"
import { streamSSE } from "hono/streaming"
import { EventEmitter } from "node:events"
import * as Protocol from "./protocol.js"

Protocol.exitOnSignals()

interface Message {
  readonly seq: number
  readonly data: string
}

const broadcaster = new EventEmitter()
broadcaster.setMaxListeners(0)
let clients = 0

const app = new Hono()

app.get("/events", (c) =>
  streamSSE(c, async (stream) => {
    const queue: Array<Message> = []
    let wake: (() => void) | undefined
    const onMessage = (message: Message) => {
      queue.push(message)
      if (wake !== undefined) {
        const resolve = wake
        wake = undefined
        resolve()
      }
    }
    broadcaster.on("message", onMessage)
    clients++
    stream.onAbort(() => {
      broadcaster.off("message", onMessage)
      clients--
      wake?.()
    })
    await stream.write(": connected\n\n")
    while (!stream.aborted) {
      if (queue.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve
        })
        continue
      }
      const message = queue.shift()!
      await stream.writeSSE({ id: String(message.seq), data: message.data })
    }
  }))

app.post("/broadcast", (c) => {
  const params = Protocol.parseBroadcast(c.req.url)
  if (typeof params === "string") return c.json({ error: params }, 400)
  Protocol.runBroadcast(params, (data, seq) => broadcaster.emit("message", { seq, data })).catch((error) =>
    console.error("broadcast failed", error)
  )
  return c.json(params, 202)
})

app.get("/stats", (c) => c.json(Protocol.stats(clients)))

app.post("/gc", (c) => c.json({}, Protocol.collectGarbage() ? 200 : 501))

app.get("/time", (c) => c.json({ now: Protocol.nowMicros() }))

serve(
  { fetch: app.fetch, port: Protocol.port(), hostname: Protocol.host },
  () => console.log(`hono listening on ${Protocol.host}:${Protocol.port()}`)
)
