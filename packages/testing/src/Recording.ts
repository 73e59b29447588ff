/**
 * Record and replay. `record` wraps a real executor and writes every run (the command, what it was fed
 * on stdin, what was read of its stdout and stderr, how it ended) to a JSON fixture file; `replay` reads
 * such a file and serves the same runs from fake processes, strictly: a command that was not recorded is
 * unexpected, and a recorded one that does not run again is unmet.
 *
 * The fixture file holds, for each run, `command` (as `Command.toString` shows it), `argv`, `stdin`,
 * `stdout`, `stderr` (text, or `{ "base64": ... }` for bytes that are not UTF-8), `status` (an
 * `ExitStatus` as JSON, or `null` when the process had not ended when recording stopped) and `stopped`
 * (`true` when the caller stopped it while it ran: a timeout, an interruption, a scope closed early, a
 * kill with its kill signal or `SIGKILL`; replay then runs it until it is killed again). A `Redacted`
 * argument is stored as `null`, never as its value, and replay accepts any secret in its place.
 *
 * What is recorded of stdout and stderr is what the caller read: a stream set to `/dev/null` or a file
 * records nothing. Unset stderr records its kept tail. Arguments are matched exactly, so commands whose
 * argv holds a path that changes from run to run (a fresh temporary directory) do not replay. A pipeline
 * is recorded stage by stage: under the recorder its stages are connected through streams, not OS pipes.
 *
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"
import * as Command from "@tether/command/Command"
import { CommandExecutor, type Service } from "@tether/command/CommandExecutor"
import type * as ExitStatus from "@tether/command/ExitStatus"
import * as Stdio from "@tether/command/Stdio"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as Expectation from "./Expectation.js"
import { toBytes } from "./internal/expectation.js"
import { concat, decode } from "./internal/fake.js"
import * as fixture from "./internal/fixture.js"
import * as TestCommandExecutor from "./TestCommandExecutor.js"

/**
 * A fixture file could not be written or read (missing, not JSON, or not of the fixture's shape).
 *
 * @since 0.1.0
 * @category errors
 */
export class FixtureError extends Data.TaggedError("FixtureError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return `Cannot use the command fixture ${this.path}: ${this.reason}`
  }
}

/**
 * One recorded run, as stored in the fixture file.
 *
 * @since 0.1.0
 * @category models
 */
export type FixtureRun = fixture.FixtureRun

/**
 * The fixture file's content.
 *
 * @since 0.1.0
 * @category models
 */
export type Fixture = fixture.Fixture

interface Entry {
  readonly command: Command.Command
  readonly stdin: Array<Uint8Array>
  readonly stdout: Array<Uint8Array>
  readonly stderr: Array<Uint8Array>
  tail: string
  status: ExitStatus.ExitStatus | undefined
  stopped: boolean
}

const toRun = (entry: Entry): FixtureRun => ({
  command: Command.toString(entry.command),
  argv: fixture.storedArgv(entry.command),
  stdin: fixture.encodeBytes(concat(entry.stdin)),
  stdout: fixture.encodeBytes(concat(entry.stdout)),
  stderr: fixture.encodeBytes(entry.stderr.length > 0 ? concat(entry.stderr) : toBytes(entry.tail)),
  status: fixture.encodeStatus(entry.status),
  stopped: entry.stopped
})

/** Wraps an executor so that each run is kept in `entries`, in the order the runs started. */
const recorder = (inner: Service, entries: Array<Entry>): Service => ({
  start: (command) =>
    Effect.gen(function* () {
      const entry: Entry = { command, stdin: [], stdout: [], stderr: [], tail: "", status: undefined, stopped: false }
      const keep = (chunks: Array<Uint8Array>) => (chunk: Uint8Array | string) =>
        Effect.sync(() => void chunks.push(toBytes(chunk)))

      let started = command
      const stdin = command.stdin
      if (stdin?._tag === "Feed") entry.stdin.push(toBytes(stdin.data))
      if (stdin?._tag === "FromStream") {
        started = Command.stdin(command, Stdio.fromStream(Stream.tap(stdin.stream, keep(entry.stdin))))
      }
      if (stdin?._tag === "File") {
        try {
          entry.stdin.push(readFileSync(stdin.path))
        } catch {
          // The executor reports the unreadable file when it starts the command.
        }
      }

      const process = yield* inner.start(started)
      entries.push(entry)
      const stopping = Effect.flatMap(process.isRunning, (running) =>
        Effect.sync(() => {
          entry.stopped ||= running
        })
      )
      // Added after the executor's own finalizer, so it runs first and sees whether the process still ran.
      yield* Effect.addFinalizer(() => stopping)
      // A daemon fiber: the status is known only once the process exits, after its own scope stopped it.
      yield* Effect.forkDaemon(
        Effect.flatMap(Effect.exit(process.wait), (exit) =>
          Effect.sync(() => {
            if (exit._tag === "Success") entry.status = exit.value
          })
        )
      )
      const record = (status: ExitStatus.ExitStatus) =>
        Effect.sync(() => {
          entry.status = status
        })
      return {
        ...process,
        command,
        // Whoever waits records the status at once; the daemon fiber above covers runs nobody waits for.
        wait: Effect.tap(process.wait, record),
        stdin: Sink.mapInputEffect(process.stdin, (chunk: Uint8Array | string) =>
          Effect.as(keep(entry.stdin)(chunk), chunk)
        ),
        stdout: Stream.tap(process.stdout, keep(entry.stdout)),
        stderr: Stream.tap(process.stderr, keep(entry.stderr)),
        stderrTail: Effect.tap(process.stderrTail, (text) =>
          Effect.sync(() => {
            entry.tail = text
          })
        ),
        kill: (signal) =>
          signal === undefined || signal === "SIGKILL" || signal === command.killSignal
            ? Effect.zipRight(stopping, process.kill(signal))
            : process.kill(signal),
        stop: Effect.zipRight(stopping, process.stop)
      }
    })
})

/**
 * Wraps the `CommandExecutor` it is given, and writes every run to `path` (creating its directory) when
 * the layer's scope closes. A file that cannot be written is a defect carrying `FixtureError`.
 *
 * @example
 * ```ts
 * const recording = Recording.record("test/fixtures/git.json").pipe(Layer.provide(NodeCommandExecutor.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const record = (path: string): Layer.Layer<CommandExecutor, never, CommandExecutor> =>
  Layer.scoped(
    CommandExecutor,
    Effect.gen(function* () {
      const inner = yield* CommandExecutor
      const entries: Array<Entry> = []
      yield* Effect.addFinalizer(() =>
        fixture.write(path, { version: 1, runs: entries.map(toRun) }).pipe(
          Effect.mapError((reason) => new FixtureError({ path, reason })),
          Effect.orDie
        )
      )
      return recorder(inner, entries)
    })
  )

/** A recorded run as an expectation: its output, then its stdin checked, then its ending. */
const expectationOf = (run: FixtureRun): Expectation.Expectation => {
  let expectation = Expectation.fromMatcher({
    _tag: "Where",
    description: `recorded: ${run.command}`,
    predicate: (command) => fixture.argvMatches(command, run.argv),
    words: run.argv.map((word) => word ?? "<redacted>")
  }).pipe(
    Expectation.stdout(fixture.decodeBytes(run.stdout)),
    Expectation.stderr(fixture.decodeBytes(run.stderr)),
    Expectation.expectStdin(decode([fixture.decodeBytes(run.stdin)]))
  )
  if (run.status === null || run.stopped) expectation = Expectation.neverExits(expectation)
  else if (run.status._tag === "Exited") expectation = Expectation.exit(expectation, run.status.code)
  else expectation = Expectation.signal(expectation, run.status.signal)
  return expectation
}

/**
 * The expectations a fixture file holds, one per recorded run, for mixing with hand-written ones.
 *
 * @since 0.1.0
 * @category constructors
 */
export const expectations = (path: string): Effect.Effect<ReadonlyArray<Expectation.Expectation>, FixtureError> =>
  fixture.read(path).pipe(
    Effect.mapError((reason) => new FixtureError({ path, reason })),
    Effect.map((file) => file.runs.map(expectationOf))
  )

/**
 * A strict fake executor that serves the runs recorded in `path`, in the recorded order unless
 * `ordered: false`. Each recorded run is expected once; `TestCommandExecutor.calls`, `runs` and `verify`
 * work as with hand-written expectations.
 *
 * @since 0.1.0
 * @category layers
 */
export const replay = (
  path: string,
  options?: TestCommandExecutor.Options
): Layer.Layer<CommandExecutor | TestCommandExecutor.TestCommandExecutor, FixtureError> =>
  TestCommandExecutor.layerEffect(expectations(path), { ...options, ordered: options?.ordered ?? true })
