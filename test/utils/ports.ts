/**
 * A free TCP port on 127.0.0.1, for servers that cannot take port 0 (a child process told its port by
 * environment).
 */
import { Effect } from "effect"
import * as Net from "node:net"

export const freePort: Effect.Effect<number, Error> = Effect.async<number, Error>((resume) => {
  const server = Net.createServer()
  server.once("error", (error) => resume(Effect.fail(error)))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : undefined
    server.close(() => resume(port === undefined ? Effect.fail(new Error("no port")) : Effect.succeed(port)))
  })
})
