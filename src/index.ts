/**
 * Server-Sent Events for Effect. The root import holds the portable modules, which run on any runtime (Node,
 * Bun, Deno, browsers, workers); the Node transport is `effect-sse/SseNode`, the Redis backend
 * `effect-sse/SseHubRedis`.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as SseClient from "./SseClient.js"

/**
 * @since 0.1.0
 */
export * as SseConnection from "./SseConnection.js"

/**
 * @since 0.1.0
 */
export * as SseEncoder from "./SseEncoder.js"

/**
 * @since 0.1.0
 */
export * as SseEvent from "./SseEvent.js"

/**
 * @since 0.2.0
 */
export * as SseHttpApi from "./SseHttpApi.js"

/**
 * @since 0.1.0
 */
export * as SseHub from "./SseHub.js"

/**
 * @since 0.1.0
 */
export * as SseHubBackend from "./SseHubBackend.js"

/**
 * @since 0.2.0
 */
export * as SseHubBackendTest from "./SseHubBackendTest.js"

/**
 * @since 0.1.0
 */
export * as SseParser from "./SseParser.js"

/**
 * @since 0.1.0
 */
export * as SseResponse from "./SseResponse.js"

/**
 * @since 0.1.0
 */
export * as SseServer from "./SseServer.js"

/**
 * @since 0.2.0
 */
export * as SseWeb from "./SseWeb.js"
