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
}

/**
 * @since 0.1.0
 * @category tags
 */
export class CommandExecutor extends Context.Tag("@tether/command/CommandExecutor")<CommandExecutor, Service>() {}
