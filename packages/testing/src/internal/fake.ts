import { closeSync, openSync, readFileSync, writeSync, constants } from "node:fs"
import * as Command from "@tether/command/Command"
import * as CommandError from "@tether/command/CommandError"
import * as ExitStatus from "@tether/command/ExitStatus"
import * as Process from "@tether/command/Process"
import type * as Stdio from "@tether/command/Stdio"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type * as Expectation from "../Expectation.js"
import { StdinMismatch } from "../ExpectationError.js"
import { toBytes } from "./expectation.js"

/** What a fake process plays: its steps, how it ends, and the signals it survives. */
export interface Script {
  readonly steps: ReadonlyArray<Expectation.Step>
  readonly ending: Expectation.Ending
  readonly ignoredSignals: ReadonlyArray<string>
}

/** What a test can learn about one fake run, updated while it runs. */
export interface RunRecord {
  readonly command: Command.Command
  readonly pid: number
  readonly expectation: string | undefined
  readonly stdin: Array<Uint8Array>
  readonly signals: Array<string>
  status: ExitStatus.ExitStatus | undefined
}

// Above the largest pid_max Linux allows (2^22): a fake pid signalled by mistake can never hit a real process.
let nextPid = 4_194_305

/** @internal */
export const allocatePid = (): number => nextPid++

/** Signals whose default action leaves a process running (stop signals are not modelled: they are ignored). */
const harmless = new Set(["SIGCHLD", "SIGCONT", "SIGURG", "SIGWINCH", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU"])

const TAIL_BYTES = 64 * 1024

/** @internal */
export const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

/** @internal */
export const decode = (chunks: ReadonlyArray<Uint8Array>): string => new TextDecoder().decode(concat(chunks))

interface Output {
  readonly write: (bytes: Uint8Array) => Effect.Effect<void>
  readonly end: Effect.Effect<void>
}

const discard: Output = { write: () => Effect.void, end: Effect.void }

const toFd = (fd: number): Output => ({
  write: (bytes) => Effect.sync(() => void writeSync(fd, bytes)),
  end: Effect.void
})

const spawnError = (shown: string, error: unknown) => {
  const e = error as NodeJS.ErrnoException
  return new CommandError.SpawnError({ command: shown, code: e.code ?? "UNKNOWN", reason: e.message })
}

/** Opens a file an output setting names, as the real executor does when it spawns. */
const openOutput = (shown: string, stdio: Stdio.Stdio & { _tag: "File" }) =>
  Effect.acquireRelease(
    Effect.try({
      try: () =>
        openSync(
          stdio.path,
          constants.O_WRONLY | constants.O_CREAT | (stdio.append ? constants.O_APPEND : constants.O_TRUNC),
          0o666
        ),
      catch: (error) => spawnError(shown, error)
    }),
    (fd) => Effect.sync(() => closeSync(fd))
  )

/** Where the bytes written to one of the fake's output streams go, following the command's setting. */
const outputFor = (
  shown: string,
  stdio: Stdio.Stdio | undefined,
  parentFd: 1 | 2
): Effect.Effect<
  { readonly output: Output; readonly stream: Stream.Stream<Uint8Array> | undefined },
  CommandError.CommandError,
  Scope.Scope
> =>
  Effect.gen(function* () {
    switch (stdio?._tag) {
      case undefined:
      case "Null":
      case "Feed":
      case "FromStream":
        return { output: discard, stream: undefined }
      case "Pipe": {
        const mailbox = yield* Mailbox.make<Uint8Array>()
        return {
          output: { write: (bytes) => Effect.asVoid(mailbox.offer(bytes)), end: Effect.asVoid(mailbox.end) },
          stream: Mailbox.toStream(mailbox)
        }
      }
      case "Inherit":
        return { output: toFd(parentFd), stream: undefined }
      case "Fd":
        return { output: toFd(stdio.fd), stream: undefined }
      case "File":
        return { output: toFd(yield* openOutput(shown, stdio)), stream: undefined }
    }
  })

const closeQuietly = (fd: number) => {
  try {
    closeSync(fd)
  } catch {
    // Already closed: closeParent applies both after the start and when the scope closes.
  }
}

/**
 * Starts a fake process that plays a script. It honours the same contract as a real one: its outputs
 * follow the command's stdio settings, its stderr tail feeds error messages, a signal kills it unless
 * ignored, and closing its scope stops it (kill signal, grace period on the `Clock`, then `SIGKILL`).
 */
export const start = (
  command: Command.Command,
  script: Script,
  record: RunRecord,
  onMismatch: (error: StdinMismatch) => void
): Effect.Effect<Process.Process, CommandError.CommandError, Scope.Scope> =>
  Effect.gen(function* () {
    const shown = Command.toString(command)
    const pid = record.pid
    const reads = script.steps.some((step) => step._tag === "ReadStdin" || step._tag === "Respond")
    if (reads && (command.stdin?._tag === "Inherit" || command.stdin?._tag === "Fd")) {
      return yield* new CommandError.Unsupported({
        command: shown,
        setting: `Command.stdin(${command.stdin._tag === "Fd" ? `Stdio.fd(${command.stdin.fd})` : "Stdio.inherit"})`,
        reason: "a fake process that checks its input cannot read the parent's streams"
      })
    }

    // Outputs, as the command's settings route them; stderr left unset keeps a tail for error messages.
    const stdout = yield* outputFor(shown, command.stdout, 1)
    const stderr = command.mergeStderr
      ? { output: stdout.output, stream: undefined }
      : yield* outputFor(shown, command.stderr, 2)
    const tail: Array<Uint8Array> = []
    let tailBytes = 0
    const keepTail = command.stderr === undefined && !command.mergeStderr
    const stderrOutput: Output = keepTail
      ? {
          write: (bytes) =>
            Effect.sync(() => {
              tail.push(bytes)
              tailBytes += bytes.length
              while (tail.length > 1 && tailBytes - tail[0]!.length >= TAIL_BYTES) tailBytes -= tail.shift()!.length
            }),
          end: Effect.void
        }
      : stderr.output
    const write = (fd: 1 | 2, data: Uint8Array) => (fd === 1 ? stdout.output.write(data) : stderrOutput.write(data))

    // Input: a feed is there at once, a stream or a file is read now, a pipe fills from the caller's sink.
    const stdinDone = yield* Deferred.make<void>()
    const receive = (chunk: Uint8Array | string) => Effect.sync(() => void record.stdin.push(toBytes(chunk)))
    let feeder: Fiber.RuntimeFiber<unknown> | undefined = undefined
    switch (command.stdin?._tag) {
      case "Feed":
        yield* receive(command.stdin.data)
        yield* Deferred.succeed(stdinDone, undefined)
        break
      case "FromStream":
        feeder = yield* Stream.runForEach(command.stdin.stream, receive).pipe(
          Effect.ignore,
          Effect.zipRight(Deferred.succeed(stdinDone, undefined)),
          Effect.forkDaemon
        )
        break
      case "File": {
        const path = command.stdin.path
        yield* receive(yield* Effect.try({ try: () => readFileSync(path), catch: (error) => spawnError(shown, error) }))
        yield* Deferred.succeed(stdinDone, undefined)
        break
      }
      case "Pipe":
        break
      default:
        yield* Deferred.succeed(stdinDone, undefined)
    }
    const readStdin = Effect.zipRight(
      Deferred.await(stdinDone),
      Effect.sync(() => decode(record.stdin))
    )

    // The end of the process: every output reaches end of file, then waiters learn the status.
    const exit = yield* Deferred.make<ExitStatus.ExitStatus>()
    // A broken expectation (or a dying `respond` callback) makes `wait` die once the script is over.
    let mismatch: unknown = undefined
    const finish = (status: ExitStatus.ExitStatus) =>
      Effect.suspend(() => {
        if (record.status !== undefined) return Effect.void
        record.status = status
        return Effect.all([stdout.output.end, stderr.output.end, Deferred.succeed(exit, status)], { discard: true })
      }).pipe(Effect.uninterruptible)

    const play = Effect.gen(function* () {
      for (const step of script.steps) {
        switch (step._tag) {
          case "Write":
            yield* write(step.fd, step.data)
            break
          case "Sleep":
            yield* Effect.sleep(step.duration)
            break
          case "ReadStdin": {
            const received = yield* readStdin
            if (!step.test(received) && mismatch === undefined) {
              const error = new StdinMismatch({ command: shown, expected: step.description, received })
              mismatch = error
              onMismatch(error)
            }
            break
          }
          case "Respond": {
            const reply = yield* step.reply({ command, stdin: yield* readStdin })
            if (reply.stdout !== undefined) yield* write(1, toBytes(reply.stdout))
            if (reply.stderr !== undefined) yield* write(2, toBytes(reply.stderr))
            if (reply.exitCode !== undefined) return yield* finish(ExitStatus.Exited({ code: reply.exitCode }))
            break
          }
        }
      }
      const ending = script.ending
      switch (ending._tag) {
        case "Exit":
          return yield* finish(ExitStatus.Exited({ code: ending.code }))
        case "Signal":
          return yield* finish(ExitStatus.Signaled({ signal: ending.signal, coreDumped: false }))
        case "Never":
          return yield* Effect.never
      }
    })
    yield* Effect.logDebug("fake process started").pipe(Effect.annotateLogs({ pid, command: shown }))
    // A daemon fiber: only `deliver` and the process's own end stop it, never the caller's fiber.
    const player = yield* Effect.forkDaemon(
      Effect.catchAllDefect(play, (defect) => {
        mismatch ??= defect
        return finish(ExitStatus.Exited({ code: 1 }))
      })
    )

    const deliver = (signal: string) =>
      Effect.suspend(() => {
        if (record.status !== undefined) return Effect.void
        record.signals.push(signal)
        if (signal !== "SIGKILL" && (script.ignoredSignals.includes(signal) || harmless.has(signal))) {
          return Effect.void
        }
        return Fiber.interrupt(player).pipe(Effect.zipRight(finish(ExitStatus.Signaled({ signal, coreDumped: false }))))
      }).pipe(Effect.uninterruptible)

    const stop = Effect.gen(function* () {
      if (record.status !== undefined) return
      yield* deliver(command.killSignal)
      // Scope finalizers run uninterruptibly: unless the wait may be cut short, the timeout would wait for
      // it, and a fake that ignores the kill signal would never get SIGKILL.
      const inTime = yield* Deferred.await(exit).pipe(
        Effect.interruptible,
        Effect.timeout(command.gracePeriod),
        Effect.option
      )
      if (Option.isNone(inTime)) {
        yield* deliver("SIGKILL")
        yield* Deferred.await(exit)
      }
    })

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        yield* stop
        if (feeder !== undefined) yield* Fiber.interrupt(feeder)
        for (const passed of command.passFds) if (passed.closeParent) closeQuietly(passed.fd)
      }).pipe(Effect.uninterruptible)
    )
    for (const passed of command.passFds) if (passed.closeParent) closeQuietly(passed.fd)

    const stdinSink: Sink.Sink<void, Uint8Array | string, never, CommandError.CommandError> =
      command.stdin?._tag === "Pipe"
        ? Sink.forEach(receive).pipe(Sink.mapEffect(() => Deferred.succeed(stdinDone, undefined)))
        : Sink.fail(
            new CommandError.InvalidCommand({
              command: shown,
              problems: ["Process.stdin needs stdin set to Stdio.pipe"]
            })
          )

    const wait = Effect.zipLeft(
      Deferred.await(exit),
      Effect.suspend(() => (mismatch === undefined ? Effect.void : Effect.die(mismatch)))
    )
    // An extra pipe the fake never writes to ends, as the real one does, when the process exits.
    const quiet = Stream.drain(Stream.fromEffect(Deferred.await(exit)))
    const extraPipes = new Set(command.fds.filter((entry) => entry.stdio._tag === "Pipe").map((entry) => entry.fd))

    const process: Process.Process = {
      [Process.TypeId]: Process.TypeId,
      pid,
      command,
      stages: [],
      stdin: stdinSink,
      stdout: stdout.stream ?? Stream.empty,
      stderr: stderr.stream ?? Stream.empty,
      fd: (n) => (extraPipes.has(n) ? quiet : Stream.empty),
      wait,
      exitCode: Process.exitCodeFrom(shown, wait),
      kill: (signal) => deliver(signal ?? command.killSignal),
      stop,
      isRunning: Effect.sync(() => record.status === undefined),
      stderrTail: keepTail
        ? Effect.zipRight(
            Deferred.await(exit),
            Effect.sync(() => decode(tail))
          )
        : Effect.succeed("")
    }
    return process
  })
