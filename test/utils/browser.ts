/**
 * Headless Chromium for browser tests, from the system: Debian's package at /usr/bin/chromium (CI installs it),
 * driven with playwright-core. No tool may download its own browser.
 */
import { Effect } from "effect"
import type * as Scope from "effect/Scope"
import { existsSync } from "node:fs"
import { type Browser, chromium } from "playwright-core"

export const chromiumPath = "/usr/bin/chromium"

/**
 * Headless Chromium from the system (Debian's package; CI installs it), closed with the scope. Fails with a
 * clear message when it is missing: no tool is allowed to download a browser, and the test must not pass
 * silently without one.
 */
export const launchChromium: Effect.Effect<Browser, Error, Scope.Scope> = Effect.acquireRelease(
  Effect.suspend(() =>
    existsSync(chromiumPath)
      ? Effect.tryPromise({
        try: () =>
          chromium.launch({
            executablePath: chromiumPath,
            args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
          }),
        catch: (cause) => new Error(`Chromium at ${chromiumPath} did not start: ${String(cause)}`)
      })
      : Effect.fail(
        new Error(
          `The browser test needs Chromium at ${chromiumPath} (Debian's "chromium" package, which CI installs); ` +
            "no browser is downloaded"
        )
      )
  ),
  (browser) => Effect.promise(() => browser.close())
)
