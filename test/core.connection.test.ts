/**
 * The stall rule of the Effect-free core (src/core/connection.ts) on a writer whose counts a runtime skews: Bun's
 * `node:http` counts each chunk's framing in what waits, so "taken" (written − buffered) shrinks as bytes are
 * written to a client that reads nothing. Shrinking is no progress: the client is still dropped.
 */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { Connection } from "../src/core/connection.js"
import { QueueWriter } from "../src/core/writer.js"

/** A queue writer whose `buffered` also counts `extra` bytes per write, as a runtime's own framing would. */
class FramingWriter extends QueueWriter {
  private framing = 0
  constructor(private readonly extra: number) {
    super(1024 * 1024)
  }
  override write(bytes: Uint8Array): void {
    this.framing += this.extra
    super.write(bytes)
  }
  override buffered(): number {
    return super.buffered() + this.framing
  }
}

describe("Connection's stall rule", () => {
  it.prop(
    "a client that takes nothing is dropped after the write timeout, however the runtime counts its framing",
    [fc.integer({ min: 0, max: 64 }), fc.integer({ min: 1, max: 20 })],
    ([extra, writesPerTick]) => {
      const writer = new FramingWriter(extra)
      const connection = new Connection(writer, undefined, 10_000, 0)
      writer.write(new Uint8Array(100))
      let dropped = false
      for (let second = 1; second <= 11 && !dropped; second++) {
        for (let i = 0; i < writesPerTick; i++) writer.write(new Uint8Array(100))
        dropped = connection.tick(second * 1000)
        // Never before the write timeout.
        if (second < 10) expect(dropped).toBe(false)
      }
      expect(dropped).toBe(true)
      expect(connection.stalled).toBe(true)
    }
  )

  it("a client that takes bytes is not dropped, with the same framing counted", () => {
    const writer = new FramingWriter(9)
    const connection = new Connection(writer, undefined, 10_000, 0)
    for (let second = 1; second <= 30; second++) {
      writer.write(new Uint8Array(100))
      expect(writer.take()).not.toBeNull()
      expect(connection.tick(second * 1000)).toBe(false)
    }
  })
})
