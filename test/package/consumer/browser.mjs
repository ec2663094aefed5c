// The root import as a browser app would use it; bundled with `--platform=browser`, where no `node:` module
// resolves.
import * as Sse from "effect-sse"

console.log(Object.keys(Sse).join(" "))
