/**
 * @since 0.1.0
 */
export * as Command from "./Command.js"
/**
 * @since 0.1.0
 */
export * as CommandError from "./CommandError.js"
/**
 * @since 0.1.0
 */
export * as CommandExecutor from "./CommandExecutor.js"
/**
 * @since 0.1.0
 */
export * as ExitStatus from "./ExitStatus.js"
/**
 * @since 0.1.0
 */
export * as Process from "./Process.js"
/**
 * @since 0.1.0
 */
export * as Stdio from "./Stdio.js"
/**
 * @since 0.1.0
 */
export * as Pipeline from "./Pipeline.js"
