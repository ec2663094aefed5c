/**
 * What the benchmarks run: the servers, the scenarios, which servers each scenario measures by default, the
 * baseline each server is compared with, and the serving paths the targets are judged on.
 */
import type { Scenario } from "./loadgen.js"
import { before, serverFile } from "./processes.js"

/** Servers that speak the whole protocol (`servers/protocol.ts`): a hub, or a hand-written broadcaster. */
export const hubServers = [
  "effect-sse",
  `effect-sse@${before.version}`,
  "effect-sse-node",
  `effect-sse-node@${before.version}`,
  "effect-sse-platform",
  "node",
  "effect-platform",
  "better-sse",
  "hono"
] as const

/** Servers of one `Stream` per client (`SseResponse.stream`), no broadcast: `/events` quiet, `/ticks` ticking. */
export const streamServers = [
  "effect-sse-stream",
  `effect-sse-stream@${before.version}`,
  "effect-sse-stream-platform",
  "node-stream"
] as const

export const allServers: ReadonlyArray<string> = [...hubServers, ...streamServers]

export const allScenarios = [
  "fanout",
  "latency",
  "idle",
  "churn",
  "slow",
  "stream-idle",
  "shutdown",
  "stalled-resume",
  "parser"
] as const

export type ScenarioName = typeof allScenarios[number]

/** Extra rows of the default fan-out: publishing in a tight loop, as well as paced like the others. */
export const extraFanoutServers = ["effect-sse+yield=0", `effect-sse@${before.version}+yield=0`]

const isStreamServer = (server: string) => (streamServers as ReadonlyArray<string>).includes(serverFile(server))

/** The servers a scenario measures when none are named. */
export const defaultServersOf = (scenario: ScenarioName): ReadonlyArray<string> => {
  switch (scenario) {
    case "fanout":
      return [...hubServers, ...extraFanoutServers]
    case "latency":
    case "idle":
    case "slow":
      return hubServers
    case "churn":
      return allServers
    case "stream-idle":
      return streamServers
    case "shutdown":
      return [...streamServers, "effect-sse"]
    case "stalled-resume":
      return [
        "effect-sse",
        `effect-sse@${before.version}`,
        "effect-sse-node",
        `effect-sse-node@${before.version}`,
        "effect-sse-platform"
      ]
    case "parser":
      return []
  }
}

/** Whether a server can run a scenario at all: the stream servers publish nothing. */
export const canRun = (scenario: ScenarioName, server: string): boolean =>
  !isStreamServer(server) || !["fanout", "latency", "slow", "stalled-resume"].includes(scenario)

/** The path a scenario's clients ask a server for: the stream servers' ticking stream at shutdown. */
export const pathOf = (scenario: Scenario, server: string): string =>
  scenario === "shutdown" && isStreamServer(server) ? "/ticks" : "/events"

/** The hand-written server a server's figures are compared with. */
export const baselineOf = (server: string): string => (isStreamServer(server) ? "node-stream" : "node")

/** Rows in this order: each current server next to its 0.1 counterpart, the baselines after, the others last. */
export const rankOf = (server: string): number => {
  const order = [
    "effect-sse",
    `effect-sse@${before.version}`,
    "effect-sse-node",
    `effect-sse-node@${before.version}`,
    "effect-sse-platform",
    "effect-sse-stream",
    `effect-sse-stream@${before.version}`,
    "effect-sse-stream-platform",
    "node",
    "node-stream",
    "effect-platform",
    "better-sse",
    "hono"
  ]
  const i = order.indexOf(serverFile(server))
  return (i < 0 ? order.length : i) * 2 + (server.includes("+") ? 1 : 0)
}

/**
 * The serving paths the targets are judged on, each with the 0.1 server it is compared with. The first is the
 * default of every doc; the platform ones are a reference, not a target.
 */
export const servingPaths = [
  {
    server: "effect-sse",
    before: `effect-sse@${before.version}`,
    kind: "hub",
    label: "hub: `hub.serve()` on `SseNode.layer` (the default)",
    beforeLabel: "0.1 `hub.serve()` on `NodeHttpServer.layer`"
  },
  {
    server: "effect-sse-node",
    before: `effect-sse-node@${before.version}`,
    kind: "hub",
    label: "hub: `SseNode.makeHandler` on a `node:http` server",
    beforeLabel: "0.1 `hub.serveNode`"
  },
  {
    server: "effect-sse-stream",
    before: `effect-sse-stream@${before.version}`,
    kind: "stream",
    label: "`SseResponse.stream` on `SseNode.layer`",
    beforeLabel: "0.1 `SseResponse.stream` on `NodeHttpServer.layer`"
  },
  {
    server: "effect-sse-platform",
    before: `effect-sse@${before.version}`,
    kind: "hub",
    label: "reference: hub on `NodeHttpServer.layer` + `SseServer.layer()`",
    beforeLabel: "0.1 `hub.serve()` on `NodeHttpServer.layer`"
  },
  {
    server: "effect-sse-stream-platform",
    before: `effect-sse-stream@${before.version}`,
    kind: "stream",
    label: "reference: stream on `NodeHttpServer.layer` + `SseServer.layer()`",
    beforeLabel: "0.1 `SseResponse.stream` on `NodeHttpServer.layer`"
  }
] as const

export type ServingPath = typeof servingPaths[number]
