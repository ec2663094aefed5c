/**
 * The wire behaviour both lines of the library must have, as data and one spec function that each line's test
 * file runs against its own API (Effect 3: test/shared.wire.test.ts; Effect 4: effect4/test/shared.wire.test.ts).
 * It imports nothing, not even vitest: each line passes its own `describe`, `it` and `expect`, so the two
 * test runners never share a module and the lines cannot drift apart.
 */

/** The fields a builder is given; `retry` in milliseconds. */
export interface FieldsInput {
  readonly data?: string
  readonly type?: string
  readonly id?: string
  readonly retry?: number
  readonly comment?: string
}

/** What a parser outputs, as plain data. */
export type Output =
  | { readonly _tag: "Event"; readonly type: string; readonly data: string; readonly lastEventId: string }
  | { readonly _tag: "Retry"; readonly millis: number }

/** A success or a refusal, with the refusal's `reason`. */
export type Outcome<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly reason: string }

/** One line of the library, reduced to what the spec checks. */
export interface Line {
  /** Builds an event from its fields through the line's checked builders, and encodes it to text. */
  readonly encode: (fields: FieldsInput) => Outcome<string>
  /** Parses a whole stream given in chunks. */
  readonly parse: (
    chunks: ReadonlyArray<string | Uint8Array>,
    options?: { readonly maxBufferSize?: number; readonly lastEventId?: string }
  ) => Outcome<ReadonlyArray<Output>>
}

/** The part of a test runner the spec uses. */
export interface Harness {
  readonly describe: (name: string, body: () => void) => void
  readonly it: (name: string, body: () => void) => void
  readonly expect: (actual: unknown) => { toEqual: (expected: unknown) => void }
}

/** Fields and the exact bytes they must be written as. */
export const encodings: ReadonlyArray<{ readonly name: string; readonly fields: FieldsInput; readonly wire: string }> =
  [
    { name: "data", fields: { data: "hello" }, wire: "data: hello\n\n" },
    { name: "empty data", fields: { data: "" }, wire: "data: \n\n" },
    {
      name: "data with LF, CRLF and CR",
      fields: { data: "a\nb\r\nc\rd" },
      wire: "data: a\ndata: b\ndata: c\ndata: d\n\n"
    },
    { name: "data starting with a space", fields: { data: " x" }, wire: "data:  x\n\n" },
    {
      name: "data with field-like text",
      fields: { data: "x\nid: 9\nevent: y" },
      wire: "data: x\ndata: id: 9\ndata: event: y\n\n"
    },
    {
      name: "type, id and data",
      fields: { type: "greeting", id: "1", data: "hi" },
      wire: "event: greeting\nid: 1\ndata: hi\n\n"
    },
    { name: "an id-only frame", fields: { id: "7" }, wire: "id: 7\n\n" },
    { name: "an empty id", fields: { id: "", data: "x" }, wire: "id: \ndata: x\n\n" },
    { name: "retry", fields: { retry: 1500 }, wire: "retry: 1500\n\n" },
    { name: "retry 0", fields: { retry: 0 }, wire: "retry: 0\n\n" },
    { name: "a comment of two lines", fields: { comment: "hi\nthere" }, wire: ": hi\n: there\n\n" },
    { name: "an empty comment", fields: { comment: "" }, wire: ":\n\n" },
    { name: "unicode", fields: { data: "é 💡" }, wire: "data: é 💡\n\n" }
  ]

/** Fields that no builder may accept, and the reason each is refused for. */
export const refusals: ReadonlyArray<{ readonly name: string; readonly fields: FieldsInput; readonly reason: string }> =
  [
    { name: "LF in id", fields: { id: "a\nb", data: "x" }, reason: "InvalidId" },
    { name: "CR in id", fields: { id: "a\rdata: injected" }, reason: "InvalidId" },
    { name: "NUL in id", fields: { id: "a\u0000b" }, reason: "InvalidId" },
    { name: "LF in type", fields: { type: "x\ndata: injected", data: "x" }, reason: "InvalidType" },
    { name: "CR in type", fields: { type: "x\ry" }, reason: "InvalidType" },
    { name: "fractional retry", fields: { retry: 1.5 }, reason: "InvalidRetry" },
    { name: "negative retry", fields: { retry: -5 }, reason: "InvalidRetry" },
    { name: "NaN retry", fields: { retry: Number.NaN }, reason: "InvalidRetry" }
  ]

const event = (data: string, type = "message", lastEventId = ""): Output => ({ _tag: "Event", type, data, lastEventId })

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

/** Streams, in chunks, and what the standard dispatches for them. */
export const parses: ReadonlyArray<
  {
    readonly name: string
    readonly chunks: ReadonlyArray<string | Uint8Array>
    readonly outputs: ReadonlyArray<Output>
  }
> = [
  { name: "one event", chunks: ["data: a\n\n"], outputs: [event("a")] },
  { name: "data lines joined by LF", chunks: ["data:a\ndata:b\n\n"], outputs: [event("a\nb")] },
  { name: "a field with no colon", chunks: ["data\n\n"], outputs: [event("")] },
  { name: "only one leading space is dropped", chunks: ["data:  x\n\n"], outputs: [event(" x")] },
  { name: "CRLF and CR line ends", chunks: ["data: a\r\n\r\ndata: b\r\r"], outputs: [event("a"), event("b")] },
  { name: "CRLF split across chunks", chunks: ["data: a\r", "\n\r", "\n"], outputs: [event("a")] },
  { name: "a BOM at the start is dropped", chunks: [utf8("\uFEFFdata: a\n\n")], outputs: [event("a")] },
  { name: "a second BOM is part of the field name", chunks: [utf8("\uFEFF\uFEFFdata: a\n\n")], outputs: [] },
  {
    name: "UTF-8 split inside a character",
    chunks: [utf8("data: é").slice(0, 7), utf8("data: é\n\n").slice(7)],
    outputs: [event("é")]
  },
  { name: "event type", chunks: ["event: e\ndata: x\n\n"], outputs: [event("x", "e")] },
  { name: "a block without data dispatches nothing", chunks: ["event: e\n\n: comment\n\n"], outputs: [] },
  {
    name: "the last event id persists",
    chunks: ["id: 1\ndata: a\n\ndata: b\n\n"],
    outputs: [event("a", "message", "1"), event("b", "message", "1")]
  },
  {
    name: "an empty id resets it",
    chunks: ["id: 1\ndata: a\n\nid\ndata: b\n\n"],
    outputs: [event("a", "message", "1"), event("b")]
  },
  { name: "an id with NUL is ignored", chunks: ["id: a\u0000b\ndata: x\n\n"], outputs: [event("x")] },
  { name: "retry digits", chunks: ["retry: 1000\n"], outputs: [{ _tag: "Retry", millis: 1000 }] },
  {
    name: "retry that is not digits is ignored",
    chunks: ["retry: 1.5\nretry: -5\nretry: x\ndata: a\n\n"],
    outputs: [event("a")]
  },
  { name: "an unterminated last event is discarded", chunks: ["data: a\n\ndata: b\n"], outputs: [event("a")] },
  { name: "unknown fields are ignored", chunks: ["foo: bar\ndata: a\n\n"], outputs: [event("a")] }
]

/** Runs the spec against one line. */
export const wireSpec = (line: Line, { describe, expect, it }: Harness): void => {
  describe("encoding (shared wire spec)", () => {
    for (const c of encodings) {
      it(`writes ${c.name} exactly`, () => {
        expect(line.encode(c.fields)).toEqual({ ok: true, value: c.wire })
      })
    }
    for (const c of refusals) {
      it(`refuses ${c.name} with ${c.reason}`, () => {
        expect(line.encode(c.fields)).toEqual({ ok: false, reason: c.reason })
      })
    }
  })

  describe("parsing (shared wire spec)", () => {
    for (const c of parses) {
      it(c.name, () => {
        expect(line.parse(c.chunks)).toEqual({ ok: true, value: c.outputs })
      })
    }
    it("starts from the given last event id", () => {
      expect(line.parse(["data: a\n\n"], { lastEventId: "41" })).toEqual({
        ok: true,
        value: [event("a", "message", "41")]
      })
    })
    it("fails with LineTooLong past maxBufferSize, in one chunk or many", () => {
      expect(line.parse(["data: 0123456789\n"], { maxBufferSize: 8 })).toEqual({ ok: false, reason: "LineTooLong" })
      expect(line.parse(["data: 01", "2345", "6789"], { maxBufferSize: 8 })).toEqual({
        ok: false,
        reason: "LineTooLong"
      })
    })
  })

  describe("round trip (shared wire spec)", () => {
    for (const c of encodings.filter((c) => c.fields.data !== undefined)) {
      it(`parses back ${c.name}`, () => {
        const wire = line.encode(c.fields)
        if (!wire.ok) throw new Error(`refused: ${wire.reason}`)
        const data = c.fields.data!.replace(/\r\n|\r/g, "\n")
        expect(line.parse([wire.value])).toEqual({
          ok: true,
          value: [event(data, c.fields.type ?? "message", c.fields.id ?? "")]
        })
      })
    }
  })
}
