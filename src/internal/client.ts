import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Take from "effect/Take"
import * as ClientMessages from "../core/clientMessages.js"
import * as LastEventId from "../core/lastEventId.js"
import type * as SseClient from "../SseClient.js"
import type * as SseParser from "../SseParser.js"
import {
  defaultMaxRedirects,
  defaultRetry,
  ErrorTypeId,
  isEventStream,
  removeHeader,
  send,
  SseClientError,
  urlOf
} from "./clientRequest.js"
import * as parser from "./parser.js"

export { defaultRetry, ErrorTypeId, SseClientError }

/** @internal */
export const State = Data.taggedEnum<SseClient.State>()

/** @internal */
export const CONNECTING = 0 as const
/** @internal */
export const OPEN = 1 as const
/** @internal */
export const CLOSED = 2 as const

/** @internal */
export const readyStateOf = (state: SseClient.State): SseClient.ReadyState => {
  switch (state._tag) {
    case "Connecting":
    case "Reconnecting":
      return CONNECTING
    case "Open":
      return OPEN
    case "Stopped":
    case "Failed":
    case "Closed":
      return CLOSED
  }
}

/** @internal */
export const isTerminal = (state: SseClient.State): boolean => readyStateOf(state) === CLOSED

/** Why the last connection ended, which decides what happens next. */
type Outcome =
  | { readonly _tag: "NotStarted" }
  | { readonly _tag: "End" }
  | { readonly _tag: "NoContent" }
  | { readonly _tag: "Error"; readonly error: SseClientError }

/**
 * The backoff schedule, stepped by hand rather than through `Schedule.driver`: the delay it chooses must be known
 * (and announced in the `Reconnecting` state) before the client sleeps it.
 */
class Backoff<R> {
  private state: unknown
  constructor(private readonly schedule: Schedule.Schedule<unknown, SseClientError | undefined, R>) {
    this.state = schedule.initial
  }
  reset(): void {
    this.state = this.schedule.initial
  }
  /** The extra wait before the next reconnection, or `None` when the schedule is done. */
  next(input: SseClientError | undefined): Effect.Effect<Option.Option<Duration.Duration>, never, R> {
    return Effect.flatMap(
      Clock.currentTimeMillis,
      (now) =>
        Effect.map(Effect.suspend(() => this.schedule.step(now, input, this.state)), ([state, , decision]) => {
          if (ScheduleDecision.isDone(decision)) return Option.none()
          this.state = state
          return Option.some(Duration.millis(Math.max(0, ScheduleIntervals.start(decision.intervals) - now)))
        })
    )
  }
}

const noState = (_: SseClient.State): Effect.Effect<void> => Effect.void

/**
 * The connections to one endpoint, as one stream of events: the reconnection machinery behind both `events` and
 * `connect`. `onState` hears every state it goes through but the final `Failed` and `Closed`, which only the
 * caller can tell (a decoding failure happens after this stream).
 */
const run = <R = never>(
  input: string | URL | HttpClientRequest.HttpClientRequest,
  options: SseClient.Options<R> | undefined,
  onState: (state: SseClient.State) => Effect.Effect<void>
): Stream.Stream<SseParser.Event, SseClientError, HttpClient.HttpClient | R> =>
  Stream.unwrap(Effect.gen(function*() {
    const client = HttpClient.withScope(yield* HttpClient.HttpClient)
    const given = typeof input === "string" || input instanceof URL ? HttpClientRequest.get(input) : input
    const url = urlOf(given)
    const request = removeHeader(
      given.pipe(
        HttpClientRequest.setHeaders({
          accept: given.headers["accept"] ?? "text/event-stream",
          "cache-control": given.headers["cache-control"] ?? "no-cache"
        })
      ),
      "last-event-id"
    )
    const maxRedirects = options?.maxRedirects ?? defaultMaxRedirects
    const reconnect = options?.reconnect ?? true
    const backoff = options?.backoff === undefined ? undefined : new Backoff(options.backoff)
    // One parser for all connections: `end` between them keeps the last event ID string.
    const state = parser.make({
      maxBufferSize: options?.maxBufferSize,
      lastEventId: options?.lastEventId ?? given.headers["last-event-id"] ?? ""
    })
    let reconnectionTime = Duration.decode(options?.retry ?? defaultRetry)
    let outcome: Outcome = { _tag: "NotStarted" }
    // The reconnections in a row that have not got through; 0 while a connection is open.
    let attempt = 0

    // A `retry:` sets the reconnection time as soon as it is read; only events go on downstream.
    const readRetries = (outputs: Chunk.Chunk<SseParser.Output>): Chunk.Chunk<SseParser.Event> => {
      for (const output of outputs) {
        if (output._tag === "Retry") reconnectionTime = Duration.millis(output.millis)
      }
      return Chunk.filter(outputs, parser.isEvent)
    }

    const open = Effect.fn("SseClient.connect")(function*() {
      state.end()
      outcome = { _tag: "End" }
      const lastEventId = state.lastEventId
      yield* Effect.annotateCurrentSpan({ url, lastEventId, attempt })
      const header = LastEventId.encodeHeader(lastEventId)
      if (header === undefined && lastEventId !== "") {
        // The standard lets a client leave the header out; an id no HTTP stack would send must not stop it.
        yield* Effect.logWarning(
          `SseClient: the last event id ${JSON.stringify(lastEventId)} cannot be sent as a Last-Event-ID header; ` +
            `requesting ${url} without it`
        )
      }
      const next = header === undefined ? request : HttpClientRequest.setHeader(request, "last-event-id", header)
      const response = yield* send(client, next, url, maxRedirects)
      if (response.status === 204) {
        outcome = { _tag: "NoContent" }
        return Stream.empty
      }
      if (response.status !== 200) {
        return yield* new SseClientError({ reason: "Status", url, status: response.status })
      }
      const contentType = response.headers["content-type"]
      if (!isEventStream(contentType)) {
        return yield* new SseClientError({ reason: "ContentType", url, status: response.status, contentType })
      }
      attempt = 0
      backoff?.reset()
      yield* onState(State.Open({ status: response.status, headers: response.headers }))
      return response.stream.pipe(
        Stream.mapError((cause) => new SseClientError({ reason: "Transport", url, cause })),
        Stream.pipeThroughChannelOrFail(
          parser.channel(state, (p, chunk: Uint8Array, out) => p.feedInto(chunk, out))
        ),
        Stream.mapError((error) =>
          error._tag === "SseParserError" ? new SseClientError({ reason: "Parse", url, cause: error }) : error
        ),
        Stream.mapChunks(readRetries)
      )
    })

    // A network error ends the connection like a clean close does: both lead to a reconnection.
    const connection = Stream.unwrapScoped(open()).pipe(
      Stream.catchAll((error) =>
        error.reason === "Transport"
          ? Stream.execute(Effect.sync(() => {
            outcome = { _tag: "Error", error }
          }))
          : Stream.fail(error)
      )
    )

    const stop = (reason: "NoContent" | "End") =>
      Effect.zipRight(onState(State.Stopped({ reason })), Effect.fail(Option.none()))

    const next: Effect.Effect<typeof connection, Option.Option<SseClientError>, R> = Effect.suspend(() => {
      const last = outcome
      switch (last._tag) {
        case "NotStarted":
          return Effect.succeed(connection)
        case "NoContent":
          return stop("NoContent")
        case "End":
        case "Error": {
          const error = last._tag === "Error" ? last.error : undefined
          const giveUp = error === undefined ? stop("End") : Effect.fail(Option.some(error))
          if (!reconnect) return giveUp
          return Effect.gen(function*() {
            const extra = backoff === undefined ? Option.some(Duration.zero) : yield* backoff.next(error)
            if (Option.isNone(extra)) return yield* giveUp
            attempt++
            const delay = Duration.sum(reconnectionTime, extra.value)
            yield* onState(State.Reconnecting({ cause: error, delay, attempt, lastEventId: state.lastEventId }))
            yield* Effect.logWarning(
              ClientMessages.reconnecting(url, error !== undefined, Duration.format(delay), attempt),
              ...(error === undefined ? [] : [error])
            )
            // The reconnection time, then the schedule's extra wait, as the standard orders them.
            yield* Effect.sleep(reconnectionTime)
            if (Duration.greaterThan(extra.value, Duration.zero)) yield* Effect.sleep(extra.value)
            return connection
          })
        }
      }
    })

    return Stream.repeatEffectOption(next).pipe(Stream.flatten())
  }))

/** @internal */
export const events = <R = never>(
  input: string | URL | HttpClientRequest.HttpClientRequest,
  options?: SseClient.Options<R>
): Stream.Stream<SseParser.Event, SseClientError, HttpClient.HttpClient | R> => run(input, options, noState)

const decodeWith = <A, I, RS>(
  schema: Schema.Schema<A, I, RS>,
  input: string | URL | HttpClientRequest.HttpClientRequest
) => {
  const decode = Schema.decodeUnknown(Schema.parseJson(schema))
  const url = typeof input === "string" || input instanceof URL ? input.toString() : urlOf(input)
  return <E, R>(stream: Stream.Stream<SseParser.Event, E, R>) =>
    Stream.mapEffect(stream, (event) =>
      decode(event.data).pipe(
        Effect.map((data): SseParser.Event<A> => ({ ...event, data })),
        Effect.mapError((cause) =>
          new SseClientError({ reason: "Decode", url, lastEventId: event.lastEventId, eventType: event.type, cause })
        )
      ))
}

/** @internal */
export const eventsSchema = <A, I, RS>(schema: Schema.Schema<A, I, RS>) =>
<R = never>(
  input: string | URL | HttpClientRequest.HttpClientRequest,
  options?: SseClient.Options<R>
): Stream.Stream<SseParser.Event<A>, SseClientError, HttpClient.HttpClient | R | RS> =>
  decodeWith(schema, input)(events(input, options))

/** How many chunks of events the background connection may read ahead of the consumer of `events`. */
const readAhead = 16

const connectWith = <A, R>(
  make: (
    onState: (state: SseClient.State) => Effect.Effect<void>
  ) => Stream.Stream<SseParser.Event<A>, SseClientError, R>
): Effect.Effect<SseClient.Client<A>, never, R | Scope.Scope> =>
  Effect.gen(function*() {
    const ref = yield* SubscriptionRef.make<SseClient.State>(State.Connecting())
    const queue = yield* Queue.bounded<Take.Take<SseParser.Event<A>, SseClientError>>(readAhead)
    // Once closed, stopped or failed, the state stays so: a late update from the connection must not reopen it.
    const setState = (next: SseClient.State) =>
      SubscriptionRef.update(ref, (current) => isTerminal(current) ? current : next)
    const fiber = yield* make(setState).pipe(
      Stream.runForEachChunk((chunk) => Queue.offer(queue, Take.chunk(chunk))),
      Effect.onExit((exit) =>
        Exit.match(exit, {
          onSuccess: () => Queue.offer(queue, Take.end),
          onFailure: (cause) =>
            Option.match(Cause.failureOption(cause), {
              // Interrupted: `close` (or the scope) sets the state.
              onNone: () => Effect.void,
              onSome: (error) =>
                Effect.zipRight(setState(State.Failed({ error })), Queue.offer(queue, Take.fail(error)))
            })
        })
      ),
      Effect.forkScoped
    )
    const close = Effect.zipRight(Fiber.interrupt(fiber), setState(State.Closed())).pipe(
      Effect.zipRight(Queue.shutdown(queue))
    )
    yield* Effect.addFinalizer(() => close)
    const client: SseClient.Client<A> = {
      events: Stream.flattenTake(Stream.fromQueue(queue)),
      state: SubscriptionRef.get(ref),
      changes: Stream.takeUntil(ref.changes, isTerminal),
      readyState: Effect.map(SubscriptionRef.get(ref), readyStateOf),
      close
    }
    return client
  })

/** @internal */
export const connect = <R = never>(
  input: string | URL | HttpClientRequest.HttpClientRequest,
  options?: SseClient.Options<R>
): Effect.Effect<SseClient.Client, never, HttpClient.HttpClient | R | Scope.Scope> =>
  connectWith((onState) => run(input, options, onState))

/** @internal */
export const connectSchema = <A, I, RS>(schema: Schema.Schema<A, I, RS>) =>
<R = never>(
  input: string | URL | HttpClientRequest.HttpClientRequest,
  options?: SseClient.Options<R>
): Effect.Effect<SseClient.Client<A>, never, HttpClient.HttpClient | R | RS | Scope.Scope> =>
  connectWith((onState) => decodeWith(schema, input)(run(input, options, onState)))
