/**
 * @since 0.1.0
 */
export * as NodeCommandExecutor from "./NodeCommandExecutor.js"
