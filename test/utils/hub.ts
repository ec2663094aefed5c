/**
 * Helpers for the hub's tests: reading the hub's metrics by name, recording spans, collecting what a
 * subscriber or an in-process served client receives, a writer that records what a served client is sent, and
 * a bounded wait on the hub's client count.
 */
import { HttpServerRequest, type HttpServerResponse } from "@effect/platform"
import { Effect, type Exit, Fiber, Metric, MetricState, type Scope, Stream, SubscriptionRef, Tracer } from "effect"
import { createParser, type EventSourceMessage } from "eventsource-parser"
import type * as Chunk from "../../src/core/chunk.js"
import type { Writer } from "../../src/core/writer.js"
import * as Response from "../../src/internal/response.js"
import type * as SseHub from "../../src/SseHub.js"
import * as SseHubBackend from "../../src/SseHubBackend.js"
import { bodyStream, within } from "./inProcess.js"

/** Runs a hub's constructor (or anything else that needs a backend) on the in-memory backend. */
export const onMemory = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, Exclude<R, SseHubBackend.SseHubBackend>> => Effect.provide(effect, SseHubBackend.layerMemory)

export type HubMetricName =
  | "sse_hub_clients"
  | "sse_hub_events_published"
  | "sse_hub_events_delivered"
  | "sse_hub_clients_dropped"
  | "sse_hub_events_dropped"

/**
 * The current value of one of the hub's metrics for the hub named `hub` (the `hub=<name>` tag), read from the
 * global registry through `Metric.snapshot` as a metrics exporter would: a counter's count, a gauge's value,
 * 0 when never recorded.
 */
export const hubMetric = (name: HubMetricName, hub: string): Effect.Effect<number> =>
  Effect.map(Metric.snapshot, (pairs) => {
    for (const pair of pairs) {
      if (pair.metricKey.name !== name) continue
      if (!pair.metricKey.tags.some((tag) => tag.key === "hub" && tag.value === hub)) continue
      const state: unknown = pair.metricState
      if (MetricState.isCounterState(state)) return Number(state.count)
      if (MetricState.isGaugeState(state)) return Number(state.value)
    }
    return 0
  })

/** Every hub metric at once, for one assertion with a readable diff. */
export const hubMetrics = (hub: string) =>
  Effect.all({
    clients: hubMetric("sse_hub_clients", hub),
    published: hubMetric("sse_hub_events_published", hub),
    delivered: hubMetric("sse_hub_events_delivered", hub),
    clientsDropped: hubMetric("sse_hub_clients_dropped", hub),
    eventsDropped: hubMetric("sse_hub_events_dropped", hub)
  })

/** Runs `effect` with a tracer that records every span it starts (delegating to the current tracer). */
export const withRecordedSpans = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<[A, ReadonlyArray<Tracer.Span>], E, R> =>
  Tracer.tracerWith((base) => {
    const spans: Array<Tracer.Span> = []
    const tracer = Tracer.make({
      span: (...args) => {
        const span = base.span(...args)
        spans.push(span)
        return span
      },
      context: (f, fiber) => base.context(f, fiber)
    })
    return Effect.map(Effect.withTracer(effect, tracer), (a): [A, ReadonlyArray<Tracer.Span>] => [a, spans])
  })

export interface Collector<A> {
  /** Everything received so far (a live array). */
  readonly items: ReadonlyArray<A>
  /** Waits until at least `n` counted items arrived (bounded in real time) and returns everything so far. */
  readonly atLeast: (n: number, label?: string) => Effect.Effect<ReadonlyArray<A>, Error>
  /** Waits until the stream ended (bounded in real time) and returns how. */
  readonly exit: Effect.Effect<Exit.Exit<void, unknown>, Error>
  /** Stops reading. */
  readonly interrupt: Effect.Effect<void>
}

/**
 * Runs `stream` in a fiber of the current scope, as a consumer that reads everything at once. `counts` says
 * which items `atLeast` counts (all by default).
 */
export const collect = <A, E>(
  stream: Stream.Stream<A, E>,
  counts: (a: A) => boolean = () => true
): Effect.Effect<Collector<A>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const items: Array<A> = []
    const count = yield* SubscriptionRef.make(0)
    let counted = 0
    const fiber = yield* stream.pipe(
      Stream.runForEach((a) => {
        items.push(a)
        if (!counts(a)) return Effect.void
        counted++
        return SubscriptionRef.set(count, counted)
      }),
      Effect.forkScoped
    )
    return {
      items,
      atLeast: (n, label = `${n} items`) =>
        within(
          Stream.runDrain(Stream.takeUntil(count.changes, (c) => c >= n)),
          `${label} (got ${items.length}: ${JSON.stringify(items.slice(-3))})`
        ).pipe(Effect.as(items)),
      exit: within(Fiber.await(fiber), "the end of the stream"),
      interrupt: Fiber.interrupt(fiber).pipe(Effect.asVoid)
    }
  })

/** What a client parses from an SSE body: an event, or a comment line. */
export type Received =
  | { readonly _tag: "event"; readonly event: EventSourceMessage }
  | { readonly _tag: "comment"; readonly text: string }

/** Parses a stream of SSE bytes incrementally, with an independent parser (`eventsource-parser`). */
export const parseBody = <E>(body: Stream.Stream<Uint8Array, E>): Stream.Stream<Received, E> =>
  Stream.suspend(() => {
    const decoder = new TextDecoder()
    let out: Array<Received> = []
    const parser = createParser({
      onEvent: (event) => out.push({ _tag: "event", event }),
      onComment: (text) => out.push({ _tag: "comment", text })
    })
    return Stream.mapConcat(body, (bytes) => {
      parser.feed(decoder.decode(bytes, { stream: true }))
      const done = out
      out = []
      return done
    })
  })

export const eventsOf = (items: ReadonlyArray<Received>): Array<EventSourceMessage> =>
  items.flatMap((item) => item._tag === "event" ? [item.event] : [])

export const commentsOf = (items: ReadonlyArray<Received>): Array<string> =>
  items.flatMap((item) => item._tag === "comment" ? [item.text] : [])

/** A request to `/events` for serving in-process (no socket): headers and query as a client would send them. */
export const eventsRequest = (options?: {
  readonly query?: string
  readonly headers?: Record<string, string>
}): HttpServerRequest.HttpServerRequest =>
  HttpServerRequest.fromWeb(
    new Request(`http://127.0.0.1/events${options?.query ?? ""}`, { headers: options?.headers ?? {} })
  )

export interface ServedClient {
  readonly response: HttpServerResponse.HttpServerResponse
  /** The raw chunks of the body, in order. */
  readonly chunks: ReadonlyArray<Uint8Array>
  /** The parsed events and comments of the body. */
  readonly received: Collector<Received>
  /** Waits until `n` events (not comments) arrived and returns the events so far. */
  readonly events: (n: number) => Effect.Effect<Array<EventSourceMessage>, Error>
}

/** Serves `hub` in-process to a request like `request`, and reads the body like a client that keeps up. */
export const serveInProcess = <A, S, T>(
  hub: SseHub.SseHub<A, S, T>,
  request: HttpServerRequest.HttpServerRequest = eventsRequest(),
  options?: SseHub.ServeOptions<S>
): Effect.Effect<ServedClient, SseHub.HubClosed, Scope.Scope> =>
  Effect.gen(function*() {
    const response = yield* Effect.provideService(hub.serve(options), HttpServerRequest.HttpServerRequest, request)
    const chunks: Array<Uint8Array> = []
    const received = yield* collect(
      parseBody(Stream.tap(bodyStream(response), (chunk) => {
        chunks.push(chunk)
        return Effect.void
      })),
      (item) => item._tag === "event"
    )
    const events = (n: number) => Effect.map(received.atLeast(n, `${n} events`), eventsOf)
    return { response, chunks, received, events }
  })

/** Waits until the hub's client count satisfies `predicate` (bounded in real time), via `clientsChanges`. */
export const awaitClients = <A, S, T>(hub: SseHub.SseHub<A, S, T>, predicate: (n: number) => boolean, label: string) =>
  within(Stream.runDrain(Stream.takeUntil(hub.clientsChanges, predicate)), `clients: ${label}`)

/**
 * Lets the other fibers run (bounded: at most `maxYields` yields, no clock involved) until `condition` holds;
 * fails with `label` otherwise. For state that changes without time passing, e.g. a body fiber taking bytes.
 */
export const eventually = (condition: () => boolean, label: string, maxYields = 10_000): Effect.Effect<void, Error> =>
  Effect.suspend(() => {
    const loop = (left: number): Effect.Effect<void, Error> => {
      if (condition()) return Effect.void
      if (left === 0) return Effect.fail(new Error(`never happened: ${label}`))
      return Effect.zipRight(Effect.yieldNow(), Effect.suspend(() => loop(left - 1)))
    }
    return loop(maxYields)
  })

/** `n` yields, to let racing fibers interleave differently. */
export const yieldTimes = (n: number): Effect.Effect<void> =>
  n <= 0 ? Effect.void : Effect.zipRight(Effect.yieldNow(), Effect.suspend(() => yieldTimes(n - 1)))

export const range = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)

/** One write a served client was sent, as the writer was given it. */
export type Written =
  | { readonly _tag: "write"; readonly bytes: Uint8Array }
  | { readonly _tag: "writeAll"; readonly parts: ReadonlyArray<Uint8Array> }
  | { readonly _tag: "writeShared"; readonly bytes: Uint8Array }

/**
 * A `Writer` (the core's interface between a stream and its client) that records every write as it was given,
 * so that a test can check which byte arrays a client is sent, not only their contents. `reading` clients take
 * every byte at once; a stalled one takes none (they all stay `buffered`), as a socket whose peer stopped reading.
 */
export class RecordingWriter implements Writer {
  readonly writes: Array<Written> = []
  private total = 0
  private closed = false
  private over = false
  private readonly closes: Array<() => void> = []
  ended = false
  destroyed = false

  constructor(readonly mode: "reading" | "stalled" = "reading", readonly highWaterMark = 16 * 1024) {}

  write(bytes: Uint8Array): void {
    if (this.closed) return
    this.writes.push({ _tag: "write", bytes })
    this.total += bytes.length
  }
  writeAll(parts: ReadonlyArray<Uint8Array>): void {
    if (this.closed) return
    this.writes.push({ _tag: "writeAll", parts })
    for (const part of parts) this.total += part.length
  }
  writeShared(shared: Chunk.Shared): void {
    if (this.closed) return
    this.writes.push({ _tag: "writeShared", bytes: shared.bytes })
    this.total += shared.bytes.length
  }
  buffered(): number {
    return this.mode === "reading" ? 0 : this.total
  }
  written(): number {
    return this.total
  }
  hasRoom(): boolean {
    return this.closed || this.buffered() < this.highWaterMark
  }
  onRoom(f: () => void): void {
    if (this.hasRoom()) f()
  }
  onClose(f: () => void): void {
    if (this.over) f()
    else this.closes.push(f)
  }
  end(): void {
    if (this.closed) return
    this.ended = true
    this.finish()
  }
  destroy(): void {
    this.destroyed = !this.closed
    this.finish()
  }
  isClosed(): boolean {
    return this.closed
  }
  private finish(): void {
    this.closed = true
    if (this.over) return
    this.over = true
    for (const f of this.closes.splice(0)) f()
  }
  /** Every byte array written, in order, `writeAll`'s parts one by one. */
  get arrays(): ReadonlyArray<Uint8Array> {
    return this.writes.flatMap((w) => w._tag === "writeAll" ? w.parts : [w.bytes])
  }
  /** Everything written, as text. */
  get text(): string {
    const decoder = new TextDecoder()
    return this.arrays.map((bytes) => decoder.decode(bytes)).join("")
  }
}

/**
 * Serves `hub` to `request` and starts the response on `writer` instead of a body: what a transport of the
 * library (SseNode) does with the socket's writer. Completes once the client is live.
 */
export const serveOnWriter = <A>(
  hub: SseHub.SseHub<A>,
  writer: Writer,
  request: HttpServerRequest.HttpServerRequest = eventsRequest(),
  options?: SseHub.ServeOptions
): Effect.Effect<void, SseHub.HubClosed | Error> =>
  Effect.gen(function*() {
    const response = yield* Effect.provideService(hub.serve(options), HttpServerRequest.HttpServerRequest, request)
    const source = Response.sourceOf(response)
    if (source === undefined) return yield* Effect.fail(new Error("not an SSE response of the library"))
    yield* Response.start(source, writer)
  })
