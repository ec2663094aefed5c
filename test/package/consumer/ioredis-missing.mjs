// A project without ioredis: importing effect-sse/SseHubRedis works, and building its layer dies with a
// message that names the package to install.
import { Cause, Effect, Exit, Layer } from "effect"
import * as SseHubRedis from "effect-sse/SseHubRedis"

const exit = await Effect.runPromiseExit(
  Effect.scoped(Layer.build(SseHubRedis.layer({ url: "redis://127.0.0.1:1" })))
)
console.log(Exit.isFailure(exit) && Cause.isDie(exit.cause) ? Cause.pretty(exit.cause) : `unexpected: ${exit}`)
