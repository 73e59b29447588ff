/**
 * A command is an immutable value: a program, its arguments, its environment, its stdio and its stop
 * policy. Building one never fails and never runs anything; a runner (`run`, `string`, `lines`,
 * `stream`, `start`, ...) hands it to the `CommandExecutor` in context, which spawns it and owns every
 * fd, pipe and child it creates.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Equal from "effect/Equal"
import type { Inspectable } from "effect/Inspectable"
import type { Pipeable } from "effect/Pipeable"
import type * as Redacted from "effect/Redacted"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { CommandError } from "./CommandError.js"
import type { CommandExecutor } from "./CommandExecutor.js"
import type { ExitStatus } from "./ExitStatus.js"
import * as internal from "./internal/command.js"
import * as pipelines from "./internal/pipeline.js"
import * as runners from "./internal/runners.js"
import * as validation from "./internal/validate.js"
import type { Pipeline } from "./Pipeline.js"
import type { Process } from "./Process.js"
import type { Stdio } from "./Stdio.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId as any

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * An argument or environment value. A `Redacted` one reaches the child as it is and shows as
 * `<redacted>` in `toString`, logs, spans and errors.
 *
 * @since 0.1.0
 * @category models
 */
export type Arg = string | Redacted.Redacted<string>

/**
 * One environment customisation: set a value, or pass the parent's value through.
 *
 * @since 0.1.0
 * @category models
 */
export type EnvEntry =
  | { readonly _tag: "Set"; readonly name: string; readonly value: Arg }
  | { readonly _tag: "Pass"; readonly name: string }

/**
 * A resource limit name, as in `setrlimit(2)` without the `RLIMIT_` prefix.
 *
 * @since 0.1.0
 * @category models
 */
export type Resource =
  | "as"
  | "core"
  | "cpu"
  | "data"
  | "fsize"
  | "locks"
  | "memlock"
  | "msgqueue"
  | "nice"
  | "nofile"
  | "nproc"
  | "rss"
  | "rtprio"
  | "rttime"
  | "sigpending"
  | "stack"

/**
 * What a `${}` in `Command.cmd` may hold: one argument, or an array spread into several.
 *
 * @since 0.1.0
 * @category models
 */
export type TemplateValue =
  | string
  | number
  | bigint
  | Redacted.Redacted<string>
  | ReadonlyArray<string | number | bigint | Redacted.Redacted<string>>

/**
 * @since 0.1.0
 * @category models
 */
export interface Command extends Pipeable, Inspectable, Equal.Equal {
  readonly [TypeId]: TypeId
  readonly program: Arg
  readonly args: ReadonlyArray<Arg>
  /** Environment customisations in the order they were made. */
  readonly env: ReadonlyArray<EnvEntry>
  /** `true` once any environment customisation was made: the child then starts from a clean environment. */
  readonly customEnv: boolean
  /** `true` after `inheritEnv`: customisations apply on top of the parent's environment. */
  readonly inheritEnv: boolean
  readonly cwd: string | undefined
  /** `undefined` means the default: `/dev/null` for stdin and stdout, a kept tail for stderr. */
  readonly stdin: Stdio | undefined
  readonly stdout: Stdio | undefined
  readonly stderr: Stdio | undefined
  readonly mergeStderr: boolean
  readonly fds: ReadonlyArray<{ readonly fd: number; readonly stdio: Stdio }>
  readonly passFds: ReadonlyArray<{ readonly fd: number; readonly closeParent: boolean }>
  readonly timeout: Duration.Duration | undefined
  readonly killSignal: string
  readonly gracePeriod: Duration.Duration
  readonly maxOutput: number | undefined
  readonly prefix: ReadonlyArray<Arg>
  readonly daemonize: boolean
  readonly pidFile: string | undefined
  readonly clearCaps: boolean
  readonly noNewPrivileges: boolean
  readonly user: number | undefined
  readonly group: number | undefined
  readonly umask: number | undefined
  readonly limits: ReadonlyArray<{ readonly resource: Resource; readonly soft: number; readonly hard: number }>
  /** Faults found while building (for example `envString` without `=`), reported when the command runs. */
  readonly problems: ReadonlyArray<string>
}

/**
 * @since 0.1.0
 * @category guards
 */
export const isCommand: (u: unknown) => u is Command = internal.isCommand

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * A command from a program and its arguments. A bare name is looked up on `PATH` when the command runs;
 * a name with a `/` is a path, resolved against the command's working directory.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (program: Arg, ...args: ReadonlyArray<Arg>) => Command = internal.makeCommand

/**
 * A command from a whole argv; the first element is the program. An empty argv makes an invalid command.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromArgv: (argv: ReadonlyArray<Arg>) => Command = internal.fromArgv

/**
 * A template tag: the literal text is split on white space into words, and each `${}` is exactly one
 * argument (an array spreads into several). Nothing is ever interpreted by a shell.
 *
 * @example
 * ```ts
 * const file = "my notes.txt"
 * Command.cmd`wc -l ${file} --max=${10}` // argv: wc, -l, my notes.txt, --max=10
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const cmd: (strings: TemplateStringsArray, ...values: ReadonlyArray<TemplateValue>) => Command = internal.cmd

// -----------------------------------------------------------------------------
// arguments
// -----------------------------------------------------------------------------

/**
 * Appends one argument.
 *
 * @since 0.1.0
 * @category combinators
 */
export const arg: {
  (arg: Arg): (self: Command) => Command
  (self: Command, arg: Arg): Command
} = internal.args as any

/**
 * Appends arguments.
 *
 * @since 0.1.0
 * @category combinators
 */
export const args: {
  (...args: ReadonlyArray<Arg>): (self: Command) => Command
  (self: Command, ...args: ReadonlyArray<Arg>): Command
} = internal.args

/**
 * Appends `name=value` as one argument (`--conf-file=/etc/x.conf`). A redacted value keeps the whole
 * argument redacted.
 *
 * @since 0.1.0
 * @category combinators
 */
export const argPair: {
  (name: string, value: Arg): (self: Command) => Command
  (self: Command, name: string, value: Arg): Command
} = internal.argPair

// -----------------------------------------------------------------------------
// environment
// -----------------------------------------------------------------------------

/**
 * Sets a variable. Like every environment customisation, it switches the command to a clean
 * environment (unless `inheritEnv`); a later value for the same name replaces this one in place.
 *
 * @since 0.1.0
 * @category environment
 */
export const setEnv: {
  (name: string, value: Arg): (self: Command) => Command
  (self: Command, name: string, value: Arg): Command
} = internal.setEnv

/**
 * Sets several variables (see `setEnv`).
 *
 * @since 0.1.0
 * @category environment
 */
export const env: {
  (vars: Readonly<Record<string, Arg>>): (self: Command) => Command
  (self: Command, vars: Readonly<Record<string, Arg>>): Command
} = internal.env

/**
 * Sets a variable from a `NAME=VALUE` string. A string without `=` makes the command invalid.
 *
 * @since 0.1.0
 * @category environment
 */
export const envString: {
  (assignment: string): (self: Command) => Command
  (self: Command, assignment: string): Command
} = internal.envString

/**
 * Passes variables from the parent's environment (read when the command starts). A name the parent
 * does not have is skipped.
 *
 * @since 0.1.0
 * @category environment
 */
export const envPass: {
  (...names: ReadonlyArray<string>): (self: Command) => Command
  (self: Command, ...names: ReadonlyArray<string>): Command
} = internal.envPass

/**
 * A clean environment with `PATH`, `LD_PRELOAD`, `LD_LIBRARY_PATH`, `HOME`, `USER`, `LOGNAME` and
 * `TMPDIR` passed through and `LC_ALL=C`, so that output is not localised.
 *
 * @since 0.1.0
 * @category environment
 */
export const envPassCommon: (self: Command) => Command = internal.envPassCommon

/**
 * Keeps the parent's environment underneath the customisations.
 *
 * @since 0.1.0
 * @category environment
 */
export const inheritEnv: (self: Command) => Command = internal.inheritEnv

/**
 * The environment the child will get, given the parent's. Backends use it; tests can too.
 *
 * @since 0.1.0
 * @category environment
 */
export const environment: (
  self: Command,
  parent: Readonly<Record<string, string | undefined>>
) => Record<string, string> = internal.environment

// -----------------------------------------------------------------------------
// process settings
// -----------------------------------------------------------------------------

/**
 * The working directory. A missing directory fails the run with `WorkingDirectoryError`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const cwd: {
  (path: string): (self: Command) => Command
  (self: Command, path: string): Command
} = internal.cwd

/**
 * Where stdin comes from (default `/dev/null`).
 *
 * @since 0.1.0
 * @category stdio
 */
export const stdin: {
  (stdio: Stdio): (self: Command) => Command
  (self: Command, stdio: Stdio): Command
} = internal.stdin

/**
 * Where stdout goes (default `/dev/null`, or a pipe for runners that return it).
 *
 * @since 0.1.0
 * @category stdio
 */
export const stdout: {
  (stdio: Stdio): (self: Command) => Command
  (self: Command, stdio: Stdio): Command
} = internal.stdout

/**
 * Where stderr goes. Left unset, its last 64 KiB are kept for error messages and the rest discarded.
 *
 * @since 0.1.0
 * @category stdio
 */
export const stderr: {
  (stdio: Stdio): (self: Command) => Command
  (self: Command, stdio: Stdio): Command
} = internal.stderr

/**
 * Feeds stdin with text, bytes or a `Stream`, then end of file. A child that exits without reading it
 * all is not an error.
 *
 * @since 0.1.0
 * @category stdio
 */
export const feed: {
  (input: string | Uint8Array | Stream.Stream<Uint8Array | string, unknown>): (self: Command) => Command
  (self: Command, input: string | Uint8Array | Stream.Stream<Uint8Array | string, unknown>): Command
} = internal.feed

/**
 * Sends stderr where stdout goes, interleaved in the order the child wrote it.
 *
 * @since 0.1.0
 * @category stdio
 */
export const mergeStderr: (self: Command) => Command = internal.mergeStderr

/**
 * Opens fd `n` (3 and up) in the child from a file (opened for reading, or for appending with
 * `Stdio.file(path, { append: true })`), a feed, a stream, or a pipe the parent reads as `Process.fd(n)`.
 * Runners that do not return it drain such a pipe, so the child never blocks on it.
 *
 * @since 0.1.0
 * @category stdio
 */
export const fd: {
  (fd: number, stdio: Stdio): (self: Command) => Command
  (self: Command, fd: number, stdio: Stdio): Command
} = internal.fd

/**
 * Gives the child the parent's fd under the same number. With `closeParent`, the parent's copy is
 * closed once the child has started (or when the start fails).
 *
 * Without the exec helper, other fds the parent holds without close-on-exec also reach the child.
 *
 * @since 0.1.0
 * @category stdio
 */
export const passFd: {
  (fd: number, options?: { readonly closeParent?: boolean }): (self: Command) => Command
  (self: Command, fd: number, options?: { readonly closeParent?: boolean }): Command
} = internal.passFd

// -----------------------------------------------------------------------------
// stop policy and limits
// -----------------------------------------------------------------------------

/**
 * Stops the command after `duration` (kill signal, grace period, SIGKILL) and fails with `TimeoutError`.
 *
 * @since 0.1.0
 * @category stop policy
 */
export const timeout: {
  (duration: Duration.DurationInput): (self: Command) => Command
  (self: Command, duration: Duration.DurationInput): Command
} = internal.timeout

/**
 * The signal sent to the process group to stop it (default `SIGTERM`).
 *
 * @since 0.1.0
 * @category stop policy
 */
export const killSignal: {
  (signal: string): (self: Command) => Command
  (self: Command, signal: string): Command
} = internal.killSignal

/**
 * How long a stopped process may take to exit before SIGKILL (default 2 seconds).
 *
 * @since 0.1.0
 * @category stop policy
 */
export const gracePeriod: {
  (duration: Duration.DurationInput): (self: Command) => Command
  (self: Command, duration: Duration.DurationInput): Command
} = internal.gracePeriod

/**
 * The most bytes a runner captures per stream. Past it the child is killed and the run fails with
 * `OutputLimitError`, carrying what was kept.
 *
 * @since 0.1.0
 * @category stop policy
 */
export const maxOutput: {
  (bytes: number): (self: Command) => Command
  (self: Command, bytes: number): Command
} = internal.maxOutput

/**
 * Runs the command through a wrapper program (`nice -n 10`, `prlimit ...`, `setpriv ...`). The wrapper
 * words come first in the argv and in `toString`. Applied twice, the later wrapper runs outermost.
 *
 * @since 0.1.0
 * @category combinators
 */
export const prefix: {
  (wrapper: ReadonlyArray<Arg>): (self: Command) => Command
  (self: Command, wrapper: ReadonlyArray<Arg>): Command
} = internal.prefix

// -----------------------------------------------------------------------------
// exec-helper settings
// -----------------------------------------------------------------------------

/**
 * Detaches the command as a daemon (double fork, own session, cwd `/` unless `Command.cwd` is set, stdio
 * `/dev/null` unless set, no parent-death signal). Only `Command.daemon` runs such a command. Needs the
 * exec helper; elsewhere `Unsupported`.
 *
 * @since 0.1.0
 * @category exec helper
 */
export const daemonize: (self: Command) => Command = internal.daemonize

/**
 * A pid file written by the daemon, holding its pid and locked for its lifetime (an open file description
 * lock, held by an fd the daemon keeps). A daemon whose pid file is locked fails to start with
 * `PidFileLocked`. Needs `daemonize`.
 *
 * @since 0.1.0
 * @category exec helper
 */
export const pidFile: {
  (path: string): (self: Command) => Command
  (self: Command, path: string): Command
} = internal.pidFile

/**
 * Clears every capability set of the child (effective, permitted, inheritable, ambient, bounding).
 * Needs the exec helper; elsewhere `Unsupported`.
 *
 * @since 0.1.0
 * @category exec helper
 */
export const clearCaps: (self: Command) => Command = internal.clearCaps

/**
 * Sets `no_new_privs`: the child and its descendants can never gain privileges (setuid bits are
 * ignored). Needs the exec helper; elsewhere `Unsupported`.
 *
 * @since 0.1.0
 * @category exec helper
 */
export const noNewPrivileges: (self: Command) => Command = internal.noNewPrivileges

/**
 * Runs the child as this uid, with no supplementary groups. Needs the exec helper; elsewhere `Unsupported`.
 *
 * @since 0.1.0
 * @category exec helper
 */
export const user: {
  (uid: number): (self: Command) => Command
  (self: Command, uid: number): Command
} = internal.user

/**
 * Runs the child with this gid and no supplementary groups. Needs the exec helper; elsewhere `Unsupported`.
 *
 * @since 0.1.0
 * @category exec helper
 */
export const group: {
  (gid: number): (self: Command) => Command
  (self: Command, gid: number): Command
} = internal.group

/**
 * The child's file mode creation mask. Needs the exec helper; elsewhere `Unsupported`.
 *
 * @since 0.1.0
 * @category exec helper
 */
export const umask: {
  (mask: number): (self: Command) => Command
  (self: Command, mask: number): Command
} = internal.umask

/**
 * A resource limit for the child (`hard` defaults to `soft`; `Infinity` is unlimited). Needs the exec
 * helper; elsewhere `Unsupported`.
 *
 * @since 0.1.0
 * @category exec helper
 */
export const limit: {
  (resource: Resource, soft: number, hard?: number): (self: Command) => Command
  (self: Command, resource: Resource, soft: number, hard?: number): Command
} = internal.limit

// -----------------------------------------------------------------------------
// pipelines
// -----------------------------------------------------------------------------

/**
 * Connects `self`'s stdout to `that`'s stdin with an OS pipe, as `self | that` does in a shell. Either
 * side may already be a pipeline; the result is one flat `Pipeline`, which every runner accepts.
 *
 * @example
 * ```ts
 * const count = Command.make("head", "-c", "1G", "/dev/zero").pipe(
 *   Command.pipeTo(Command.make("wc", "-c")),
 *   Command.string
 * )
 * ```
 *
 * @since 0.1.0
 * @category pipelines
 */
export const pipeTo: {
  (that: Command | Pipeline): (self: Command | Pipeline) => Pipeline
  (self: Command | Pipeline, that: Command | Pipeline): Pipeline
} = pipelines.pipeTo

// -----------------------------------------------------------------------------
// formatting and validation
// -----------------------------------------------------------------------------

/**
 * The command as a line for `sh`: the environment assignments, then the argv (with any prefix), each
 * word quoted only where needed. Secrets show as `<redacted>`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const toString: (self: Command) => string = internal.toString

/**
 * The whole argv: prefix words, program, arguments.
 *
 * @since 0.1.0
 * @category getters
 */
export const argv: (self: Command) => ReadonlyArray<Arg> = internal.argv

/**
 * Every fault of the value, as the messages `InvalidCommand` would list; empty when it may run.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate: (self: Command) => ReadonlyArray<string> = validation.validate

// -----------------------------------------------------------------------------
// execution
// -----------------------------------------------------------------------------

/**
 * Runs to the end; fails with `ExitCodeError` on a non-zero exit and `SignalError` on death by signal.
 * stdout goes to `/dev/null` unless set.
 *
 * @since 0.1.0
 * @category execution
 */
export const run: (self: Command | Pipeline) => Effect.Effect<void, CommandError, CommandExecutor> = runners.run

/**
 * Runs to the end and returns the exit code, whatever it is; fails with `SignalError` on a signal.
 *
 * @since 0.1.0
 * @category execution
 */
export const exitCode: (self: Command | Pipeline) => Effect.Effect<number, CommandError, CommandExecutor> =
  runners.exitCode

/**
 * Runs to the end and returns how it ended, never failing on the exit code or a signal.
 *
 * @since 0.1.0
 * @category execution
 */
export const status: (self: Command | Pipeline) => Effect.Effect<ExitStatus, CommandError, CommandExecutor> =
  runners.status

/**
 * Runs to the end and returns stdout as UTF-8 text; fails like `run`, carrying what was captured.
 *
 * @since 0.1.0
 * @category execution
 */
export const string: (self: Command | Pipeline) => Effect.Effect<string, CommandError, CommandExecutor> = runners.string

/**
 * Runs to the end and returns stdout as bytes; fails like `run`.
 *
 * @since 0.1.0
 * @category execution
 */
export const bytes: (self: Command | Pipeline) => Effect.Effect<Uint8Array, CommandError, CommandExecutor> =
  runners.bytes

/**
 * Runs to the end and returns stdout split into lines (on `\n` and `\r\n`); fails like `run`.
 *
 * @since 0.1.0
 * @category execution
 */
export const lines: (self: Command | Pipeline) => Effect.Effect<ReadonlyArray<string>, CommandError, CommandExecutor> =
  runners.lines

/**
 * Runs to the end and returns the status with stdout and stderr as text. Never fails on the exit code or
 * a signal. With `mergeStderr`, `stdout` holds both and `stderr` is empty.
 *
 * @since 0.1.0
 * @category execution
 */
export const output: (
  self: Command | Pipeline
) => Effect.Effect<
  { readonly status: ExitStatus; readonly stdout: string; readonly stderr: string },
  CommandError,
  CommandExecutor
> = runners.output

/**
 * Runs to the end and decodes stdout as JSON with a schema; a decode failure is `OutputDecodeError`.
 *
 * @since 0.1.0
 * @category execution
 */
export const json: <A, I>(
  schema: Schema.Schema<A, I, never>
) => (self: Command | Pipeline) => Effect.Effect<A, CommandError, CommandExecutor> = runners.json

/**
 * stdout as a stream of bytes in constant memory. The stream fails at its end if the exit was not clean.
 *
 * @since 0.1.0
 * @category execution
 */
export const stream: (self: Command | Pipeline) => Stream.Stream<Uint8Array, CommandError, CommandExecutor> =
  runners.stream

/**
 * stdout as a stream of lines (UTF-8, split on `\n` and `\r\n`). Fails at its end if the exit was not clean.
 *
 * @since 0.1.0
 * @category execution
 */
export const streamLines: (self: Command | Pipeline) => Stream.Stream<string, CommandError, CommandExecutor> =
  runners.streamLines

/**
 * Starts the command and hands out the running `Process`, which lives in the current `Scope`.
 *
 * @since 0.1.0
 * @category execution
 */
export const start: (self: Command | Pipeline) => Effect.Effect<Process, CommandError, CommandExecutor | Scope.Scope> =
  runners.startRunner

/**
 * Starts a command as a daemon (`Command.daemonize` is implied), the one way a process outlives its scope.
 * Succeeds with its pid once it runs, its pid file written and locked; fails with `PidFileLocked` when
 * another process holds that file. Needs the exec helper; elsewhere `Unsupported`.
 *
 * @since 0.1.0
 * @category execution
 */
export const daemon: (self: Command) => Effect.Effect<{ readonly pid: number }, CommandError, CommandExecutor> =
  runners.daemon
