/**
 * @since 0.1.0
 */
export * as DryRunCommandExecutor from "./DryRunCommandExecutor.js"
/**
 * @since 0.1.0
 */
export * as Expectation from "./Expectation.js"
/**
 * @since 0.1.0
 */
export * as ExpectationError from "./ExpectationError.js"
/**
 * @since 0.1.0
 */
export * as Recording from "./Recording.js"
/**
 * @since 0.1.0
 */
export * as TestCommandExecutor from "./TestCommandExecutor.js"
