/**
 * Headless Chromium for browser tests, from the system: Debian's package at /usr/bin/chromium (which `npm test`
 * installs when missing, see `test/setup/provision.ts`), driven with playwright-core. No tool may download its
 * own browser.
 */
import { Effect } from "effect"
import type * as Scope from "effect/Scope"
import { type Browser, chromium as playwrightChromium } from "playwright-core"
import { chromium, chromiumPath, installCommand } from "../setup/provision.js"

export { chromiumPath }

/**
 * Headless Chromium from the system, closed with the scope. Fails with a clear message naming the command to
 * install it when it is missing: no tool is allowed to download a browser, and the test must not pass silently
 * without one.
 */
export const launchChromium: Effect.Effect<Browser, Error, Scope.Scope> = Effect.suspend(() => launchChromiumWith([]))

/** As `launchChromium`, with flags of the test's own added (`--ignore-certificate-errors`, say). */
export const launchChromiumWith = (extraArgs: ReadonlyArray<string>): Effect.Effect<Browser, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.suspend(() =>
      chromium.installed()
        ? Effect.tryPromise({
          try: () =>
            playwrightChromium.launch({
              executablePath: chromiumPath,
              args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", ...extraArgs]
            }),
          catch: (cause) => new Error(`Chromium at ${chromiumPath} did not start: ${String(cause)}`)
        })
        : Effect.fail(
          new Error(
            `The browser test needs Chromium at ${chromiumPath} (Debian's "chromium" package; npm test installs it ` +
              `when run as root), and no browser is downloaded. Install it with: ${installCommand([chromium])}`
          )
        )
    ),
    (browser) => Effect.promise(() => browser.close())
  )
