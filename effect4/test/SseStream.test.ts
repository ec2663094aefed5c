import { describe, expect, it } from "@effect/vitest"
import * as SseEncoder from "effect-sse/SseEncoder"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseParser from "effect-sse/SseParser"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"

const text = (bytes: ReadonlyArray<Uint8Array>) => bytes.map((b) => new TextDecoder().decode(b)).join("")

describe("SseEncoder and SseParser.decode (Effect 4)", () => {
  it.effect("encodes a stream of events, one byte array per chunk", () =>
    Effect.gen(function*() {
      const bytes = yield* Stream.make(SseEvent.make("a"), SseEvent.make("b"), SseEvent.comment("c")).pipe(
        Stream.rechunk(2),
        SseEncoder.encode,
        Stream.runCollect
      )
      expect(bytes.length).toBe(2)
      expect(text(bytes)).toBe("data: a\n\ndata: b\n\n: c\n\n")
    }))

  it.effect("decodes bytes split anywhere, the same as whole", () =>
    Effect.gen(function*() {
      const whole = new TextEncoder().encode("\uFEFFid: 1\nevent: e\ndata: é\n\nretry: 10\ndata: x\n\n")
      const expected = [
        { _tag: "Event", type: "e", data: "é", lastEventId: "1" },
        { _tag: "Retry", millis: 10 },
        { _tag: "Event", type: "message", data: "x", lastEventId: "1" }
      ]
      for (let size = 1; size <= whole.length; size++) {
        const chunks: Array<Uint8Array> = []
        for (let i = 0; i < whole.length; i += size) chunks.push(whole.slice(i, i + size))
        const out = yield* Stream.fromIterable(chunks).pipe(SseParser.decode(), Stream.runCollect)
        expect(out).toEqual(expected)
      }
    }))

  it.effect("emits the events before a broken limit, then fails with SseParserError", () =>
    Effect.gen(function*() {
      const seen: Array<SseParser.Output> = []
      const exit = yield* Stream.make("data: ok\n\n", "data: 0123456789").pipe(
        SseParser.decode({ maxBufferSize: 8 }),
        Stream.runForEach((output) => Effect.sync(() => seen.push(output))),
        Effect.exit
      )
      expect(seen).toEqual([{ _tag: "Event", type: "message", data: "ok", lastEventId: "" }])
      expect(exit).toEqual(Exit.fail(new SseParser.SseParserError({ reason: "LineTooLong", limit: 8 })))
    }))

  it("parses by hand with make: feed, then end", () => {
    const parser = SseParser.make({ lastEventId: "5" })
    const first = parser.feed("data: a\n")
    const second = parser.feed("\n")
    parser.end()
    expect([first, second].map((r) => r._tag)).toEqual(["Success", "Success"])
    expect(second).toEqual(SseParser.parse("data: a\n\n", { lastEventId: "5" }))
  })
})
