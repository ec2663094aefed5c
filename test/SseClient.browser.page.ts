/**
 * The page of `SseClient.browser.e2e.test.ts`: `SseClient.connectSchema` on `FetchHttpClient`, bundled for the
 * browser and run in Chromium against the chat example. It records what it receives and every state the client
 * goes through on `window.__sse`, for the test to read.
 */
import { FetchHttpClient } from "@effect/platform"
import { Duration, Effect, Schema, Stream } from "effect"
import * as SseClient from "../src/SseClient.js"

const ChatMessage = Schema.Struct({ user: Schema.String, text: Schema.String, timestamp: Schema.String })

/** A state as plain data the test can read across the page boundary. */
export interface RecordedState {
  readonly tag: SseClient.State["_tag"]
  readonly readyState: SseClient.ReadyState
  readonly status?: number
  readonly contentType?: string | undefined
  readonly cause?: string | undefined
  readonly delayMillis?: number
  readonly attempt?: number
  readonly lastEventId?: string
  readonly error?: string
}

export interface Recorded {
  readonly states: Array<RecordedState>
  readonly messages: Array<{ readonly id: string; readonly user: string; readonly text: string }>
  readonly readyState: () => SseClient.ReadyState | undefined
  error: string | undefined
}

const describe = (state: SseClient.State): RecordedState => {
  const readyState = SseClient.readyStateOf(state)
  switch (state._tag) {
    case "Open":
      return { tag: state._tag, readyState, status: state.status, contentType: state.headers["content-type"] }
    case "Reconnecting":
      return {
        tag: state._tag,
        readyState,
        cause: state.cause?.reason,
        delayMillis: Duration.toMillis(state.delay),
        attempt: state.attempt,
        lastEventId: state.lastEventId
      }
    case "Failed":
      return { tag: state._tag, readyState, error: state.error.message }
    default:
      return { tag: state._tag, readyState }
  }
}

let current: SseClient.Client<typeof ChatMessage.Type> | undefined
const recorded: Recorded = {
  states: [],
  messages: [],
  readyState: () => current === undefined ? undefined : Effect.runSync(current.readyState),
  error: undefined
}
;(globalThis as unknown as { __sse: Recorded }).__sse = recorded

const program = Effect.gen(function*() {
  const client = yield* SseClient.connectSchema(ChatMessage)(new URL("/events", location.href).toString(), {
    retry: "300 millis"
  })
  current = client
  yield* client.changes.pipe(
    Stream.runForEach((state) => Effect.sync(() => recorded.states.push(describe(state)))),
    Effect.forkScoped
  )
  yield* client.events.pipe(
    Stream.runForEach((event) =>
      Effect.sync(() => recorded.messages.push({ id: event.lastEventId, user: event.data.user, text: event.data.text }))
    )
  )
}).pipe(
  Effect.scoped,
  Effect.provide(FetchHttpClient.layer),
  Effect.catchAll((error) => Effect.sync(() => recorded.error = error.message))
)

Effect.runFork(program)
