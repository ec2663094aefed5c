/**
 * The Web apps of `examples/web.ts` on a Worker-style runtime (Cloudflare Workers, Deno Deploy, `deno serve`,
 * Bun with a default export): the module's default export is the `fetch` handler. Nothing here, nor in what it
 * imports, is a `node:` module.
 *
 *   deno serve --port 8080 examples/worker.ts
 */
import { handler } from "./web.js"

export default { fetch: handler }
