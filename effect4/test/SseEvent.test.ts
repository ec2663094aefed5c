import { describe, expect, it } from "@effect/vitest"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseParser from "effect-sse/SseParser"
import * as Duration from "effect/Duration"
import * as Sse from "effect/encoding/Sse"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"

const wire = (result: Result.Result<SseEvent.SseEvent, SseEvent.SseEventError>): string =>
  Result.match(result, { onFailure: (error) => `refused ${error.reason}`, onSuccess: SseEvent.encodeString })

describe("SseEvent (Effect 4)", () => {
  it("builds with checked combinators that return a Result", () => {
    const event = SseEvent.make("hi").pipe(
      SseEvent.withType("greeting"),
      Result.flatMap(SseEvent.withId("1")),
      Result.flatMap(SseEvent.withRetry(Duration.seconds(2)))
    )
    expect(wire(event)).toBe("event: greeting\nid: 1\nretry: 2000\ndata: hi\n\n")
    expect(wire(SseEvent.withId(SseEvent.make("x"), "1\ndata: injected"))).toBe("refused InvalidId")
    expect(wire(SseEvent.withType(SseEvent.make("x"), "a\rb"))).toBe("refused InvalidType")
    expect(wire(SseEvent.retry(-1))).toBe("refused InvalidRetry")
  })

  it("refuses with an error that names the field and the value", () => {
    const result = SseEvent.fromFields({ id: "a\nb" })
    expect(Result.isFailure(result)).toBe(true)
    if (Result.isFailure(result)) {
      expect(result.failure._tag).toBe("SseEventError")
      expect(result.failure.message).toBe("the \"id\" field must not contain CR, LF or NUL: \"a\\nb\"")
    }
  })

  it("writes JSON, and refuses what JSON cannot write", () => {
    expect(wire(SseEvent.json({ a: [1, "x\ny"] }))).toBe("data: {\"a\":[1,\"x\\ny\"]}\n\n")
    expect(wire(SseEvent.json(undefined))).toBe("refused InvalidData")
    expect(wire(SseEvent.json(1n))).toBe("refused InvalidData")
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    expect(wire(SseEvent.json(cycle))).toBe("refused InvalidData")
  })

  it("writes comments, the connected and keep-alive comments, and comments before fields", () => {
    expect(SseEvent.encodeString(SseEvent.connected)).toBe(": connected\n\n")
    expect(SseEvent.encodeString(SseEvent.keepAlive)).toBe(": keep-alive\n\n")
    expect(SseEvent.encodeString(SseEvent.withComment(SseEvent.make("x"), "note"))).toBe(": note\ndata: x\n\n")
    expect(new TextDecoder().decode(SseEvent.encode(SseEvent.make("é")))).toBe("data: é\n\n")
  })

  it.prop("any data, type and id that are accepted parse back as given", {
    data: Schema.String,
    type: Schema.String,
    id: Schema.String
  }, ({ data, id, type }) => {
    const result = SseEvent.fromFields({ data, type, id })
    const typeOk = !/[\r\n]/.test(type)
    const idOk = !/[\r\n\0]/.test(id)
    expect(Result.isSuccess(result)).toBe(typeOk && idOk)
    if (Result.isSuccess(result)) {
      const parsed = SseParser.parse(SseEvent.encodeString(result.success))
      // An empty type dispatches as "message", as a browser does.
      expect(parsed).toEqual(Result.succeed([{
        _tag: "Event",
        type: type === "" ? "message" : type,
        data: data.replace(/\r\n|\r/g, "\n"),
        lastEventId: id
      }]))
    }
  })
})

describe("SseEvent and effect/encoding/Sse", () => {
  it("converts from its events with the same checks, and back where it can express the block", () => {
    const from = SseEvent.fromSse({ _tag: "Event", event: "greeting", id: "1", data: "hi" })
    expect(wire(from)).toBe("event: greeting\nid: 1\ndata: hi\n\n")
    expect(wire(SseEvent.fromSse({ _tag: "Event", event: "message", id: undefined, data: "x" }))).toBe("data: x\n\n")
    expect(wire(SseEvent.fromSse({ _tag: "Event", event: "a\nb", id: undefined, data: "x" }))).toBe(
      "refused InvalidType"
    )
    expect(wire(SseEvent.fromSse({ _tag: "Event", event: "message", id: "1\n", data: "x" }))).toBe("refused InvalidId")
    expect(SseEvent.toSse(Result.getOrThrow(from))).toEqual(
      Option.some({ _tag: "Event", event: "greeting", id: "1", data: "hi" })
    )
    expect(SseEvent.toSse(SseEvent.make("x"))).toEqual(
      Option.some({ _tag: "Event", event: "message", id: undefined, data: "x" })
    )
    expect(SseEvent.toSse(SseEvent.comment("c"))).toEqual(Option.none())
  })

  it.prop("toSse then its encoder writes what effect-sse writes, for accepted events", {
    data: Schema.String,
    type: Schema.String,
    id: Schema.String
  }, ({ data, id, type }) => {
    const event = SseEvent.fromFields({ data, type: type === "" ? undefined : type, id })
    if (Result.isFailure(event)) return
    const theirs = Option.getOrThrow(SseEvent.toSse(event.success))
    // Same events parsed back: field order differs (theirs writes id first), the dispatched event does not.
    expect(SseParser.parse(Sse.encoder.write(theirs))).toEqual(SseParser.parse(SseEvent.encodeString(event.success)))
  })
})
