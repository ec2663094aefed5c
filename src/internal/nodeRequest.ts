import * as NodeMultipart from "@effect/platform-node/NodeMultipart"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Cookies from "@effect/platform/Cookies"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Headers from "@effect/platform/Headers"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import type { HttpMethod } from "@effect/platform/HttpMethod"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as Multipart from "@effect/platform/Multipart"
import type * as Path from "@effect/platform/Path"
import type * as Socket from "@effect/platform/Socket"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as Http from "node:http"
import type * as Http2 from "node:http2"

/** A request as Node hands it over, on HTTP/1 or HTTP/2 (the compatibility API). @internal */
export type NodeIncoming = Http.IncomingMessage | Http2.Http2ServerRequest

/** The response Node hands over with it. @internal */
export type NodeOutgoing = Http.ServerResponse | Http2.Http2ServerResponse

/** Request headers without HTTP/2's pseudo-headers (`:path`, `:method`…), which no route reads. */
const headersOf = (source: NodeIncoming): Headers.Headers => {
  const raw = source.headers as Record<string, string | Array<string> | undefined>
  let own: Record<string, string | Array<string> | undefined> | undefined
  for (const key in raw) {
    if (key.charCodeAt(0) === 58) {
      own ??= { ...raw }
      delete own[key]
    }
  }
  return Headers.fromInput((own ?? raw) as Headers.Input)
}

/** What is read past the body limit and thrown away, so that the answer (a 413) reaches the client. */
const drainBytes = 1024 * 1024

/**
 * Reads a whole body, up to `maxBytes`. Past the limit it fails with the platform's `maxBytes exceeded`, and
 * reads on, throwing the rest away up to `drainBytes`: stopping at once would destroy the socket, and with it
 * the answer to the request. A larger body is cut.
 */
const readBody = (
  source: NodeIncoming,
  maxBytes: number | undefined,
  onError: (cause: unknown) => HttpServerError.RequestError
): Effect.Effect<Uint8Array, HttpServerError.RequestError> =>
  Effect.async<Uint8Array, HttpServerError.RequestError>((resume) => {
    const chunks: Array<Uint8Array> = []
    let size = 0
    let failed = false
    const onData = (chunk: Uint8Array) => {
      size += chunk.length
      if (!failed && maxBytes !== undefined && size > maxBytes) {
        failed = true
        chunks.length = 0
        resume(Effect.fail(onError(new Error("maxBytes exceeded"))))
      }
      if (failed) {
        if (size > (maxBytes ?? 0) + drainBytes) source.destroy()
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      if (failed) return
      const out = new Uint8Array(size)
      let offset = 0
      for (const chunk of chunks) {
        out.set(chunk, offset)
        offset += chunk.length
      }
      resume(Effect.succeed(out))
    }
    const onFailure = (cause: unknown) => {
      if (!failed) resume(Effect.fail(onError(cause)))
      failed = true
    }
    source.on("data", onData)
    source.once("end", onEnd)
    source.once("error", onFailure)
    return Effect.sync(() => {
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onFailure)
    })
  })

const utf8 = new TextDecoder()

/**
 * Remembers the outcome of reading a request's body once: a body can be read only once, and `text`, `json` and
 * `urlParamsBody` all read it.
 */
class Once<A, E> {
  private exit: Exit.Exit<A, E> | undefined = undefined
  constructor(private readonly read: Effect.Effect<A, E>) {}
  get effect(): Effect.Effect<A, E> {
    return Effect.suspend(() =>
      this.exit !== undefined ? this.exit : Effect.onExit(this.read, (exit) =>
        Effect.sync(() => {
          this.exit = exit
        }))
    )
  }
}

/**
 * `HttpServerRequest` for a Node request, as `SseNode`'s server serves it: the request, its response (which the
 * server writes), and what a route may read of them.
 *
 * @internal
 */
export class NodeRequest extends Inspectable.Class implements HttpServerRequest.HttpServerRequest {
  readonly [HttpServerRequest.TypeId]: HttpServerRequest.TypeId = HttpServerRequest.TypeId
  readonly [IncomingMessage.TypeId]: IncomingMessage.TypeId = IncomingMessage.TypeId
  private cachedHeaders: Headers.Headers | undefined
  private cachedCookies: Record<string, string> | undefined
  private body: Once<string, HttpServerError.RequestError> | undefined

  constructor(
    readonly source: NodeIncoming,
    readonly response: NodeOutgoing,
    readonly url: string = source.url ?? "/",
    headers?: Headers.Headers,
    private readonly remoteAddressOverride?: string
  ) {
    super()
    this.cachedHeaders = headers
  }

  private onError = (cause: unknown) => new HttpServerError.RequestError({ request: this, reason: "Decode", cause })

  get originalUrl(): string {
    return this.source.url ?? "/"
  }

  get method(): HttpMethod {
    return (this.source.method ?? "GET").toUpperCase() as HttpMethod
  }

  get headers(): Headers.Headers {
    return this.cachedHeaders ??= headersOf(this.source)
  }

  get cookies(): Record<string, string> {
    return this.cachedCookies ??= Cookies.parseHeader(this.headers.cookie ?? "")
  }

  get remoteAddress(): Option.Option<string> {
    return Option.fromNullable(this.remoteAddressOverride ?? this.source.socket?.remoteAddress)
  }

  get text(): Effect.Effect<string, HttpServerError.RequestError> {
    this.body ??= new Once(Effect.map(this.arrayBuffer, (buffer) => utf8.decode(buffer)))
    return this.body.effect
  }

  get json(): Effect.Effect<unknown, HttpServerError.RequestError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: () => text === "" ? null : JSON.parse(text) as unknown,
        catch: this.onError
      }))
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpServerError.RequestError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: () => UrlParams.fromInput(new URLSearchParams(text)),
        catch: this.onError
      }))
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpServerError.RequestError> {
    return Effect.flatMap(IncomingMessage.MaxBodySize, (maxBodySize) =>
      Effect.map(
        readBody(this.source, Option.match(maxBodySize, { onNone: () => undefined, onSome: Number }), this.onError),
        (bytes) => bytes.buffer as ArrayBuffer
      ))
  }

  get stream(): Stream.Stream<Uint8Array, HttpServerError.RequestError> {
    return NodeStream.fromReadable<HttpServerError.RequestError, Uint8Array>(() => this.source, this.onError)
  }

  get multipart(): Effect.Effect<
    Multipart.Persisted,
    Multipart.MultipartError,
    Scope.Scope | FileSystem.FileSystem | Path.Path
  > {
    return NodeMultipart.persisted(this.source, this.source.headers)
  }

  get multipartStream(): Stream.Stream<Multipart.Part, Multipart.MultipartError> {
    return NodeMultipart.stream(this.source, this.source.headers)
  }

  get upgrade(): Effect.Effect<Socket.Socket, HttpServerError.RequestError> {
    return Effect.fail(
      new HttpServerError.RequestError({
        request: this,
        reason: "Decode",
        description: "SseNode's server does not upgrade connections (WebSockets): serve them with NodeHttpServer"
      })
    )
  }

  modify(options: {
    readonly url?: string
    readonly headers?: Headers.Headers
    readonly remoteAddress?: string
  }): HttpServerRequest.HttpServerRequest {
    return new NodeRequest(
      this.source,
      this.response,
      options.url ?? this.url,
      options.headers ?? this.cachedHeaders,
      options.remoteAddress ?? this.remoteAddressOverride
    )
  }

  override toString(): string {
    return `ServerRequest(${this.method} ${this.url})`
  }

  toJSON(): unknown {
    return IncomingMessage.inspect(this, {
      _id: "@effect/platform/HttpServerRequest",
      method: this.method,
      url: this.originalUrl
    })
  }
}
