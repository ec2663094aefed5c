/**
 * A self-signed certificate for 127.0.0.1 and localhost, made by the test with `openssl` (which `npm test`
 * provides, see `test/setup/provision.ts`) in a temporary directory removed with the scope.
 */
import { Effect, type Scope } from "effect"
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { installCommand, openssl } from "../setup/provision.js"

export interface Certificate {
  readonly key: string
  readonly cert: string
}

export const selfSigned: Effect.Effect<Certificate, Error, Scope.Scope> = Effect.gen(function*() {
  if (!openssl.installed()) {
    return yield* Effect.fail(new Error(`The TLS tests need openssl. Install it with: ${installCommand([openssl])}`))
  }
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(Path.join(tmpdir(), "effect-sse-tls-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
  const key = Path.join(dir, "key.pem")
  const cert = Path.join(dir, "cert.pem")
  yield* Effect.async<void, Error>((resume) => {
    const child = execFile(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost"
      ],
      { timeout: 20_000 },
      (error, _stdout, stderr) =>
        resume(error === null ? Effect.void : Effect.fail(new Error(`openssl failed: ${error.message}\n${stderr}`)))
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })
  return { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") }
})
