/**
 * The guide's runtime sections quote the tested examples: every code block preceded by `<!-- from <file> -->`
 * is, line for line, a part of that file, which the runtime tests run (Bun, Deno, the Worker check). Blocks that
 * are not quotes are typechecked and run by test/docs.test.ts.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { repoRoot } from "./utils/spawn.js"

interface Quote {
  readonly file: string
  readonly line: number
  readonly code: string
}

const quotes = (): Array<Quote> => {
  const lines = readFileSync(join(repoRoot, "docs", "guide.md"), "utf8").split("\n")
  const found: Array<Quote> = []
  for (let i = 1; i < lines.length; i++) {
    const from = /^<!-- from (\S+) -->$/.exec(lines[i - 1].trim())
    if (from === null || !lines[i].startsWith("```")) continue
    let end = i + 1
    while (end < lines.length && lines[end].trim() !== "```") end++
    found.push({ file: from[1], line: i + 1, code: lines.slice(i + 1, end).join("\n") })
    i = end
  }
  return found
}

describe("the guide's runtime sections", () => {
  const all = quotes()

  it("quote the examples for Bun, Deno and Workers", () => {
    expect(all.map((quote) => quote.file).sort()).toEqual([
      "examples/bun.ts",
      "examples/web.ts",
      "examples/web.ts",
      "examples/worker.ts"
    ])
  })

  for (const quote of all) {
    it(`guide line ${quote.line} is a part of ${quote.file}, as it is`, () => {
      const source = readFileSync(join(repoRoot, quote.file), "utf8")
      expect(quote.code.length).toBeGreaterThan(0)
      expect(source.includes(`${quote.code}\n`)).toBe(true)
    })
  }
})
