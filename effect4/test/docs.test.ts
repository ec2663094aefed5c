/**
 * Every Effect 4 example in README.md and docs/guide.md (fenced as ```ts effect4, which the Effect 3 line's docs
 * test leaves alone) type-checks against this line's sources. The README's tour also runs, from the packed
 * library, in the root's test/package.effect4.e2e.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import { promisify } from "node:util"

const run = promisify(execFile)
const here = join(import.meta.dirname, "..")
const out = join(here, "test", ".docs")

const extract = (file: string): Array<{ readonly name: string; readonly code: string }> => {
  const lines = readFileSync(join(here, "..", file), "utf8").split("\n")
  const examples: Array<{ readonly name: string; readonly code: string }> = []
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== "```ts effect4") continue
    let end = i + 1
    while (end < lines.length && lines[end].trim() !== "```") end++
    examples.push({ name: `${file.replace(/[^a-z]/gi, "_")}_${i + 2}.ts`, code: lines.slice(i + 1, end).join("\n") })
    i = end
  }
  return examples
}

describe("Effect 4 documentation examples", () => {
  const examples = ["README.md", "docs/guide.md"].flatMap(extract)

  it("exist in the README and the guide", () => {
    expect(examples.some((e) => e.name.startsWith("README"))).toBe(true)
    expect(examples.some((e) => e.name.startsWith("docs_guide"))).toBe(true)
  })

  it("type-check against the Effect 4 line", { timeout: 120_000 }, async () => {
    rmSync(out, { recursive: true, force: true })
    mkdirSync(out, { recursive: true })
    for (const example of examples) writeFileSync(join(out, example.name), `${example.code}\nexport {}\n`)
    writeFileSync(
      join(out, "tsconfig.json"),
      JSON.stringify({
        extends: "../../tsconfig.json",
        compilerOptions: { noUnusedLocals: false, module: "nodenext", moduleResolution: "nodenext" },
        include: ["*.ts"]
      })
    )
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
    const result = await run(process.execPath, [tsc, "--noEmit", "-p", join(out, "tsconfig.json")], { cwd: here })
      .then(() => "", (error: { stdout?: string }) => error.stdout ?? String(error))
    expect(result).toBe("")
  })
})
