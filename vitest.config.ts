import { defineConfig } from "vitest/config"

export default defineConfig({
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
