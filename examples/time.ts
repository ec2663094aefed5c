/**
 * The time example: `GET /events` sends the current time every second.
 *
 *   npm start                      # PORT=8080 by default
 *   curl -N http://localhost:8080/events
 */
import { HttpRouter, HttpServer, HttpServerRequest } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Clock, Config, Effect, Layer, Schedule, Stream } from "effect"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseNode from "effect-sse/SseNode"
import * as SseResponse from "effect-sse/SseResponse"
import { createServer } from "node:http"
import { fileURLToPath } from "node:url"

/** RFC 3339 in UTC without fractions: `2025-01-18T04:30:00Z`. */
export const formatTime = (millis: number): string => new Date(millis).toISOString().replace(/\.\d+Z$/, "Z")

/**
 * One `time` event a second, ids `evt-1`, `evt-2`, … counted per stream, so per connection. The time comes from
 * the `Clock`, so tests drive it with `TestClock`. The type and ids are checked where the event is built: they
 * cannot fail here, so a failure would be a defect.
 */
export const timeEvents: Stream.Stream<SseEvent.SseEvent> = Stream.fromSchedule(Schedule.spaced("1 second")).pipe(
  Stream.mapEffect((n) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      SseEvent.make(formatTime(now)).pipe(
        SseEvent.withType("time"),
        SseEvent.withId(`evt-${n + 1}`)
      )).pipe(Effect.orDie)
  )
)

const events = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const client = request.remoteAddress._tag === "Some" ? request.remoteAddress.value : "unknown"
  yield* Effect.log(`client connected: ${client}`)
  return yield* SseResponse.stream(
    timeEvents.pipe(Stream.ensuring(Effect.log(`client disconnected: ${client}`)))
  )
})

export const router = HttpRouter.empty.pipe(HttpRouter.get("/events", events))

export const TimeServer = HttpServer.serve(router).pipe(
  HttpServer.withLogAddress,
  Layer.provide(SseNode.layerConfig(createServer, {
    port: Config.integer("PORT").pipe(Config.withDefault(8080)),
    host: Config.string("HOST").pipe(Config.withDefault(undefined))
  }))
)

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  NodeRuntime.runMain(Layer.launch(TimeServer))
}
