import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, FastCheck as fc, Stream } from "effect"
import { createParser } from "eventsource-parser"
import * as SseEvent from "../src/SseEvent.js"
import * as SseParser from "../src/SseParser.js"
import { splitAt } from "./utils/parse.js"

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

const bytes = (...parts: ReadonlyArray<string | ReadonlyArray<number>>): Uint8Array => {
  const out: Array<number> = []
  for (const part of parts) out.push(...(typeof part === "string" ? utf8(part) : part))
  return new Uint8Array(out)
}

const event = (data: string, type = "message", lastEventId = ""): SseParser.Event => ({
  _tag: "Event",
  type,
  data,
  lastEventId
})

const retry = (millis: number): SseParser.Retry => ({ _tag: "Retry", millis })

const parse = (input: string | Uint8Array | ReadonlyArray<string | Uint8Array>, options?: SseParser.Options) =>
  Either.getOrThrow(SseParser.parse(input, options))

const splitStringAt = (whole: string, cuts: ReadonlyArray<number>): Array<string> => {
  const positions = [...new Set(cuts.map((cut) => cut % (whole.length + 1)))].sort((a, b) => a - b)
  const chunks: Array<string> = []
  let start = 0
  for (const position of positions) {
    chunks.push(whole.slice(start, position))
    start = position
  }
  chunks.push(whole.slice(start))
  return chunks
}

/** Every byte in a chunk of its own: every boundary inside CRLF and inside multi-byte characters at once. */
const oneByOne = (whole: Uint8Array): Array<Uint8Array> => Array.from(whole, (byte) => new Uint8Array([byte]))

/**
 * The standard transcribed as literally as possible, for whole inputs only: decode everything at once, cut
 * lines, and run the field and dispatch steps with the data buffer kept as the standard keeps it (value + LF).
 */
const reference = (input: Uint8Array): { outputs: Array<SseParser.Output>; lastEventId: string } => {
  const text = new TextDecoder("utf-8").decode(input) // replacement characters, one leading BOM dropped
  const lines: Array<string> = []
  let line = ""
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === "\r") {
      lines.push(line)
      line = ""
      if (text[i + 1] === "\n") i++
    } else if (c === "\n") {
      lines.push(line)
      line = ""
    } else {
      line += c
    }
  }
  // `line` is now an unterminated last line: thrown away.
  const outputs: Array<SseParser.Output> = []
  let data = ""
  let type = ""
  let idBuffer = ""
  let lastEventId = ""
  for (const line of lines) {
    if (line === "") {
      lastEventId = idBuffer
      if (data === "") {
        type = ""
        continue
      }
      if (data.endsWith("\n")) data = data.slice(0, -1)
      outputs.push(event(data, type === "" ? "message" : type, lastEventId))
      data = ""
      type = ""
      continue
    }
    if (line.startsWith(":")) continue
    const colon = line.indexOf(":")
    const name = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? "" : line.slice(colon + 1)
    if (value.startsWith(" ")) value = value.slice(1)
    if (name === "event") type = value
    else if (name === "data") data += value + "\n"
    else if (name === "id" && !value.includes("\0")) idBuffer = value
    else if (name === "retry" && /^[0-9]+$/.test(value)) outputs.push(retry(parseInt(value, 10)))
  }
  return { outputs, lastEventId }
}

/** Feeds chunks to one parser and returns its outputs and final last event ID string. */
const run = (chunks: ReadonlyArray<Uint8Array | string>, options?: SseParser.Options) => {
  const parser = SseParser.make(options)
  const outputs: Array<SseParser.Output> = []
  for (const chunk of chunks) {
    outputs.push(...Either.getOrThrow(typeof chunk === "string" ? parser.feedString(chunk) : parser.feed(chunk)))
  }
  parser.end()
  return { outputs, lastEventId: parser.lastEventId }
}

// -----------------------------------------------------------------------------
// arbitraries
// -----------------------------------------------------------------------------

const valueText = fc.string({
  unit: fc.oneof(
    fc.constantFrom(":", " ", "  ", "\t", "\0", "\uFEFF", "é", "😀", "data", "id", "1", "\u2028"),
    fc.string({ unit: "binary", minLength: 1, maxLength: 1 })
  ),
  maxLength: 12
})

const lineEnd = fc.constantFrom("\n", "\r", "\r\n")

/** One line of an event stream, valid or not, with its line end. */
const streamLine = fc.oneof(
  fc.tuple(
    fc.constantFrom("data", "data", "data", "event", "id", "retry", "Data", "dat", "data ", "foo", "\uFEFFdata"),
    fc.constantFrom(":", ": ", ":  ", ""),
    fc.oneof(valueText, fc.constantFrom("12", "007", "12abc", "-1", "1.5", "", "99999999999999999999")),
    lineEnd
  ).map(([name, separator, value, end]) => name + separator + (separator === "" ? "" : value) + end),
  fc.tuple(fc.constantFrom(":", ": comment", ":data: x"), lineEnd).map(([line, end]) => line + end),
  lineEnd // an empty line: dispatch
)

/** An arbitrary event stream as bytes: maybe BOMs, lines, then maybe an unterminated tail and invalid UTF-8. */
const streamBytes = fc.tuple(
  fc.constantFrom("", "", "\uFEFF", "\uFEFF\uFEFF"),
  fc.array(streamLine, { maxLength: 40 }),
  fc.oneof(fc.constant(""), valueText),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0x80, max: 0xFF })), { maxLength: 3 })
).map(([bom, lines, tail, garbage]) => {
  const out = Array.from(utf8(bom + lines.join("") + tail))
  for (const [position, byte] of garbage) out.splice(position % (out.length + 1), 0, byte)
  return new Uint8Array(out)
})

const cuts = fc.array(fc.nat(), { maxLength: 24 })

// -----------------------------------------------------------------------------
// the standard's rules, one example each
// -----------------------------------------------------------------------------

describe("SseParser: the standard's rules", () => {
  it("joins data lines with LF and dispatches on an empty line (spec example: YHOO)", () => {
    assert.deepStrictEqual(parse("data: YHOO\ndata: +2\ndata: 10\n\n"), [event("YHOO\n+2\n10")])
  })

  it("keeps the last event ID across events, resets it with an empty id, drops the unterminated block", () => {
    // The standard's second example, verbatim.
    const stream = ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n"
    assert.deepStrictEqual(parse(stream), [event("first event", "message", "1"), event("second event", "message", "")])
  })

  it("treats `data` alone as empty data, and two of them as one LF (spec example)", () => {
    assert.deepStrictEqual(parse("data\n\ndata\ndata\n\ndata:"), [event(""), event("\n")])
  })

  it("reads `data:test` and `data: test` the same (spec example), removing only one space", () => {
    assert.deepStrictEqual(parse("data:test\n\ndata: test\n\ndata:  two\n\ndata:\ttab\n\n"), [
      event("test"),
      event("test"),
      event(" two"),
      event("\ttab")
    ])
  })

  it("uses the event type, `message` when it is absent or empty, and forgets it after each dispatch", () => {
    assert.deepStrictEqual(parse("event: add\ndata: 1\n\ndata: 2\n\nevent:\ndata: 3\n\nevent\ndata: 4\n\n"), [
      event("1", "add"),
      event("2"),
      event("3"),
      event("4")
    ])
  })

  it("reads CRLF, LF and CR line ends in any mix", () => {
    const expected = [event("a\nb\nc", "t"), event("d")]
    assert.deepStrictEqual(parse("event: t\r\ndata: a\rdata: b\ndata: c\r\n\rdata: d\n\r\n"), expected)
    assert.deepStrictEqual(parse("event: t\rdata: a\rdata: b\rdata: c\r\rdata: d\r\r"), expected)
  })

  it("reads LF-only lines after a CR-ended one (where a line-ending sniffer misses events)", () => {
    assert.deepStrictEqual(parse(["data: a\r\r", "data: b\n\n", "data: c\n\n"]), [
      event("a"),
      event("b"),
      event("c")
    ])
  })

  it("treats a CRLF split across chunks as one line end", () => {
    // Were the LF read as a line of its own, `a` would be dispatched alone.
    assert.deepStrictEqual(parse(["data: a\r", "\ndata: b\r", "\n\r", "\n"]), [event("a\nb")])
    assert.deepStrictEqual(parse(["data: a\r", "", "\n", "\r", "\n"]), [event("a")])
  })

  it("dispatches on a CR ending a chunk without waiting for the next chunk", () => {
    const parser = SseParser.make()
    assert.deepStrictEqual(Either.getOrThrow(parser.feedString("data: a\r")), [])
    assert.deepStrictEqual(Either.getOrThrow(parser.feedString("\r")), [event("a")])
    // The LF completing that CRLF is not another empty line.
    assert.deepStrictEqual(Either.getOrThrow(parser.feedString("\ndata: b\n\n")), [event("b")])
    const bytesParser = SseParser.make()
    assert.deepStrictEqual(Either.getOrThrow(bytesParser.feed(utf8("data: x\n\r"))), [event("x")])
  })

  it("ignores comments", () => {
    assert.deepStrictEqual(parse(":\n: hello\ndata: a\n:data: b\n\n: bye\n\n"), [event("a")])
  })

  it("takes a line without a colon as a field name with an empty value", () => {
    assert.deepStrictEqual(parse("id: 7\ndata\n\nid\ndata\n\nretry\nevent\ndata: x\n\n"), [
      event("", "message", "7"),
      event("", "message", ""),
      event("x")
    ])
  })

  it("ignores unknown fields and compares names exactly", () => {
    assert.deepStrictEqual(parse("Data: a\ndata : b\n data: c\nfoo: d\nDATA: e\n\n"), [])
    assert.deepStrictEqual(parse("foo: 1\ndata: a\nbar\n\n"), [event("a")])
  })

  it("ignores an id containing NUL, keeping the previous one", () => {
    assert.deepStrictEqual(parse("id: 1\ndata: a\n\nid: 2\u00003\ndata: b\n\n"), [
      event("a", "message", "1"),
      event("b", "message", "1")
    ])
  })

  it("reads `retry` only when it is one or more ASCII digits, as soon as the line is read", () => {
    assert.deepStrictEqual(
      parse("retry: 12abc\nretry:\nretry: -1\nretry: 1.5\nretry:  100\nretry: ١٢\nretry: 0\nretry:007\nretry: 250\n"),
      [retry(0), retry(7), retry(250)]
    )
    assert.deepStrictEqual(parse("retry: 99999999999999999999\n"), [retry(1e20)])
  })

  it("dispatches no event for a block without data, but commits its id", () => {
    const parser = SseParser.make()
    assert.deepStrictEqual(Either.getOrThrow(parser.feedString("event: x\nid: 3\n\n")), [])
    assert.strictEqual(parser.lastEventId, "3")
    // An id is committed only by a dispatch.
    assert.deepStrictEqual(Either.getOrThrow(parser.feedString("id: 4\ndata: a\n")), [])
    assert.strictEqual(parser.lastEventId, "3")
    assert.deepStrictEqual(Either.getOrThrow(parser.feedString("\n")), [event("a", "message", "4")])
    assert.strictEqual(parser.lastEventId, "4")
  })

  it("removes exactly one trailing LF from the data", () => {
    assert.deepStrictEqual(parse("data: a\ndata:\n\ndata:\ndata:\ndata\n\n"), [event("a\n"), event("\n\n")])
  })

  it("discards an unterminated last event and an unterminated last line", () => {
    assert.deepStrictEqual(parse("data: a\n\ndata: b\n"), [event("a")])
    assert.deepStrictEqual(parse("data: a\n\ndata: b"), [event("a")])
    assert.deepStrictEqual(parse("data: a\n\nretry: 5"), [event("a")])
  })

  it("drops one leading BOM, even split across chunks, and only one", () => {
    assert.deepStrictEqual(parse(bytes([0xEF, 0xBB, 0xBF], "data: a\n\n")), [event("a")])
    assert.deepStrictEqual(parse([bytes([0xEF]), bytes([0xBB]), bytes([0xBF], "data: a\n\n")]), [event("a")])
    assert.deepStrictEqual(parse(["", "\uFEFFdata: a\n\n"]), [event("a")])
    // A second BOM is part of the first line's name, so that line is an unknown field.
    assert.deepStrictEqual(parse(bytes([0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF], "data: a\n\ndata: b\n\n")), [event("b")])
    assert.deepStrictEqual(parse("data: a\n\n\uFEFFdata: b\n\n"), [event("a")])
  })

  it("decodes UTF-8 across chunks, with U+FFFD for bad sequences", () => {
    const euro = [0xE2, 0x82, 0xAC]
    const whole = bytes("data: ", euro, [0xF0, 0x9F, 0x98, 0x80], "\n\n")
    assert.deepStrictEqual(parse(oneByOne(whole)), [event("€😀")])
    // A lone continuation byte, a truncated sequence, an invalid byte, a surrogate and an overlong form.
    const bad = bytes("data: ", [0x80], "a", [0xE2, 0x82], "b", [0xFF], [0xED, 0xA0, 0x80], [0xC0, 0xAF], "\n\n")
    const expected = [event("\uFFFDa\uFFFDb\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD")]
    assert.deepStrictEqual(parse(bad), expected)
    assert.deepStrictEqual(parse(oneByOne(bad)), expected)
    // A truncated sequence right before a line break ends with it.
    assert.deepStrictEqual(parse([bytes("data: ", [0xE2, 0x82]), bytes("\n\n")]), [event("\uFFFD")])
  })

  it("keeps no decoder state from one stream to the next", () => {
    // A stream that stops right after a lead byte must not leave it pending for another parser.
    assert.deepStrictEqual(parse([bytes("data: é"), bytes([0xF0, 0xC2])]), [])
    assert.deepStrictEqual(parse([bytes("data: é\n\n"), bytes("data: b\n\n")]), [event("é"), event("b")])
  })

  it("starts a new stream after `end`, keeping the last event ID string", () => {
    const parser = SseParser.make({ lastEventId: "0" })
    assert.deepStrictEqual(Either.getOrThrow(parser.feedString("data: a\n\nid: 1\n\ndata: partial\nid: 2\n")), [
      event("a", "message", "0")
    ])
    parser.end()
    assert.strictEqual(parser.lastEventId, "1")
    assert.deepStrictEqual(Either.getOrThrow(parser.feed(bytes([0xEF, 0xBB, 0xBF], "data: b\n\n"))), [
      event("b", "message", "1")
    ])
  })
})

// -----------------------------------------------------------------------------
// limits
// -----------------------------------------------------------------------------

describe("SseParser: limits", () => {
  it("fails with LineTooLong on a complete line over the limit", () => {
    const result = SseParser.parse("data: 1234\n\ndata: 0123456789\n\n", { maxBufferSize: 10 })
    assert.isTrue(Either.isLeft(result))
    const error = Either.getLeft(result).pipe((_) => (_._tag === "Some" ? _.value : undefined))
    assert.instanceOf(error, SseParser.SseParserError)
    assert.strictEqual(error?._tag, "SseParserError")
    assert.strictEqual(error?.[SseParser.ErrorTypeId], SseParser.ErrorTypeId)
    assert.strictEqual(error?.reason, "LineTooLong")
    assert.strictEqual(error?.limit, 10)
    assert.include(error?.message, "10")
  })

  it("fails with LineTooLong as soon as a pending line passes the limit, before its line break", () => {
    const parser = SseParser.make({ maxBufferSize: 10 })
    assert.isTrue(Either.isRight(parser.feedString("data: 1234")))
    const failed = parser.feedString("5")
    assert.isTrue(Either.isLeft(failed) && failed.left.reason === "LineTooLong")
    // The parser stays failed until `end`.
    assert.isTrue(Either.isLeft(parser.feedString("\n\ndata: a\n\n")))
    parser.end()
    assert.deepStrictEqual(Either.getOrThrow(parser.feedString("data: a\n\n")), [event("a")])
  })

  it("fails with EventTooLarge when the data of one event passes the limit", () => {
    const ok = "data: 12345\n".repeat(2) + "\n"
    assert.deepStrictEqual(parse(ok, { maxBufferSize: 11 }), [event("12345\n12345")])
    const result = SseParser.parse("data: 12345\n".repeat(3) + "\n", { maxBufferSize: 11 })
    assert.isTrue(Either.isLeft(result) && result.left.reason === "EventTooLarge")
  })

  it("has a default limit of 8 MiB", () => {
    assert.strictEqual(SseParser.defaultMaxBufferSize, 8 * 1024 * 1024)
    // The limit counts the whole line, field name included.
    const big = "x".repeat(SseParser.defaultMaxBufferSize - "data:".length)
    assert.deepStrictEqual(parse(["data:", big, "\n\n"]), [event(big)])
    assert.isTrue(Either.isLeft(SseParser.parse(["data: ", big, "\n\n"])))
  })

  it.effect("the channel writes the events before the offending line, then fails", () =>
    Effect.gen(function*() {
      const chunks = [utf8("data: a\n\ndata: b\n\ndata: 0123456789abc\n\n")]
      const seen: Array<SseParser.Output> = []
      const error = yield* Stream.fromIterable(chunks).pipe(
        Stream.pipeThroughChannelOrFail(SseParser.decode({ maxBufferSize: 10 })),
        Stream.runForEach((output) => Effect.sync(() => seen.push(output))),
        Effect.flip
      )
      assert.deepStrictEqual(seen, [event("a"), event("b")])
      assert.strictEqual(error.reason, "LineTooLong")
    }))
})

// -----------------------------------------------------------------------------
// Stream forms
// -----------------------------------------------------------------------------

describe("SseParser: channels", () => {
  it.effect("decode parses a stream of byte chunks", () =>
    Effect.gen(function*() {
      const whole = bytes([0xEF, 0xBB, 0xBF], "retry: 10\r\nid: 1\r\nevent: e\r\ndata: é\r\n\r\ndata: b\r\n\r\ndata: c")
      const outputs = yield* Stream.fromIterable(oneByOne(whole)).pipe(
        Stream.pipeThroughChannelOrFail(SseParser.decode()),
        Stream.runCollect
      )
      assert.deepStrictEqual(Chunk.toReadonlyArray(outputs), [
        retry(10),
        event("é", "e", "1"),
        event("b", "message", "1")
      ])
    }))

  it.effect("decodeString parses a stream of text chunks; isEvent keeps the events", () =>
    Effect.gen(function*() {
      const outputs = yield* Stream.make("data: a\r", "\nretry: 5\n", "\ndata: b\n\n").pipe(
        Stream.pipeThroughChannelOrFail(SseParser.decodeString({ lastEventId: "x" })),
        Stream.filter(SseParser.isEvent),
        Stream.runCollect
      )
      assert.deepStrictEqual(Chunk.toReadonlyArray(outputs), [event("a", "message", "x"), event("b", "message", "x")])
    }))

  it.effect("each run of a channel starts from a fresh parser", () =>
    Effect.gen(function*() {
      const stream = Stream.make("id: 1\ndata: a\n\ndata: partial").pipe(
        Stream.pipeThroughChannelOrFail(SseParser.decodeString()),
        Stream.runCollect
      )
      const first = yield* stream
      const second = yield* stream
      assert.deepStrictEqual(Chunk.toReadonlyArray(first), [event("a", "message", "1")])
      assert.deepStrictEqual(Chunk.toReadonlyArray(second), Chunk.toReadonlyArray(first))
    }))
})

// -----------------------------------------------------------------------------
// laws
// -----------------------------------------------------------------------------

describe("SseParser: laws", () => {
  it.prop(
    "gives the same outputs for every way of splitting the bytes into chunks",
    [streamBytes, cuts],
    ([whole, at]) => {
      const expected = run([whole])
      assert.deepStrictEqual(run(splitAt(whole, at)), expected)
      assert.deepStrictEqual(run(oneByOne(whole)), expected)
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "gives the same outputs for every way of splitting the text into chunks",
    [streamBytes, cuts],
    ([whole, at]) => {
      const text = new TextDecoder().decode(whole)
      const expected = run([text])
      assert.deepStrictEqual(run(splitStringAt(text, at)), expected)
      assert.deepStrictEqual(run(Array.from(text)), expected)
    },
    { fastCheck: { numRuns: 200 } }
  )

  it.prop(
    "decodes any bytes as one UTF-8 decoder reading the whole stream would, however they are chunked",
    [
      fc.array(
        fc.oneof(
          fc.integer({ min: 0x80, max: 0xFF }),
          fc.constantFrom(0xC2, 0xC3, 0xE0, 0xE2, 0xED, 0xEF, 0xF0, 0xF4, 0xBB, 0xBF, 0x0A, 0x0D, 0x61)
        ),
        { maxLength: 64 }
      ),
      cuts
    ],
    ([payload, at]) => {
      const whole = bytes("data:", payload, "\n\n")
      assert.deepStrictEqual(run(splitAt(whole, at)), reference(whole))
      assert.deepStrictEqual(run(oneByOne(whole)), reference(whole))
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop("agrees with a literal transcription of the standard", [streamBytes, cuts], ([whole, at]) => {
    assert.deepStrictEqual(run(splitAt(whole, at)), reference(whole))
  }, { fastCheck: { numRuns: 300 } })

  it.prop(
    "agrees with eventsource-parser on the events' type and data, and on retries",
    [streamBytes, cuts],
    ([generated, at]) => {
      // eventsource-parser holds back a CR ending its input until more arrives; a final LF settles it for both.
      const whole = new Uint8Array([...generated, 0x0A])
      const theirs: Array<{ type: string; data: string }> = []
      const theirRetries: Array<number> = []
      const parser = createParser({
        onEvent: (e) => theirs.push({ type: e.event ?? "message", data: e.data }),
        onRetry: (millis) => theirRetries.push(millis)
      })
      const decoder = new TextDecoder()
      for (const chunk of splitAt(whole, at)) parser.feed(decoder.decode(chunk, { stream: true }))
      const ours = run(splitAt(whole, at)).outputs
      assert.deepStrictEqual(
        ours.filter(SseParser.isEvent).map((e) => ({ type: e.type, data: e.data })),
        theirs
      )
      assert.deepStrictEqual(ours.filter(SseParser.isRetry).map((r) => r.millis), theirRetries)
    },
    { fastCheck: { numRuns: 300 } }
  )

  const wellFormed = fc.string({
    unit: fc.oneof(
      fc.constantFrom("\r", "\n", "\r\n", ":", " ", "\0", "\uFEFF", "😀", "é", "data: x", "id: y", "\u2028"),
      fc.string({ unit: "binary", minLength: 1, maxLength: 1 })
    ),
    maxLength: 16
  })
  const encodable = fc.record({
    data: wellFormed,
    type: fc.option(wellFormed.map((s) => s.replace(/[\r\n]/g, "")), { nil: undefined }),
    id: fc.option(wellFormed.map((s) => s.replace(/[\r\n\0]/g, "")), { nil: undefined }),
    retry: fc.option(fc.nat(), { nil: undefined })
  })

  it.prop(
    "gives back the events our encoder wrote, however the bytes are chunked",
    [fc.array(encodable, { maxLength: 8 }), cuts],
    ([fields, at]) => {
      const expected: Array<SseParser.Output> = []
      const encoded: Array<Uint8Array> = []
      let lastEventId = ""
      for (const f of fields) {
        let e: Either.Either<SseEvent.SseEvent, SseEvent.SseEventError> = Either.right(SseEvent.make(f.data))
        if (f.type !== undefined) e = SseEvent.withType(e, f.type)
        if (f.id !== undefined) e = SseEvent.withId(e, f.id)
        if (f.retry !== undefined) e = SseEvent.withRetry(e, f.retry)
        encoded.push(SseEvent.encode(Either.getOrThrow(e)))
        if (f.retry !== undefined) expected.push(retry(f.retry))
        if (f.id !== undefined) lastEventId = f.id
        const type = f.type === undefined || f.type === "" ? "message" : f.type
        expected.push(event(f.data.replace(/\r\n|\r/g, "\n"), type, lastEventId))
      }
      const whole = new Uint8Array(encoded.flatMap((chunk) => Array.from(chunk)))
      assert.deepStrictEqual(run(splitAt(whole, at)).outputs, expected)
    },
    { fastCheck: { numRuns: 300 } }
  )
})
