/**
 * Node at the edge: every public module but `SseNode` bundles for a browser (esbuild, `--platform=browser`), so
 * none of them reaches a `node:` module, directly or through an internal file; the core imports no `effect`.
 */
import { describe, expect, it } from "@effect/vitest"
import { build } from "esbuild"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

const root = join(import.meta.dirname, "..")
const src = join(root, "src")
const modules = readdirSync(src).filter((file) => file.endsWith(".ts"))
const nodeModules = new Set(["SseNode.ts"])

/** The inputs of a browser bundle of `entry`, and what it could not resolve. */
const bundle = async (entry: string) => {
  const result = await build({
    entryPoints: [join(src, entry)],
    bundle: true,
    write: false,
    metafile: true,
    platform: "browser",
    format: "esm",
    logLevel: "silent",
    // The Redis backend loads ioredis (a Node client) when its layer is built: its own code is portable.
    external: ["ioredis"]
  })
  return Object.keys(result.metafile.inputs)
}

describe("the portable modules bundle for a browser", () => {
  it("every module is either portable or named for Node", () => {
    expect(modules.filter((m) => !nodeModules.has(m)).length).toBeGreaterThan(10)
  })

  for (const module of modules.filter((m) => !nodeModules.has(m))) {
    it(`${module}: no node: module among its inputs`, { timeout: 30_000 }, async () => {
      const inputs = await bundle(module)
      expect(inputs.filter((input) => input.startsWith("node:") || input.includes("platform-node"))).toEqual([])
      expect(inputs.some((input) => input.startsWith("src/"))).toBe(true)
    })
  }

  it("SseNode, named for Node, is the module that needs node:http", async () => {
    await expect(bundle("SseNode.ts")).rejects.toThrow(/node:/)
  })

  it("the core imports neither effect nor node:", () => {
    for (const file of readdirSync(join(src, "core"))) {
      const text = readFileSync(join(src, "core", file), "utf8")
      expect({
        file,
        imports: [...text.matchAll(/from "([^"]+)"/g)].map((m) => m[1]).filter((i) => !i.startsWith("./"))
      })
        .toEqual({ file, imports: [] })
    }
  })
})
