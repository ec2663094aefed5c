/**
 * Every TypeScript example in README.md and docs/guide.md typechecks against the library, and every example
 * marked `<!-- run -->` runs to completion with exit code 0: the docs cannot drift from the code.
 */
import { execFile } from "node:child_process"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"

const run = promisify(execFile)
const root = join(import.meta.dirname, "..")
const out = join(root, "test", ".docs")

interface Example {
  readonly file: string
  readonly line: number
  readonly code: string
  readonly runnable: boolean
}

const extract = (file: string): Array<Example> => {
  const lines = readFileSync(join(root, file), "utf8").split("\n")
  const examples: Array<Example> = []
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== "```ts") continue
    const runnable = i > 0 && lines[i - 1].trim() === "<!-- run -->"
    const start = i + 1
    let end = start
    while (end < lines.length && lines[end].trim() !== "```") end++
    examples.push({ file, line: start + 1, code: lines.slice(start, end).join("\n"), runnable })
    i = end
  }
  return examples
}

const examples = ["README.md", "docs/guide.md"].flatMap(extract)
const nameOf = (example: Example) => `${example.file.replace(/[^a-z]/gi, "_")}_${example.line}.ts`

describe("documentation examples", () => {
  it("there are examples to check", () => {
    expect(examples.length).toBeGreaterThan(5)
    expect(examples.some((e) => e.runnable)).toBe(true)
  })

  it("typecheck", { timeout: 120_000 }, async () => {
    rmSync(out, { recursive: true, force: true })
    mkdirSync(out, { recursive: true })
    for (const example of examples) {
      // Each example is its own module, so top-level names never clash between examples.
      writeFileSync(join(out, nameOf(example)), `${example.code}\nexport {}\n`)
    }
    writeFileSync(
      join(out, "tsconfig.json"),
      JSON.stringify({
        extends: "../../tsconfig.json",
        compilerOptions: { noUnusedLocals: false },
        include: ["*.ts"],
        exclude: []
      })
    )
    const result = await run(
      join(root, "node_modules", ".bin", "tsc"),
      ["--noEmit", "-p", join(out, "tsconfig.json")],
      {
        cwd: root
      }
    ).then(() => "", (error: { stdout?: string }) => error.stdout ?? String(error))
    const located = result.replace(
      /(\w+)_md_(\d+)\.ts\((\d+),/g,
      (_, file: string, line: string, offset: string) => `${file}.md line ${Number(line) + Number(offset) - 1} (`
    )
    expect(located).toBe("")
  })

  for (const example of examples.filter((e) => e.runnable)) {
    it(`runs: ${example.file} line ${example.line}`, { timeout: 60_000 }, async () => {
      mkdirSync(out, { recursive: true })
      const path = join(out, `run_${nameOf(example)}`)
      writeFileSync(path, `${example.code}\nexport {}\n`)
      const { stderr } = await run(join(root, "node_modules", ".bin", "tsx"), [path], { cwd: root, timeout: 50_000 })
      expect(stderr).not.toMatch(/Error/)
    })
  }
})
