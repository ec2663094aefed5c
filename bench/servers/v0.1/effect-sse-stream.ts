/**
 * `SseResponse.stream` in effect-sse 0.1 (commit 79ee7df), built from that version's sources (`bench/tmp/before`,
 * see `bench/processes.ts`): the routes of `../streamApp.ts` the way 0.1 served them, on `NodeHttpServer.layer`
 * as its time example did (0.1 had no `SseNode` nor `SseServer`: each stream kept its own keep-alive timer, and a
 * wrapper of `server.close` ended the streams at shutdown).
 *
 * - `GET /events`: `SseResponse.stream(Stream.never)`.
 * - `GET /ticks`: 0.1's `examples/time.ts` stream, without its logging.
 * - `GET /stats` counts open streams with a counter around each (0.1 had no count of its own).
 *
 *   npx tsx bench/run.ts --scenario stream-idle --servers effect-sse-stream@0.1
 */
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Clock, Config, Effect, Layer, Schedule, Stream } from "effect"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseResponse from "effect-sse/SseResponse"
import { createServer } from "node:http"
import * as Protocol from "../protocol.js"

const formatTime = (millis: number): string => new Date(millis).toISOString().replace(/\.\d+Z$/, "Z")

/**
 * 0.1's `examples/time.ts` `timeEvents`. In 0.1 `withType` and `withId` return the event; the type checker reads
 * this file against the current sources, where they return an `Either`, hence the cast.
 */
const timeEvents: Stream.Stream<SseEvent.SseEvent> = Stream.fromSchedule(Schedule.spaced("1 second")).pipe(
  Stream.mapEffect((n) =>
    Effect.map(Clock.currentTimeMillis, (now) =>
      SseEvent.make(formatTime(now)).pipe(
        SseEvent.withType("time"),
        SseEvent.withId(`evt-${n + 1}`)
      ) as unknown as SseEvent.SseEvent)
  )
)

let open = 0

const counted = <E, R>(events: Stream.Stream<SseEvent.SseEvent, E, R>) =>
  Stream.suspend(() => {
    open++
    return events
  }).pipe(Stream.ensuring(Effect.sync(() => open--)))

const router = HttpRouter.empty.pipe(
  HttpRouter.get("/events", SseResponse.stream(counted(Stream.never))),
  HttpRouter.get("/ticks", SseResponse.stream(counted(timeEvents))),
  HttpRouter.get("/stats", Effect.suspend(() => HttpServerResponse.json(Protocol.stats(open)))),
  HttpRouter.post(
    "/gc",
    Effect.suspend(() => HttpServerResponse.json({}, { status: Protocol.collectGarbage() ? 200 : 501 }))
  ),
  HttpRouter.get("/time", Effect.suspend(() => HttpServerResponse.json({ now: Protocol.nowMicros() })))
)

NodeRuntime.runMain(Layer.launch(
  HttpServer.serve(router).pipe(
    HttpServer.withLogAddress,
    Layer.provide(NodeHttpServer.layerConfig(createServer, {
      port: Config.integer("PORT"),
      host: Config.succeed(Protocol.host)
    }))
  )
))
