/**
 * The hub's metrics as both lines name them: one list, so that a dashboard reads the same names from an Effect 3
 * and an Effect 4 process. Each line builds its `Metric`s from it.
 */

/** A metric's name and description. */
export interface MetricSpec {
  readonly name: string
  readonly description: string
}

export const clients: MetricSpec = {
  name: "sse_hub_clients",
  description: "Subscribers currently connected to the hub"
}
export const published: MetricSpec = { name: "sse_hub_events_published", description: "Events published to the hub" }
export const delivered: MetricSpec = { name: "sse_hub_events_delivered", description: "Events handed to subscribers" }
export const droppedClients: MetricSpec = {
  name: "sse_hub_clients_dropped",
  description: "Subscribers disconnected for falling behind"
}
export const droppedEvents: MetricSpec = {
  name: "sse_hub_events_dropped",
  description: "Events dropped for slow subscribers under the drop-oldest policy"
}
