import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Command from "../Command.js"
import * as CommandError from "../CommandError.js"
import { CommandExecutor } from "../CommandExecutor.js"
import * as ExitStatus from "../ExitStatus.js"
import type * as Process from "../Process.js"
import * as Stdio from "../Stdio.js"
import { toString, withDefaults } from "./command.js"
import { validate } from "./validate.js"

const decoder = () => new TextDecoder("utf-8")

/** Joins chunks once, at the end: capture stays linear in the output size. */
export const concatBytes = (chunks: ReadonlyArray<Uint8Array>, total?: number): Uint8Array => {
  if (chunks.length === 1) return chunks[0]!
  const size = total ?? chunks.reduce((n, c) => n + c.length, 0)
  const out = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

/** Splits text on `\n` and `\r\n`; a final line break does not make an empty last line. */
export const splitLines = (text: string): Array<string> => {
  if (text.length === 0) return []
  const lines = text.split(/\r?\n/)
  if (lines[lines.length - 1] === "") lines.pop()
  return lines
}

const span = (name: string, command: Command.Command) =>
  Effect.withSpan(`Command.${name}`, { attributes: { "tether.command": toString(command) }, kind: "client" })

/**
 * Starts a command: validates it, hands it to the executor, and enforces its timeout. Every runner goes
 * through here.
 */
export const start = (
  command: Command.Command
): Effect.Effect<Process.Process, CommandError.CommandError, CommandExecutor | Scope.Scope> =>
  Effect.gen(function* () {
    const problems = validate(command)
    if (problems.length > 0) {
      return yield* new CommandError.InvalidCommand({ command: toString(command), problems })
    }
    const executor = yield* CommandExecutor
    const process = yield* executor.start(command)
    yield* Effect.annotateCurrentSpan("tether.pid", process.pid)
    return command.timeout === undefined ? process : yield* withTimeout(process, command.timeout)
  })

/** Stops the process once the timeout passes; from then on `wait` fails with `TimeoutError`. */
const withTimeout = (process: Process.Process, timeout: Duration.Duration) =>
  Effect.gen(function* () {
    const timedOut = yield* Deferred.make<void>()
    yield* Effect.sleep(timeout).pipe(
      Effect.zipRight(Deferred.succeed(timedOut, undefined)),
      Effect.zipRight(process.stop),
      Effect.forkScoped
    )
    const error = new CommandError.TimeoutError({ command: toString(process.command), timeout })
    const wait = Effect.flatMap(process.wait, (status) =>
      Effect.flatMap(Deferred.isDone(timedOut), (late) => (late ? Effect.fail(error) : Effect.succeed(status)))
    )
    const timed: Process.Process = {
      ...process,
      wait,
      exitCode: Effect.flatMap(wait, (status) => exitCodeOf(process.command, status, "", ""))
    }
    return timed
  })

const exitCodeOf = (command: Command.Command, status: ExitStatus.ExitStatus, stdout: string, stderr: string) =>
  status._tag === "Exited"
    ? Effect.succeed(status.code)
    : Effect.fail(
        new CommandError.SignalError({
          command: toString(command),
          signal: status.signal,
          coreDumped: status.coreDumped,
          stdout,
          stderr
        })
      )

/** Fails unless the process exited with code 0, carrying what was captured. */
export const check = (
  command: Command.Command,
  status: ExitStatus.ExitStatus,
  stdout: string,
  stderr: string
): Effect.Effect<void, CommandError.CommandError> =>
  Effect.flatMap(exitCodeOf(command, status, stdout, stderr), (code) =>
    code === 0
      ? Effect.void
      : Effect.fail(new CommandError.ExitCodeError({ command: toString(command), exitCode: code, stdout, stderr }))
  )

/** Collects a stream's bytes, killing the process when they pass `maxOutput`. */
const collect = (
  process: Process.Process,
  stream: Stream.Stream<Uint8Array, CommandError.CommandError>,
  name: "stdout" | "stderr"
): Effect.Effect<Uint8Array, CommandError.CommandError> => {
  const limit = process.command.maxOutput ?? Infinity
  const chunks: Array<Uint8Array> = []
  let total = 0
  return stream.pipe(
    Stream.runForEachChunk((chunk) => {
      for (const bytes of chunk) {
        if (total + bytes.length > limit) {
          chunks.push(bytes.subarray(0, limit - total))
          total = limit
          const output = concatBytes(chunks, total)
          return Effect.zipRight(
            process.kill("SIGKILL"),
            Effect.fail(
              new CommandError.OutputLimitError({ command: toString(process.command), stream: name, limit, output })
            )
          )
        }
        chunks.push(bytes)
        total += bytes.length
      }
      return Effect.void
    }),
    Effect.map(() => concatBytes(chunks, total))
  )
}

/** Drains a piped stream nobody asked for, so that the child never blocks on it. */
const drain = (stream: Stream.Stream<Uint8Array, CommandError.CommandError>) =>
  Stream.runDrain(stream).pipe(Effect.ignore, Effect.forkScoped)

/** Ends a piped stdin that no one will write to, so that the child sees end of file. */
const closeStdin = (process: Process.Process) =>
  process.command.stdin?._tag === "Pipe" ? Stream.run(Stream.empty, process.stdin).pipe(Effect.ignore) : Effect.void

const captureProblem = (command: Command.Command, name: "stdout" | "stderr", runner: string): string | undefined => {
  const setting = command[name]
  if (name === "stderr" && command.mergeStderr) return `${runner} captures stderr, but mergeStderr sends it to stdout`
  if (setting === undefined || setting._tag === "Pipe") return undefined
  return `${runner} captures ${name}, but it is set to ${Stdio.format(setting)}`
}

const invalid = (command: Command.Command, problems: ReadonlyArray<string | undefined>) => {
  const found = problems.filter((p): p is string => p !== undefined)
  return found.length > 0
    ? Effect.fail(new CommandError.InvalidCommand({ command: toString(command), problems: found }))
    : Effect.void
}

interface Captured {
  readonly status: ExitStatus.ExitStatus
  readonly stdout: Uint8Array
  readonly stderr: Uint8Array
  readonly stderrTail: string
}

/**
 * Runs a command to its end, capturing the streams asked for and draining the rest. Shared by every
 * runner that returns when the process has exited.
 */
const capture = (
  runner: string,
  command: Command.Command,
  wants: { readonly stdout: boolean; readonly stderr: boolean }
): Effect.Effect<Captured, CommandError.CommandError, CommandExecutor> =>
  Effect.gen(function* () {
    yield* invalid(command, [
      wants.stdout ? captureProblem(command, "stdout", runner) : undefined,
      wants.stderr ? captureProblem(command, "stderr", runner) : undefined
    ])
    const prepared = withDefaults(command, {
      stdout: wants.stdout ? Stdio.pipe : command.stdout,
      stderr: wants.stderr ? Stdio.pipe : command.stderr
    })
    return yield* Effect.scoped(
      Effect.gen(function* () {
        const process = yield* start(prepared)
        yield* closeStdin(process)
        if (!wants.stdout && command.stdout?._tag === "Pipe") yield* drain(process.stdout)
        if (!wants.stderr && command.stderr?._tag === "Pipe") yield* drain(process.stderr)
        const empty = Effect.succeed(new Uint8Array(0))
        const [stdout, stderr] = yield* Effect.all(
          [
            wants.stdout ? collect(process, process.stdout, "stdout") : empty,
            wants.stderr ? collect(process, process.stderr, "stderr") : empty
          ],
          { concurrency: 2 }
        )
        const status = yield* process.wait
        const stderrTail = yield* process.stderrTail
        return { status, stdout, stderr, stderrTail }
      })
    )
  }).pipe(span(runner, command))

const decode = (bytes: Uint8Array) => decoder().decode(bytes)

/** @internal */
export const run = (command: Command.Command) =>
  Effect.flatMap(capture("run", command, { stdout: false, stderr: false }), (r) =>
    check(command, r.status, "", r.stderrTail)
  )

/** @internal */
export const status = (command: Command.Command) =>
  Effect.map(capture("status", command, { stdout: false, stderr: false }), (r) => r.status)

/** @internal */
export const exitCode = (command: Command.Command) =>
  Effect.flatMap(capture("exitCode", command, { stdout: false, stderr: false }), (r) =>
    exitCodeOf(command, r.status, "", r.stderrTail)
  )

/** @internal */
export const bytes = (command: Command.Command) =>
  Effect.flatMap(capture("bytes", command, { stdout: true, stderr: false }), (r) =>
    Effect.as(check(command, r.status, decode(r.stdout), r.stderrTail), r.stdout)
  )

/** @internal */
export const string = (command: Command.Command) =>
  Effect.flatMap(capture("string", command, { stdout: true, stderr: false }), (r) => {
    const text = decode(r.stdout)
    return Effect.as(check(command, r.status, text, r.stderrTail), text)
  })

/** @internal */
export const lines = (command: Command.Command) => Effect.map(string(command), splitLines)

/** @internal */
export const output = (command: Command.Command) =>
  Effect.map(capture("output", command, { stdout: true, stderr: !command.mergeStderr }), (r) => ({
    status: r.status,
    stdout: decode(r.stdout),
    stderr: command.mergeStderr ? "" : decode(r.stderr)
  }))

/** @internal */
export const json =
  <A, I>(schema: Schema.Schema<A, I, never>) =>
  (command: Command.Command) =>
    Effect.flatMap(string(command), (text) =>
      Schema.decodeUnknown(Schema.parseJson(schema))(text).pipe(
        Effect.mapError((cause) => new CommandError.OutputDecodeError({ command: toString(command), cause }))
      )
    )

/** @internal */
export const stream = (
  command: Command.Command
): Stream.Stream<Uint8Array, CommandError.CommandError, CommandExecutor> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      yield* invalid(command, [captureProblem(command, "stdout", "stream")])
      const process = yield* start(withDefaults(command, { stdout: Stdio.pipe }))
      yield* closeStdin(process)
      if (command.stderr?._tag === "Pipe") yield* drain(process.stderr)
      const limit = command.maxOutput ?? Infinity
      let total = 0
      const limited =
        limit === Infinity
          ? process.stdout
          : Stream.mapChunksEffect(process.stdout, (chunk) => {
              total += Chunk.reduce(chunk, 0, (n, b) => n + b.length)
              return total > limit
                ? Effect.zipRight(
                    process.kill("SIGKILL"),
                    Effect.fail(
                      new CommandError.OutputLimitError({
                        command: toString(command),
                        stream: "stdout",
                        limit,
                        output: new Uint8Array(0)
                      })
                    )
                  )
                : Effect.succeed(chunk)
            })
      const end = Effect.gen(function* () {
        const status = yield* process.wait
        yield* check(command, status, "", yield* process.stderrTail)
      })
      return Stream.concat(limited, Stream.drain(Stream.fromEffect(end)))
    })
  ).pipe(Stream.withSpan("Command.stream", { attributes: { "tether.command": toString(command) } }))

/** @internal */
export const streamLines = (command: Command.Command) => stream(command).pipe(Stream.decodeText(), Stream.splitLines)

/** @internal */
export const startRunner = (command: Command.Command) => start(command)

/** @internal */
export const daemon = (command: Command.Command) =>
  Effect.fail(
    new CommandError.Unsupported({
      command: toString(command),
      setting: "Command.daemon",
      reason: "daemons need the exec helper, which this executor does not provide"
    })
  )
