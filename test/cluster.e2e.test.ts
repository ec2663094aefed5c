/**
 * The cluster example end to end: `examples/cluster.ts` runs as two real processes on one private Redis, and
 * real clients talk to them over sockets. Every client of either process sees every message once, in one
 * order; a client that moves from one process to the other, or back to a restarted one, with its
 * Last-Event-ID, misses nothing and sees nothing twice.
 */
import { expect, it } from "@effect/vitest"
import { Effect, type Scope } from "effect"
import { fileURLToPath } from "node:url"
import { parse } from "./utils/parse.js"
import * as R from "./utils/redis.js"
import * as SseSocket from "./utils/sseSocket.js"

const root = fileURLToPath(new URL("..", import.meta.url))
/** The example's hub is named "chat": its stream key. */
const chatKey = "effect-sse:chat"

interface ChatProcess {
  readonly port: number
  readonly pid: number | undefined
  /** Sends `signal` and waits (bounded) for the process to exit. */
  readonly stop: (signal: NodeJS.Signals) => Effect.Effect<void, R.RedisTestError>
  readonly output: () => string
}

/**
 * Starts `examples/cluster.ts` on `port` (HOST=127.0.0.1, REDIS_URL=`redisUrl`) and waits until it listens;
 * the process is killed when the scope closes, whatever happened.
 */
const startChat = (port: number, redisUrl: string): Effect.Effect<ChatProcess, R.RedisTestError, Scope.Scope> =>
  Effect.gen(function*() {
    const { child, output } = yield* Effect.acquireRelease(
      Effect.sync(() =>
        R.spawnTracked(process.execPath, ["--import", "tsx", "examples/cluster.ts"], {
          cwd: root,
          env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", REDIS_URL: redisUrl }
        })
      ),
      ({ child }) => Effect.ignore(R.killProcess(child))
    )
    const listening = R.eventually(
      Effect.sync(() => {
        if (child.exitCode !== null || child.signalCode !== null) return true
        return output().includes(`Listening on http://127.0.0.1:${port}`)
      }),
      `the chat on port ${port} listens`,
      400
    )
    yield* Effect.mapError(listening, (error) => new R.RedisTestError({ message: `${error.message}\n${output()}` }))
    if (child.exitCode !== null || child.signalCode !== null) {
      return yield* new R.RedisTestError({ message: `the chat on port ${port} exited:\n${output()}` })
    }
    return {
      port,
      pid: child.pid,
      stop: (signal) => R.killProcess(child, signal),
      output
    }
  })

/** POSTs a chat message (with an `Idempotency-Key`, if given); returns the event id the server answers with. */
const post = (port: number, user: string, text: string, idempotencyKey?: string) =>
  Effect.tryPromise({
    try: async () => {
      const response = await fetch(`http://127.0.0.1:${port}/messages`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(idempotencyKey === undefined ? {} : { "idempotency-key": idempotencyKey })
        },
        body: JSON.stringify({ user, text })
      })
      const body = await response.text()
      if (response.status !== 201) throw new Error(`POST to ${port} answered ${response.status}: ${body}`)
      return (JSON.parse(body) as { readonly id: string }).id
    },
    catch: (error) => new R.RedisTestError({ message: String(error) })
  })

/** The chat messages a client received (the welcome has no id): id and text. */
const messages = (client: SseSocket.RawSseClient) =>
  parse([client.body]).events.filter((e) => e.id !== undefined).map((e) => ({
    id: e.id!,
    text: (JSON.parse(e.data) as { readonly text: string }).text
  }))

const hasMessages = (client: SseSocket.RawSseClient, n: number, label: string) =>
  client.waitFor((c) => messages(c).length >= n, label, "10 seconds")

/** Opens an SSE client on `port` and waits for the welcome. */
const join = (port: number, lastEventId?: string) =>
  Effect.gen(function*() {
    const client = yield* SseSocket.connect(
      port,
      lastEventId === undefined ? {} : { headers: { "Last-Event-ID": lastEventId } }
    )
    yield* client.readUntil("Welcome!", "10 seconds")
    return client
  })

const texts = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`)

R.describeWithRedis("examples/cluster.ts: two processes, one Redis", ["private"], () => {
  it.scopedLive(
    "clients of both processes see every message once in one order, and resume gap-free on the other or a restarted process",
    () =>
      Effect.gen(function*() {
        const redis = yield* R.privateRedis
        const admin = yield* R.admin(redis.url)
        const [portA, portB] = [yield* R.freePort, yield* R.freePort]
        const [a, b] = yield* Effect.all([startChat(portA, redis.url), startChat(portB, redis.url)], {
          concurrency: 2
        })

        // Two clients on each process; messages posted to both, four at a time.
        const [a1, a2, b1, b2] = yield* Effect.all([join(a.port), join(a.port), join(b.port), join(b.port)])
        const first = texts("first", 12)
        // One message to each process first, then four at a time (the last test starts with concurrent ones).
        const ids = [yield* post(a.port, "ann", first[0]), yield* post(b.port, "ann", first[1])]
        for (let round = 0; round < 3; round++) {
          const batch = first.slice(2 + round * 4, 2 + round * 4 + 4)
          ids.push(
            ...yield* Effect.all(batch.map((text, i) => post(i % 2 === 0 ? a.port : b.port, "ann", text)), {
              concurrency: "unbounded"
            })
          )
        }
        yield* Effect.forEach([a1, a2, b1, b2], (client) => hasMessages(client, 12, "the first messages"))
        const seen = [a1, a2, b1, b2].map(messages)
        const stream = yield* R.streamIds(admin, chatKey)
        for (const received of seen) {
          // One order for all (the stream's), every message once.
          expect(received).toEqual(seen[0])
          expect(received.map((m) => m.id)).toEqual(stream)
        }
        expect([...seen[0].map((m) => m.text)].sort()).toEqual([...first].sort())
        expect([...ids].sort(R.compareStreamIds)).toEqual(stream)

        // a1 goes away; more is said; it comes back on B with its Last-Event-ID.
        const lastOfA1 = seen[0].at(-1)!.id
        a1.destroy()
        const missed = texts("missed", 5)
        for (const [i, text] of missed.entries()) yield* post(i % 2 === 0 ? a.port : b.port, "bob", text)
        const moved = yield* join(b.port, lastOfA1)
        yield* hasMessages(moved, 5, "the missed messages on B")
        const live = texts("live", 2)
        for (const text of live) yield* post(a.port, "cy", text)
        yield* hasMessages(moved, 7, "the missed, then live messages on B")
        yield* hasMessages(b2, 19, "everything on b2")
        expect(messages(moved).map((m) => m.text)).toEqual([...missed, ...live])
        expect(messages(moved)).toEqual(messages(b2).slice(12))

        // A is stopped (SIGTERM): its clients' responses end cleanly and its two Redis connections close.
        yield* R.eventually(Effect.map(R.otherConnections(admin), (n) => n === 4), "two connections per process")
        const lastOfA2 = messages(a2).at(-1)!.id
        yield* a.stop("SIGTERM")
        expect(yield* a2.awaitEnd("10 seconds")).toBe("end")
        yield* R.eventually(Effect.map(R.otherConnections(admin), (n) => n === 2), "only B's connections left")
        const whileDown = texts("while-a-is-down", 3)
        for (const text of whileDown) yield* post(b.port, "dee", text)

        // A again, on the same port: a2 comes back to it and resumes.
        const again = yield* startChat(portA, redis.url)
        const back = yield* join(again.port, lastOfA2)
        yield* hasMessages(back, 3, "what was said while A was down")
        yield* post(again.port, "eve", "after-restart")
        yield* hasMessages(back, 4, "then a live message")
        expect(messages(back).map((m) => m.text)).toEqual([...whileDown, "after-restart"])
        yield* hasMessages(b2, 23, "everything on b2")
        expect(messages(back)).toEqual(messages(b2).slice(19))
        expect(messages(b2).map((m) => m.id)).toEqual(yield* R.streamIds(admin, chatKey))
      })
  )

  it.scopedLive("a client resumes gap-free on a process that crashed (SIGKILL) and was restarted", () =>
    Effect.gen(function*() {
      const redis = yield* R.privateRedis
      const admin = yield* R.admin(redis.url)
      const [portA, portB] = [yield* R.freePort, yield* R.freePort]
      const [a, b] = yield* Effect.all([startChat(portA, redis.url), startChat(portB, redis.url)], { concurrency: 2 })
      const onA = yield* join(a.port)
      const onB = yield* join(b.port)
      for (const text of texts("before", 3)) yield* post(b.port, "ann", text)
      yield* hasMessages(onA, 3, "the messages before the crash")
      const lastSeen = messages(onA).at(-1)!.id

      yield* a.stop("SIGKILL")
      // Nothing was shut down: the socket just went away.
      yield* onA.awaitClose("10 seconds")
      for (const text of texts("during", 3)) yield* post(b.port, "bob", text)

      const again = yield* startChat(portA, redis.url)
      const back = yield* join(again.port, lastSeen)
      yield* hasMessages(back, 3, "what was said while A was down")
      yield* post(b.port, "cy", "after")
      yield* hasMessages(back, 4, "then a live message")
      yield* hasMessages(onB, 7, "everything on B")
      expect(messages(back).map((m) => m.text)).toEqual([...texts("during", 3), "after"])
      expect(messages(back)).toEqual(messages(onB).slice(3))
      expect(messages(onB).map((m) => m.id)).toEqual(yield* R.streamIds(admin, chatKey))
    }))

  it.scopedLive("a POST retried with its Idempotency-Key, on the same process or the other, is one message", () =>
    Effect.gen(function*() {
      const redis = yield* R.privateRedis
      const admin = yield* R.admin(redis.url)
      const [a, b] = yield* Effect.all([
        startChat(yield* R.freePort, redis.url),
        startChat(yield* R.freePort, redis.url)
      ], { concurrency: 2 })
      const onA = yield* join(a.port)
      const onB = yield* join(b.port)
      const key = "retry-4f1c2b"
      const first = yield* post(a.port, "ann", "once", key)
      // A client that got no answer (a timeout, a 504) sends the same request again, to whichever process.
      expect(yield* post(a.port, "ann", "once", key)).toBe(first)
      expect(yield* post(b.port, "ann", "once", key)).toBe(first)
      const last = yield* post(b.port, "bob", "after")
      for (const client of [onA, onB]) {
        yield* hasMessages(client, 2, "the message and the next one")
        expect(messages(client)).toEqual([{ id: first, text: "once" }, { id: last, text: "after" }])
      }
      expect(yield* R.streamIds(admin, chatKey)).toEqual([first, last])
    }))

  it.scopedLive("concurrent first POSTs to a freshly started process are all accepted", () =>
    Effect.gen(function*() {
      const redis = yield* R.privateRedis
      const chat = yield* startChat(yield* R.freePort, redis.url)
      // A process that gets several messages at once right after it starts (its Redis connection is opened on
      // the first publish) must accept them all; a 500 here is a lost message.
      const statuses = yield* Effect.all(
        texts("rush", 4).map((text) => Effect.either(post(chat.port, "ann", text))),
        { concurrency: "unbounded" }
      )
      expect(statuses.map((s) => s._tag === "Right" ? "201" : s.left.message)).toEqual(["201", "201", "201", "201"])
    }))
})
