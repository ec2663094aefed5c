import { describe, expect, it } from "@effect/vitest"
import * as Client from "../src/core/redisClient.js"

// ioredis's own messages for a command refused because the connection is down.
const notWriteable = new Error("Stream isn't writeable and enableOfflineQueue options is false")
const closed = new Error("Connection is closed.")

describe("core/redisClient.classify: a refused command's cause", () => {
  it("a socket already gone on a connection that was up is the closed connection, before its close is recorded", () => {
    expect(Client.classify(notWriteable, undefined, true)).toEqual({ message: Client.connectionClosed, sent: false })
    expect(Client.classify(closed, undefined, true)).toEqual({ message: Client.connectionClosed, sent: false })
  })

  it("on a connection never made it is 'not connected'; a recorded error names the real cause", () => {
    expect(Client.classify(notWriteable, undefined, false)).toEqual({ message: "not connected", sent: false })
    const refused = new Error("connect ECONNREFUSED 127.0.0.1:1")
    expect(Client.classify(notWriteable, refused, true)).toEqual({ message: refused.message, sent: false })
  })
})
