/**
 * What a hub's errors say, with no dependency: the message of each, worded once for both Effect lines (each
 * declares its own error classes, with its own `Data`).
 *
 * Part of the Effect-free core, shared by every binding; not a public API.
 */

const describe = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

/** `HubClosed`. */
export const closed = (hub: string): string => `The SSE hub "${hub}" is shut down`

/** `HubUnavailable`, by reason. */
export const unavailable = (
  hub: string,
  reason: "NotPublished" | "OutcomeUnknown" | "ReadFailed",
  cause: unknown
): string => {
  switch (reason) {
    case "NotPublished":
      return `The SSE hub "${hub}" cannot reach its backend; the message was not published: ${describe(cause)}`
    case "OutcomeUnknown":
      return `The SSE hub "${hub}" got no answer from its backend in time; the message may or may not have been published (publish it again with the same idempotency key): ${
        describe(cause)
      }`
    case "ReadFailed":
      return `The SSE hub "${hub}" cannot read its backend's history: ${describe(cause)}`
  }
}

/** `SubscriberDropped`. */
export const dropped = (hub: string, bufferSize: number): string =>
  `The subscriber fell more than ${bufferSize} events behind the SSE hub "${hub}" and was dropped`

/** `PublishRejected`, by reason. */
export const rejected = (
  hub: string,
  reason: "DuplicateId" | "InvalidTarget",
  id: string | undefined,
  cause: unknown
): string =>
  reason === "InvalidTarget"
    ? `The SSE hub "${hub}" refused the publish: its target does not encode with the hub's target schema: ${
      describe(cause)
    }`
    : `The SSE hub "${hub}" refused the event id ${
      JSON.stringify(id)
    }: it is already in the history (a repeated id would make resumption from it ambiguous)`
