/**
 * The load generator: runs one scenario against one server, in its own process, and prints one line
 * `RESULT <json>` (see `ScenarioResult`). `bench/run.ts` starts it pinned to its own core.
 *
 *   npx tsx bench/loadgen.ts '{"scenario":"fanout","port":8080,"clients":100,"events":2000,"size":128}'
 *
 * Clients are raw `net` sockets on 127.0.0.1 with a small byte-level parser (HTTP/1.1 head, chunked
 * transfer coding, SSE lines): per event it reads only the `data:` line's first two numbers, the sequence
 * number and the publish time. Every client checks that it gets every event exactly once and in order.
 * Every wait is bounded; a repetition that runs out of time is reported as not finished, never hangs.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { Agent, request } from "node:http"
import * as Http2 from "node:http2"
import { connect, type Socket } from "node:net"
import { setTimeout as sleep } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import { host, nowMicros, type Stats } from "./servers/protocol.js"

// -----------------------------------------------------------------------------
// configuration and results
// -----------------------------------------------------------------------------

export type Scenario = "fanout" | "latency" | "idle" | "churn" | "slow" | "stream-idle" | "shutdown" | "stalled-resume"

export interface LoadConfig {
  readonly scenario: Scenario
  readonly port: number
  /** Clients (fanout, latency, idle) or readers (slow). */
  readonly clients: number
  readonly events: number
  readonly size: number
  /** Events per second (latency); omitted: as fast as possible. */
  readonly rate?: number | undefined
  readonly reps: number
  /** Hard limit for one repetition, in ms. */
  readonly limitMs: number
  /** latency: the first `warmup` events are checked but left out of the percentiles. */
  readonly warmup?: number | undefined
  /** slow: add one client that never reads. */
  readonly stalled?: boolean | undefined
  /** churn: connect/disconnect cycles per repetition, and how many run at once. */
  readonly cycles?: number | undefined
  readonly concurrency?: number | undefined
  /** Extra query for `POST /broadcast` (e.g. `batch=100`). */
  readonly query?: string | undefined
  /** The path clients request (default `/events`); the stream servers serve a ticking stream on `/ticks`. */
  readonly path?: string | undefined
  /** stalled-resume: how many clients resume and never read. */
  readonly stalledClients?: number | undefined
  /** stalled-resume: the receive buffer (SO_RCVBUF) those clients ask for, in bytes. */
  readonly receiveBuffer?: number | undefined
  /** stalled-resume: how long the server's memory is watched once they are connected, in ms. */
  readonly holdMs?: number | undefined
  /**
   * Servers to spread the clients over, round robin (default: `port` alone). `port` still gets the control
   * requests: several processes sharing one hub (the Redis scenario), one of which is told to broadcast.
   */
  readonly clientPorts?: ReadonlyArray<number> | undefined
  /**
   * HTTP/2: the clients are streams over this many h2c sessions (`node:http2`), opened round robin, to `h2Port`
   * (a `*-h2` server's `H2_PORT`); `port` still gets the control requests over HTTP/1.1. Omitted: one HTTP/1.1
   * connection per client.
   */
  readonly h2Sessions?: number | undefined
  readonly h2Port?: number | undefined
}

export interface Check {
  /** Clients that got every event exactly once, in order. */
  readonly complete: number
  readonly clients: number
  readonly missing: number
  readonly duplicates: number
  readonly outOfOrder: number
  readonly malformed: number
  /** Clients whose connection the server closed before they got every event. */
  readonly closedEarly: number
  readonly firstError?: string | undefined
}

export interface Latency {
  readonly count: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
  readonly mean: number
}

export interface RepResult {
  readonly finished: boolean
  /** Why it did not finish (time limit, errors). */
  readonly reason?: string | undefined
  readonly elapsedMs: number
  readonly received: number
  readonly expected: number
  /** Events received by all (reading) clients ÷ time from sending `POST /broadcast` to the last receipt. */
  readonly deliveriesPerSec: number
  /** CPU of the server and of this generator over the same window, % of one core. */
  readonly serverCpu: number
  readonly generatorCpu: number
  /** How busy each core was (from /proc/stat): the server is pinned to core 0, this generator to core 1. */
  readonly cores: ReadonlyArray<number>
  readonly peakRss: number
  readonly check: Check
  readonly latency?: Latency | undefined
  /** churn */
  readonly connectsPerSec?: number | undefined
  /** slow */
  readonly clientsAfterReaders?: number | undefined
  /** slow: server memory after a full GC once the readers got every event, before the stalled client reads. */
  readonly retained?: MemorySnapshot | undefined
  readonly stalled?: { readonly dropped: boolean; readonly received: number; readonly check: Check } | undefined
}

export interface MemorySnapshot {
  readonly rss: number
  readonly heapUsed: number
  readonly external: number
  readonly arrayBuffers: number
  readonly clients: number
}

/** shutdown: from SIGTERM to every client seeing its stream end, and to the server's exit. */
export interface ShutdownResult {
  readonly clients: number
  /** Streams open when the signal was sent (the server's count). */
  readonly open: number
  /** From SIGTERM until the last client saw its stream end, in ms; `undefined` if some never did. */
  readonly lastEndMs: number | undefined
  /** Median time from SIGTERM until a client saw its stream end, in ms. */
  readonly medianEndMs: number | undefined
  /** From SIGTERM until the process exited, in ms; `undefined` if it had not within the limit. */
  readonly exitMs: number | undefined
  /** Streams that ended with the last chunk of their response (a clean end), and that were cut (socket closed). */
  readonly clean: number
  readonly cut: number
  readonly notEnded: number
}

/** stalled-resume: what clients that resume a large history and never read cost the server. */
export interface StalledResumeResult {
  readonly clients: number
  readonly receiveBuffer: number
  /** The history: events and bytes of data each. */
  readonly history: { readonly events: number; readonly size: number }
  readonly lastEventId: string
  /** Memory after GC with the history filled and no client. */
  readonly base: MemorySnapshot
  /** The highest of each figure while the clients were connected (sampled from /stats every 100 ms). */
  readonly peak: {
    readonly rss: number
    readonly heapUsed: number
    readonly external: number
    readonly arrayBuffers: number
  }
  /** RSS peak sampled from /proc every 25 ms. */
  readonly peakRss: number
  /** Memory after a full GC, 5 s after they connected, if they still were. */
  readonly heldAfterGc: MemorySnapshot | undefined
  /** Memory after GC once the clients read what they were sent and left. */
  readonly after: MemorySnapshot
  /** ms from all of them being counted to the server counting none; `undefined`: still connected at the end. */
  readonly droppedAfterMs: number | undefined
  /** How long the server was watched, in ms. */
  readonly watchedMs: number
  /** Per client, once it read at last: bytes and events it had been sent, whether the server had ended it. */
  readonly received: ReadonlyArray<
    { readonly bytes: number; readonly events: number; readonly eof: boolean; readonly reset: boolean }
  >
}

export interface ScenarioResult {
  readonly scenario: Scenario
  readonly config: LoadConfig
  readonly reps: ReadonlyArray<RepResult>
  readonly clock: { readonly offsetUs: number; readonly rttUs: number; readonly applied: boolean }
  /** idle and churn: memory after GC before and after; idle: per connection. */
  readonly memory?: {
    readonly before: MemorySnapshot
    readonly after: MemorySnapshot
    readonly drained?: MemorySnapshot | undefined
    readonly rssPerConnection?: number | undefined
    readonly heapPerConnection?: number | undefined
    readonly connectsPerSec?: number | undefined
  } | undefined
  readonly peakRss: number
  readonly shutdown?: ShutdownResult | undefined
  readonly stalledResume?: StalledResumeResult | undefined
  readonly error?: string | undefined
}

// -----------------------------------------------------------------------------
// control requests
// -----------------------------------------------------------------------------

const agent = new Agent({ keepAlive: true, maxSockets: 1 })

interface Reply {
  readonly status: number
  readonly body: string
}

const control = (port: number, method: string, path: string, timeoutMs = 15_000): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const req = request({ host, port, method, path, agent, timeout: timeoutMs }, (res) => {
      const parts: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => parts.push(chunk))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString("utf8") }))
      res.on("error", reject)
    })
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)))
    req.on("error", reject)
    req.end()
  })

const getStats = async (port: number): Promise<Stats> => {
  const reply = await control(port, "GET", "/stats")
  if (reply.status !== 200) throw new Error(`GET /stats: ${reply.status} ${reply.body}`)
  return JSON.parse(reply.body) as Stats
}

const gc = async (port: number): Promise<void> => {
  const reply = await control(port, "POST", "/gc")
  if (reply.status !== 200) throw new Error(`POST /gc: ${reply.status} (start the server with --expose-gc)`)
}

const snapshot = (stats: Stats): MemorySnapshot => ({
  rss: stats.memory.rss,
  heapUsed: stats.memory.heapUsed,
  external: stats.memory.external,
  arrayBuffers: stats.memory.arrayBuffers,
  clients: stats.clients
})

/** Polls `/stats` until `test` holds; returns the last stats and whether it held. */
const waitForClients = async (
  port: number,
  test: (clients: number) => boolean,
  limitMs: number
): Promise<{ readonly held: boolean; readonly stats: Stats }> => {
  const deadline = performance.now() + limitMs
  for (;;) {
    const stats = await getStats(port)
    if (test(stats.clients)) return { held: true, stats }
    if (performance.now() > deadline) return { held: false, stats }
    await sleep(50)
  }
}

/** The server's clock against ours, over 20 round trips: the offset of the fastest one. */
const calibrateClock = async (port: number) => {
  let best = { offsetUs: 0, rttUs: Infinity }
  for (let i = 0; i < 20; i++) {
    const sent = nowMicros()
    const reply = await control(port, "GET", "/time")
    const received = nowMicros()
    const server = (JSON.parse(reply.body) as { now: number }).now
    if (received - sent < best.rttUs) best = { offsetUs: server - (sent + received) / 2, rttUs: received - sent }
  }
  // Both processes read the same system clock; correct only for an offset larger than the measurement error.
  return { ...best, applied: Math.abs(best.offsetUs) > best.rttUs / 2 }
}

/** Busy jiffies and all jiffies of each core, from /proc/stat. */
const coreTimes = (): Array<{ busy: number; all: number }> => {
  try {
    return readFileSync("/proc/stat", "utf8").split("\n").filter((line) => /^cpu\d+ /.test(line)).map((line) => {
      const f = line.trim().split(/\s+/).slice(1).map(Number)
      // user nice system idle iowait irq softirq steal
      const all = f.slice(0, 8).reduce((a, b) => a + b, 0)
      return { busy: all - f[3] - f[4], all }
    })
  } catch {
    return []
  }
}

/** How busy each core was between two `coreTimes` readings, in % (user, system and interrupts). */
const coreBusy = (before: ReturnType<typeof coreTimes>, after: ReturnType<typeof coreTimes>): Array<number> =>
  after.map((a, i) => {
    const b = before[i]
    return b === undefined || a.all === b.all ? 0 : ((a.busy - b.busy) / (a.all - b.all)) * 100
  })

/** Peak resident memory of the server, sampled from /proc (no load on the server). */
class RssSampler {
  peak = 0
  private timer: NodeJS.Timeout | undefined
  constructor(readonly pid: number) {}
  private read(): void {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, "utf8")
      const match = /VmRSS:\s+(\d+) kB/.exec(status)
      if (match !== null) this.peak = Math.max(this.peak, Number(match[1]) * 1024)
    } catch {
      // the process is gone
    }
  }
  start(): void {
    this.peak = 0
    this.read()
    this.timer = setInterval(() => this.read(), 25)
  }
  stop(): number {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.read()
    return this.peak
  }
}

// -----------------------------------------------------------------------------
// the SSE client
// -----------------------------------------------------------------------------

const HEAD = 0
const SIZE = 1
const SIZE_EXT = 2
const DATA = 3
const DATA_END = 4
const RAW = 5
const DONE = 6

const CARRY = 64

/** What clients report to; one per repetition. */
class Run {
  /** The time of the current socket read, in µs: every event in one read arrived together. */
  now = 0
  received = 0
  settled = 0
  target: number
  latencies: Float64Array | undefined
  latencyCount = 0
  lastReceipt = 0
  onSettled: (() => void) | undefined
  constructor(
    readonly events: number,
    readonly readers: number,
    readonly warmup: number,
    readonly offsetUs: number,
    latency: boolean
  ) {
    this.target = readers
    this.latencies = latency ? new Float64Array(readers * Math.max(0, events - warmup)) : undefined
  }
  settle(): void {
    this.settled++
    if (this.settled >= this.target) this.onSettled?.()
  }
}

interface ClientOptions {
  readonly path?: string | undefined
  /** Keep the first event id (for a later resume). */
  readonly recordId?: boolean | undefined
  /** Read the framing only, not the events (streams whose data is not the bench's `<seq> <time>`). */
  readonly framingOnly?: boolean | undefined
  /** An HTTP/2 stream on this session instead of a connection of its own. */
  readonly session?: Http2.ClientHttp2Session | undefined
}

class SseClient {
  /** The client's connection (HTTP/1.1), or, over HTTP/2, its stream (`stream`) and no socket of its own. */
  readonly socket: Socket | undefined
  readonly stream: Http2.ClientHttp2Stream | undefined
  private state = HEAD
  private head = ""
  private remaining = 0
  private readonly carry = Buffer.alloc(CARRY)
  private carryLength = 0
  private lineLength = 0
  private hasData = false
  private dataSeq = 0
  private dataTime = 0
  status = 0
  expected = 0
  received = 0
  duplicates = 0
  outOfOrder = 0
  missingSkipped = 0
  malformed = 0
  firstError: string | undefined
  closed = false
  settled = false
  reading: boolean
  run: Run | undefined
  /** The first event id seen, with `recordId`. */
  firstId: string | undefined
  /** When the stream ended (µs): its last chunk arrived, or the socket closed first. */
  endedAt: number | undefined
  /** Whether it ended with the last chunk of the response rather than a closed socket. */
  cleanEnd = false
  onEnd: (() => void) | undefined
  private readonly recordId: boolean
  private readonly framingOnly: boolean
  private onHead: ((error?: Error) => void) | undefined

  constructor(port: number, reading: boolean, onHead: (error?: Error) => void, options: ClientOptions = {}) {
    this.reading = reading
    this.onHead = onHead
    this.recordId = options.recordId === true
    this.framingOnly = options.framingOnly === true
    const path = options.path ?? "/events"
    const onClose = () => {
      this.closed = true
      this.ended(false)
      this.fail(new Error("closed before the response head"))
      this.settle()
    }
    if (options.session !== undefined) {
      // HTTP/2: the head is a HEADERS frame, the body the stream's DATA, unframed.
      this.socket = undefined
      const stream = options.session.request({ ":method": "GET", ":path": path, accept: "text/event-stream" })
      this.stream = stream
      stream.on("response", (headers) => {
        this.status = Number(headers[":status"])
        this.state = RAW
        const onHead = this.onHead
        this.onHead = undefined
        if (this.status !== 200) {
          onHead?.(new Error(`status ${this.status}`))
          this.close()
          return
        }
        onHead?.()
      })
      stream.on("data", (chunk: Buffer) => this.feed(chunk))
      stream.on("end", () => this.ended(true))
      stream.on("error", (error) => this.fail(error))
      stream.on("close", onClose)
      return
    }
    this.stream = undefined
    const socket = connect({ host, port, noDelay: true })
    this.socket = socket
    socket.on(
      "connect",
      () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\n\r\n`)
    )
    socket.on("data", (chunk: Buffer) => this.feed(chunk))
    socket.on("error", (error) => this.fail(error))
    socket.on("close", onClose)
  }

  private ended(clean: boolean): void {
    if (this.endedAt !== undefined) return
    this.endedAt = nowMicros()
    this.cleanEnd = clean
    this.onEnd?.()
  }

  private fail(error: Error): void {
    const onHead = this.onHead
    this.onHead = undefined
    onHead?.(error)
  }

  private error(message: string): void {
    if (this.firstError === undefined) this.firstError = message
  }

  settle(): void {
    if (this.settled || this.run === undefined || !this.reading) return
    this.settled = true
    this.run.settle()
  }

  close(): void {
    if (this.stream !== undefined) {
      if (!this.stream.closed) this.stream.close(Http2.constants.NGHTTP2_CANCEL)
    } else {
      this.socket?.destroy()
    }
  }

  feed(buf: Buffer): void {
    const run = this.run
    if (run !== undefined) run.now = nowMicros()
    let pos = 0
    const end = buf.length
    while (pos < end) {
      switch (this.state) {
        case HEAD: {
          const text = this.head + buf.toString("latin1", pos, end)
          const headEnd = text.indexOf("\r\n\r\n")
          if (headEnd < 0) {
            this.head = text
            if (text.length > 16384) this.close()
            return
          }
          const consumed = headEnd + 4 - this.head.length
          this.head = ""
          const lines = text.slice(0, headEnd).split("\r\n")
          this.status = Number(lines[0].split(" ")[1])
          const chunked = lines.some((line) => /^transfer-encoding:\s*chunked/i.test(line))
          this.state = chunked ? SIZE : RAW
          pos += consumed
          const onHead = this.onHead
          this.onHead = undefined
          if (this.status !== 200) {
            onHead?.(new Error(`status ${this.status}`))
            this.close()
            return
          }
          onHead?.()
          break
        }
        case SIZE: {
          const c = buf[pos++]
          if (c === 10) {
            this.state = this.remaining === 0 ? DONE : DATA
            if (this.state === DONE) this.ended(true)
          } else if (c === 59) {
            this.state = SIZE_EXT
          } else if (c !== 13) {
            const digit = c <= 57 ? c - 48 : (c | 32) - 87
            if (digit < 0 || digit > 15) {
              this.error("bad chunk size")
              this.close()
              return
            }
            this.remaining = this.remaining * 16 + digit
          }
          break
        }
        case SIZE_EXT: {
          if (buf[pos++] === 10) {
            this.state = this.remaining === 0 ? DONE : DATA
            if (this.state === DONE) this.ended(true)
          }
          break
        }
        case DATA: {
          const n = Math.min(this.remaining, end - pos)
          this.sse(buf, pos, pos + n)
          pos += n
          this.remaining -= n
          if (this.remaining === 0) this.state = DATA_END
          break
        }
        case DATA_END: {
          if (buf[pos++] === 10) this.state = SIZE
          break
        }
        case RAW: {
          this.sse(buf, pos, end)
          pos = end
          break
        }
        default:
          return
      }
    }
  }

  private sse(buf: Buffer, start: number, end: number): void {
    if (this.framingOnly) return
    let pos = start
    while (pos < end) {
      const nl = buf.indexOf(10, pos)
      if (nl < 0 || nl >= end) {
        // A partial line: keep its first bytes (all a `data:` line needs) and its length.
        const n = Math.min(end - pos, CARRY - this.carryLength)
        if (n > 0) buf.copy(this.carry, this.carryLength, pos, pos + n)
        this.carryLength += n
        this.lineLength += end - pos
        return
      }
      if (this.lineLength > 0) {
        const n = Math.min(nl - pos, CARRY - this.carryLength)
        if (n > 0) buf.copy(this.carry, this.carryLength, pos, pos + n)
        this.carryLength += n
        this.line(this.carry, 0, this.carryLength, this.lineLength + (nl - pos))
        this.carryLength = 0
        this.lineLength = 0
      } else {
        this.line(buf, pos, nl, nl - pos)
      }
      pos = nl + 1
    }
  }

  /** One line: `b[s, e)` are its first bytes, `length` its full length without the LF. */
  private line(b: Buffer, s: number, e: number, length: number): void {
    if (length === 0 || (length === 1 && b[s] === 13)) {
      if (this.hasData) {
        this.hasData = false
        this.event(this.dataSeq, this.dataTime)
      }
      return
    }
    // "id:", kept once for a later resume
    if (
      this.recordId && this.firstId === undefined && e - s > 3 && b[s] === 105 && b[s + 1] === 100 && b[s + 2] === 58
    ) {
      this.firstId = b.toString("latin1", b[s + 3] === 32 ? s + 4 : s + 3, e).replace(/\r$/, "")
      return
    }
    // "data:"
    if (e - s < 5 || b[s] !== 100 || b[s + 1] !== 97 || b[s + 2] !== 116 || b[s + 3] !== 97 || b[s + 4] !== 58) return
    if (this.hasData) {
      this.malformed++
      this.error("an event with several data lines")
    }
    let p = s + 5
    if (b[p] === 32) p++
    let seq = 0
    let digits = 0
    while (p < e && b[p] >= 48 && b[p] <= 57) {
      seq = seq * 10 + b[p++] - 48
      digits++
    }
    let time = 0
    const ok = digits > 0 && b[p++] === 32
    digits = 0
    while (p < e && b[p] >= 48 && b[p] <= 57) {
      time = time * 10 + b[p++] - 48
      digits++
    }
    if (!ok || digits === 0) {
      this.malformed++
      this.error(`malformed data line: ${JSON.stringify(b.toString("latin1", s, Math.min(e, s + 40)))}`)
      return
    }
    this.hasData = true
    this.dataSeq = seq
    this.dataTime = time
  }

  private event(seq: number, time: number): void {
    const run = this.run
    if (run === undefined) {
      this.error(`event ${seq} before the broadcast`)
      return
    }
    if (seq === this.expected) {
      this.expected++
    } else if (seq < this.expected) {
      this.duplicates++
      this.error(`event ${seq} again after ${this.expected - 1}`)
    } else {
      this.outOfOrder++
      this.missingSkipped += seq - this.expected
      this.error(`event ${seq} after ${this.expected - 1}`)
      this.expected = seq + 1
    }
    this.received++
    if (!this.reading) return
    run.received++
    run.lastReceipt = run.now
    if (run.latencies !== undefined && seq >= run.warmup && run.latencyCount < run.latencies.length) {
      run.latencies[run.latencyCount++] = run.now - time - run.offsetUs
    }
    if (this.expected >= run.events) this.settle()
  }
}

const openClient = (port: number, reading: boolean, limitMs: number, options?: ClientOptions): Promise<SseClient> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.close()
      reject(new Error(`no response head in ${limitMs} ms`))
    }, limitMs)
    const client: SseClient = new SseClient(port, reading, (error) => {
      clearTimeout(timer)
      if (error === undefined) resolve(client)
      else reject(error)
    }, options)
  })

/**
 * The receive windows of the HTTP/2 clients: 6 MiB per stream and 15 MiB per session, as Chromium's, so that
 * flow control (65 535 bytes by default) does not hold the fan-out back.
 */
const h2StreamWindow = 6 * 1024 * 1024
const h2SessionWindow = 15 * 1024 * 1024

/** Opens `config.h2Sessions` h2c sessions to `config.h2Port`; fails if one cannot connect in time. */
const openSessions = async (config: LoadConfig, limitMs: number): Promise<Array<Http2.ClientHttp2Session>> => {
  if (config.h2Port === undefined) throw new Error("h2Sessions needs h2Port (a *-h2 server's H2_PORT)")
  const port = config.h2Port
  const sessions: Array<Http2.ClientHttp2Session> = []
  try {
    for (let i = 0; i < (config.h2Sessions ?? 1); i++) {
      sessions.push(
        await new Promise<Http2.ClientHttp2Session>((resolve, reject) => {
          const session = Http2.connect(`http://${host}:${port}`, {
            settings: { enablePush: false, initialWindowSize: h2StreamWindow }
          })
          const timer = setTimeout(() => {
            session.destroy()
            reject(new Error(`no HTTP/2 session in ${limitMs} ms`))
          }, limitMs)
          session.once("error", (error) => {
            clearTimeout(timer)
            reject(error)
          })
          session.once("connect", () => {
            clearTimeout(timer)
            session.setLocalWindowSize(h2SessionWindow)
            // A session error later shows as its streams closing early.
            session.on("error", () => {})
            resolve(session)
          })
        })
      )
    }
  } catch (error) {
    for (const session of sessions) session.destroy()
    throw error
  }
  return sessions
}

/**
 * Opens `count` clients, `concurrency` at a time; fails if one cannot connect or time runs out. With `sessions`,
 * the clients are HTTP/2 streams spread over them round robin.
 */
const openClients = async (
  port: number,
  count: number,
  limitMs: number,
  concurrency = 200,
  options?: ClientOptions & { readonly sessions?: ReadonlyArray<Http2.ClientHttp2Session> | undefined }
): Promise<Array<SseClient>> => {
  const clients: Array<SseClient> = []
  const deadline = performance.now() + limitMs
  let next = 0
  const sessions = options?.sessions ?? []
  const worker = async () => {
    while (next < count) {
      const i = next++
      const left = deadline - performance.now()
      if (left <= 0) throw new Error(`could not open ${count} connections in ${limitMs} ms`)
      const session = sessions.length === 0 ? undefined : sessions[i % sessions.length]
      clients.push(await openClient(port, true, left, { ...options, session }))
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  } catch (error) {
    for (const client of clients) client.close()
    throw error
  }
  return clients
}

const checkOf = (clients: ReadonlyArray<SseClient>, events: number): Check => {
  let complete = 0
  let missing = 0
  let duplicates = 0
  let outOfOrder = 0
  let malformed = 0
  let closedEarly = 0
  let firstError: string | undefined
  for (const c of clients) {
    const lacking = Math.max(0, events - c.expected) + c.missingSkipped
    missing += lacking
    duplicates += c.duplicates
    outOfOrder += c.outOfOrder
    malformed += c.malformed
    if (lacking === 0 && c.duplicates === 0 && c.outOfOrder === 0 && c.malformed === 0) complete++
    if (c.closed && c.expected < events) closedEarly++
    firstError ??= c.firstError
  }
  return { complete, clients: clients.length, missing, duplicates, outOfOrder, malformed, closedEarly, firstError }
}

const percentile = (sorted: Float64Array, p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))]

const latencyOf = (run: Run): Latency | undefined => {
  if (run.latencies === undefined) return undefined
  const sorted = run.latencies.slice(0, run.latencyCount).sort()
  let sum = 0
  for (let i = 0; i < sorted.length; i++) sum += sorted[i]
  // µs → ms
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5) / 1000,
    p90: percentile(sorted, 0.9) / 1000,
    p99: percentile(sorted, 0.99) / 1000,
    max: (sorted.length === 0 ? 0 : sorted[sorted.length - 1]) / 1000,
    mean: sorted.length === 0 ? 0 : sum / sorted.length / 1000
  }
}

const closeAll = async (config: LoadConfig, clients: ReadonlyArray<SseClient>) => {
  for (const client of clients) client.close()
  const { held } = await waitForClients(config.port, (n) => n === 0, 10_000)
  if (!held) process.stderr.write("warning: the server still counts clients 10 s after they left\n")
}

const cpuPercent = (cpuMicros: number, wallMicros: number) => (wallMicros <= 0 ? 0 : (cpuMicros / wallMicros) * 100)

// -----------------------------------------------------------------------------
// scenarios
// -----------------------------------------------------------------------------

/**
 * One broadcast to freshly connected clients: fanout, latency and slow. Deliveries per second count the
 * reading clients only.
 */
const broadcastRep = async (
  config: LoadConfig,
  clock: { offsetUs: number; applied: boolean },
  sampler: RssSampler | undefined
): Promise<RepResult> => {
  const warmup = config.warmup ?? 0
  const ports = config.clientPorts ?? [config.port]
  const share = (i: number) => Math.floor(config.clients / ports.length) + (i < config.clients % ports.length ? 1 : 0)
  const h2 = config.h2Sessions === undefined ? undefined : await openSessions(config, 20_000)
  const clients = h2 === undefined
    ? (await Promise.all(ports.map((port, i) => openClients(port, share(i), 60_000)))).flat()
    : await openClients(config.port, config.clients, 60_000, 200, { sessions: h2 }).catch((error) => {
      for (const session of h2) session.destroy()
      throw error
    })
  let stalled: SseClient | undefined
  const closeEverything = async () => {
    await closeAll(config, stalled === undefined ? clients : [...clients, stalled])
    for (const session of h2 ?? []) session.destroy()
  }
  try {
    if (config.stalled === true) {
      stalled = await openClient(config.port, false, 10_000)
      stalled.socket!.pause()
    }
    for (let i = 0; i < ports.length; i++) {
      const all = share(i) + (stalled !== undefined && ports[i] === config.port ? 1 : 0)
      const ready = await waitForClients(ports[i], (n) => n >= all, 20_000)
      if (!ready.held) throw new Error(`the server on ${ports[i]} counts ${ready.stats.clients} of ${all} clients`)
    }
    const run = new Run(
      config.events,
      config.clients,
      warmup,
      clock.applied ? clock.offsetUs : 0,
      config.scenario === "latency"
    )
    for (const c of clients) {
      c.run = run
      if (c.closed) c.settle()
    }
    if (stalled !== undefined) stalled.run = run
    const settled = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), config.limitMs)
      run.onSettled = () => {
        clearTimeout(timer)
        resolve(true)
      }
      if (run.settled >= run.target) run.onSettled()
    })
    sampler?.start()
    const before = await getStats(config.port)
    const ownBefore = process.cpuUsage()
    const coresBefore = coreTimes()
    const wallBefore = nowMicros()
    const query = `count=${config.events}&size=${config.size}` +
      (config.rate === undefined ? "" : `&rate=${config.rate}`) +
      (config.query === undefined ? "" : `&${config.query}`)
    const t0 = nowMicros()
    const reply = await control(config.port, "POST", `/broadcast?${query}`)
    if (reply.status !== 202) throw new Error(`POST /broadcast: ${reply.status} ${reply.body}`)
    const finished = await settled
    const after = await getStats(config.port)
    const cores = coreBusy(coresBefore, coreTimes())
    const wall = nowMicros() - wallBefore
    const own = process.cpuUsage(ownBefore)
    const peakRss = sampler?.stop() ?? 0
    const elapsed = (finished && run.lastReceipt > 0 ? run.lastReceipt : nowMicros()) - t0
    const check = checkOf(clients, config.events)
    let retained: MemorySnapshot | undefined
    if (config.scenario === "slow") {
      // What the server still holds once the readers are done (the stalled client has not been read yet).
      await gc(config.port)
      retained = snapshot(await getStats(config.port))
    }
    let stalledResult: RepResult["stalled"]
    if (stalled !== undefined) {
      // Read what the stalled client was sent: a dropped one then sees the end of its stream.
      const s = stalled
      const socket = s.socket!
      const dropped = await new Promise<boolean>((resolve) => {
        let quiet: NodeJS.Timeout | undefined
        const rearm = () => {
          if (quiet !== undefined) clearTimeout(quiet)
          quiet = setTimeout(() => resolve(false), 2000)
        }
        const limit = setTimeout(() => resolve(false), 30_000)
        socket.on("data", rearm)
        const ended = () => {
          clearTimeout(limit)
          if (quiet !== undefined) clearTimeout(quiet)
          resolve(true)
        }
        socket.once("end", ended)
        socket.once("close", ended)
        if (s.closed) resolve(true)
        rearm()
        socket.resume()
      })
      stalledResult = { dropped, received: s.received, check: checkOf([s], config.events) }
    }
    const received = run.received
    const reason = !finished
      ? `did not finish in ${(config.limitMs / 1000).toFixed(0)} s (${received} of ${
        config.clients * config.events
      } deliveries)`
      : check.complete < config.clients
      ? `${config.clients - check.complete} of ${config.clients} clients did not get every event exactly once in order`
      : undefined
    return {
      finished,
      reason,
      elapsedMs: elapsed / 1000,
      received,
      expected: config.clients * config.events,
      deliveriesPerSec: elapsed > 0 ? received / (elapsed / 1e6) : 0,
      serverCpu: cpuPercent(after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system, wall),
      generatorCpu: cpuPercent(own.user + own.system, wall),
      cores,
      peakRss,
      check,
      latency: latencyOf(run),
      clientsAfterReaders: after.clients,
      retained,
      stalled: stalledResult
    }
  } finally {
    await closeEverything()
  }
}

/** Connect, get the response head, disconnect: `cycles` times, `concurrency` at once. */
const churnRep = async (config: LoadConfig): Promise<RepResult> => {
  const cycles = config.cycles ?? 2000
  const concurrency = config.concurrency ?? 50
  const deadline = performance.now() + config.limitMs
  const before = await getStats(config.port)
  const ownBefore = process.cpuUsage()
  const coresBefore = coreTimes()
  const t0 = nowMicros()
  let started = 0
  let done = 0
  let failures = 0
  let firstError: string | undefined
  const worker = async () => {
    while (started < cycles && performance.now() < deadline) {
      started++
      try {
        const client = await openClient(config.port, true, Math.max(1, deadline - performance.now()), {
          path: config.path,
          framingOnly: true
        })
        client.close()
        done++
      } catch (error) {
        failures++
        firstError ??= String(error)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const elapsed = nowMicros() - t0
  const own = process.cpuUsage(ownBefore)
  const after = await getStats(config.port)
  const cores = coreBusy(coresBefore, coreTimes())
  const finished = done === cycles
  return {
    finished,
    reason: finished
      ? undefined
      : `${done} of ${cycles} cycles in ${(config.limitMs / 1000).toFixed(0)} s, ${failures} failed${
        firstError === undefined ? "" : ` (${firstError})`
      }`,
    elapsedMs: elapsed / 1000,
    received: done,
    expected: cycles,
    deliveriesPerSec: 0,
    connectsPerSec: done / (elapsed / 1e6),
    serverCpu: cpuPercent(after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system, elapsed),
    generatorCpu: cpuPercent(own.user + own.system, elapsed),
    cores,
    peakRss: 0,
    check: {
      complete: done,
      clients: cycles,
      missing: 0,
      duplicates: 0,
      outOfOrder: 0,
      malformed: 0,
      closedEarly: 0,
      firstError
    }
  }
}

/** Resolves with the time (µs) the process exited (gone, or a zombie its parent has not reaped), polled every 2 ms. */
const exitOf = (pid: number, limitMs: number): Promise<number | undefined> =>
  new Promise((resolve) => {
    const deadline = performance.now() + limitMs
    const poll = () => {
      let gone = false
      try {
        // state is the field after the parenthesised command name
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
        gone = stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")
      } catch {
        gone = true
      }
      if (gone) resolve(nowMicros())
      else if (performance.now() > deadline) resolve(undefined)
      else setTimeout(poll, 2)
    }
    poll()
  })

/**
 * Opens `clients` streams, then sends the server SIGTERM and measures how long until every client saw its stream
 * end (its last chunk, or its socket closed) and the process exited.
 */
const shutdownScenario = async (config: LoadConfig, pid: number): Promise<ShutdownResult> => {
  const clients = await openClients(config.port, config.clients, config.limitMs, 200, {
    path: config.path,
    framingOnly: true
  })
  const ready = await waitForClients(config.port, (n) => n >= config.clients, 20_000)
  if (!ready.held) {
    for (const client of clients) client.close()
    throw new Error(`the server counts ${ready.stats.clients} of ${config.clients} streams`)
  }
  // Let ticking streams tick a few times before the signal.
  await sleep(2000)
  const open = (await getStats(config.port)).clients
  agent.destroy()
  let pending = clients.filter((c) => c.endedAt === undefined).length
  const allEnded = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, config.limitMs)
    if (pending === 0) resolve()
    for (const client of clients) {
      client.onEnd = () => {
        if (--pending === 0) {
          clearTimeout(timer)
          resolve()
        }
      }
    }
  })
  const t0 = nowMicros()
  process.kill(pid, "SIGTERM")
  const [exitAt] = await Promise.all([exitOf(pid, config.limitMs), allEnded])
  const ends = clients.filter((c) => c.endedAt !== undefined).map((c) => (c.endedAt! - t0) / 1000)
  const notEnded = clients.length - ends.length
  for (const client of clients) client.close()
  const sorted = ends.sort((a, b) => a - b)
  return {
    clients: clients.length,
    open,
    lastEndMs: notEnded === 0 && sorted.length > 0 ? sorted[sorted.length - 1] : undefined,
    medianEndMs: sorted.length === 0 ? undefined : sorted[Math.floor(sorted.length / 2)],
    exitMs: exitAt === undefined ? undefined : (exitAt - t0) / 1000,
    clean: clients.filter((c) => c.endedAt !== undefined && c.cleanEnd).length,
    cut: clients.filter((c) => c.endedAt !== undefined && !c.cleanEnd).length,
    notEnded
  }
}

const stalledScript = fileURLToPath(new URL("./stalled-clients.py", import.meta.url))

/** The Python clients of `stalled-clients.py`: a line of JSON at a time from its stdout. */
class StalledClients {
  private readonly child: ChildProcess
  private buffer = ""
  private readonly lines: Array<string> = []
  private waiting: ((line: string | undefined) => void) | undefined
  private exited = false

  constructor(config: Record<string, unknown>) {
    this.child = spawn("python3", [stalledScript, JSON.stringify(config)], { stdio: ["pipe", "pipe", "inherit"] })
    this.child.stdout!.on("data", (chunk: Buffer) => {
      this.buffer += chunk.toString("utf8")
      let nl: number
      while ((nl = this.buffer.indexOf("\n")) >= 0) {
        this.lines.push(this.buffer.slice(0, nl))
        this.buffer = this.buffer.slice(nl + 1)
      }
      this.wake()
    })
    this.child.once("exit", () => {
      this.exited = true
      this.wake()
    })
    this.child.once("error", () => {
      this.exited = true
      this.wake()
    })
  }

  private wake(): void {
    const waiting = this.waiting
    if (waiting === undefined) return
    if (this.lines.length > 0) {
      this.waiting = undefined
      waiting(this.lines.shift())
    } else if (this.exited) {
      this.waiting = undefined
      waiting(undefined)
    }
  }

  /** The next line of output, or `undefined` if it exited or time ran out. */
  next(limitMs: number): Promise<string | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = undefined
        resolve(undefined)
      }, limitMs)
      this.waiting = (line) => {
        clearTimeout(timer)
        resolve(line)
      }
      this.wake()
    })
  }

  read(): void {
    this.child.stdin!.write("read\n")
  }

  kill(): void {
    if (!this.exited) this.child.kill("SIGKILL")
  }
}

/**
 * Fills the history with `events` events of `size` bytes (read by one client, which keeps the first id), then
 * connects `stalledClients` clients that resume from that id and never read. Watches the server's memory and
 * client count for `holdMs`; then the clients read what they were sent, to tell whether the server had ended
 * their streams.
 */
const stalledResumeScenario = async (config: LoadConfig, sampler: RssSampler): Promise<StalledResumeResult> => {
  const path = config.path ?? "/events"
  const reader = await openClient(config.port, true, 10_000, { path, recordId: true })
  try {
    const counted = await waitForClients(config.port, (n) => n >= 1, 10_000)
    if (!counted.held) throw new Error("the server does not count the reader")
    const run = new Run(config.events, 1, 0, 0, false)
    reader.run = run
    const settled = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), config.limitMs)
      run.onSettled = () => {
        clearTimeout(timer)
        resolve(true)
      }
    })
    const reply = await control(config.port, "POST", `/broadcast?count=${config.events}&size=${config.size}`)
    if (reply.status !== 202) throw new Error(`POST /broadcast: ${reply.status} ${reply.body}`)
    if (!(await settled)) throw new Error(`the reader got ${reader.received} of ${config.events} events`)
  } finally {
    reader.close()
  }
  const lastEventId = reader.firstId
  if (lastEventId === undefined) throw new Error("the reader saw no event id")
  const drained = await waitForClients(config.port, (n) => n === 0, 10_000)
  if (!drained.held) throw new Error("the reader is still counted")
  await gc(config.port)
  const base = snapshot(await getStats(config.port))
  const clients = config.stalledClients ?? 30
  const holdMs = config.holdMs ?? 30_000
  const receiveBuffer = config.receiveBuffer ?? 4096
  const stalled = new StalledClients({
    port: config.port,
    path,
    clients,
    lastEventId,
    rcvbuf: receiveBuffer,
    limitS: (holdMs + 60_000) / 1000,
    idleS: 3
  })
  try {
    const ready = await stalled.next(20_000)
    if (ready === undefined) throw new Error("the stalled clients did not connect (is python3 there?)")
    const granted = (JSON.parse(ready) as { rcvbuf: number }).rcvbuf
    sampler.start()
    const peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 }
    const t0 = performance.now()
    let connectedAt: number | undefined
    let droppedAt: number | undefined
    let heldAfterGc: MemorySnapshot | undefined
    let collected = false
    for (;;) {
      const stats = await getStats(config.port)
      const now = performance.now()
      peak.rss = Math.max(peak.rss, stats.memory.rss)
      peak.heapUsed = Math.max(peak.heapUsed, stats.memory.heapUsed)
      peak.external = Math.max(peak.external, stats.memory.external)
      peak.arrayBuffers = Math.max(peak.arrayBuffers, stats.memory.arrayBuffers)
      if (connectedAt === undefined && stats.clients >= clients) connectedAt = now
      if (connectedAt !== undefined && droppedAt === undefined && stats.clients === 0) droppedAt = now
      if (connectedAt !== undefined && !collected && now - connectedAt >= 5000) {
        collected = true
        if (stats.clients >= clients) {
          await gc(config.port)
          heldAfterGc = snapshot(await getStats(config.port))
        }
      }
      // Watched for `holdMs` from the connect, or 2 s past the drop.
      if (now - t0 >= holdMs || (droppedAt !== undefined && now - droppedAt >= 2000)) break
      await sleep(100)
    }
    const peakRss = sampler.stop()
    const watchedMs = performance.now() - t0
    stalled.read()
    const report = await stalled.next(holdMs + 60_000)
    if (report === undefined) throw new Error("the stalled clients did not report")
    const received = (JSON.parse(report) as { clients: StalledResumeResult["received"] }).clients
    await waitForClients(config.port, (n) => n === 0, 10_000)
    await gc(config.port)
    const after = snapshot(await getStats(config.port))
    return {
      clients,
      receiveBuffer: granted,
      history: { events: config.events, size: config.size },
      lastEventId,
      base,
      peak,
      peakRss,
      heldAfterGc,
      after,
      droppedAfterMs: connectedAt !== undefined && droppedAt !== undefined ? droppedAt - connectedAt : undefined,
      watchedMs,
      received
    }
  } finally {
    stalled.kill()
  }
}

const main = async (config: LoadConfig): Promise<ScenarioResult> => {
  const first = await getStats(config.port)
  const sampler = new RssSampler(first.pid)
  const clock = await calibrateClock(config.port)
  const reps: Array<RepResult> = []
  let memory: ScenarioResult["memory"]
  let shutdown: ShutdownResult | undefined
  let stalledResume: StalledResumeResult | undefined
  let error: string | undefined
  try {
    switch (config.scenario) {
      case "fanout":
      case "latency":
      case "slow": {
        for (let i = 0; i < config.reps; i++) {
          const rep = await broadcastRep(config, clock, sampler)
          reps.push(rep)
          process.stderr.write(
            `  rep ${i + 1}: ${rep.finished ? "" : "NOT FINISHED "}${rep.deliveriesPerSec.toFixed(0)} deliveries/s, ${
              rep.elapsedMs.toFixed(0)
            } ms, server ${rep.serverCpu.toFixed(0)}% / generator ${rep.generatorCpu.toFixed(0)}% CPU, cores ${
              rep.cores.map((c) => c.toFixed(0) + "%").join("/")
            }${rep.reason === undefined ? "" : ` — ${rep.reason}`}\n`
          )
          if (!rep.finished) break
        }
        break
      }
      case "idle":
      case "stream-idle": {
        await gc(config.port)
        const before = snapshot(await getStats(config.port))
        const t0 = nowMicros()
        const clients = await openClients(config.port, config.clients, config.limitMs, 200, {
          path: config.path,
          framingOnly: true
        })
        const connectsPerSec = config.clients / ((nowMicros() - t0) / 1e6)
        try {
          const ready = await waitForClients(config.port, (n) => n >= config.clients, 20_000)
          if (!ready.held) throw new Error(`the server counts ${ready.stats.clients} of ${config.clients} clients`)
          await sleep(1000)
          await gc(config.port)
          const after = snapshot(await getStats(config.port))
          memory = {
            before,
            after,
            rssPerConnection: (after.rss - before.rss) / config.clients,
            heapPerConnection: (after.heapUsed + after.external - before.heapUsed - before.external) / config.clients,
            connectsPerSec
          }
        } finally {
          await closeAll(config, clients)
        }
        break
      }
      case "churn": {
        await gc(config.port)
        const before = snapshot(await getStats(config.port))
        for (let i = 0; i < config.reps; i++) {
          const rep = await churnRep(config)
          reps.push(rep)
          process.stderr.write(
            `  rep ${i + 1}: ${rep.connectsPerSec?.toFixed(0)} connects/s, server ${
              rep.serverCpu.toFixed(0)
            }% / generator ${rep.generatorCpu.toFixed(0)}% CPU${rep.reason === undefined ? "" : ` — ${rep.reason}`}\n`
          )
          if (!rep.finished) break
        }
        const drained = await waitForClients(config.port, (n) => n === 0, 10_000)
        await gc(config.port)
        const after = snapshot(await getStats(config.port))
        memory = { before, after, drained: snapshot(drained.stats) }
        break
      }
      case "shutdown": {
        shutdown = await shutdownScenario(config, first.pid)
        break
      }
      case "stalled-resume": {
        stalledResume = await stalledResumeScenario(config, sampler)
        break
      }
    }
  } catch (e) {
    error = e instanceof Error ? e.message : String(e)
  }
  return {
    scenario: config.scenario,
    config,
    reps,
    clock,
    memory,
    peakRss: sampler.peak,
    shutdown,
    stalledResume,
    error
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const config = JSON.parse(process.argv[2] ?? "{}") as LoadConfig
  main(config).then(
    (result) => {
      process.stdout.write(`RESULT ${JSON.stringify(result)}\n`)
      agent.destroy()
      process.exit(0)
    },
    (error) => {
      process.stderr.write(`loadgen failed: ${error instanceof Error ? error.stack : String(error)}\n`)
      process.exit(1)
    }
  )
}
