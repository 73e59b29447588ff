/**
 * The typed failures of building, starting and running a command. Every error carries `command`, the
 * command as `Command.toString` shows it (secrets redacted), and a message that names it.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import type { ParseError } from "effect/ParseResult"

/**
 * Where in a pipeline a failure happened: the pipeline, the failing stage (counted from 1), and a line for
 * each later stage that failed too.
 *
 * @since 0.1.0
 * @category models
 */
export interface PipelineFailure {
  readonly pipeline: string
  readonly stage: number
  readonly others: ReadonlyArray<string>
}

const where = (failure: PipelineFailure | undefined): string =>
  failure === undefined
    ? ""
    : ` [stage ${failure.stage} of (${failure.pipeline})${failure.others.length > 0 ? `; also failed: ${failure.others.join("; ")}` : ""}]`

const tail = (text: string): string => {
  const trimmed = text.trim()
  return trimmed.length > 0 ? `: ${trimmed}` : ""
}

/**
 * The command value holds a bad setting. Nothing was spawned; `problems` lists every fault found.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidCommand extends Data.TaggedError("InvalidCommand")<{
  readonly command: string
  readonly problems: ReadonlyArray<string>
}> {
  override get message(): string {
    return `Invalid command (${this.command}): ${this.problems.join("; ")}`
  }
}

/**
 * The program could not be found. For a bare name, `searched` lists the `PATH` directories looked in; for
 * a path (anything with a `/`), it is empty and `program` is the path resolved against the working
 * directory.
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandNotFound extends Data.TaggedError("CommandNotFound")<{
  readonly command: string
  readonly program: string
  readonly searched: ReadonlyArray<string>
}> {
  override get message(): string {
    return this.searched.length > 0
      ? `Cannot find '${this.program}' for (${this.command}) in PATH: ${this.searched.join(":")}`
      : `Cannot find '${this.program}' for (${this.command}): no such file`
  }
}

/**
 * The program exists but may not be executed (no execute bit, a directory, a `noexec` mount).
 *
 * @since 0.1.0
 * @category errors
 */
export class PermissionDenied extends Data.TaggedError("PermissionDenied")<{
  readonly command: string
  readonly path: string
}> {
  override get message(): string {
    return `Permission denied executing '${this.path}' for (${this.command})`
  }
}

/**
 * The working directory is missing or not a directory.
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkingDirectoryError extends Data.TaggedError("WorkingDirectoryError")<{
  readonly command: string
  readonly directory: string
  readonly reason: string
}> {
  override get message(): string {
    return `Cannot use working directory '${this.directory}' for (${this.command}): ${this.reason}`
  }
}

/**
 * Any other failure to start the process; `code` is the errno name (`EMFILE`, `EAGAIN`, ...).
 *
 * @since 0.1.0
 * @category errors
 */
export class SpawnError extends Data.TaggedError("SpawnError")<{
  readonly command: string
  readonly code: string
  readonly reason: string
}> {
  override get message(): string {
    return `Failed to start (${this.command}): ${this.reason} (${this.code})`
  }
}

/**
 * The process exited with a non-zero code. `stdout` is what was captured (empty when the runner does not
 * capture it); `stderr` is the captured stderr or its last 64 KiB.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExitCodeError extends Data.TaggedError("ExitCodeError")<{
  readonly command: string
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
  /** Set when the command is a stage of a pipeline. */
  readonly pipeline?: PipelineFailure | undefined
}> {
  override get message(): string {
    return `Child process (${this.command}) unexpected exit status ${this.exitCode}${where(this.pipeline)}${tail(this.stderr)}`
  }
}

/**
 * A signal killed the process.
 *
 * @since 0.1.0
 * @category errors
 */
export class SignalError extends Data.TaggedError("SignalError")<{
  readonly command: string
  readonly signal: string
  readonly coreDumped: boolean
  readonly stdout: string
  readonly stderr: string
  /** Set when the command is a stage of a pipeline. */
  readonly pipeline?: PipelineFailure | undefined
}> {
  override get message(): string {
    const core = this.coreDumped ? " (core dumped)" : ""
    return `Child process (${this.command}) unexpected fatal signal ${this.signal}${core}${where(this.pipeline)}${tail(this.stderr)}`
  }
}

/**
 * The command ran longer than its `Command.timeout` and was stopped.
 *
 * @since 0.1.0
 * @category errors
 */
export class TimeoutError extends Data.TaggedError("TimeoutError")<{
  readonly command: string
  readonly timeout: Duration.Duration
}> {
  override get message(): string {
    return `Child process (${this.command}) timed out after ${Duration.format(this.timeout)}`
  }
}

/**
 * A captured stream grew past `Command.maxOutput`. The process was killed; `output` holds the first
 * `limit` bytes.
 *
 * @since 0.1.0
 * @category errors
 */
export class OutputLimitError extends Data.TaggedError("OutputLimitError")<{
  readonly command: string
  readonly stream: "stdout" | "stderr"
  readonly limit: number
  readonly output: Uint8Array
}> {
  override get message(): string {
    return `Child process (${this.command}) wrote more than ${this.limit} bytes to ${this.stream}`
  }
}

/**
 * `Command.json` could not decode the command's stdout with its schema.
 *
 * @since 0.1.0
 * @category errors
 */
export class OutputDecodeError extends Data.TaggedError("OutputDecodeError")<{
  readonly command: string
  readonly cause: ParseError
}> {
  override get message(): string {
    return `Cannot decode the output of (${this.command}): ${this.cause.message}`
  }
}

/**
 * `Command.daemon` found its pid file locked: another process holds it, most often the same daemon,
 * still running. `pid` is the pid the file names, when it names one.
 *
 * @since 0.1.0
 * @category errors
 */
export class PidFileLocked extends Data.TaggedError("PidFileLocked")<{
  readonly command: string
  readonly path: string
  readonly pid: number | undefined
}> {
  override get message(): string {
    const holder = this.pid !== undefined ? ` (it names pid ${this.pid})` : ""
    return `Cannot start (${this.command}): the pid file '${this.path}' is locked by a running process${holder}`
  }
}

/**
 * The backend or platform cannot honour a setting of the command. Tether never ignores a setting
 * silently: it fails with this instead.
 *
 * @since 0.1.0
 * @category errors
 */
export class Unsupported extends Data.TaggedError("Unsupported")<{
  readonly command: string
  readonly setting: string
  readonly reason: string
}> {
  override get message(): string {
    return `Cannot run (${this.command}): ${this.setting} is unsupported here: ${this.reason}`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export type CommandError =
  | InvalidCommand
  | CommandNotFound
  | PermissionDenied
  | WorkingDirectoryError
  | SpawnError
  | ExitCodeError
  | SignalError
  | TimeoutError
  | OutputLimitError
  | OutputDecodeError
  | PidFileLocked
  | Unsupported
