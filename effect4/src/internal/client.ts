/**
 * The reconnection machinery behind `SseClient.events` and `SseClient.connect`: one loop that opens a connection,
 * reads it with the core parser, and decides what comes next (reconnect, stop, fail), as the standard orders it.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientError from "effect/http/HttpClientError"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as Option from "effect/Option"
import * as Pull from "effect/Pull"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as ClientMessages from "../../../src/core/clientMessages.js"
import * as LastEventId from "../../../src/core/lastEventId.js"
import * as CoreParser from "../../../src/core/parser.js"
import type * as SseClient from "../SseClient.js"
import type * as SseParser from "../SseParser.js"

type Input = string | URL | HttpClientRequest.HttpClientRequest

/** The constructors the loop needs from the public module (passed in, so this file has no cycle with it). */
export interface Constructors {
  readonly error: (args: ConstructorParameters<typeof SseClient.SseClientError>[0]) => SseClient.SseClientError
  readonly State: typeof SseClient.State
}

/** @internal */
export const isEventStream = (contentType: string | undefined): boolean =>
  contentType !== undefined && contentType.split(";")[0].trim().toLowerCase() === "text/event-stream"

/** @internal */
export const readyStateOf = (state: SseClient.State): SseClient.ReadyState => {
  switch (state._tag) {
    case "Connecting":
    case "Reconnecting":
      return 0
    case "Open":
      return 1
    case "Stopped":
    case "Failed":
    case "Closed":
      return 2
  }
}

const isTransport = (error: unknown): error is SseClient.SseClientError =>
  typeof error === "object" && error !== null && (error as { readonly _tag?: unknown })._tag === "SseClientError" &&
  (error as SseClient.SseClientError).reason === "Transport"

const isFinal = (state: SseClient.State): boolean => readyStateOf(state) === 2

/** Why the last connection ended, which decides what happens next. */
type Outcome =
  | { readonly _tag: "End" }
  | { readonly _tag: "NoContent" }
  | { readonly _tag: "Error"; readonly error: SseClient.SseClientError }

/**
 * The backoff schedule, stepped by hand: the wait it chooses must be known (and announced in the `Reconnecting`
 * state) before the client sleeps it. `reset` starts it over, as an open connection does.
 */
class Backoff<R> {
  private step:
    | ((
      now: number,
      input: SseClient.SseClientError | undefined
    ) => Pull.Pull<[unknown, Duration.Duration], never, unknown, R>)
    | undefined = undefined
  constructor(private readonly schedule: Schedule.Schedule<unknown, SseClient.SseClientError | undefined, never, R>) {}
  reset(): void {
    this.step = undefined
  }
  /** The extra wait before the next reconnection, or `None` when the schedule is done. */
  next(input: SseClient.SseClientError | undefined): Effect.Effect<Option.Option<Duration.Duration>, never, R> {
    const current = this.step
    const step = current === undefined
      ? Effect.tap(Schedule.toStep(this.schedule), (made) => Effect.sync(() => this.step = made))
      : Effect.succeed(current)
    return Effect.flatMap(step, (f) =>
      Effect.clockWith((clock) =>
        f(clock.currentTimeMillisUnsafe(), input).pipe(
          Effect.map(([, delay]) => Option.some(delay)),
          Pull.catchDone(() => Effect.succeed(Option.none<Duration.Duration>()))
        )
      ))
  }
}

const fromHttpClientError = (make: Constructors["error"], url: string) =>
(
  error: HttpClientError.HttpClientError
): SseClient.SseClientError =>
  // A request that cannot be made is the client's fault; anything else (the connection, the body) is the network's.
  make({
    reason: error.reason._tag === "EncodeError" || error.reason._tag === "InvalidUrlError" ? "Request" : "Transport",
    url,
    cause: error
  })

/**
 * The connections to one endpoint, as a loop that hands the events of each chunk to `emit`: the machinery
 * behind both `events` and `connect`. `onState` hears every state it goes through but the final `Failed` and
 * `Closed`, which only the caller can tell. It succeeds when the server is done with the client (`Stopped`).
 *
 * @internal
 */
export const run = <R, E, RE>(
  input: Input,
  options: SseClient.Options<R> | undefined,
  constructors: Constructors,
  emit: (events: ReadonlyArray<SseParser.Event>) => Effect.Effect<void, E, RE>,
  onState: (state: SseClient.State) => Effect.Effect<void>
): Effect.Effect<void, SseClient.SseClientError | E, HttpClient.HttpClient | R | RE> =>
  Effect.gen(function*() {
    const { State, error: makeError } = constructors
    const client = HttpClient.withScope(yield* HttpClient.HttpClient)
    const given = typeof input === "string" || input instanceof URL ? HttpClientRequest.get(input) : input
    const url = given.url
    const request = given.pipe(
      HttpClientRequest.setHeaders({
        accept: given.headers["accept"] ?? "text/event-stream",
        "cache-control": given.headers["cache-control"] ?? "no-cache"
      }),
      HttpClientRequest.removeHeader("last-event-id")
    )
    const reconnect = options?.reconnect ?? true
    const backoff = options?.backoff === undefined ? undefined : new Backoff(options.backoff)
    // One parser for all connections: `end` between them keeps the last event ID string.
    const parser = new CoreParser.Parser({
      maxBufferSize: options?.maxBufferSize,
      lastEventId: options?.lastEventId ?? given.headers["last-event-id"] ?? ""
    })
    let reconnectionTime = Duration.fromInputUnsafe(options?.retry ?? defaultRetry)
    // The reconnections in a row that have not got through; 0 while a connection is open.
    let attempt = 0
    const out: Array<SseParser.Output> = []

    // A `retry:` sets the reconnection time as soon as it is read; only events go on downstream.
    const feed = (chunk: Uint8Array): Effect.Effect<void, SseClient.SseClientError | E, RE> =>
      Effect.suspend((): Effect.Effect<void, SseClient.SseClientError | E, RE> => {
        out.length = 0
        const failure = parser.feedInto(chunk, out)
        if (failure !== undefined) {
          return Effect.fail(makeError({ reason: "Parse", url, cause: failure }))
        }
        const events: Array<SseParser.Event> = []
        for (const output of out) {
          if (output._tag === "Retry") reconnectionTime = Duration.millis(output.millis)
          else events.push(output)
        }
        return events.length === 0 ? Effect.void : emit(events)
      })

    const connection = Effect.fn("SseClient.connect")(function*() {
      parser.end()
      const lastEventId = parser.lastEventId
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
      const response = yield* client.execute(next).pipe(Effect.mapError(fromHttpClientError(makeError, url)))
      if (response.status === 204) return { _tag: "NoContent" } as Outcome
      if (response.status !== 200) {
        return yield* makeError({ reason: "Status", url, status: response.status })
      }
      const contentType = response.headers["content-type"]
      if (!isEventStream(contentType)) {
        return yield* makeError({ reason: "ContentType", url, status: response.status, contentType })
      }
      attempt = 0
      backoff?.reset()
      yield* onState(State.Open({ status: response.status, headers: response.headers }))
      yield* response.stream.pipe(
        Stream.mapError(fromHttpClientError(makeError, url)),
        Stream.runForEach(feed)
      )
      return { _tag: "End" } as Outcome
    }, Effect.scoped)

    // A network error ends the connection like a clean close does: both lead to a reconnection.
    const once = connection().pipe(
      Effect.catch((error) =>
        isTransport(error) ? Effect.succeed<Outcome>({ _tag: "Error", error }) : Effect.fail(error)
      )
    )

    const stop = (reason: "NoContent" | "End") => onState(State.Stopped({ reason }))

    // Bounded by the server: every turn is one request, and a final answer (204, a failure) ends it.
    while (true) {
      const outcome = yield* once
      if (outcome._tag === "NoContent") return yield* stop("NoContent")
      const error = outcome._tag === "Error" ? outcome.error : undefined
      const giveUp = error === undefined ? stop("End") : Effect.fail(error)
      if (!reconnect) return yield* giveUp
      const extra = backoff === undefined ? Option.some(Duration.zero) : yield* backoff.next(error)
      if (Option.isNone(extra)) return yield* giveUp
      attempt++
      const delay = Duration.sum(reconnectionTime, extra.value)
      yield* onState(State.Reconnecting({ cause: error, delay, attempt, lastEventId: parser.lastEventId }))
      yield* Effect.logWarning(
        ClientMessages.reconnecting(url, error !== undefined, Duration.format(delay), attempt),
        ...(error === undefined ? [] : [error])
      )
      // The reconnection time, then the schedule's extra wait, as the standard orders them.
      yield* Effect.sleep(reconnectionTime)
      if (Duration.isGreaterThan(extra.value, Duration.zero)) yield* Effect.sleep(extra.value)
    }
  })

/** @internal */
export const defaultRetry: Duration.Duration = Duration.seconds(3)

const noState = (_: SseClient.State): Effect.Effect<void> => Effect.void

/** How many chunks of events the connection may read ahead of the consumer. */
const readAhead = 16

/** @internal */
export const events = <R>(
  input: Input,
  options: SseClient.Options<R> | undefined,
  constructors: Constructors
): Stream.Stream<SseParser.Event, SseClient.SseClientError, HttpClient.HttpClient | R> =>
  Stream.callback<SseParser.Event, SseClient.SseClientError, HttpClient.HttpClient | R>(
    (queue) =>
      run(input, options, constructors, (events) => Effect.asVoid(Queue.offerAll(queue, events)), noState).pipe(
        Effect.exit,
        Effect.flatMap((exit) => Exit.isSuccess(exit) ? Queue.end(queue) : Queue.failCause(queue, exit.cause))
      ),
    { bufferSize: readAhead, strategy: "suspend" }
  )

/** Decodes each event's data as JSON with `schema`; data that does not decode is a `Decode` error. @internal */
export const decodeWith = <S extends Schema.Top>(schema: S, input: Input, constructors: Constructors) => {
  const decode = Schema.decodeUnknownEffect(Schema.fromJsonString(schema))
  const url = typeof input === "string" || input instanceof URL ? input.toString() : input.url
  return (
    event: SseParser.Event
  ): Effect.Effect<SseClient.Event<S["Type"]>, SseClient.SseClientError, S["DecodingServices"]> =>
    decode(event.data).pipe(
      Effect.map((data): SseClient.Event<S["Type"]> => ({ ...event, data })),
      Effect.mapError((cause) =>
        constructors.error({ reason: "Decode", url, lastEventId: event.lastEventId, eventType: event.type, cause })
      )
    )
}

/** @internal */
export const connect = <A, R, RD>(
  input: Input,
  options: SseClient.Options<R> | undefined,
  constructors: Constructors,
  decode: ((event: SseParser.Event) => Effect.Effect<SseClient.Event<A>, SseClient.SseClientError, RD>) | undefined
): Effect.Effect<SseClient.Client<A>, never, HttpClient.HttpClient | R | RD | Scope.Scope> =>
  Effect.gen(function*() {
    const { State } = constructors
    const ref = yield* SubscriptionRef.make<SseClient.State>(State.Connecting())
    const queue = yield* Queue.bounded<SseClient.Event<A>, SseClient.SseClientError | Cause.Done>(readAhead)
    // Once closed, stopped or failed, the state stays so: a late update from the connection must not reopen it.
    const setState = (next: SseClient.State) =>
      SubscriptionRef.update(ref, (current) => isFinal(current) ? current : next)
    const offer = (events: ReadonlyArray<SseClient.Event<A>>) => Effect.asVoid(Queue.offerAll(queue, events))
    // Decoding fails the client: the first event that does not decode ends the connection.
    const emit = decode === undefined
      ? (events: ReadonlyArray<SseParser.Event>) => offer(events as ReadonlyArray<SseClient.Event<A>>)
      // One by one: the events before the first that does not decode are still delivered.
      : (events: ReadonlyArray<SseParser.Event>) =>
        Effect.forEach(events, (event) => Effect.flatMap(decode(event), (decoded) => Queue.offer(queue, decoded)), {
          discard: true
        })
    const fiber = yield* run(input, options, constructors, emit, setState).pipe(
      Effect.onExit((exit) => {
        if (Exit.isSuccess(exit)) return Queue.end(queue)
        // Interrupted: `close` (or the scope) sets the state.
        if (Cause.hasInterruptsOnly(exit.cause)) return Effect.void
        const error = Cause.findErrorOption(exit.cause)
        // A defect is no state of the client's, but the events still end with it rather than hang.
        const failed = Option.isSome(error) ? setState(State.Failed({ error: error.value })) : Effect.void
        return Effect.andThen(failed, Queue.failCause(queue, exit.cause))
      }),
      Effect.forkScoped
    )
    const close = Fiber.interrupt(fiber).pipe(
      Effect.andThen(setState(State.Closed())),
      // What was read ahead is dropped, then the events end.
      Effect.andThen(Effect.ignore(Queue.clear(queue))),
      Effect.andThen(Queue.end(queue)),
      Effect.asVoid
    )
    yield* Effect.addFinalizer(() => close)
    const client: SseClient.Client<A> = {
      events: Stream.fromQueue(queue),
      state: SubscriptionRef.get(ref),
      changes: Stream.takeUntil(SubscriptionRef.changes(ref), isFinal),
      readyState: Effect.map(SubscriptionRef.get(ref), readyStateOf),
      close
    }
    return client
  })
