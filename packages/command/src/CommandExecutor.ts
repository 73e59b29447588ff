/**
 * The one service every runner needs. A backend (the Node interpreter, a fake, a dry run) implements
 * `start`; `run`, `string`, `lines`, `stream` and the rest are written once on top of it in `Command`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Command } from "./Command.js"
import type { CommandError } from "./CommandError.js"
import * as internal from "./internal/pipeline.js"
import type { Pipeline } from "./Pipeline.js"
import type { Process } from "./Process.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Starts a command whose value has already been validated. The process belongs to the `Scope`:
   * closing it stops the process group, reaps the child and closes every fd opened for it.
   *
   * A backend reads the command's stdio settings as they are: an unset stdin/stdout means `/dev/null`,
   * an unset stderr means "keep its last 64 KiB for `Process.stderrTail`".
   */
  readonly start: (command: Command) => Effect.Effect<Process, CommandError, Scope.Scope>
  /**
   * Starts a validated pipeline with its stages connected directly (OS pipes). Optional: without it,
   * runners connect the stages through `start` and streams, so a fake or remote backend gets pipelines
   * for free, at the cost of copying the bytes through JavaScript.
   */
  readonly startPipeline?: (pipeline: Pipeline) => Effect.Effect<Process, CommandError, Scope.Scope>
  /**
   * Starts a validated, daemonized command outside every scope and succeeds with its pid once it runs
   * (its pid file, when it has one, written and locked). Optional: without it, `Command.daemon` fails
   * with `Unsupported`.
   */
  readonly daemon?: (command: Command) => Effect.Effect<{ readonly pid: number }, CommandError>
}

/**
 * Starts a pipeline with nothing but `start` for single commands, copying each stage's output into the
 * next stage's input through streams. Backends without a native way to connect processes can use it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const startThroughStreams: (
  start: Service["start"]
) => (pipeline: Pipeline) => Effect.Effect<Process, CommandError, Scope.Scope> = internal.startThroughStreams

/**
 * One `Process` for a pipeline from its stages' processes (input to the first, output from the last,
 * pipefail waiting). For backends that start the stages themselves.
 *
 * @since 0.1.0
 * @category constructors
 */
export const combine: (pipeline: Pipeline, stages: ReadonlyArray<Process>) => Process = internal.combine

/**
 * @since 0.1.0
 * @category tags
 */
export class CommandExecutor extends Context.Tag("@tether/command/CommandExecutor")<CommandExecutor, Service>() {}
