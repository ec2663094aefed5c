/**
 * @since 1.0.0
 */

/**
 * @since 1.0.0
 */
export * as SseClient from "./SseClient.js"

/**
 * @since 1.0.0
 */
export * as SseConnection from "./SseConnection.js"

/**
 * @since 1.0.0
 */
export * as SseEncoder from "./SseEncoder.js"

/**
 * @since 1.0.0
 */
export * as SseEvent from "./SseEvent.js"

/**
 * @since 1.0.0
 */
export * as SseHttpApi from "./SseHttpApi.js"

/**
 * @since 1.0.0
 */
export * as SseHub from "./SseHub.js"

/**
 * @since 1.0.0
 */
export * as SseHubBackend from "./SseHubBackend.js"

/**
 * @since 1.0.0
 */
export * as SseParser from "./SseParser.js"

/**
 * @since 1.0.0
 */
export * as SseResponse from "./SseResponse.js"
