/**
 * The app the effect-sse stream servers serve (`effect-sse-stream.ts`, `effect-sse-stream-platform.ts`): any
 * `Stream` served with `SseResponse.stream`, no hub.
 *
 * - `GET /events`: `SseResponse.stream(Stream.never)`, a stream that stays quiet: what an idle stream costs (the
 *   `stream-idle` and `churn` scenarios).
 * - `GET /ticks`: the time example's stream (`examples/time.ts`, without its connect/disconnect logging): a
 *   `time` event every second from `Stream.fromSchedule(Schedule.spaced("1 second"))`, ids counted per stream
 *   (the `shutdown` scenario).
 * - `GET /stats` counts the open streams (`SseServer.open`); `/gc` and `/time` as in `./protocol.ts`. Nothing is
 *   broadcast.
 */
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { Clock, Effect, Schedule, Stream } from "effect"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseResponse from "effect-sse/SseResponse"
import * as SseServer from "effect-sse/SseServer"
import * as Protocol from "./protocol.js"

/** RFC 3339 in UTC without fractions, as the time example writes it. */
const formatTime = (millis: number): string => new Date(millis).toISOString().replace(/\.\d+Z$/, "Z")

/** `examples/time.ts`'s `timeEvents`. */
export const timeEvents: Stream.Stream<SseEvent.SseEvent> = Stream.fromSchedule(Schedule.spaced("1 second")).pipe(
  Stream.mapEffect((n) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      SseEvent.make(formatTime(now)).pipe(
        SseEvent.withType("time"),
        SseEvent.withId(`evt-${n + 1}`)
      )).pipe(Effect.orDie)
  )
)

export const router = HttpRouter.empty.pipe(
  HttpRouter.get("/events", SseResponse.stream(Stream.never)),
  HttpRouter.get("/ticks", SseResponse.stream(timeEvents)),
  HttpRouter.get(
    "/stats",
    Effect.flatMap(
      SseServer.SseServer,
      (server) => Effect.flatMap(server.open, (open) => HttpServerResponse.json(Protocol.stats(open)))
    )
  ),
  HttpRouter.post(
    "/gc",
    Effect.suspend(() => HttpServerResponse.json({}, { status: Protocol.collectGarbage() ? 200 : 501 }))
  ),
  HttpRouter.get("/time", Effect.suspend(() => HttpServerResponse.json({ now: Protocol.nowMicros() })))
)
