import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = fileURLToPath(new URL("./src/", import.meta.url))

export default defineConfig({
  resolve: {
    // The examples import the package by name: in the repository that is its sources (as tsconfig's `paths` say),
    // one copy of every module shared with the tests, never a stale build.
    alias: [
      { find: /^effect-sse$/, replacement: `${src}index.ts` },
      { find: /^effect-sse\/(.*)$/, replacement: `${src}$1.ts` }
    ]
  },
  test: {
    include: ["test/**/*.test.ts"],
    // Once per run: installs Chromium and redis-server if missing, starts the run's own redis-server.
    globalSetup: ["test/setup/global.ts"],
    // End-to-end tests spawn servers and real clients; keep CPU contention low on 2-core machines.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
