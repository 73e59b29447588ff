/**
 * A running child process, as `Command.start` hands it out. It lives in the `Scope` it was started in:
 * when that scope closes the process (and its whole process group) is stopped, reaped, and every fd
 * opened for it is closed.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"
import type { Command } from "./Command.js"
import { type CommandError, SignalError } from "./CommandError.js"
import type { ExitStatus } from "./ExitStatus.js"
import type { Pipeline } from "./Pipeline.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@tether/command/Process")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * @since 0.1.0
 * @category models
 */
export interface Process {
  readonly [TypeId]: TypeId
  /** The process id of the child (the leader of its own process group); for a pipeline, the last stage's. */
  readonly pid: number
  /** The command or pipeline this process runs. */
  readonly command: Command | Pipeline
  /** For a pipeline, one process per stage in order (their `pid`s are the stages' pids); else empty. */
  readonly stages: ReadonlyArray<Process>
  /**
   * Writes to the child's stdin when it is `Stdio.pipe`; the pipe is closed (end of file for the child)
   * when the sink completes. A child that exits before reading everything is not an error. With any
   * other stdin setting, running the sink fails with `InvalidCommand`.
   */
  readonly stdin: Sink.Sink<void, Uint8Array | string, never, CommandError>
  /**
   * The child's stdout when it is `Stdio.pipe` (with `mergeStderr`, both streams in order). Read it once;
   * a second read, or a read of an output that is not piped, fails with `InvalidCommand`. A child that
   * fills a pipe nobody reads blocks until it is read or the scope closes.
   */
  readonly stdout: Stream.Stream<Uint8Array, CommandError>
  /** The child's stderr when it is `Stdio.pipe` (read once, like `stdout`). */
  readonly stderr: Stream.Stream<Uint8Array, CommandError>
  /** The parent's end of an extra fd set with `Command.fd(n, Stdio.pipe)` (read once, like `stdout`). */
  readonly fd: (fd: number) => Stream.Stream<Uint8Array, CommandError>
  /**
   * Waits for the child to exit and returns how it ended. Fails with `TimeoutError` when the command's
   * timeout stopped it. For a pipeline: every stage, then the first failing stage's status (a stage other
   * than the last killed by SIGPIPE does not count), else the last stage's.
   */
  readonly wait: Effect.Effect<ExitStatus, CommandError>
  /** Waits and returns the exit code, whatever it is; fails with `SignalError` if a signal killed it. */
  readonly exitCode: Effect.Effect<number, CommandError>
  /**
   * Sends a signal (default: the command's kill signal) to the child's process group. Once the child has
   * exited and been reaped this does nothing: a reaped pid is never signalled.
   */
  readonly kill: (signal?: string) => Effect.Effect<void>
  /**
   * Stops the child the way closing its scope does: the kill signal to the group, the grace period,
   * then SIGKILL; returns once the child is reaped.
   */
  readonly stop: Effect.Effect<void>
  /** `true` until the child has exited. */
  readonly isRunning: Effect.Effect<boolean>
  /**
   * The last 64 KiB of stderr when stderr was left unset (neither piped nor redirected); empty
   * otherwise. Runners use it for error messages.
   */
  readonly stderrTail: Effect.Effect<string>
}

/**
 * @since 0.1.0
 * @category guards
 */
export const isProcess = (u: unknown): u is Process => typeof u === "object" && u !== null && TypeId in u

/**
 * The exit code of `wait`'s status, or `SignalError` when a signal ended the process: the `exitCode` of a
 * backend that builds its `Process` from `wait`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const exitCodeFrom = (
  command: string,
  wait: Effect.Effect<ExitStatus, CommandError>
): Effect.Effect<number, CommandError> =>
  Effect.flatMap(wait, (status) =>
    status._tag === "Exited"
      ? Effect.succeed(status.code)
      : Effect.fail(
          new SignalError({ command, signal: status.signal, coreDumped: status.coreDumped, stdout: "", stderr: "" })
        )
  )
