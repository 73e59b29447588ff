/**
 * An expectation says which command a test expects its code to run, and how the fake process standing
 * in for it behaves: what it writes and when, what it must receive on stdin, how it ends, which signals
 * it shrugs off, and how many times the command may run. `TestCommandExecutor.layer` takes a list of
 * them.
 *
 * @example
 * ```ts
 * Expectation.argv("git", "log", "--format=%s").pipe(
 *   Expectation.stdout("second\n"),
 *   Expectation.stdout("first\n", { delay: "1 second" })
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as Command from "@tether/command/Command"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type { Inspectable } from "effect/Inspectable"
import type { Pipeable } from "effect/Pipeable"
import * as internal from "./internal/expectation.js"

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
 * Which commands an expectation accepts: exactly this argv, any argv that starts with these words, or
 * any command a predicate accepts. Argv words are compared with the prefix words of `Command.prefix`
 * included, and a `Redacted` word by its value.
 *
 * @since 0.1.0
 * @category models
 */
export type Matcher =
  | { readonly _tag: "Argv"; readonly words: ReadonlyArray<Command.Arg> }
  | { readonly _tag: "Prefix"; readonly words: ReadonlyArray<Command.Arg> }
  | {
      readonly _tag: "Where"
      readonly description: string
      readonly predicate: (command: Command.Command) => boolean
      /** Words to rank the expectation by when listing the closest ones to an unexpected command. */
      readonly words: ReadonlyArray<string> | undefined
    }

/**
 * What the fake process does, one step after the other.
 *
 * @since 0.1.0
 * @category models
 */
export type Step =
  | { readonly _tag: "Write"; readonly fd: 1 | 2; readonly data: Uint8Array }
  | { readonly _tag: "Sleep"; readonly duration: Duration.Duration }
  | { readonly _tag: "ReadStdin"; readonly description: string; readonly test: (received: string) => boolean }
  | { readonly _tag: "Respond"; readonly reply: (input: ReplyInput) => Effect.Effect<Reply> }

/**
 * How the fake process ends once its steps are done: it exits with a code, a signal kills it, or it runs
 * until it is killed.
 *
 * @since 0.1.0
 * @category models
 */
export type Ending =
  | { readonly _tag: "Exit"; readonly code: number }
  | { readonly _tag: "Signal"; readonly signal: string }
  | { readonly _tag: "Never" }

/**
 * How many times the command may run: at least `min`, at most `max` (`Infinity` for no bound).
 *
 * @since 0.1.0
 * @category models
 */
export interface Times {
  readonly min: number
  readonly max: number
}

/**
 * What the fake must receive on stdin: exactly this text, or text that a labelled test accepts.
 *
 * @since 0.1.0
 * @category models
 */
export type StdinExpected = string | { readonly label: string; readonly test: (received: string) => boolean }

/**
 * What `respond` computes its answer from: the command as started and everything it received on stdin.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReplyInput {
  readonly command: Command.Command
  readonly stdin: string
}

/**
 * A computed answer: output to write, then, when `exitCode` is set, an exit with that code (the steps
 * after it do not run).
 *
 * @since 0.1.0
 * @category models
 */
export interface Reply {
  readonly stdout?: string | Uint8Array | undefined
  readonly stderr?: string | Uint8Array | undefined
  readonly exitCode?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Expectation extends Pipeable, Inspectable {
  readonly [TypeId]: TypeId
  readonly matcher: Matcher
  readonly steps: ReadonlyArray<Step>
  readonly ending: Ending
  /** Signals the fake survives, as a program that traps them does; `SIGKILL` always kills it. */
  readonly ignoredSignals: ReadonlyArray<string>
  readonly times: Times
}

/**
 * @since 0.1.0
 * @category guards
 */
export const isExpectation: (u: unknown) => u is Expectation = internal.isExpectation

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * Expects a command with exactly this argv (program first). It runs once, writes nothing and exits 0
 * unless combinators say otherwise.
 *
 * @since 0.1.0
 * @category constructors
 */
export const argv: (...words: ReadonlyArray<Command.Arg>) => Expectation = internal.argv

/**
 * Expects a command whose argv starts with these words.
 *
 * @since 0.1.0
 * @category constructors
 */
export const argvPrefix: (...words: ReadonlyArray<Command.Arg>) => Expectation = internal.argvPrefix

/**
 * Expects a command that the predicate accepts; the predicate sees the whole value (environment, working
 * directory, stdio, stop policy). The label names it in failure messages.
 *
 * @since 0.1.0
 * @category constructors
 */
export const where: (label: string, predicate: (command: Command.Command) => boolean) => Expectation = internal.where

/**
 * An expectation from any matcher.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromMatcher: (matcher: Matcher) => Expectation = internal.fromMatcher

// -----------------------------------------------------------------------------
// the fake's behaviour
// -----------------------------------------------------------------------------

/**
 * Writes to stdout, after `delay` when given. Where the bytes go follows the command's setting: its
 * `Process.stdout` stream for a pipe, the file for `Stdio.file`, the test process's own stdout for
 * `Stdio.inherit`, that fd for `Stdio.fd`, nowhere for `/dev/null` (the default).
 *
 * @since 0.1.0
 * @category behaviour
 */
export const stdout: {
  (
    data: string | Uint8Array,
    options?: { readonly delay?: Duration.DurationInput | undefined }
  ): (self: Expectation) => Expectation
  (
    self: Expectation,
    data: string | Uint8Array,
    options?: { readonly delay?: Duration.DurationInput | undefined }
  ): Expectation
} = internal.stdout

/**
 * Writes to stderr, after `delay` when given. Left unset on the command, stderr feeds `Process.stderrTail`,
 * and so the message of an `ExitCodeError`.
 *
 * @since 0.1.0
 * @category behaviour
 */
export const stderr: {
  (
    data: string | Uint8Array,
    options?: { readonly delay?: Duration.DurationInput | undefined }
  ): (self: Expectation) => Expectation
  (
    self: Expectation,
    data: string | Uint8Array,
    options?: { readonly delay?: Duration.DurationInput | undefined }
  ): Expectation
} = internal.stderr

/**
 * Waits, on Effect's `Clock`: under `TestClock` the time passes only when the test adjusts it.
 *
 * @since 0.1.0
 * @category behaviour
 */
export const sleep: {
  (duration: Duration.DurationInput): (self: Expectation) => Expectation
  (self: Expectation, duration: Duration.DurationInput): Expectation
} = internal.sleep

/**
 * Reads stdin to its end (a pipe closed by the caller, a feed, a stream or a file) and checks it. A
 * mismatch lets the fake play the rest of its script, then makes `Process.wait` die with `StdinMismatch`,
 * and is reported again by `TestCommandExecutor.verify`. With stdin set to `Stdio.inherit` or
 * `Stdio.fd`, starting the command fails with `Unsupported`: a fake cannot read the parent's streams.
 *
 * @since 0.1.0
 * @category behaviour
 */
export const expectStdin: {
  (expected: StdinExpected): (self: Expectation) => Expectation
  (self: Expectation, expected: StdinExpected): Expectation
} = internal.expectStdin

/**
 * Reads stdin to its end, then computes what to write (and, optionally, the exit code) from the command
 * and that input. Makes fakes that keep state between commands, or echo what they were given.
 *
 * @since 0.1.0
 * @category behaviour
 */
export const respond: {
  (reply: (input: ReplyInput) => Effect.Effect<Reply>): (self: Expectation) => Expectation
  (self: Expectation, reply: (input: ReplyInput) => Effect.Effect<Reply>): Expectation
} = internal.respond

/**
 * Ends with this exit code after the steps (the default is 0). A non-zero code makes runners such as
 * `Command.run` and `Command.string` fail with `ExitCodeError`, exactly as a real process does.
 *
 * @since 0.1.0
 * @category ending
 */
export const exit: {
  (code: number): (self: Expectation) => Expectation
  (self: Expectation, code: number): Expectation
} = internal.exit

/**
 * Ends killed by this signal after the steps, as a program that crashes (`SIGSEGV`) or aborts (`SIGABRT`).
 *
 * @since 0.1.0
 * @category ending
 */
export const signal: {
  (signal: string): (self: Expectation) => Expectation
  (self: Expectation, signal: string): Expectation
} = internal.signal

/**
 * After the steps, runs until a signal kills it (a server, `sleep infinity`). Closing its scope, an
 * interruption or the command's timeout stops it.
 *
 * @since 0.1.0
 * @category ending
 */
export const neverExits: (self: Expectation) => Expectation = internal.neverExits

/**
 * Survives these signals, as a program that traps them. Stopping it then takes the command's grace
 * period (on Effect's `Clock`) and a `SIGKILL`. `SIGKILL` cannot be ignored.
 *
 * @since 0.1.0
 * @category ending
 */
export const ignoreSignal: {
  (...signals: ReadonlyArray<string>): (self: Expectation) => Expectation
  (self: Expectation, ...signals: ReadonlyArray<string>): Expectation
} = internal.ignoreSignal

// -----------------------------------------------------------------------------
// how many times
// -----------------------------------------------------------------------------

/**
 * The command runs exactly `n` times (the default is once). Fewer is an unmet expectation at the end of
 * the test; one more is an unexpected command.
 *
 * @since 0.1.0
 * @category times
 */
export const times: {
  (n: number): (self: Expectation) => Expectation
  (self: Expectation, n: number): Expectation
} = internal.times

/**
 * The command may run any number of times, none included.
 *
 * @since 0.1.0
 * @category times
 */
export const anyTimes: (self: Expectation) => Expectation = internal.anyTimes

/**
 * The command runs at least once, and may run more.
 *
 * @since 0.1.0
 * @category times
 */
export const atLeastOnce: (self: Expectation) => Expectation = internal.atLeastOnce

// -----------------------------------------------------------------------------
// formatting
// -----------------------------------------------------------------------------

/**
 * The expectation as failure messages show it: `argv: git init (expected once)`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const describe: (self: Expectation) => string = internal.describe
