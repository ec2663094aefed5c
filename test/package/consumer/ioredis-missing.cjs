// The same as ioredis-missing.mjs, for a CommonJS consumer.
/* eslint-disable @typescript-eslint/no-require-imports */
const { Cause, Effect, Exit, Layer } = require("effect")
const SseHubRedis = require("effect-sse/SseHubRedis")

Effect.runPromiseExit(Effect.scoped(Layer.build(SseHubRedis.layer({ url: "redis://127.0.0.1:1" })))).then((exit) =>
  console.log(Exit.isFailure(exit) && Cause.isDie(exit.cause) ? Cause.pretty(exit.cause) : `unexpected: ${exit}`)
)
