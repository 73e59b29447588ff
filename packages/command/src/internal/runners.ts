import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Command from "../Command.js"
import * as CommandError from "../CommandError.js"
import { CommandExecutor } from "../CommandExecutor.js"
import type * as ExitStatus from "../ExitStatus.js"
import type * as Pipeline from "../Pipeline.js"
import type * as Process from "../Process.js"
import * as Stdio from "../Stdio.js"
import { argv, daemonize } from "./command.js"
import * as pipeline from "./pipeline.js"

type Target = Command.Command | Pipeline.Pipeline

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

const show = pipeline.toString

const span = (name: string, target: Target) =>
  Effect.withSpan(`Command.${name}`, { attributes: { "tether.command": show(target) }, kind: "client" })

/**
 * Starts a command or pipeline: validates it, hands it to the executor, and enforces its timeout. Every
 * runner goes through here.
 */
export const start = (
  target: Target
): Effect.Effect<Process.Process, CommandError.CommandError, CommandExecutor | Scope.Scope> =>
  Effect.gen(function* () {
    const problems = pipeline.validate(target)
    if (problems.length > 0) {
      return yield* new CommandError.InvalidCommand({ command: show(target), problems })
    }
    const executor = yield* CommandExecutor
    const process = yield* (
      pipeline.isPipeline(target)
        ? (executor.startPipeline ?? pipeline.startThroughStreams(executor.start))(target)
        : executor.start(target)
    ).pipe(Effect.mapError(hideSecrets(target)))
    yield* Effect.annotateCurrentSpan("tether.pid", process.pid)
    const timeout = pipeline.timeout(target)
    const checked = withUnpipedStreams(process)
    return timeout === undefined ? checked : yield* withTimeout(checked, timeout)
  })

/**
 * Reading an output the command did not pipe is a mistake, not an empty stream: it fails with
 * `InvalidCommand` saying which setting to add, as writing to an unpiped stdin does.
 */
const withUnpipedStreams = (process: Process.Process): Process.Process => {
  const last = pipeline.last(process.command)
  const refuse = (what: string, setting: Stdio.Stdio | undefined, fix: string) =>
    Stream.failSync(
      () =>
        new CommandError.InvalidCommand({
          command: show(process.command),
          problems: [`${what} is not piped (it goes to ${setting ? Stdio.format(setting) : "/dev/null"}): add ${fix}`]
        })
    )
  const piped = (setting: Stdio.Stdio | undefined) => setting?._tag === "Pipe"
  // A pipe is read once: a second reader would wait for data the first one already took.
  const once = (what: string, stream: Stream.Stream<Uint8Array, CommandError.CommandError>) => {
    let read = false
    return Stream.suspend(() => {
      if (!read) {
        read = true
        return stream
      }
      return Stream.failSync(
        () =>
          new CommandError.InvalidCommand({
            command: show(process.command),
            problems: [`${what} was already read: a pipe can be read once`]
          })
      )
    })
  }
  const fds = new Map<number, Stream.Stream<Uint8Array, CommandError.CommandError>>()
  return {
    ...process,
    stdout: piped(last.stdout)
      ? once("Process.stdout", process.stdout)
      : refuse("Process.stdout", last.mergeStderr ? undefined : last.stdout, "Command.stdout(Stdio.pipe)"),
    stderr: piped(last.stderr)
      ? once("Process.stderr", process.stderr)
      : refuse("Process.stderr", last.stderr, "Command.stderr(Stdio.pipe)"),
    fd: (n) => {
      const entry = last.fds.find((e) => e.fd === n)
      if (!piped(entry?.stdio)) return refuse(`Process.fd(${n})`, entry?.stdio, `Command.fd(${n}, Stdio.pipe)`)
      if (!fds.has(n)) fds.set(n, once(`Process.fd(${n})`, process.fd(n)))
      return fds.get(n)!
    }
  }
}

/**
 * A backend reports what it tried (the path a redacted program resolved to, the PATH it searched, the
 * system's message) in plain text: the values of the target's secrets are masked there too.
 */
const hideSecrets = (target: Target) => {
  const secrets = (pipeline.isPipeline(target) ? target.stages : [target])
    .flatMap((command) => [
      ...argv(command),
      ...command.env.flatMap((entry) => (entry._tag === "Set" ? [entry.value] : []))
    ])
    .flatMap((arg) => (Redacted.isRedacted(arg) && Redacted.value(arg).length > 0 ? [Redacted.value(arg)] : []))
  const mask = (text: string) => secrets.reduce((masked, secret) => masked.split(secret).join("<redacted>"), text)
  return (error: CommandError.CommandError): CommandError.CommandError => {
    if (secrets.length === 0) return error
    switch (error._tag) {
      case "CommandNotFound":
        return new CommandError.CommandNotFound({
          command: error.command,
          program: mask(error.program),
          searched: error.searched.map(mask)
        })
      case "PermissionDenied":
        return new CommandError.PermissionDenied({ command: error.command, path: mask(error.path) })
      case "SpawnError":
        return new CommandError.SpawnError({ command: error.command, code: error.code, reason: mask(error.reason) })
      // A child may print its own secrets (a password echoed in an error message): the output an error
      // carries is masked too.
      case "ExitCodeError":
        return new CommandError.ExitCodeError({ ...error, stdout: mask(error.stdout), stderr: mask(error.stderr) })
      case "SignalError":
        return new CommandError.SignalError({ ...error, stdout: mask(error.stdout), stderr: mask(error.stderr) })
      default:
        return error
    }
  }
}

/** Stops the process once the timeout passes; from then on `wait` fails with `TimeoutError`. */
const withTimeout = (process: Process.Process, timeout: Duration.Duration) =>
  Effect.gen(function* () {
    const timedOut = yield* Deferred.make<void>()
    yield* Effect.sleep(timeout).pipe(
      Effect.zipRight(Deferred.succeed(timedOut, undefined)),
      Effect.zipRight(process.stop),
      Effect.forkScoped
    )
    const wait = Effect.flatMap(process.wait, (status) =>
      Effect.flatMap(Deferred.isDone(timedOut), (late) =>
        late
          ? Effect.failSync(() => new CommandError.TimeoutError({ command: show(process.command), timeout }))
          : Effect.succeed(status)
      )
    )
    const timed: Process.Process = {
      ...process,
      wait,
      exitCode: Effect.zipRight(wait, process.exitCode)
    }
    return timed
  })

const signalError = (
  command: string,
  status: Extract<ExitStatus.ExitStatus, { _tag: "Signaled" }>,
  stdout: string,
  stderr: string,
  pipelineFailure?: CommandError.PipelineFailure
) =>
  new CommandError.SignalError({
    command,
    signal: status.signal,
    coreDumped: status.coreDumped,
    stdout,
    stderr,
    pipeline: pipelineFailure
  })

const failureOf = (
  command: string,
  status: ExitStatus.ExitStatus,
  stdout: string,
  stderr: string,
  pipelineFailure?: CommandError.PipelineFailure
): CommandError.CommandError | undefined => {
  if (status._tag === "Signaled") return signalError(command, status, stdout, stderr, pipelineFailure)
  if (status.code === 0) return undefined
  return new CommandError.ExitCodeError({ command, exitCode: status.code, stdout, stderr, pipeline: pipelineFailure })
}

/**
 * Fails unless the process (every stage of a pipeline, SIGPIPE excepted) exited with code 0. The error
 * names the first failing stage and carries its stderr tail and the captured stdout.
 */
export const check = (
  process: Process.Process,
  captured: string | (() => string)
): Effect.Effect<void, CommandError.CommandError> =>
  Effect.gen(function* () {
    const stdout = () => (typeof captured === "string" ? captured : captured())
    const status = yield* process.wait
    if (process.stages.length === 0) {
      if (status._tag === "Exited" && status.code === 0) return
      return yield* Effect.fail(failureOf(show(process.command), status, stdout(), yield* process.stderrTail)!)
    }
    const statuses = yield* Effect.forEach(process.stages, (stage) => stage.wait)
    const failed = pipeline.failures(statuses)
    if (failed.length === 0) return
    const index = failed[0]!
    const stage = process.stages[index]!
    const others = failed
      .slice(1)
      .map((i) => `stage ${i + 1} (${show(process.stages[i]!.command)}): ${formatStatus(statuses[i]!)}`)
    const failure: CommandError.PipelineFailure = { pipeline: show(process.command), stage: index + 1, others }
    return yield* Effect.fail(
      failureOf(show(stage.command), statuses[index]!, stdout(), yield* stage.stderrTail, failure)!
    )
  }).pipe(Effect.mapError(hideSecrets(process.command)))

const formatStatus = (status: ExitStatus.ExitStatus) =>
  status._tag === "Exited" ? `exit status ${status.code}` : `signal ${status.signal}`

/** Collects a stream's bytes, killing the process when they pass `maxOutput`. */
const collect = (
  process: Process.Process,
  stream: Stream.Stream<Uint8Array, CommandError.CommandError>,
  name: "stdout" | "stderr"
): Effect.Effect<Uint8Array, CommandError.CommandError> => {
  const limit = pipeline.last(process.command).maxOutput ?? Infinity
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
              new CommandError.OutputLimitError({ command: show(process.command), stream: name, limit, output })
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

/**
 * Collects a stream as text, decoding each chunk as it comes (a character split across chunks decodes
 * intact): the bytes can be freed as soon as they are decoded, so a capture holds about two copies of the
 * output at its peak (the pieces and the joined string) instead of three. Past `maxOutput` the process is
 * killed; the error then carries the text kept so far, encoded back to UTF-8.
 */
const collectText = (
  process: Process.Process,
  stream: Stream.Stream<Uint8Array, CommandError.CommandError>,
  name: "stdout" | "stderr"
): Effect.Effect<string, CommandError.CommandError> => {
  const limit = pipeline.last(process.command).maxOutput ?? Infinity
  const decoder = new TextDecoder("utf-8")
  const parts: Array<string> = []
  let total = 0
  return stream.pipe(
    Stream.runForEachChunk((chunk) => {
      for (const bytes of chunk) {
        if (total + bytes.length > limit) {
          parts.push(decoder.decode(bytes.subarray(0, limit - total)))
          const output = new TextEncoder().encode(parts.join(""))
          return Effect.zipRight(
            process.kill("SIGKILL"),
            Effect.fail(
              new CommandError.OutputLimitError({ command: show(process.command), stream: name, limit, output })
            )
          )
        }
        parts.push(decoder.decode(bytes, { stream: true }))
        total += bytes.length
      }
      return Effect.void
    }),
    Effect.map(() => {
      parts.push(decoder.decode())
      return parts.join("")
    })
  )
}

/** Drains a piped stream nobody asked for, so that the child never blocks on it. */
const drain = (stream: Stream.Stream<Uint8Array, CommandError.CommandError>) =>
  Stream.runDrain(stream).pipe(Effect.ignore, Effect.forkScoped)

/**
 * Drains the pipes a runner does not return: the piped stderr of every pipeline stage before the last,
 * and every extra fd set to `Stdio.pipe`. An unread pipe would block its writer forever.
 */
const drainUnreturned = (process: Process.Process) => {
  const stages = process.stages.length > 0 ? process.stages : [process]
  return Effect.forEach(
    stages,
    (stage, i) => {
      const command = pipeline.last(stage.command)
      const inner = i < stages.length - 1 && command.stderr?._tag === "Pipe" ? [drain(stage.stderr)] : []
      const fds = command.fds.flatMap((entry) => (entry.stdio._tag === "Pipe" ? [drain(stage.fd(entry.fd))] : []))
      return Effect.all([...inner, ...fds], { discard: true })
    },
    { discard: true }
  )
}

/** Ends a piped stdin that no one will write to, so that the child sees end of file. */
const closeStdin = (process: Process.Process) =>
  pipeline.first(process.command).stdin?._tag === "Pipe"
    ? Stream.run(Stream.empty, process.stdin).pipe(Effect.ignore)
    : Effect.void

const captureProblem = (target: Target, name: "stdout" | "stderr", runner: string): string | undefined => {
  const command = pipeline.last(target)
  const setting = command[name]
  if (name === "stderr" && command.mergeStderr) return `${runner} captures stderr, but mergeStderr sends it to stdout`
  if (setting === undefined || setting._tag === "Pipe") return undefined
  return `${runner} captures ${name}, but it is set to ${Stdio.format(setting)}`
}

const invalid = (target: Target, problems: ReadonlyArray<string | undefined>) => {
  const found = problems.filter((p): p is string => p !== undefined)
  // The value's own faults join the runner's, so that one InvalidCommand names every problem.
  return found.length > 0
    ? Effect.fail(
        new CommandError.InvalidCommand({ command: show(target), problems: [...pipeline.validate(target), ...found] })
      )
    : Effect.void
}

type Want = false | "bytes" | "text"
type Got<W extends Want> = W extends "text" ? string : W extends "bytes" ? Uint8Array : undefined

interface Captured<O extends Want, E extends Want> {
  readonly process: Process.Process
  readonly stdout: Got<O>
  readonly stderr: Got<E>
}

/**
 * Runs a command to its end, capturing the streams asked for (as bytes or as text) and draining the rest,
 * then hands the exited process and what was captured to `use`. Shared by every runner that returns after
 * the exit.
 */
const capture = <A, O extends Want, E extends Want>(
  runner: string,
  target: Target,
  wants: { readonly stdout: O; readonly stderr: E },
  use: (captured: Captured<O, E>) => Effect.Effect<A, CommandError.CommandError>
): Effect.Effect<A, CommandError.CommandError, CommandExecutor> =>
  Effect.gen(function* () {
    yield* invalid(target, [
      wants.stdout ? captureProblem(target, "stdout", runner) : undefined,
      wants.stderr ? captureProblem(target, "stderr", runner) : undefined
    ])
    const last = pipeline.last(target)
    const prepared = pipeline.withOutput(target, {
      stdout: wants.stdout ? Stdio.pipe : last.stdout,
      stderr: wants.stderr ? Stdio.pipe : last.stderr
    })
    return yield* Effect.scoped(
      Effect.gen(function* () {
        const process = yield* start(prepared)
        yield* closeStdin(process)
        if (!wants.stdout && last.stdout?._tag === "Pipe") yield* drain(process.stdout)
        if (!wants.stderr && last.stderr?._tag === "Pipe") yield* drain(process.stderr)
        yield* drainUnreturned(process)
        const read = (want: Want, name: "stdout" | "stderr") =>
          want === "text"
            ? collectText(process, process[name], name)
            : want === "bytes"
              ? collect(process, process[name], name)
              : Effect.succeed(undefined)
        // Both streams are read at once (a child filling one while the other is read must not block);
        // a single stream needs no second fiber.
        const [stdout, stderr] =
          wants.stdout && wants.stderr
            ? yield* Effect.all([read(wants.stdout, "stdout"), read(wants.stderr, "stderr")], { concurrency: 2 })
            : [yield* read(wants.stdout, "stdout"), yield* read(wants.stderr, "stderr")]
        return yield* use({ process, stdout: stdout as Got<O>, stderr: stderr as Got<E> })
      })
    )
  }).pipe(span(runner, target))

const decode = (bytes: Uint8Array) => decoder().decode(bytes)

/** @internal */
export const run = (target: Target) =>
  capture("run", target, { stdout: false, stderr: false } as const, ({ process }) => check(process, ""))

/** @internal */
export const status = (target: Target) =>
  capture("status", target, { stdout: false, stderr: false } as const, ({ process }) => process.wait)

/** @internal */
export const exitCode = (target: Target) =>
  capture("exitCode", target, { stdout: false, stderr: false } as const, ({ process }) =>
    Effect.flatMap(process.wait, (status) =>
      // Death by a signal always fails `check`, whose error names the stage of a pipeline that died.
      status._tag === "Exited" ? Effect.succeed(status.code) : Effect.as(check(process, ""), -1)
    )
  )

/** @internal */
export const bytes = (target: Target) =>
  capture("bytes", target, { stdout: "bytes", stderr: false }, ({ process, stdout }) =>
    Effect.as(
      check(process, () => decode(stdout)),
      stdout
    )
  )

/** stdout as text, for the runners built on it (each named in its errors and span). */
const text = (runner: string) => (target: Target) =>
  capture(runner, target, { stdout: "text", stderr: false }, ({ process, stdout }) =>
    Effect.as(check(process, stdout), stdout)
  )

/** @internal */
export const string = text("string")

/** @internal */
export const lines = (target: Target) => Effect.map(text("lines")(target), splitLines)

/** @internal */
export const output = (target: Target) => {
  const merged = pipeline.last(target).mergeStderr
  return capture(
    "output",
    target,
    { stdout: "text", stderr: merged ? false : "text" } as const,
    ({ process, stdout, stderr }) => Effect.map(process.wait, (status) => ({ status, stdout, stderr: stderr ?? "" }))
  )
}

/** @internal */
export const json =
  <A, I>(schema: Schema.Schema<A, I, never>) =>
  (target: Target) =>
    Effect.flatMap(text("json")(target), (text) =>
      Schema.decodeUnknown(Schema.parseJson(schema))(text).pipe(
        Effect.mapError((cause) => new CommandError.OutputDecodeError({ command: show(target), cause }))
      )
    )

/** @internal */
export const stream = (target: Target) => streamNamed("stream", target)

const streamNamed = (
  runner: string,
  target: Target
): Stream.Stream<Uint8Array, CommandError.CommandError, CommandExecutor> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      yield* invalid(target, [captureProblem(target, "stdout", "stream")])
      const last = pipeline.last(target)
      const process = yield* start(pipeline.withOutput(target, { stdout: Stdio.pipe }))
      yield* closeStdin(process)
      if (last.stderr?._tag === "Pipe") yield* drain(process.stderr)
      yield* drainUnreturned(process)
      const limit = last.maxOutput ?? Infinity
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
                        command: show(target),
                        stream: "stdout",
                        limit,
                        output: new Uint8Array(0)
                      })
                    )
                  )
                : Effect.succeed(chunk)
            })
      return Stream.concat(limited, Stream.drain(Stream.fromEffect(check(process, ""))))
    })
  ).pipe(Stream.withSpan(`Command.${runner}`, { attributes: { "tether.command": show(target) }, kind: "client" }))

/** @internal */
export const streamLines = (target: Target) =>
  streamNamed("streamLines", target).pipe(Stream.decodeText(), Stream.splitLines)

/** `Command.start` as users call it: its own span around the start (the process then lives on). */
export const startRunner = (target: Target) => start(target).pipe(span("start", target))

/**
 * Starts a daemon through the executor's optional `daemon`. Running through `Command.daemon` is what
 * daemonizes, so the command need not say `Command.daemonize` itself (its pid file does).
 *
 * @internal
 */
export const daemon = (
  target: Command.Command
): Effect.Effect<{ readonly pid: number }, CommandError.CommandError, CommandExecutor> =>
  Effect.gen(function* () {
    const command = target.daemonize ? target : daemonize(target)
    const problems = pipeline.validate(command)
    if (problems.length > 0) {
      return yield* new CommandError.InvalidCommand({ command: show(command), problems })
    }
    const executor = yield* CommandExecutor
    if (executor.daemon === undefined) {
      return yield* new CommandError.Unsupported({
        command: show(command),
        setting: "Command.daemon",
        reason: "this executor cannot start daemons"
      })
    }
    return yield* executor.daemon(command).pipe(Effect.mapError(hideSecrets(command)))
  }).pipe(span("daemon", target))
