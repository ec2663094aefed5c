/** The shared wire spec (../test/shared/wire.ts) against the Effect 4 line; the root test/ runs it on Effect 3. */
import { describe, expect, it } from "@effect/vitest"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseParser from "effect-sse/SseParser"
import * as Result from "effect/Result"
import { type Line, wireSpec } from "../../test/shared/wire.js"

const line: Line = {
  encode: (fields) =>
    Result.match(SseEvent.fromFields(fields), {
      onFailure: (error) => ({ ok: false, reason: error.reason }),
      onSuccess: (event) => ({ ok: true, value: SseEvent.encodeString(event) })
    }),
  parse: (chunks, options) =>
    Result.match(SseParser.parse(chunks, options), {
      onFailure: (error) => ({ ok: false, reason: error.reason }),
      onSuccess: (outputs) => ({ ok: true, value: outputs })
    })
}

wireSpec(line, { describe, expect, it })
