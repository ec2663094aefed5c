/** The shared wire spec (test/shared/wire.ts) against the Effect 3 line; effect4/test runs it against the other. */
import { describe, expect, it } from "@effect/vitest"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseParser from "effect-sse/SseParser"
import * as Either from "effect/Either"
import { type Line, wireSpec } from "./shared/wire.js"

const line: Line = {
  encode: (fields) =>
    Either.match(SseEvent.fromFields(fields), {
      onLeft: (error) => ({ ok: false, reason: error.reason }),
      onRight: (event) => ({ ok: true, value: SseEvent.encodeString(event) })
    }),
  parse: (chunks, options) =>
    Either.match(SseParser.parse(chunks, options), {
      onLeft: (error) => ({ ok: false, reason: error.reason }),
      onRight: (outputs) => ({ ok: true, value: outputs.map((output) => ({ ...output })) })
    })
}

wireSpec(line, { describe, expect, it })
