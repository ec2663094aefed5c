// The portable part of the tour (no server), bundled by esbuild for node and then run.
import { Either } from "effect"
import { SseParser } from "effect-sse"
import * as SseEvent from "effect-sse/SseEvent"

const event = Either.getOrThrow(
  SseEvent.make("hello\nworld").pipe(SseEvent.withType("greeting"), SseEvent.withId("1"))
)
const wire = SseEvent.encodeString(event)
console.log(`encoded ${JSON.stringify(wire)}`)
console.log(`parsed ${JSON.stringify(Either.getOrThrow(SseParser.parse(wire)))}`)
