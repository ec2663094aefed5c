/**
 * What the benchmarks run: the servers, the scenarios, which servers each scenario measures by default, the
 * baseline each server is compared with, and the serving paths the targets are judged on.
 */
import type { Scenario } from "./loadgen.js"
import { before, runtimeOf, serverFile } from "./processes.js"

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

/**
 * Bun next to Node (`bun-*` scenarios): the hub and the stream on `@effect/platform-bun`'s server (run by Bun) next
 * to the same apps on `NodeHttpServer` (Node), and the default path and the plain baseline on each runtime (a
 * `~bun` server is that server's file run by Bun, on Bun's `node:http`).
 */
export const bunHubServers = [
  "effect-sse-bun",
  "effect-sse-platform",
  "effect-sse~bun",
  "effect-sse",
  "node~bun",
  "node"
]
export const bunStreamServers = [
  "effect-sse-stream-bun",
  "effect-sse-stream-platform",
  "effect-sse-stream~bun",
  "effect-sse-stream",
  "node-stream~bun",
  "node-stream"
]

/** HTTP/2 (`h2-*` scenarios): servers that serve HTTP/1.1 on `PORT` and h2c on `H2_PORT`, one set of clients. */
export const h2Servers = ["effect-sse-h2", "node-h2"]

/**
 * The Effect 4 line (`effect4-*` scenarios): its hub on Node 22, next to the Effect 3 hub on Node 20 and on Node 22
 * (`~node22`), the platform reference, and the plain baseline on both Nodes.
 */
export const effect4Servers = [
  "effect4-sse",
  "effect-sse~node22",
  "effect-sse",
  "effect-sse-platform",
  "node~node22",
  "node"
]

export const allScenarios = [
  "fanout",
  "latency",
  "idle",
  "churn",
  "slow",
  "stream-idle",
  "shutdown",
  "stalled-resume",
  "bun-fanout",
  "bun-idle",
  "bun-stream-idle",
  "h2-fanout",
  "h2-latency",
  "effect4-fanout",
  "effect4-idle",
  "parser"
] as const

export type ScenarioName = typeof allScenarios[number]

/** A scenario the harness runs as jobs (the parser runs on its own). */
export type JobScenario = Exclude<ScenarioName, "parser">

/** Names for several scenarios at once on the command line: `--scenario bun,h2,effect4`. */
export const scenarioGroups: Readonly<Record<string, ReadonlyArray<ScenarioName>>> = {
  bun: ["bun-fanout", "bun-idle", "bun-stream-idle"],
  h2: ["h2-fanout", "h2-latency"],
  effect4: ["effect4-fanout", "effect4-idle"]
}

/** What the load generator does for a scenario: the new comparisons reuse the fan-out, latency and idle ones. */
export const loadScenarioOf = (scenario: JobScenario): Scenario => {
  switch (scenario) {
    case "bun-fanout":
    case "h2-fanout":
    case "effect4-fanout":
      return "fanout"
    case "h2-latency":
      return "latency"
    case "bun-idle":
    case "effect4-idle":
      return "idle"
    case "bun-stream-idle":
      return "stream-idle"
    default:
      return scenario
  }
}

/** Extra rows of the default fan-out: publishing in a tight loop, as well as paced like the others. */
export const extraFanoutServers = ["effect-sse+yield=0", `effect-sse@${before.version}+yield=0`]

const isStreamServer = (server: string) => [...streamServers, "effect-sse-stream-bun"].includes(serverFile(server))

const isH2Server = (server: string) => serverFile(server).endsWith("-h2")

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
    case "bun-fanout":
    case "bun-idle":
      return bunHubServers
    case "bun-stream-idle":
      return bunStreamServers
    case "h2-fanout":
    case "h2-latency":
      return h2Servers
    case "effect4-fanout":
    case "effect4-idle":
      return effect4Servers
    case "parser":
      return []
  }
}

/** Whether a server can run a scenario at all: the stream servers publish nothing. */
export const canRun = (scenario: ScenarioName, server: string): boolean =>
  scenario === "parser"
    ? false
    : scenario.startsWith("h2-")
    ? isH2Server(server)
    : !isStreamServer(server) || !["fanout", "latency", "slow", "stalled-resume"].includes(loadScenarioOf(scenario))

/** The path a scenario's clients ask a server for: the stream servers' ticking stream at shutdown. */
export const pathOf = (scenario: Scenario, server: string): string =>
  scenario === "shutdown" && isStreamServer(server) ? "/ticks" : "/events"

/**
 * The same app on Node that a Bun server is compared with: `@effect/platform-bun`'s server against
 * `NodeHttpServer`, a `~bun` server against its file on Node; `undefined` for a server on Node.
 */
export const nodeCounterpartOf = (server: string): string | undefined => {
  if (runtimeOf(server) !== "bun") return undefined
  const file = serverFile(server)
  if (file === "effect-sse-bun") return "effect-sse-platform"
  if (file === "effect-sse-stream-bun") return "effect-sse-stream-platform"
  return server.replace(/~bun/, "")
}

/** The plain baseline on a server's own runtime: `node`, `node~bun`, `node~node22` (or the `node-stream` ones). */
export const runtimeBaselineOf = (server: string): string => {
  const base = isStreamServer(server) ? "node-stream" : "node"
  const runtime = runtimeOf(server)
  return runtime === "node" ? base : `${base}~${runtime}`
}

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
    "effect-sse-bun",
    "effect-sse-h2",
    "effect-sse-stream",
    `effect-sse-stream@${before.version}`,
    "effect-sse-stream-platform",
    "effect-sse-stream-bun",
    "effect4-sse",
    "node",
    "node-h2",
    "node-stream",
    "effect-platform",
    "better-sse",
    "hono"
  ]
  const i = order.indexOf(serverFile(server))
  const runtime = ["node", "bun", "node22"].indexOf(runtimeOf(server))
  return ((i < 0 ? order.length : i) * 3 + runtime) * 2 + (server.includes("+") ? 1 : 0)
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
