/**
 * What effect 4's own SSE (`effect/encoding/Sse`) does on the cases effect-sse is built for; each claim in the
 * guide's "Effect 4" section is one assertion here, next to what effect-sse does with the same input.
 */
import { describe, expect, it } from "@effect/vitest"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseParser from "effect-sse/SseParser"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Sse from "effect/encoding/Sse"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"

const write = (event: Sse.AnyEvent) => Sse.encoder.write(event)
const builtinDecode = (chunks: ReadonlyArray<Uint8Array>) =>
  Stream.fromIterable(chunks).pipe(Stream.decodeText, Stream.pipeThroughChannel(Sse.decode()), Stream.runCollect)

describe("effect/encoding/Sse (effect 4.1) next to effect-sse", () => {
  it("its encoder writes CR/LF in id and event type verbatim: the value injects fields", () => {
    expect(write({ _tag: "Event", event: "x\ndata: injected", id: "1\nevent: evil", data: "d" })).toBe(
      "id: 1\nevent: evil\nevent: x\ndata: injected\ndata: d\n\n"
    )
    // effect-sse refuses both values.
    expect(Result.isFailure(SseEvent.fromFields({ id: "1\nevent: evil", data: "d" }))).toBe(true)
    expect(Result.isFailure(SseEvent.fromFields({ type: "x\ndata: injected", data: "d" }))).toBe(true)
  })

  it("its encoder sends an id with NUL, which a browser ignores", () => {
    expect(write({ _tag: "Event", event: "message", id: "a\u0000b", data: "d" })).toBe("id: a\u0000b\ndata: d\n\n")
    expect(Result.isFailure(SseEvent.fromFields({ id: "a\u0000b" }))).toBe(true)
  })

  it("its encoder writes retry values that are not whole milliseconds: 1.5, Infinity", () => {
    expect(write(new Sse.Retry({ duration: Duration.millis(1.5), lastEventId: undefined }))).toBe("retry: 1.5\n\n")
    expect(write(new Sse.Retry({ duration: Duration.infinity, lastEventId: undefined }))).toBe("retry: Infinity\n\n")
    expect(Result.isFailure(SseEvent.retry(1.5))).toBe(true)
    expect(Result.isFailure(SseEvent.retry(Duration.infinity))).toBe(true)
  })

  it("its events always carry data: an id-only frame becomes an empty message, and there are no comments", () => {
    expect(write({ _tag: "Event", event: "message", id: "5", data: "" })).toBe("id: 5\ndata: \n\n")
    expect(SseEvent.encodeString(Result.getOrThrow(SseEvent.fromFields({ id: "5" })))).toBe("id: 5\n\n")
    expect(SseEvent.encodeString(SseEvent.comment("hi"))).toBe(": hi\n\n")
  })

  it.effect("its decode channel fails the stream on a retry: line, losing the events after it", () =>
    Effect.gen(function*() {
      const bytes = new TextEncoder().encode("data: a\n\nretry: 1000\n\ndata: b\n\n")
      const exit = yield* Effect.exit(builtinDecode([bytes]))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(String(exit.cause)).toContain("Retry")
      // effect-sse emits the retry as an output and goes on.
      const ours = yield* Stream.make(bytes).pipe(SseParser.decode(), Stream.runCollect)
      expect(ours.map((output) => output._tag === "Event" ? output.data : output.millis)).toEqual(["a", 1000, "b"])
    }))

  it.effect("fed bytes through Stream.decodeText, it drops two BOMs where the standard drops one", () =>
    Effect.gen(function*() {
      const bytes = new TextEncoder().encode("\uFEFF\uFEFFdata: a\n\n")
      const builtin = yield* builtinDecode([bytes])
      expect(builtin.map((event) => event.data)).toEqual(["a"])
      // The second BOM is part of the field name "\uFEFFdata", which is no field: nothing is dispatched.
      expect(yield* Stream.make(bytes).pipe(SseParser.decode(), Stream.runCollect)).toEqual([])
    }))
})
