import * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Writers from "../core/writer.js"
import type * as SseServer from "../SseServer.js"
import * as response from "./response.js"
import * as sseServer from "./sseServer.js"

/**
 * The app, with its SSE responses turned into Web streams written straight from their source: no `Stream` step
 * per write. The request's scope stays open until the stream is over.
 */
const withWebStreams = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R | SseServer.SseServer | Scope.Scope> =>
  Effect.flatMap(app, (self) => {
    const source = response.sourceOf(self)
    if (source === undefined) return Effect.succeed(self)
    return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      if (request.method === "HEAD") return Effect.succeed(self)
      return Effect.gen(function*() {
        const server = (yield* sseServer.tag) as sseServer.SseServerService
        const writer = new Writers.QueueWriter(source.options.highWaterMark)
        const scope = yield* Effect.scope
        HttpApp.ejectDefaultScopeClose(scope)
        writer.onClose(() => server.run(Scope.close(scope as Scope.CloseableScope, Exit.void)))
        yield* response.start(source, writer)
        return HttpServerResponse.raw(Writers.toReadableStream(writer), {
          status: self.status,
          headers: self.headers,
          cookies: self.cookies,
          contentType: "text/event-stream"
        })
      })
    })
  })

/** @internal */
export const toWebHandlerLayer = <E, R, RE>(
  app: HttpApp.Default<E, R | Scope.Scope>,
  layer: Layer.Layer<R, RE>,
  options?: {
    readonly middleware?: HttpMiddleware.HttpMiddleware | undefined
    readonly memoMap?: Layer.MemoMap | undefined
    readonly server?: SseServer.Options | undefined
  }
): {
  readonly dispose: () => Promise<void>
  readonly handler: (request: Request, context?: Context.Context<never> | undefined) => Promise<Response>
} =>
  HttpApp.toWebHandlerLayerWith(Layer.merge(layer, sseServer.layer(options?.server)), {
    middleware: options?.middleware,
    memoMap: options?.memoMap,
    toHandler: () => Effect.succeed(withWebStreams(app))
  })

/** @internal */
export const toWebHandler = <E>(
  app: HttpApp.Default<E, Scope.Scope>,
  options?: {
    readonly middleware?: HttpMiddleware.HttpMiddleware | undefined
    readonly server?: SseServer.Options | undefined
  }
) => toWebHandlerLayer(app, Layer.empty, options)
