/**
 * What the reconnecting client says, with no dependency: the message of each of its errors, and the warning
 * it logs before a reconnection. Both Effect lines word them alike, from here.
 *
 * Part of the Effect-free core, shared by every binding; not a public API.
 */

/** The fields of a client error that its message names. */
export interface ClientErrorFields {
  readonly reason: "Request" | "Transport" | "Status" | "ContentType" | "Redirect" | "Parse" | "Decode"
  readonly url: string
  readonly status?: number | undefined
  readonly contentType?: string | undefined
  readonly lastEventId?: string | undefined
  readonly eventType?: string | undefined
  readonly cause?: unknown
}

/** The message of a client error. */
export const errorMessage = (error: ClientErrorFields): string => {
  const cause = error.cause instanceof Error ? error.cause.message : String(error.cause)
  switch (error.reason) {
    case "Request":
      return `SseClient: the request to ${error.url} could not be made: ${cause}`
    case "Transport":
      return `SseClient: the connection to ${error.url} failed: ${cause}`
    case "Status":
      return `SseClient: ${error.url} answered with status ${error.status}, not 200`
    case "ContentType":
      return `SseClient: ${error.url} answered with Content-Type ${
        error.contentType === undefined ? "(none)" : JSON.stringify(error.contentType)
      }, not text/event-stream`
    case "Redirect":
      return `SseClient: ${error.url} redirected too often: ${cause}`
    case "Parse":
      return `SseClient: the event stream from ${error.url} could not be parsed: ${cause}`
    case "Decode":
      return `SseClient: the data of the "${error.eventType}" event with id ${
        JSON.stringify(error.lastEventId)
      } from ${error.url} does not match the schema: ${cause}`
  }
}

/** The warning before reconnection `attempt`, in `delay` (formatted): after a clean end, or after a failure. */
export const reconnecting = (url: string, failed: boolean, delay: string, attempt: number): string =>
  failed
    ? `SseClient: the connection to ${url} failed; reconnecting in ${delay} (attempt ${attempt})`
    : `SseClient: ${url} ended the stream; reconnecting in ${delay} (attempt ${attempt})`
