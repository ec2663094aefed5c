/**
 * The time and chat apps as a Fetch handler (`Request → Response`), with no `node:` module: the same code runs on
 * Deno, Bun and workers. `GET /time` sends the time every second; `POST /messages` (`{"user","text"}` as JSON)
 * is broadcast through a hub to every client on `GET /events`, which resumes from `Last-Event-ID`.
 *
 *   deno run --allow-net=127.0.0.1 --allow-env=PORT,HOST web.ts   # Deno.serve, where npm installed effect-sse
 *   bun examples/web.ts                                            # Bun.serve, in this repository too
 *
 * Run as a program, it serves on PORT (8080) and HOST (127.0.0.1), and on SIGINT or SIGTERM ends every open
 * stream cleanly before it exits. Imported, it is the handler (`examples/worker.ts` serves it on a Worker runtime).
 */
// Modules by path, not the "@effect/platform" index: that one loads every module (msgpackr's reads the environment).
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Clock, Context, Effect, Layer, Schedule, Schema, Stream } from "effect"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseHub from "effect-sse/SseHub"
import * as SseHubBackend from "effect-sse/SseHubBackend"
import * as SseResponse from "effect-sse/SseResponse"
import * as SseWeb from "effect-sse/SseWeb"

/** One `time` event a second, ids `evt-1`, `evt-2`… counted per connection (as `examples/time.ts`). */
export const timeEvents: Stream.Stream<SseEvent.SseEvent> = Stream.fromSchedule(Schedule.spaced("1 second")).pipe(
  Stream.mapEffect((n) =>
    Effect.flatMap(
      Clock.currentTimeMillis,
      (now) =>
        SseEvent.make(new Date(now).toISOString().replace(/\.\d+Z$/, "Z")).pipe(
          SseEvent.withType("time"),
          SseEvent.withId(`evt-${n + 1}`)
        )
    ).pipe(Effect.orDie)
  )
)

const Text = Schema.String.pipe(Schema.filter((s) => s.trim().length > 0, { message: () => "must not be empty" }))

/** What a client POSTs, and what the hub broadcasts: the post, stamped by the server. */
export const Post = Schema.Struct({ user: Text, text: Text })
export const ChatMessage = Schema.Struct({ user: Schema.String, text: Schema.String, timestamp: Schema.String })

export class ChatHub extends Context.Tag("WebChatHub")<ChatHub, SseHub.SseHub<typeof ChatMessage.Type>>() {}

export const ChatHubLive = SseHub.layer(ChatHub, { name: "chat", schema: ChatMessage, history: { size: 1000 } }).pipe(
  Layer.provide(SseHubBackend.layerMemory)
)

const stamp = (user: string, text: string) =>
  Effect.map(Clock.currentTimeMillis, (now) => ({ user, text, timestamp: new Date(now).toISOString() }))

const postMessage = Effect.gen(function*() {
  const post = yield* HttpServerRequest.schemaBodyJson(Post)
  const hub = yield* ChatHub
  const id = yield* hub.publish(yield* stamp(post.user, post.text))
  return yield* HttpServerResponse.json({ id }, { status: 201 })
}).pipe(
  Effect.catchTags({
    RequestError: () => HttpServerResponse.json({ error: "The body is not valid JSON" }, { status: 400 }),
    ParseError: () =>
      HttpServerResponse.json({ error: "The body must be {user, text}, both non-empty" }, { status: 400 })
  })
)

/** Each client first hears who is connected; a reconnecting client then gets what it missed. */
const chatEvents = Effect.flatMap(
  ChatHub,
  SseHub.serve({
    onConnect: ({ clients }) =>
      Effect.flatMap(
        stamp("System", `Welcome! ${clients} ${clients === 1 ? "client is" : "clients are"} connected.`),
        (message) => Effect.map(Effect.orDie(SseEvent.jsonSchema(ChatMessage)(message)), (event) => [event])
      )
  })
)

export const app = HttpRouter.empty.pipe(
  HttpRouter.get("/time", SseResponse.stream(timeEvents)),
  HttpRouter.get("/events", chatEvents),
  HttpRouter.post("/messages", postMessage)
)

/** The handler, and `dispose`, which ends every open stream cleanly and then releases the hub. */
export const { dispose, handler } = SseWeb.toWebHandlerLayer(app, ChatHubLive)

// What the program needs of Deno and Bun, declared here so that the file needs neither runtime's types.
type Signal = "SIGINT" | "SIGTERM"
interface DenoGlobal {
  readonly env: { get(name: string): string | undefined }
  serve(
    options: { port: number; hostname: string; onListen: (address: { port: number }) => void },
    handler: (request: Request) => Promise<Response>
  ): { shutdown(): Promise<void> }
  addSignalListener(signal: Signal, listener: () => void): void
  exit(code: number): never
}
interface BunGlobal {
  serve(options: { port: number; hostname: string; fetch: (request: Request) => Promise<Response> }): {
    readonly port: number
    stop(closeActiveConnections?: boolean): Promise<void>
  }
}
interface ProcessGlobal {
  readonly env: Record<string, string | undefined>
  on(signal: Signal, listener: () => void): void
  exit(code: number): never
}
const runtime = globalThis as { Deno?: DenoGlobal; Bun?: BunGlobal; process?: ProcessGlobal }

/** Serves the handler with the runtime's own server; on a signal, ends every stream, then stops the server. */
const main = (): void => {
  const { Bun, Deno, process } = runtime
  const env = (name: string) => Deno !== undefined ? Deno.env.get(name) : process?.env[name]
  const port = Number(env("PORT") ?? "8080")
  const hostname = env("HOST") ?? "127.0.0.1"
  const onSignal = (stop: () => Promise<void>, exit: (code: number) => never) => {
    let stopping = false
    return () => {
      if (stopping) return
      stopping = true
      dispose().then(stop).then(() => exit(0), () => exit(1))
    }
  }
  if (Deno !== undefined) {
    const server = Deno.serve(
      { port, hostname, onListen: (address) => console.log(`Listening on http://${hostname}:${address.port}`) },
      handler
    )
    const stop = onSignal(() => server.shutdown(), Deno.exit)
    Deno.addSignalListener("SIGINT", stop)
    Deno.addSignalListener("SIGTERM", stop)
  } else if (Bun !== undefined && process !== undefined) {
    const server = Bun.serve({ port, hostname, fetch: handler })
    console.log(`Listening on http://${hostname}:${server.port}`)
    const stop = onSignal(() => server.stop(), process.exit)
    process.on("SIGINT", stop)
    process.on("SIGTERM", stop)
  }
}

if ((import.meta as ImportMeta & { readonly main?: boolean }).main === true) main()
