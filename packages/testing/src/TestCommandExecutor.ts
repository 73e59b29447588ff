/**
 * A strict fake `CommandExecutor` for tests. Each command the code under test starts must match one of
 * the expectations the test set; a fake process then plays that expectation's script instead of a real
 * program. Every runner of `@tether/command` (`run`, `string`, `lines`, `stream`, `start`, timeouts and
 * all) works against it exactly as against the Node executor, because it implements the same single
 * primitive, `start`.
 *
 * @example
 * ```ts
 * const layer = TestCommandExecutor.layer([
 *   Expectation.argv("git", "rev-parse", "--abbrev-ref", "HEAD").pipe(Expectation.stdout("main\n"))
 * ])
 * const branch = Command.string(Command.make("git", "rev-parse", "--abbrev-ref", "HEAD")).pipe(
 *   Effect.provide(layer)
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as Command from "@tether/command/Command"
import { CommandExecutor } from "@tether/command/CommandExecutor"
import type * as ExitStatus from "@tether/command/ExitStatus"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Expectation from "./Expectation.js"
import type { VerificationError } from "./ExpectationError.js"
import * as engine from "./internal/engine.js"

/**
 * One command the fake ran, as it stands when read: `stdin` is everything written or fed to it so far
 * (even after it exited), `signals` every signal it received while running (`kill`, a scope closing, a
 * timeout), `status` how it ended, if it did. `pid` is a fake pid above Linux's largest `pid_max`, so it
 * never names a real process. A `Run` is a `Data` value: compare runs with `Equal`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Run {
  readonly command: Command.Command
  readonly pid: number
  /** The expectation it matched, as `Expectation.describe` shows it. */
  readonly expectation: string | undefined
  readonly stdin: string
  readonly signals: ReadonlyArray<string>
  readonly status: Option.Option<ExitStatus.ExitStatus>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * Commands must come in the order of the expectations. An expectation may be used up to its maximum
   * number of times before moving on, and skipped once it has run its minimum. Default `false`: any
   * expectation with uses left serves, the first in the list that matches. Commands started concurrently
   * start in no fixed order: leave their expectations unordered.
   */
  readonly ordered?: boolean | undefined
  /**
   * Check, when the layer's scope closes, that every expectation ran its minimum number of times and
   * nothing unexpected happened; a failure is a defect carrying `VerificationError`. Skipped when
   * `verify` already ran and nothing happened since. Default `true`.
   */
  readonly verifyOnClose?: boolean | undefined
}

/**
 * The test's view of the fake executor.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Every command that was started, in order, as the executor received it. Runners pipe the streams they
   * capture, so `Command.string(cmd)` records `cmd` with `stdout` set to `Stdio.pipe`.
   */
  readonly calls: Effect.Effect<ReadonlyArray<Command.Command>>
  readonly runs: Effect.Effect<ReadonlyArray<Run>>
  /**
   * Fails with `VerificationError` if an expectation ran fewer times than its minimum, or an unexpected
   * command or a stdin mismatch happened.
   */
  readonly verify: Effect.Effect<void, VerificationError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class TestCommandExecutor extends Context.Tag("@tether/testing/TestCommandExecutor")<
  TestCommandExecutor,
  Service
>() {}

/**
 * Both services of a fake executor built in the current scope; the end-of-test check runs when the scope
 * closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  expectations: ReadonlyArray<Expectation.Expectation>,
  options?: Options
): Effect.Effect<Context.Context<CommandExecutor | TestCommandExecutor>, never, Scope.Scope> =>
  Effect.map(engine.make(expectations, options), ({ executor, test }) =>
    Context.make(CommandExecutor, executor).pipe(Context.add(TestCommandExecutor, test))
  )

/**
 * A fake executor that accepts only the expected commands. An unexpected one dies with
 * `UnexpectedCommand`, whose message shows the command and the closest expectations; when the layer's
 * scope closes (the end of the test, with `Effect.provide`), unmet expectations die with
 * `VerificationError`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  expectations: ReadonlyArray<Expectation.Expectation>,
  options?: Options
): Layer.Layer<CommandExecutor | TestCommandExecutor> => Layer.scopedContext(make(expectations, options))

/**
 * Like `layer`, with expectations computed by an Effect, for expectations that depend on services (a
 * temporary directory, a configuration, a fixture read from disk).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerEffect = <E, R>(
  expectations: Effect.Effect<ReadonlyArray<Expectation.Expectation>, E, R>,
  options?: Options
): Layer.Layer<CommandExecutor | TestCommandExecutor, E, Exclude<R, Scope.Scope>> =>
  Layer.scopedContext(Effect.flatMap(expectations, (list) => make(list, options)))

/**
 * Every command started so far, in order.
 *
 * @since 0.1.0
 * @category accessors
 */
export const calls: Effect.Effect<ReadonlyArray<Command.Command>, never, TestCommandExecutor> = Effect.flatMap(
  TestCommandExecutor,
  (test) => test.calls
)

/**
 * Every run so far, in order, with its stdin, the signals it received and its status.
 *
 * @since 0.1.0
 * @category accessors
 */
export const runs: Effect.Effect<ReadonlyArray<Run>, never, TestCommandExecutor> = Effect.flatMap(
  TestCommandExecutor,
  (test) => test.runs
)

/**
 * Checks now what the layer otherwise checks when its scope closes.
 *
 * @since 0.1.0
 * @category accessors
 */
export const verify: Effect.Effect<void, VerificationError, TestCommandExecutor> = Effect.flatMap(
  TestCommandExecutor,
  (test) => test.verify
)
