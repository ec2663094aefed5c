import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Duration, Effect, Either, Equal, FastCheck as fc, ParseResult, Schema, Stream } from "effect"
import * as SseEncoder from "../src/SseEncoder.js"
import * as SseEvent from "../src/SseEvent.js"
import { concat, fieldNames, lines, normalizeLineBreaks, parse, splitAt, utf8 } from "./utils/parse.js"

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

/** Retry values the standard cannot carry: negative, fractional, infinite, NaN, beyond the safe integers. */
const invalidRetry = fc.oneof(
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: -1 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x)),
  fc.constantFrom(Number.NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER + 2, 1e21, -0.5, 0.5)
)

const eventArb = fc.record({
  data: anyText,
  type: fc.option(validType, { nil: undefined }),
  id: fc.option(validId, { nil: undefined })
})

type EventFields = typeof eventArb extends fc.Arbitrary<infer A> ? A : never

/** The event for valid fields, built with the checked combinators. */
const build = (fields: EventFields): SseEvent.SseEvent => {
  let event: Either.Either<SseEvent.SseEvent, SseEvent.SseEventError> = Either.right(SseEvent.make(fields.data))
  if (fields.type !== undefined) event = SseEvent.withType(event, fields.type)
  if (fields.id !== undefined) event = SseEvent.withId(event, fields.id)
  return rightOf(event)
}

/** What a client must see for these fields. An empty type is the default type, like no type at all. */
const expected = (fields: EventFields) => ({
  data: normalizeLineBreaks(fields.data),
  event: fields.type === "" ? undefined : fields.type,
  id: fields.id
})

const rightOf = <A>(either: Either.Either<A, SseEvent.SseEventError>): A =>
  Either.getOrThrowWith(either, (error) => new Error(`unexpected ${error.message}`))

const leftOf = <A>(either: Either.Either<A, SseEvent.SseEventError>): SseEvent.SseEventError =>
  Either.match(either, {
    onLeft: (error) => error,
    onRight: (value) => {
      throw new Error(`expected a refusal, got ${String(value)}`)
    }
  })

/** Every way of building an event with a checked field, for one value. */
const checkedBuilders = {
  id: (value: string) => [
    SseEvent.withId(SseEvent.make("x"), value),
    SseEvent.make("x").pipe(SseEvent.withId(value)),
    SseEvent.make("x").pipe(SseEvent.withType("t"), SseEvent.withId(value)),
    SseEvent.fromFields({ data: "x", id: value })
  ],
  type: (value: string) => [
    SseEvent.withType(SseEvent.make("x"), value),
    SseEvent.make("x").pipe(SseEvent.withType(value)),
    SseEvent.make("x").pipe(SseEvent.withId("1"), SseEvent.withType(value)),
    SseEvent.fromFields({ data: "x", type: value })
  ],
  retry: (value: Duration.DurationInput) => [
    SseEvent.retry(value),
    SseEvent.withRetry(SseEvent.make("x"), value),
    SseEvent.make("x").pipe(SseEvent.withId("1"), SseEvent.withRetry(value)),
    SseEvent.fromFields({ data: "x", retry: value })
  ]
}

// -----------------------------------------------------------------------------
// encoding
// -----------------------------------------------------------------------------

describe("SseEvent.encode", () => {
  it.prop(
    "round-trips any data, type and id through an independent parser",
    [eventArb],
    ([fields]) => {
      const parsed = parse([SseEvent.encode(build(fields))])
      expect(parsed.errors).toEqual([])
      expect(parsed.events).toEqual([expected(fields)])
    },
    { fastCheck: { numRuns: 1000 } }
  )

  it.prop(
    "a sequence of events parses back the same for any chunking of its bytes",
    [fc.array(eventArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 })],
    ([events, cuts]) => {
      const bytes = concat(events.map((fields) => SseEvent.encode(build(fields))))
      const parsed = parse(splitAt(bytes, cuts))
      expect(parsed.errors).toEqual([])
      expect(parsed.events).toEqual(events.map(expected))
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "every line of any payload is a data line of its own: no payload can start another field",
    [anyText, fc.option(validType, { nil: undefined }), fc.option(validId, { nil: undefined })],
    ([data, type, id]) => {
      const text = utf8(SseEvent.encode(build({ data, type, id })))
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

  it.prop(
    "encodeString is the text of encode",
    [eventArb],
    ([fields]) => {
      const event = build(fields)
      expect(SseEvent.encodeString(event)).toBe(utf8(SseEvent.encode(event)))
    }
  )

  it("writes the fields in a fixed order, each on its own line, and ends with the blank line", () => {
    const event = SseEvent.make("a\r\nb\rc\nd").pipe(
      SseEvent.withType("time"),
      SseEvent.withId("evt-1"),
      SseEvent.withRetry(2500),
      SseEvent.withComment("note")
    )
    expect(Either.map(event, SseEvent.encodeString)).toEqual(
      Either.right(": note\nevent: time\nid: evt-1\nretry: 2500\ndata: a\ndata: b\ndata: c\ndata: d\n\n")
    )
    expect(SseEvent.encodeString(rightOf(SseEvent.make("a\r\nb").pipe(SseEvent.withType("t"))))).toBe(
      "event: t\ndata: a\ndata: b\n\n"
    )
  })

  it("make and the total combinators give an SseEvent; the checked ones an Either", () => {
    const plain = SseEvent.withData(SseEvent.withComment(SseEvent.make("a"), "c"), "b")
    expect(SseEvent.isSseEvent(plain)).toBe(true)
    expect(SseEvent.encodeString(plain)).toBe(": c\ndata: b\n\n")
    const checked = SseEvent.withComment(SseEvent.withData(SseEvent.make("a").pipe(SseEvent.withId("1")), "b"), "c")
    expect(Either.isEither(checked)).toBe(true)
    expect(Either.map(checked, SseEvent.encodeString)).toEqual(Either.right(": c\nid: 1\ndata: b\n\n"))
    expect(SseEvent.isSseEvent(checked)).toBe(false)
    expect(SseEvent.isSseEvent({ data: "a" })).toBe(false)
  })

  it("empty data still dispatches an event with empty data", () => {
    expect(SseEvent.encodeString(SseEvent.make(""))).toBe("data: \n\n")
    const parsed = parse([
      SseEvent.encode(SseEvent.make("")),
      SseEvent.encode(rightOf(SseEvent.make("").pipe(SseEvent.withType("t"))))
    ])
    expect(parsed.events).toEqual([{ data: "", event: undefined, id: undefined }, {
      data: "",
      event: "t",
      id: undefined
    }])
  })

  it("an empty id is written, so that it resets the client's last event id", () => {
    const event = rightOf(SseEvent.make("x").pipe(SseEvent.withId("")))
    expect(SseEvent.encodeString(event)).toBe("id: \ndata: x\n\n")
    expect(parse([SseEvent.encode(event)]).events).toEqual([{ data: "x", event: undefined, id: "" }])
  })

  it("encodes once per event: encoding the same event twice gives the identical bytes", () => {
    const event = rightOf(SseEvent.make("payload").pipe(SseEvent.withId("1")))
    const first = SseEvent.encode(event)
    expect(SseEvent.encode(event)).toBe(first)
    // A changed event is a new value with its own encoding.
    const changed = SseEvent.encode(rightOf(SseEvent.withId(event, "2")))
    expect(changed).not.toBe(first)
    expect(utf8(changed)).toBe("id: 2\ndata: payload\n\n")
    expect(utf8(SseEvent.encode(event))).toBe("id: 1\ndata: payload\n\n")
  })

  it("events are values: equal fields, equal events", () => {
    const a = rightOf(SseEvent.make("x").pipe(SseEvent.withType("t"), SseEvent.withId("1")))
    const b = rightOf(SseEvent.fromFields({ data: "x", type: "t", id: "1" }))
    expect(Equal.equals(a, b)).toBe(true)
    expect(Equal.equals(a, rightOf(SseEvent.withId(a, "2")))).toBe(false)
  })
})

// -----------------------------------------------------------------------------
// field rules: checked where the event is built
// -----------------------------------------------------------------------------

describe("SseEvent field rules", () => {
  it.prop(
    "an id containing CR, LF or NUL is refused where the event is built, with InvalidId naming the field",
    [containing(["\r", "\n", "\0"])],
    ([id]) => {
      for (const result of checkedBuilders.id(id)) {
        const error = leftOf(result)
        expect(error._tag).toBe("SseEventError")
        expect(error.reason).toBe("InvalidId")
        expect(error.value).toBe(id)
        expect(error.message).toContain("\"id\" field must not contain CR, LF or NUL")
        expect(error.message).toContain(JSON.stringify(id))
      }
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "any other id is accepted, and its encoding round-trips through an independent parser",
    [validId, anyText],
    ([id, data]) => {
      for (const result of checkedBuilders.id(id)) expect(Either.isRight(result)).toBe(true)
      const parsed = parse([SseEvent.encode(rightOf(SseEvent.make(data).pipe(SseEvent.withId(id))))])
      expect(parsed.errors).toEqual([])
      expect(parsed.events).toEqual([{ data: normalizeLineBreaks(data), event: undefined, id }])
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "a type containing CR or LF is refused where the event is built, with InvalidType naming the field",
    [containing(["\r", "\n"])],
    ([type]) => {
      for (const result of checkedBuilders.type(type)) {
        const error = leftOf(result)
        expect(error.reason).toBe("InvalidType")
        expect(error.value).toBe(type)
        expect(error.message).toContain("\"event\" field (the type) must not contain CR or LF")
      }
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "any other type is accepted, and its encoding round-trips through an independent parser",
    [validType, anyText],
    ([type, data]) => {
      for (const result of checkedBuilders.type(type)) expect(Either.isRight(result)).toBe(true)
      const parsed = parse([SseEvent.encode(rightOf(SseEvent.make(data).pipe(SseEvent.withType(type))))])
      expect(parsed.events).toEqual([{
        data: normalizeLineBreaks(data),
        event: type === "" ? undefined : type,
        id: undefined
      }])
    },
    { fastCheck: { numRuns: 300 } }
  )

  it("refusals are SseEventErrors: the exported class, with its type id, yieldable as a failure", () => {
    const error = leftOf(SseEvent.make("x").pipe(SseEvent.withId("a\nb")))
    expect(error).toBeInstanceOf(SseEvent.SseEventError)
    expect(error[SseEvent.ErrorTypeId]).toBe(SseEvent.ErrorTypeId)
    expect(Effect.runSync(Effect.flip(error))).toBe(error)
    const made = new SseEvent.SseEventError({ reason: "InvalidType", value: "a\rb" })
    expect(made[SseEvent.ErrorTypeId]).toBe(SseEvent.ErrorTypeId)
    expect(made.message).toContain("\"event\"")
  })

  it("the first refusal in a pipe is kept: later steps do not run on a Left", () => {
    const refused = SseEvent.make("x").pipe(SseEvent.withType("a\nb"), SseEvent.withId("c\rd"), SseEvent.withRetry(-1))
    const error = leftOf(SseEvent.withComment(SseEvent.withData(refused, "y"), "z"))
    expect(error.reason).toBe("InvalidType")
    expect(error.value).toBe("a\nb")
    // fromFields reports the id first.
    expect(leftOf(SseEvent.fromFields({ type: "a\nb", id: "c\rd" })).reason).toBe("InvalidId")
  })

  it("a type may contain NUL (only an id may not)", () => {
    const parsed = parse([SseEvent.encode(rightOf(SseEvent.make("x").pipe(SseEvent.withType("a\0b"))))])
    expect(parsed.events).toEqual([{ data: "x", event: "a\0b", id: undefined }])
  })

  it.prop(
    "any non-negative whole number of milliseconds is a valid retry",
    [fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })],
    ([millis]) => {
      for (const result of checkedBuilders.retry(millis)) expect(Either.isRight(result)).toBe(true)
      const event = rightOf(SseEvent.retry(millis))
      expect(SseEvent.encodeString(event)).toBe(`retry: ${millis}\n\n`)
      const parsed = parse([SseEvent.encode(event)])
      expect(parsed.retries).toEqual([millis])
      // A retry-only block sets the reconnection time and dispatches nothing.
      expect(parsed.events).toEqual([])
    }
  )

  it.prop(
    "a negative, fractional, infinite or NaN retry is refused where the event is built, with InvalidRetry",
    [invalidRetry],
    ([millis]) => {
      for (const result of checkedBuilders.retry(millis)) {
        const error = leftOf(result)
        expect(error.reason).toBe("InvalidRetry")
        expect(Object.is(error.value, millis)).toBe(true)
        expect(error.message).toContain("\"retry\" field must be a non-negative whole number of milliseconds")
      }
    }
  )

  it("a retry given as a Duration is written in whole milliseconds; an infinite or fractional one is refused", () => {
    expect(Either.map(SseEvent.retry("2 seconds"), SseEvent.encodeString)).toEqual(Either.right("retry: 2000\n\n"))
    expect(Either.map(SseEvent.retry(Duration.millis(1500)), SseEvent.encodeString)).toEqual(
      Either.right("retry: 1500\n\n")
    )
    for (const duration of [Duration.infinity, Duration.micros(1500n)]) {
      for (const result of checkedBuilders.retry(duration)) {
        const error = leftOf(result)
        expect(error.reason).toBe("InvalidRetry")
        expect(error.value).toBe(duration)
      }
    }
  })

  // Whatever values the combinators are given, in whatever order, an SseEvent they produce encodes exactly its own
  // fields: there is no way to obtain an event whose encoding injects a field.
  type Step =
    | { readonly op: "type" | "id" | "data" | "comment"; readonly value: string }
    | { readonly op: "retry"; readonly value: number }

  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({
      op: fc.constantFrom("type" as const, "id" as const, "data" as const, "comment" as const),
      value: anyText
    }),
    fc.record({ op: fc.constant("retry" as const), value: fc.oneof(fc.nat(), invalidRetry) })
  )

  const isValid = (s: Step): boolean =>
    s.op === "id"
      ? !/[\r\n\0]/.test(s.value)
      : s.op === "type"
      ? !/[\r\n]/.test(s.value)
      : s.op === "retry"
      ? Number.isSafeInteger(s.value) && s.value >= 0
      : true

  const apply = (
    self: Either.Either<SseEvent.SseEvent, SseEvent.SseEventError>,
    s: Step
  ): Either.Either<SseEvent.SseEvent, SseEvent.SseEventError> => {
    switch (s.op) {
      case "type":
        return SseEvent.withType(self, s.value)
      case "id":
        return SseEvent.withId(self, s.value)
      case "retry":
        return SseEvent.withRetry(self, s.value)
      case "data":
        return SseEvent.withData(self, s.value)
      case "comment":
        return SseEvent.withComment(self, s.value)
    }
  }

  it.prop(
    "no sequence of combinators yields an event that injects a field: a bad value is a Left, else the wire has exactly the fields given",
    [anyText, fc.array(step, { maxLength: 6 })],
    ([data, steps]) => {
      const start: Either.Either<SseEvent.SseEvent, SseEvent.SseEventError> = Either.right(SseEvent.make(data))
      const result = steps.reduce(apply, start)
      const firstInvalid = steps.find((s) => !isValid(s))
      if (firstInvalid !== undefined) {
        const error = leftOf(result)
        expect(error.reason).toBe(
          firstInvalid.op === "id" ? "InvalidId" : firstInvalid.op === "type" ? "InvalidType" : "InvalidRetry"
        )
        expect(Object.is(error.value, firstInvalid.value)).toBe(true)
        return
      }
      const last = <K extends Step["op"]>(op: K) => steps.filter((s) => s.op === op).at(-1)?.value
      const fields = {
        data: (last("data") as string | undefined) ?? data,
        type: last("type") as string | undefined,
        id: last("id") as string | undefined,
        retry: last("retry") as number | undefined,
        comment: last("comment") as string | undefined
      }
      const event = rightOf(result)
      expect(Equal.equals(event, rightOf(SseEvent.fromFields(fields)))).toBe(true)
      const wire = SseEvent.encodeString(event)
      const commentLines = fields.comment === undefined ? [] : fields.comment.split(/\r\n|\r|\n/)
      expect(fieldNames(wire)).toEqual([
        ...commentLines.map(() => ":"),
        ...(fields.type === undefined ? [] : ["event"]),
        ...(fields.id === undefined ? [] : ["id"]),
        ...(fields.retry === undefined ? [] : ["retry"]),
        ...fields.data.split(/\r\n|\r|\n/).map(() => "data"),
        ""
      ])
      const parsed = parse([SseEvent.encode(event)])
      expect(parsed.errors).toEqual([])
      expect(parsed.events).toEqual([{
        data: normalizeLineBreaks(fields.data),
        event: fields.type === "" ? undefined : fields.type,
        id: fields.id
      }])
      expect(parsed.retries).toEqual(fields.retry === undefined ? [] : [fields.retry])
      expect(parsed.comments).toEqual(commentLines)
    },
    { fastCheck: { numRuns: 1000 } }
  )
})

// -----------------------------------------------------------------------------
// regressions
// -----------------------------------------------------------------------------

describe("SseEvent regressions", () => {
  // Issue item 7: a bad id was accepted by withId and only refused when the served stream encoded it, which ended
  // the response cleanly, so an EventSource reconnected into the same failure. It is now a typed error where the
  // event is built, which the code building the stream has to handle.
  it.effect("item 7: a bad id is a typed SseEventError where the event is built, and in the error type of a stream", () =>
    Effect.gen(function*() {
      const built = SseEvent.make("x").pipe(SseEvent.withId("a\nb"))
      expectTypeOf(built).toEqualTypeOf<Either.Either<SseEvent.SseEvent, SseEvent.SseEventError>>()
      const error = leftOf(built)
      expect(error.reason).toBe("InvalidId")
      expect(error.value).toBe("a\nb")

      const events = Stream.make("1", "a\nb", "3").pipe(
        Stream.mapEffect((id) => SseEvent.make(`event ${id}`).pipe(SseEvent.withId(id)))
      )
      expectTypeOf<Stream.Stream.Error<typeof events>>().toEqualTypeOf<SseEvent.SseEventError>()
      const bytes = events.pipe(Stream.pipeThroughChannelOrFail(SseEncoder.encode()))
      expectTypeOf<Stream.Stream.Error<typeof bytes>>().toEqualTypeOf<SseEvent.SseEventError>()

      const written: Array<string> = []
      const failure = yield* bytes.pipe(
        Stream.runForEach((chunk) => Effect.sync(() => written.push(utf8(chunk)))),
        Effect.flip
      )
      // The stream fails (it does not end cleanly), after the event before the bad one, and nothing of it is written.
      expect(failure).toBeInstanceOf(SseEvent.SseEventError)
      expect(failure.reason).toBe("InvalidId")
      expect(written.join("")).toBe("id: 1\ndata: event 1\n\n")
    }))

  // Issue item 10: a value the Schema refused was reported as "could not be encoded as JSON".
  it.effect("item 10: jsonSchema reports a value the schema refuses as SchemaMismatch, with the parse error", () =>
    Effect.gen(function*() {
      const toEvent = SseEvent.jsonSchema(Schema.Struct({ at: Schema.DateFromString, count: Schema.Int }))
      const error = yield* Effect.flip(toEvent({ at: new Date(0), count: 1.5 }))
      expect(error).toBeInstanceOf(SseEvent.SseEventError)
      expect(error.reason).toBe("SchemaMismatch")
      expect(error.value).toEqual({ at: new Date(0), count: 1.5 })
      expect(ParseResult.isParseError(error.cause)).toBe(true)
      expect(error.message).toContain("does not match the schema")
      expect(error.message).not.toContain("JSON")
      // The parse error's path and what it expected.
      expect(error.message).toContain("[\"count\"]")
      expect(error.message).toContain("Expected an integer, actual 1.5")
    }))
})

// -----------------------------------------------------------------------------
// comments
// -----------------------------------------------------------------------------

describe("SseEvent comments", () => {
  it("a multi-line comment gives one ':' line per line, whatever the line break", () => {
    expect(SseEvent.encodeString(SseEvent.comment("a\nb\r\nc\rd"))).toBe(": a\n: b\n: c\n: d\n\n")
    expect(SseEvent.encodeString(SseEvent.comment(""))).toBe(":\n\n")
    expect(SseEvent.encodeString(SseEvent.connected)).toBe(": connected\n\n")
    expect(SseEvent.encodeString(SseEvent.keepAlive)).toBe(": keep-alive\n\n")
  })

  it.prop(
    "any comment is seen by a client as comment lines only: it dispatches nothing and starts no field",
    [anyText],
    ([text]) => {
      const wire = utf8(SseEvent.encode(SseEvent.comment(text)))
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
      const parsed = parse([SseEvent.encode(SseEvent.withComment(build(fields), text))])
      expect(parsed.events).toEqual([expected(fields)])
      expect(parsed.comments).toEqual(text.split(/\r\n|\r|\n/))
    },
    { fastCheck: { numRuns: 300 } }
  )
})

// -----------------------------------------------------------------------------
// JSON
// -----------------------------------------------------------------------------

describe("SseEvent.json", () => {
  it("carries the JSON of a value as data", () => {
    const event = rightOf(SseEvent.json({ user: "ann", lines: "a\nb" }))
    expect(parse([SseEvent.encode(event)]).events).toEqual([
      { data: "{\"user\":\"ann\",\"lines\":\"a\\nb\"}", event: undefined, id: undefined }
    ])
  })

  it("refuses a value with no JSON form with InvalidData", () => {
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    for (const value of [cycle, undefined, 1n, () => 1]) {
      const error = leftOf(SseEvent.json(value))
      expect(error.reason).toBe("InvalidData")
      expect(error.value).toBe(value)
      expect(error.message).toContain("no JSON form")
    }
  })

  it.effect("jsonSchema encodes with the schema first", () =>
    Effect.gen(function*() {
      const toEvent = SseEvent.jsonSchema(Schema.Struct({ at: Schema.DateFromString, count: Schema.Int }))
      const event = yield* toEvent({ at: new Date(0), count: 1 })
      expect(event.data).toBe("{\"at\":\"1970-01-01T00:00:00.000Z\",\"count\":1}")
      const typed = yield* toEvent({ at: new Date(0), count: 2 }).pipe(Effect.flatMap(SseEvent.withType("tick")))
      expect(SseEvent.encodeString(typed)).toBe(
        "event: tick\ndata: {\"at\":\"1970-01-01T00:00:00.000Z\",\"count\":2}\n\n"
      )
    }))
})
