import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Core from "../core/parser.js"
import type * as SseParser from "../SseParser.js"
import { formatParseError } from "./event.js"

/** @internal */
export const ErrorTypeId: SseParser.ErrorTypeId = Symbol.for(
  "effect-sse/SseParser/SseParserError"
) as SseParser.ErrorTypeId

/** @internal */
export class SseParserError extends Data.TaggedError("SseParserError")<{
  readonly reason: SseParser.SseParserError["reason"]
  readonly limit?: number | undefined
  readonly lastEventId?: string | undefined
  readonly eventType?: string | undefined
  readonly cause?: unknown
}> {
  readonly [ErrorTypeId]: SseParser.ErrorTypeId = ErrorTypeId
  override get message(): string {
    switch (this.reason) {
      case "LineTooLong":
      case "EventTooLarge":
        return `SseParser: ${Core.describe({ reason: this.reason, limit: this.limit ?? 0 })}`
      case "SchemaMismatch":
        return `SseParser: the data of the "${this.eventType}" event with id ${
          JSON.stringify(this.lastEventId)
        } does not match the schema: ${formatParseError(this.cause)}`
    }
  }
}

const fromFailure = (failure: Core.Failure): SseParserError =>
  new SseParserError({ reason: failure.reason, limit: failure.limit })

/** @internal */
export const defaultMaxBufferSize = Core.defaultMaxBufferSize

/** The core parser, with the `Either` forms of its methods. @internal */
export class Parser extends Core.Parser implements SseParser.Parser {
  feed(chunk: Uint8Array): Either.Either<ReadonlyArray<SseParser.Output>, SseParserError> {
    const out: Array<SseParser.Output> = []
    const failure = this.feedInto(chunk, out)
    return failure === undefined ? Either.right(out) : Either.left(fromFailure(failure))
  }

  feedString(chunk: string): Either.Either<ReadonlyArray<SseParser.Output>, SseParserError> {
    const out: Array<SseParser.Output> = []
    const failure = this.feedStringInto(chunk, out)
    return failure === undefined ? Either.right(out) : Either.left(fromFailure(failure))
  }
}

/** @internal */
export const isEvent = Core.isEvent as (output: SseParser.Output) => output is SseParser.Event

/** @internal */
export const isRetry = Core.isRetry

/** @internal */
export const make = (options?: SseParser.Options): Parser => new Parser(options)

/** @internal */
export const parse = (
  input: string | Uint8Array | Iterable<string | Uint8Array>,
  options?: SseParser.Options
): Either.Either<Array<SseParser.Output>, SseParserError> => {
  const result = Core.parseAll(input, options)
  return Array.isArray(result) ? Either.right(result) : Either.left(fromFailure(result))
}

/**
 * A channel that feeds each input chunk to `parser`, writes what it completes, and fails once a limit is
 * exceeded, after writing the outputs completed before the offending line.
 *
 * @internal
 */
export const channel = <In, IE, Done>(
  parser: Core.Parser,
  feed: (parser: Core.Parser, chunk: In, out: Array<SseParser.Output>) => Core.Failure | undefined
): Channel.Channel<Chunk.Chunk<SseParser.Output>, Chunk.Chunk<In>, IE | SseParserError, IE, Done, Done> => {
  const loop: Channel.Channel<Chunk.Chunk<SseParser.Output>, Chunk.Chunk<In>, IE | SseParserError, IE, Done, Done> =
    Channel.readWithCause({
      onInput: (input: Chunk.Chunk<In>) => {
        const out: Array<SseParser.Output> = []
        let failure: Core.Failure | undefined
        const chunks = Chunk.toReadonlyArray(input)
        for (let i = 0; i < chunks.length; i++) {
          failure = feed(parser, chunks[i], out)
          if (failure !== undefined) break
        }
        const write = out.length === 0 ? Channel.void : Channel.write(Chunk.unsafeFromArray(out))
        return failure === undefined
          ? Channel.zipRight(write, loop)
          : Channel.zipRight(write, Channel.fail(fromFailure(failure)))
      },
      onFailure: Channel.failCause,
      onDone: (done: Done) => {
        parser.end()
        return Channel.succeed(done)
      }
    })
  return loop
}

/** @internal */
export const feedBytes = (parser: Core.Parser, chunk: Uint8Array, out: Array<SseParser.Output>) =>
  parser.feedInto(chunk, out)
const feedText = (parser: Core.Parser, chunk: string, out: Array<SseParser.Output>) => parser.feedStringInto(chunk, out)

/** @internal */
export const decode = <IE = never, Done = unknown>(
  options?: SseParser.Options
): Channel.Channel<Chunk.Chunk<SseParser.Output>, Chunk.Chunk<Uint8Array>, IE | SseParserError, IE, Done, Done> =>
  Channel.suspend(() => channel(new Core.Parser(options), feedBytes))

/** @internal */
export const decodeString = <IE = never, Done = unknown>(
  options?: SseParser.Options
): Channel.Channel<Chunk.Chunk<SseParser.Output>, Chunk.Chunk<string>, IE | SseParserError, IE, Done, Done> =>
  Channel.suspend(() => channel(new Core.Parser(options), feedText))

/** A function decoding an event's data as the JSON of `schema`, failing with `SchemaMismatch`. @internal */
export const decodeData = <A, I, R>(schema: Schema.Schema<A, I, R>) => {
  const decodeJson = Schema.decodeUnknown(Schema.parseJson(schema))
  return (event: SseParser.Event): Effect.Effect<SseParser.Event<A>, SseParserError, R> =>
    decodeJson(event.data).pipe(
      Effect.map((data): SseParser.Event<A> => ({
        _tag: "Event",
        type: event.type,
        data,
        lastEventId: event.lastEventId
      })),
      Effect.mapError((cause) =>
        new SseParserError({ reason: "SchemaMismatch", lastEventId: event.lastEventId, eventType: event.type, cause })
      )
    )
}

/**
 * A channel that maps the elements of each input chunk with `f`, in order, and writes the results. On the first
 * failure it writes the results before it, then fails: what came before a bad element is never lost, as with the
 * parser's limits.
 *
 * @internal
 */
export const mapEachOrFail = <A, B, E, R, IE, Done>(
  f: (a: A) => Effect.Effect<B, E, R>
): Channel.Channel<Chunk.Chunk<B>, Chunk.Chunk<A>, IE | E, IE, Done, Done, R> => {
  const mapChunk = (input: Chunk.Chunk<A>) =>
    Effect.gen(function*() {
      const out: Array<B> = []
      for (const a of input) {
        const result = yield* Effect.either(f(a))
        if (Either.isLeft(result)) return { out, failure: Option.some(result.left) }
        out.push(result.right)
      }
      return { out, failure: Option.none<E>() }
    })
  const loop: Channel.Channel<Chunk.Chunk<B>, Chunk.Chunk<A>, IE | E, IE, Done, Done, R> = Channel.readWithCause({
    onInput: (input: Chunk.Chunk<A>) =>
      Channel.flatMap(Channel.fromEffect(mapChunk(input)), ({ failure, out }) => {
        const write = out.length === 0 ? Channel.void : Channel.write(Chunk.unsafeFromArray(out))
        return Option.isNone(failure)
          ? Channel.zipRight(write, loop)
          : Channel.zipRight(write, Channel.fail(failure.value))
      }),
    onFailure: Channel.failCause,
    onDone: Channel.succeed
  })
  return loop
}

/** @internal */
export const decodeSchema = <A, I, R>(schema: Schema.Schema<A, I, R>) =>
<IE = never, Done = unknown>(
  options?: SseParser.Options
): Channel.Channel<
  Chunk.Chunk<SseParser.Output<A>>,
  Chunk.Chunk<Uint8Array>,
  IE | SseParserError,
  IE,
  Done,
  Done,
  R
> => {
  const decodeEvent = decodeData(schema)
  return Channel.pipeTo(
    decode<IE, Done>(options),
    mapEachOrFail((output: SseParser.Output): Effect.Effect<SseParser.Output<A>, SseParserError, R> =>
      output._tag === "Event" ? decodeEvent(output) : Effect.succeed(output)
    )
  )
}
