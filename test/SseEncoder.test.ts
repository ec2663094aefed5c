import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, FastCheck as fc, ParseResult, Schema, Stream } from "effect"
import * as SseEncoder from "../src/SseEncoder.js"
import * as SseEvent from "../src/SseEvent.js"
import * as SseParser from "../src/SseParser.js"
import { concat, normalizeLineBreaks, splitAt, utf8 } from "./utils/parse.js"

// -----------------------------------------------------------------------------
// helpers and arbitraries
// -----------------------------------------------------------------------------

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

const rightOf = <A>(either: Either.Either<A, SseEvent.SseEventError>): A =>
  Either.getOrThrowWith(either, (error) => new Error(`unexpected ${error.message}`))

const event = <A = string>(data: A, type = "message", lastEventId = ""): SseParser.Event<A> => ({
  _tag: "Event",
  type,
  data,
  lastEventId
})

const retry = (millis: number): SseParser.Retry => ({ _tag: "Retry", millis })

/** Text biased towards what is dangerous on the wire. */
const anyText = fc.string({
  unit: fc.oneof(
    fc.constantFrom("\r", "\n", "\r\n", ":", " ", "\0", "\uFEFF", "😀", "é", "data: x", "id: y", "retry: 1"),
    fc.string({ unit: "binary", minLength: 1, maxLength: 1 })
  ),
  maxLength: 16
})

/** Any valid fields, including blocks that dispatch nothing (no data) and comments. */
const fieldsArb = fc.record({
  data: fc.option(anyText, { nil: undefined }),
  type: fc.option(anyText.map((s) => s.replace(/[\r\n]/g, "")), { nil: undefined }),
  id: fc.option(anyText.map((s) => s.replace(/[\r\n\0]/g, "")), { nil: undefined }),
  retry: fc.option(fc.nat(), { nil: undefined }),
  comment: fc.option(anyText, { nil: undefined })
})

type Fields = typeof fieldsArb extends fc.Arbitrary<infer A> ? A : never

/** What the standard's parser gives back for a sequence of blocks written with these fields. */
const outputsOf = (blocks: ReadonlyArray<Fields>): Array<SseParser.Output> => {
  const out: Array<SseParser.Output> = []
  let lastEventId = ""
  for (const f of blocks) {
    if (f.retry !== undefined) out.push(retry(f.retry))
    if (f.id !== undefined) lastEventId = f.id
    if (f.data !== undefined) {
      out.push(
        event(normalizeLineBreaks(f.data), f.type === undefined || f.type === "" ? "message" : f.type, lastEventId)
      )
    }
  }
  return out
}

/** Splits `items` into consecutive chunks of the given sizes (the rest in a last chunk). */
const chunked = <A>(items: ReadonlyArray<A>, sizes: ReadonlyArray<number>): Array<Chunk.Chunk<A>> => {
  const chunks: Array<Chunk.Chunk<A>> = []
  let start = 0
  for (const size of sizes) {
    if (start >= items.length) break
    chunks.push(Chunk.fromIterable(items.slice(start, start + size)))
    start += size
  }
  if (start < items.length) chunks.push(Chunk.fromIterable(items.slice(start)))
  return chunks
}

const cuts = fc.array(fc.nat(), { maxLength: 24 })

/** Runs `bytes`, one stream element per array, through `SseParser.decode`. */
const decodeAll = (bytes: ReadonlyArray<Uint8Array>) =>
  Stream.fromIterable(bytes).pipe(
    Stream.pipeThroughChannelOrFail(SseParser.decode()),
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray)
  )

// -----------------------------------------------------------------------------
// SseEncoder.encode
// -----------------------------------------------------------------------------

describe("SseEncoder.encode", () => {
  it.effect("writes one array of bytes per chunk of events: the events' encodings, in order", () =>
    Effect.gen(function*() {
      const a = SseEvent.make("a")
      const b = rightOf(SseEvent.make("b\nc").pipe(SseEvent.withType("t"), SseEvent.withId("1")))
      const c = SseEvent.comment("c")
      const written = yield* Stream.fromChunks(Chunk.make(a, b), Chunk.make(c)).pipe(
        Stream.pipeThroughChannel(SseEncoder.encode()),
        Stream.chunks,
        Stream.runCollect
      )
      expect(Chunk.toReadonlyArray(written).map((chunk) => Chunk.toReadonlyArray(chunk).map(utf8))).toEqual([
        ["data: a\n\nevent: t\nid: 1\ndata: b\ndata: c\n\n"],
        [": c\n\n"]
      ])
    }))

  it.effect("an empty stream writes nothing", () =>
    Effect.gen(function*() {
      const written = yield* Stream.empty.pipe(Stream.pipeThroughChannel(SseEncoder.encode()), Stream.runCollect)
      expect(Chunk.size(written)).toBe(0)
    }))

  it.effect("passes the failure of its input on", () =>
    Effect.gen(function*() {
      const error = yield* Stream.make(SseEvent.make("a")).pipe(
        Stream.concat(Stream.fail("boom" as const)),
        Stream.pipeThroughChannel(SseEncoder.encode()),
        Stream.runDrain,
        Effect.flip
      )
      expect(error).toBe("boom")
    }))

  it.effect.prop(
    "one array per chunk, and SseParser.decode gives the events back for any chunking of the bytes",
    [fc.array(fieldsArb, { maxLength: 10 }), fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 10 }), cuts],
    ([blocks, sizes, at]) =>
      Effect.gen(function*() {
        const events = blocks.map((fields) => rightOf(SseEvent.fromFields(fields)))
        const input = chunked(events, sizes)
        const written = yield* Stream.fromChunks(...input).pipe(
          Stream.pipeThroughChannel(SseEncoder.encode()),
          Stream.runCollect,
          Effect.map(Chunk.toReadonlyArray)
        )
        expect(written.length).toBe(input.length)
        written.forEach((bytes, i) =>
          expect(bytes).toEqual(concat(Chunk.toReadonlyArray(input[i]).map(SseEvent.encode)))
        )
        const expected = outputsOf(blocks)
        // As written, and cut anywhere else.
        expect(yield* decodeAll(written)).toEqual(expected)
        expect(yield* decodeAll(splitAt(concat(written), at))).toEqual(expected)
      }),
    { fastCheck: { numRuns: 200 } }
  )
})

// -----------------------------------------------------------------------------
// SseEncoder.encodeSchema
// -----------------------------------------------------------------------------

const Tick = Schema.Struct({ n: Schema.Int, at: Schema.DateFromString })

describe("SseEncoder.encodeSchema", () => {
  it.effect("writes events whose data is the JSON of each value encoded by the schema, one array per chunk", () =>
    Effect.gen(function*() {
      const written = yield* Stream.fromChunks(
        Chunk.make({ n: 1, at: new Date(0) }, { n: 2, at: new Date(1000) }),
        Chunk.make({ n: 3, at: new Date(2000) })
      ).pipe(
        Stream.pipeThroughChannel(SseEncoder.encodeSchema(Tick)()),
        Stream.runCollect,
        Effect.map(Chunk.toReadonlyArray)
      )
      expect(written.map(utf8)).toEqual([
        "data: {\"n\":1,\"at\":\"1970-01-01T00:00:00.000Z\"}\n\ndata: {\"n\":2,\"at\":\"1970-01-01T00:00:01.000Z\"}\n\n",
        "data: {\"n\":3,\"at\":\"1970-01-01T00:00:02.000Z\"}\n\n"
      ])
    }))

  for (
    const [name, input] of [
      ["in one chunk", [Chunk.make({ n: 1, at: new Date(0) }, { n: 1.5, at: new Date(0) }, { n: 3, at: new Date(0) })]],
      ["in chunks of their own", [
        Chunk.make({ n: 1, at: new Date(0) }),
        Chunk.make({ n: 1.5, at: new Date(0) }),
        Chunk.make({ n: 3, at: new Date(0) })
      ]]
    ] as const
  ) {
    it.effect(`a value the schema refuses fails with SchemaMismatch, after the events before it (${name})`, () =>
      Effect.gen(function*() {
        const written: Array<string> = []
        const error = yield* Stream.fromChunks(...input).pipe(
          Stream.pipeThroughChannelOrFail(SseEncoder.encodeSchema(Tick)()),
          Stream.runForEach((bytes) => Effect.sync(() => written.push(utf8(bytes)))),
          Effect.flip
        )
        expect(written.join("")).toBe("data: {\"n\":1,\"at\":\"1970-01-01T00:00:00.000Z\"}\n\n")
        expect(error).toBeInstanceOf(SseEvent.SseEventError)
        expect(error[SseEvent.ErrorTypeId]).toBe(SseEvent.ErrorTypeId)
        expect(error.reason).toBe("SchemaMismatch")
        expect(error.value).toEqual({ n: 1.5, at: new Date(0) })
        expect(ParseResult.isParseError(error.cause)).toBe(true)
        expect(error.message).toContain("does not match the schema")
        expect(error.message).toContain("[\"n\"]")
        expect(error.message).toContain("Expected an integer, actual 1.5")
      }))
  }
})

// -----------------------------------------------------------------------------
// SseParser.decodeSchema
// -----------------------------------------------------------------------------

describe("SseParser.decodeSchema", () => {
  const N = Schema.Struct({ n: Schema.Number })

  it.effect("decodes each event's data as the JSON of the schema, and passes retries on", () =>
    Effect.gen(function*() {
      const outputs = yield* Stream.make(
        text("retry: 10\nid: 1\nevent: tick\ndata: {\"n\":\ndata: 1}\n\n"),
        text("data: {\"n\":2}\n\n: comment\n\ndata: {\"n\":"),
        text("3}\n\n")
      ).pipe(
        Stream.pipeThroughChannelOrFail(SseParser.decodeSchema(N)()),
        Stream.runCollect,
        Effect.map(Chunk.toReadonlyArray)
      )
      expect(outputs).toEqual([
        retry(10),
        event({ n: 1 }, "tick", "1"),
        event({ n: 2 }, "message", "1"),
        event({ n: 3 }, "message", "1")
      ])
    }))

  it.effect("decodes with the schema's transformations, and takes the parser's options", () =>
    Effect.gen(function*() {
      const outputs = yield* Stream.make(text("data: {\"n\":1,\"at\":\"1970-01-01T00:00:00.000Z\"}\n\n")).pipe(
        Stream.pipeThroughChannelOrFail(SseParser.decodeSchema(Tick)({ lastEventId: "0" })),
        Stream.runCollect,
        Effect.map(Chunk.toReadonlyArray)
      )
      expect(outputs).toEqual([event({ n: 1, at: new Date(0) }, "message", "0")])
      const tooLong = yield* Stream.make(text("data: {\"n\":1,\"at\":\"1970-01-01T00:00:00.000Z\"}\n\n")).pipe(
        Stream.pipeThroughChannelOrFail(SseParser.decodeSchema(Tick)({ maxBufferSize: 10 })),
        Stream.runDrain,
        Effect.flip
      )
      expect(tooLong.reason).toBe("LineTooLong")
    }))

  const blocks = [
    "id: 1\ndata: {\"n\":1}\n\n",
    "retry: 5\nid: 2\nevent: tick\ndata: {\"n\":\"x\"}\n\n",
    "data: {\"n\":3}\n\n"
  ]
  for (
    const [name, input] of [
      ["in one array of bytes", [Chunk.of(text(blocks.join("")))]],
      ["in arrays of their own, in one chunk", [Chunk.fromIterable(blocks.map(text))]],
      ["in chunks of their own", blocks.map((block) => Chunk.of(text(block)))]
    ] as const
  ) {
    it.effect(`data that does not match fails with SchemaMismatch naming the event, after the outputs before it (${name})`, () =>
      Effect.gen(function*() {
        const seen: Array<SseParser.Output<{ readonly n: number }>> = []
        const error = yield* Stream.fromChunks(...input).pipe(
          Stream.pipeThroughChannelOrFail(SseParser.decodeSchema(N)()),
          Stream.runForEach((output) => Effect.sync(() => seen.push(output))),
          Effect.flip
        )
        expect(seen).toEqual([event({ n: 1 }, "message", "1"), retry(5)])
        expect(error).toBeInstanceOf(SseParser.SseParserError)
        expect(error[SseParser.ErrorTypeId]).toBe(SseParser.ErrorTypeId)
        expect(error.reason).toBe("SchemaMismatch")
        expect(error.lastEventId).toBe("2")
        expect(error.eventType).toBe("tick")
        expect(ParseResult.isParseError(error.cause)).toBe(true)
        expect(error.message).toContain("\"tick\" event with id \"2\" does not match the schema")
        expect(error.message).toContain("[\"n\"]")
        expect(error.message).toContain("Expected number, actual \"x\"")
      }))
  }

  it.effect("data that is not JSON at all fails with SchemaMismatch too", () =>
    Effect.gen(function*() {
      const error = yield* Stream.make(text("id: 9\ndata: [DONE\n\n")).pipe(
        Stream.pipeThroughChannelOrFail(SseParser.decodeSchema(N)()),
        Stream.runDrain,
        Effect.flip
      )
      expect(error.reason).toBe("SchemaMismatch")
      expect(error.lastEventId).toBe("9")
      expect(error.eventType).toBe("message")
    }))

  it.effect("decodeEvent decodes one parsed event", () =>
    Effect.gen(function*() {
      const decode = SseParser.decodeEvent(N)
      expect(yield* decode(event("{\"n\":4}", "t", "7"))).toEqual(event({ n: 4 }, "t", "7"))
      const error = yield* Effect.flip(decode(event("{}", "t", "7")))
      expect(error.reason).toBe("SchemaMismatch")
      expect(error.lastEventId).toBe("7")
      expect(error.eventType).toBe("t")
    }))
})

// -----------------------------------------------------------------------------
// the pair
// -----------------------------------------------------------------------------

const Message = Schema.Struct({
  user: Schema.String,
  text: Schema.String,
  tags: Schema.Array(Schema.String),
  count: Schema.Int,
  at: Schema.Date,
  replyTo: Schema.optional(Schema.NullOr(Schema.String))
})

describe("SseEncoder.encodeSchema and SseParser.decodeSchema", () => {
  it.effect.prop(
    "decodeSchema gives back what encodeSchema wrote, for any values and any chunking of the bytes",
    [Schema.Array(Message), fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 10 }), cuts],
    ([values, sizes, at]) =>
      Effect.gen(function*() {
        const written = yield* Stream.fromChunks(...chunked(values, sizes)).pipe(
          Stream.pipeThroughChannelOrFail(SseEncoder.encodeSchema(Message)()),
          Stream.runCollect,
          Effect.map(Chunk.toReadonlyArray)
        )
        const decoded = yield* Stream.fromIterable(splitAt(concat(written), at)).pipe(
          Stream.pipeThroughChannelOrFail(SseParser.decodeSchema(Message)()),
          Stream.runCollect,
          Effect.map(Chunk.toReadonlyArray)
        )
        expect(decoded).toEqual(values.map((value) => event(value)))
      }),
    { fastCheck: { numRuns: 200 } }
  )
})
