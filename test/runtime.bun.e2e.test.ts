/**
 * Bun 1.4 (the `bun` devDependency's binary) runs the time and chat examples unchanged: `bun examples/time.ts`,
 * `bun examples/chat.ts` (SseNode on Bun's `node:http`); `examples/bun.ts`, the same routers on
 * `@effect/platform-bun`'s server with `BunRuntime.runMain`; and `examples/web.ts`, the Web handler (`SseWeb`) on
 * `Bun.serve`. Each passes the end-to-end checks the Node tests make.
 */
import { Effect } from "effect"
import { bunPath } from "./utils/runtimes.js"
import { type RuntimeApp, runtimeSuite } from "./utils/runtimeSuite.js"
import { spawnCommand } from "./utils/spawn.js"

const bun = bunPath()

/** `bun <file>` on 127.0.0.1:`port`, once it logs that it listens. */
const underBun = (file: string): RuntimeApp["start"] => (port) =>
  Effect.gen(function*() {
    const process = yield* spawnCommand(bun, [file], { PORT: String(port), HOST: "127.0.0.1", NO_COLOR: "1" })
    yield* process.waitForOutput("Listening on", "30 seconds")
    return process
  })

runtimeSuite({
  runtime: "Bun, the examples unchanged",
  time: { start: underBun("examples/time.ts"), eventsPath: "/events" },
  chat: { start: underBun("examples/chat.ts"), eventsPath: "/events", messagesPath: "/messages" }
})

runtimeSuite({
  runtime: "Bun, examples/bun.ts (BunHttpServer, BunRuntime)",
  time: { start: underBun("examples/bun.ts"), eventsPath: "/time/events" },
  chat: { start: underBun("examples/bun.ts"), eventsPath: "/events", messagesPath: "/messages" }
})

runtimeSuite({
  runtime: "Bun, examples/web.ts (SseWeb on Bun.serve)",
  time: { start: underBun("examples/web.ts"), eventsPath: "/time" },
  chat: { start: underBun("examples/web.ts"), eventsPath: "/events", messagesPath: "/messages" }
})
