import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, FastCheck as fc, Schema } from "effect"
import * as SseEvent from "../src/SseEvent.js"
import { fieldNames, lines, normalizeLineBreaks, parse, utf8 } from "./utils/parse.js"

// -----------------------------------------------------------------------------
// arbitraries
// -----------------------------------------------------------------------------

/** Pieces that are dangerous on the wire: every kind of line break, field look-alikes, BOM, NUL, astral chars. */
const tricky = fc.constantFrom(
  "\r",
  "\n",
  "\r\n",
  "\n\r",
  "\r\r",
  "\n\n",
  ":",
  " ",
  "  ",
  "\t",
  "\uFEFF",
  "\u0000",
  "\u2028",
  "\u0085",
  "data: x",
  "id: evil",
  "event: evil",
  "retry: 1",
  "😀",
  "𝄞",
  "é"
)

/** Any well-formed Unicode text (UTF-8 cannot carry lone surrogates), biased towards the tricky pieces. */
const anyText = fc.string({ unit: fc.oneof(tricky, fc.string({ unit: "binary", minLength: 1, maxLength: 1 })) })

const withoutChars = (forbidden: RegExp) => anyText.map((text) => text.replace(forbidden, ""))

/** A valid `event:` value: anything without CR or LF. */
const validType = withoutChars(/[\r\n]/g)

/** A valid `id:` value: anything without CR, LF or NUL. */
const validId = withoutChars(/[\r\n\0]/g)

const breaker = (chars: ReadonlyArray<string>) => fc.constantFrom(...chars)

/** A value with at least one of `chars` somewhere in it. */
const containing = (chars: ReadonlyArray<string>) =>
  fc.tuple(anyText, breaker(chars), anyText).map(([before, bad, after]) => before + bad + after)

const eventArb = fc.record({
  data: anyText,
  type: fc.option(validType, { nil: undefined }),
  id: fc.option(validId, { nil: undefined })
})

type EventFields = typeof eventArb extends fc.Arbitrary<infer A> ? A : never

const build = (fields: EventFields): SseEvent.SseEvent => {
  let event = SseEvent.make(fields.data)
  if (fields.type !== undefined) event = SseEvent.withType(event, fields.type)
  if (fields.id !== undefined) event = SseEvent.withId(event, fields.id)
  return event
}

/** What a client must see for these fields. An empty type is the default type, like no type at all. */
const expected = (fields: EventFields) => ({
  data: normalizeLineBreaks(fields.data),
  event: fields.type === "" ? undefined : fields.type,
  id: fields.id
})

const encodeOrThrow = (event: SseEvent.SseEvent): Uint8Array =>
  Either.getOrThrowWith(SseEvent.encode(event), (error) => new Error(`unexpected ${error.message}`))

const leftOf = <A>(either: Either.Either<A, SseEvent.SseEventError>): SseEvent.SseEventError =>
  Either.match(either, {
    onLeft: (error) => error,
    onRight: (value) => {
      throw new Error(`expected a refusal, got ${JSON.stringify(value)}`)
    }
  })

// -----------------------------------------------------------------------------
// tests
// -----------------------------------------------------------------------------

describe("SseEvent.encode", () => {
  it.prop(
    "round-trips any data, type and id through an independent parser",
    [eventArb],
    ([fields]) => {
      const parsed = parse([encodeOrThrow(build(fields))])
      expect(parsed.errors).toEqual([])
      expect(parsed.events).toEqual([expected(fields)])
    },
    { fastCheck: { numRuns: 1000 } }
  )

  it.prop(
    "a sequence of events parses back the same for any chunking of its bytes",
    [fc.array(eventArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 })],
    ([events, cuts]) => {
      const bytes = Buffer.concat(events.map((fields) => encodeOrThrow(build(fields))))
      const positions = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b)
      const chunks: Array<Uint8Array> = []
      let start = 0
      for (const position of [...positions, bytes.length]) {
        chunks.push(bytes.subarray(start, position))
        start = position
      }
      const parsed = parse(chunks)
      expect(parsed.errors).toEqual([])
      expect(parsed.events).toEqual(events.map(expected))
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "every line of any payload is a data line of its own: no payload can start another field",
    [anyText, fc.option(validType, { nil: undefined }), fc.option(validId, { nil: undefined })],
    ([data, type, id]) => {
      const text = utf8(encodeOrThrow(build({ data, type, id })))
      const pieces = data.split(/\r\n|\r|\n/)
      expect(fieldNames(text)).toEqual([
        ...(type === undefined ? [] : ["event"]),
        ...(id === undefined ? [] : ["id"]),
        ...pieces.map(() => "data"),
        ""
      ])
      expect(lines(text).filter((line) => line.startsWith("data"))).toEqual(pieces.map((piece) => `data: ${piece}`))
      expect(text.endsWith("\n\n")).toBe(true)
    },
    { fastCheck: { numRuns: 500 } }
  )

  it("writes the fields in a fixed order, each on its own line, and ends with the blank line", () => {
    const event = SseEvent.make("a\r\nb\rc\nd").pipe(
      SseEvent.withType("time"),
      SseEvent.withId("evt-1"),
      SseEvent.withRetry(2500),
      SseEvent.withComment("note")
    )
    expect(SseEvent.encodeString(event)).toEqual(
      Either.right(": note\nevent: time\nid: evt-1\nretry: 2500\ndata: a\ndata: b\ndata: c\ndata: d\n\n")
    )
    expect(SseEvent.encodeString(SseEvent.make("a\r\nb").pipe(SseEvent.withType("t")))).toEqual(
      Either.right("event: t\ndata: a\ndata: b\n\n")
    )
  })

  it("empty data still dispatches an event with empty data", () => {
    expect(SseEvent.encodeString(SseEvent.make(""))).toEqual(Either.right("data: \n\n"))
    const parsed = parse([
      encodeOrThrow(SseEvent.make("")),
      encodeOrThrow(SseEvent.make("").pipe(SseEvent.withType("t")))
    ])
    expect(parsed.events).toEqual([{ data: "", event: undefined, id: undefined }, {
      data: "",
      event: "t",
      id: undefined
    }])
  })

  it("an empty id is written, so that it resets the client's last event id", () => {
    expect(SseEvent.encodeString(SseEvent.make("x").pipe(SseEvent.withId("")))).toEqual(
      Either.right("id: \ndata: x\n\n")
    )
    expect(parse([encodeOrThrow(SseEvent.make("x").pipe(SseEvent.withId("")))]).events).toEqual([
      { data: "x", event: undefined, id: "" }
    ])
  })

  it("encodes once per event: encoding the same event twice gives the identical bytes", () => {
    const event = SseEvent.make("payload").pipe(SseEvent.withId("1"))
    const first = SseEvent.encode(event)
    const second = SseEvent.encode(event)
    expect(Either.isRight(first) && Either.isRight(second)).toBe(true)
    if (Either.isRight(first) && Either.isRight(second)) {
      expect(second.right).toBe(first.right)
      // A changed event is a new value with its own encoding.
      const changed = Either.getOrThrow(SseEvent.encode(SseEvent.withId(event, "2")))
      expect(changed).not.toBe(first.right)
      expect(utf8(changed)).toBe("id: 2\ndata: payload\n\n")
    }
  })
})

describe("SseEvent field rules", () => {
  it.prop(
    "an id containing CR, LF or NUL is refused with InvalidId and never encoded",
    [containing(["\r", "\n", "\0"]), anyText],
    ([id, data]) => {
      const event = SseEvent.make(data).pipe(SseEvent.withId(id))
      for (const result of [SseEvent.encode(event), SseEvent.encodeString(event), SseEvent.validate(event)]) {
        const error = leftOf<unknown>(result)
        expect(error._tag).toBe("SseEventError")
        expect(error.reason).toBe("InvalidId")
        expect(error.value).toBe(id)
        expect(error.message).toContain("\"id\"")
      }
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "a type containing CR or LF is refused with InvalidType and never encoded",
    [containing(["\r", "\n"]), anyText],
    ([type, data]) => {
      const event = SseEvent.make(data).pipe(SseEvent.withType(type))
      for (const result of [SseEvent.encode(event), SseEvent.encodeString(event), SseEvent.validate(event)]) {
        const error = leftOf<unknown>(result)
        expect(error.reason).toBe("InvalidType")
        expect(error.value).toBe(type)
        expect(error.message).toContain("\"event\"")
      }
    },
    { fastCheck: { numRuns: 300 } }
  )

  it("refusals are instances of the exported SseEventError class", () => {
    const error = leftOf(SseEvent.encode(SseEvent.make("x").pipe(SseEvent.withId("a\nb"))))
    expect(error).toBeInstanceOf(SseEvent.SseEventError)
  })

  it("a type may contain NUL (only an id may not)", () => {
    const parsed = parse([encodeOrThrow(SseEvent.make("x").pipe(SseEvent.withType("a\0b")))])
    expect(parsed.events).toEqual([{ data: "x", event: "a\0b", id: undefined }])
  })

  it.prop(
    "any non-negative whole number of milliseconds is a valid retry",
    [fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })],
    ([millis]) => {
      expect(SseEvent.encodeString(SseEvent.retry(millis))).toEqual(Either.right(`retry: ${millis}\n\n`))
      const parsed = parse([encodeOrThrow(SseEvent.retry(millis))])
      expect(parsed.retries).toEqual([millis])
      // A retry-only block sets the reconnection time and dispatches nothing.
      expect(parsed.events).toEqual([])
    }
  )

  it.prop(
    "a negative, fractional, infinite or NaN retry is refused with InvalidRetry",
    [
      fc.oneof(
        fc.integer({ min: Number.MIN_SAFE_INTEGER, max: -1 }),
        fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x)),
        fc.constantFrom(Number.NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER + 2, 1e21, -0.5, 0.5)
      )
    ],
    ([millis]) => {
      for (const event of [SseEvent.retry(millis), SseEvent.make("x").pipe(SseEvent.withRetry(millis))]) {
        const error = leftOf(SseEvent.encode(event))
        expect(error.reason).toBe("InvalidRetry")
        expect(Object.is(error.value, millis)).toBe(true)
      }
    }
  )

  it("a retry given as a Duration is written in whole milliseconds; an infinite one is refused", () => {
    expect(SseEvent.encodeString(SseEvent.retry("2 seconds"))).toEqual(Either.right("retry: 2000\n\n"))
    expect(SseEvent.encodeString(SseEvent.retry(Duration.millis(1500)))).toEqual(Either.right("retry: 1500\n\n"))
    expect(leftOf(SseEvent.encode(SseEvent.retry(Duration.infinity))).reason).toBe("InvalidRetry")
    expect(leftOf(SseEvent.encode(SseEvent.retry(Duration.micros(1500n)))).reason).toBe("InvalidRetry")
  })
})

describe("SseEvent comments", () => {
  it("a multi-line comment gives one ':' line per line, whatever the line break", () => {
    expect(SseEvent.encodeString(SseEvent.comment("a\nb\r\nc\rd"))).toEqual(Either.right(": a\n: b\n: c\n: d\n\n"))
    expect(SseEvent.encodeString(SseEvent.comment(""))).toEqual(Either.right(":\n\n"))
    expect(SseEvent.encodeString(SseEvent.connected)).toEqual(Either.right(": connected\n\n"))
  })

  it.prop(
    "any comment is seen by a client as comment lines only: it dispatches nothing and starts no field",
    [anyText],
    ([text]) => {
      const wire = utf8(encodeOrThrow(SseEvent.comment(text)))
      const pieces = text.split(/\r\n|\r|\n/)
      expect(fieldNames(wire)).toEqual([...pieces.map(() => ":"), ""])
      const parsed = parse([wire])
      expect(parsed.events).toEqual([])
      expect(parsed.errors).toEqual([])
      expect(parsed.comments).toEqual(pieces)
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop(
    "a comment on an event does not change what the event carries",
    [anyText, eventArb],
    ([text, fields]) => {
      const parsed = parse([encodeOrThrow(SseEvent.withComment(build(fields), text))])
      expect(parsed.events).toEqual([expected(fields)])
      expect(parsed.comments).toEqual(text.split(/\r\n|\r|\n/))
    },
    { fastCheck: { numRuns: 300 } }
  )
})

describe("SseEvent.json", () => {
  it("carries the JSON of a value as data", () => {
    const event = Either.getOrThrow(SseEvent.json({ user: "ann", lines: "a\nb" }))
    expect(parse([encodeOrThrow(event)]).events).toEqual([
      { data: "{\"user\":\"ann\",\"lines\":\"a\\nb\"}", event: undefined, id: undefined }
    ])
  })

  it("refuses a value with no JSON form with InvalidData", () => {
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    for (const value of [cycle, undefined, 1n, () => 1]) {
      expect(leftOf(SseEvent.json(value)).reason).toBe("InvalidData")
    }
  })

  it.effect("jsonSchema encodes with the schema first", () =>
    Effect.gen(function*() {
      const toEvent = SseEvent.jsonSchema(Schema.Struct({ at: Schema.DateFromString, count: Schema.Int }))
      const event = yield* toEvent({ at: new Date(0), count: 1 })
      expect(event.data).toBe("{\"at\":\"1970-01-01T00:00:00.000Z\",\"count\":1}")
      const error = yield* Effect.flip(toEvent({ at: new Date(0), count: 1.5 }))
      expect(error.reason).toBe("InvalidData")
    }))
})
