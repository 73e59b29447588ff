import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Fiber from "effect/Fiber"
import * as Hash from "effect/Hash"
import * as HashSet from "effect/HashSet"
import * as Redacted from "effect/Redacted"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Command from "../src/Command.js"
import * as CommandError from "../src/CommandError.js"
import * as CommandExecutor from "../src/CommandExecutor.js"
import * as ExitStatus from "../src/ExitStatus.js"
import * as Pipeline from "../src/Pipeline.js"
import * as Process from "../src/Process.js"
import * as Stdio from "../src/Stdio.js"

const a = Command.make("a")
const b = Command.make("b", "x y")
const c = Command.make("c").pipe(Command.setEnv("K", "v"))

const expectSame = (x: Pipeline.Pipeline, y: Pipeline.Pipeline) => {
  expect(Equal.equals(x, y)).toBe(true)
  expect(Equal.equals(y, x)).toBe(true)
  expect(Hash.hash(x)).toBe(Hash.hash(y))
}

const expectDifferent = (x: unknown, y: unknown) => {
  expect(Equal.equals(x, y)).toBe(false)
  expect(Equal.equals(y, x)).toBe(false)
}

describe("a pipeline is a value", () => {
  it("pipelines of equal commands are Equal and hash alike", () => {
    expectSame(Pipeline.make(a, b, c), Pipeline.make(Command.make("a"), Command.make("b", "x y"), c))
    expectSame(Command.pipeTo(a, b), Pipeline.make(a, b))
    expectSame(a.pipe(Command.pipeTo(b)), Pipeline.make(a, b))
  })

  it("a different stage, order or length makes a different pipeline", () => {
    expectDifferent(Pipeline.make(a, b), Pipeline.make(a, Command.make("b", "x", "y")))
    expectDifferent(Pipeline.make(a, b), Pipeline.make(b, a))
    expectDifferent(Pipeline.make(a, b), Pipeline.make(a, b, c))
    expectDifferent(Pipeline.make(a, b), Pipeline.make(a, b.pipe(Command.stdout(Stdio.pipe))))
  })

  it("a pipeline is never equal to a command", () => {
    expectDifferent(Pipeline.make(a, b), a)
    expect(Pipeline.isPipeline(Pipeline.make(a, b))).toBe(true)
    expect(Pipeline.isPipeline(a)).toBe(false)
    expect(Command.isCommand(Pipeline.make(a, b))).toBe(false)
  })

  it("equal pipelines count once in a HashSet", () => {
    const set = HashSet.make(Pipeline.make(a, b), Pipeline.make(Command.make("a"), Command.make("b", "x y")))
    expect(HashSet.size(set)).toBe(1)
    expect(HashSet.has(set, Pipeline.make(a, b))).toBe(true)
    expect(HashSet.has(set, Pipeline.make(b, a))).toBe(false)
  })

  it("nested pipelines flatten into one list of stages, however they are grouped", () => {
    const flat = [a, b, c, a]
    const groupings = [
      Command.pipeTo(Command.pipeTo(a, b), Command.pipeTo(c, a)),
      Command.pipeTo(a, Command.pipeTo(b, Command.pipeTo(c, a))),
      a.pipe(Command.pipeTo(b), Command.pipeTo(c), Command.pipeTo(a)),
      Pipeline.make(Pipeline.make(a, b), c, a),
      Pipeline.make(a, Pipeline.make(b, c, a))
    ]
    for (const pipeline of groupings) {
      expect(pipeline.stages).toEqual(flat)
      expectSame(pipeline, Pipeline.make(a, b, c, a))
    }
  })

  it("building a pipeline leaves its parts unchanged", () => {
    const inner = Pipeline.make(a, b)
    const outer = Command.pipeTo(inner, c)
    expect(inner.stages.length).toBe(2)
    expect(outer.stages.length).toBe(3)
  })

  it("toString joins the stages' shell lines with ' | ', secrets redacted", () => {
    const secret = Command.make("curl", "-H", Redacted.make("Authorization: token"))
    const pipeline = Pipeline.make(a, b, c, secret)
    const line = "a | b 'x y' | K=v c | curl -H <redacted>"
    expect(Pipeline.toString(pipeline)).toBe(line)
    expect(String(pipeline)).toBe(line)
    expect(JSON.stringify(pipeline)).not.toContain("token")
    expect(pipeline.toJSON()).toMatchObject({ _id: "Pipeline", command: line })
  })
})

describe("validate", () => {
  it("a pipeline of plain commands has no problems", () => {
    expect(Pipeline.validate(Pipeline.make(a, b, c))).toEqual([])
  })

  it("stdin on the first stage, stdout on the last and stderr and mergeStderr anywhere are allowed", () => {
    const pipeline = Pipeline.make(
      a.pipe(Command.feed("in"), Command.stderr(Stdio.file("/tmp/a.err"))),
      b.pipe(Command.mergeStderr),
      c.pipe(Command.stdout(Stdio.pipe), Command.stderr(Stdio.inherit))
    )
    expect(Pipeline.validate(pipeline)).toEqual([])
  })

  it("an inner stage's stdout or a later stage's stdin is a problem naming the stage", () => {
    const pipeline = Pipeline.make(
      a.pipe(Command.stdout(Stdio.file("/tmp/out"))),
      b.pipe(Command.stdin(Stdio.null)),
      c.pipe(Command.stdin(Stdio.pipe), Command.stdout(Stdio.pipe))
    )
    expect(Pipeline.validate(pipeline)).toEqual([
      "stage 1 (a): its stdout is set to file /tmp/out, but it feeds the next stage",
      "stage 2 (b 'x y'): its stdin is set to /dev/null, but it reads the previous stage's output",
      "stage 3 (K=v c): its stdin is set to a pipe, but it reads the previous stage's output"
    ])
  })

  it("each stage's own faults are listed with its position", () => {
    const pipeline = Pipeline.make(a, Command.fromArgv([]), b.pipe(Command.killSignal("SIGNOPE")))
    expect(Pipeline.validate(pipeline)).toEqual([
      "stage 2 (''): the argv is empty",
      "stage 2 (''): the program name is empty",
      "stage 3 (b 'x y'): the kill signal SIGNOPE is not a signal name"
    ])
  })
})

// -----------------------------------------------------------------------------
// runners over a scripted executor
// -----------------------------------------------------------------------------

interface Script {
  readonly status?: ExitStatus.ExitStatus
  readonly stdout?: string
  readonly stderr?: string
  /** Runs until stopped or killed. */
  readonly hangs?: boolean
}

const exited = (code: number) => ExitStatus.Exited({ code })
const signaled = (signal: string) => ExitStatus.Signaled({ signal, coreDumped: false })

/**
 * An executor whose processes end as scripted, by the command's program name. It records the commands it
 * was asked to start and the signals sent; it implements `startPipeline` only when asked to.
 */
const scripted = (scripts: Readonly<Record<string, Script>>, options: { readonly native?: boolean } = {}) => {
  const started: Array<Command.Command> = []
  const signals: Array<string> = []
  const pipelines: Array<Pipeline.Pipeline> = []
  const start = (command: Command.Command) =>
    Effect.gen(function* () {
      started.push(command)
      const name = command.program as string
      const script = scripts[name] ?? {}
      const exit = yield* Deferred.make<ExitStatus.ExitStatus>()
      if (!script.hangs) yield* Deferred.succeed(exit, script.status ?? exited(0))
      const end = (signal: string) =>
        Effect.zipRight(
          Effect.sync(() => signals.push(`${name} ${signal}`)),
          Deferred.succeed(exit, signaled(signal))
        )
      const wait = Deferred.await(exit)
      const process: Process.Process = {
        [Process.TypeId]: Process.TypeId,
        pid: 1000 + started.length,
        command,
        stages: [],
        stdin: Sink.drain,
        stdout: script.stdout === undefined ? Stream.empty : Stream.make(new TextEncoder().encode(script.stdout)),
        stderr: Stream.empty,
        fd: () => Stream.empty,
        wait,
        exitCode: Effect.flatMap(wait, (status) =>
          status._tag === "Exited"
            ? Effect.succeed(status.code)
            : Effect.fail(
                new CommandError.SignalError({
                  command: name,
                  signal: status.signal,
                  coreDumped: false,
                  stdout: "",
                  stderr: ""
                })
              )
        ),
        kill: (signal) => end(signal ?? command.killSignal).pipe(Effect.asVoid),
        stop: end(command.killSignal).pipe(Effect.asVoid),
        isRunning: Effect.map(Deferred.isDone(exit), (done) => !done),
        stderrTail: Effect.succeed(script.stderr ?? "")
      }
      return process
    })
  const service: CommandExecutor.Service = options.native
    ? {
        start,
        startPipeline: (pipeline) =>
          Effect.sync(() => pipelines.push(pipeline)).pipe(
            Effect.zipRight(CommandExecutor.startThroughStreams(start)(pipeline))
          )
      }
    : { start }
  return {
    started,
    signals,
    pipelines,
    provide: Effect.provideService(CommandExecutor.CommandExecutor, service)
  }
}

describe("pipefail over scripted stages", () => {
  it.effect("a SIGPIPE of a stage before the last is not a failure", () =>
    Effect.gen(function* () {
      const executor = scripted({ yes: { status: signaled("SIGPIPE") }, head: { stdout: "y\n" } })
      const out = yield* Command.string(Pipeline.make(Command.make("yes"), Command.make("head"))).pipe(executor.provide)
      expect(out).toBe("y\n")
    })
  )

  it.effect("a SIGPIPE of the last stage is a failure naming it", () =>
    Effect.gen(function* () {
      const executor = scripted({ tail: { status: signaled("SIGPIPE") } })
      const error = yield* Effect.flip(
        Command.run(Pipeline.make(Command.make("head"), Command.make("tail"))).pipe(executor.provide)
      )
      expect(error).toBeInstanceOf(CommandError.SignalError)
      expect(error).toMatchObject({ command: "tail", signal: "SIGPIPE", pipeline: { stage: 2, others: [] } })
    })
  )

  it.effect("a signal other than SIGPIPE in an early stage is a failure", () =>
    Effect.gen(function* () {
      const executor = scripted({ first: { status: signaled("SIGSEGV"), stderr: "crash\n" } })
      const error = yield* Effect.flip(
        Command.run(Pipeline.make(Command.make("first"), Command.make("second"))).pipe(executor.provide)
      )
      expect(error).toBeInstanceOf(CommandError.SignalError)
      expect(error).toMatchObject({ command: "first", signal: "SIGSEGV", stderr: "crash\n", pipeline: { stage: 1 } })
    })
  )

  it.effect("the first failing stage is named with its stderr tail, the later failures listed", () =>
    Effect.gen(function* () {
      const executor = scripted({
        one: { status: signaled("SIGPIPE") },
        two: { status: exited(2), stderr: "two broke\n" },
        three: { status: exited(0) },
        four: { status: signaled("SIGKILL"), stderr: "four broke\n" },
        five: { status: exited(3) }
      })
      const pipeline = Pipeline.make(
        Command.make("one"),
        Command.make("two"),
        Command.make("three"),
        Command.make("four"),
        Command.make("five")
      )
      const error = yield* Effect.flip(Command.run(pipeline).pipe(executor.provide))
      expect(error).toBeInstanceOf(CommandError.ExitCodeError)
      expect(error).toMatchObject({
        command: "two",
        exitCode: 2,
        stderr: "two broke\n",
        pipeline: {
          pipeline: "one | two | three | four | five",
          stage: 2,
          others: ["stage 4 (four): signal SIGKILL", "stage 5 (five): exit status 3"]
        }
      })
      expect(error.message).toBe(
        "Child process (two) unexpected exit status 2 [stage 2 of (one | two | three | four | five); " +
          "also failed: stage 4 (four): signal SIGKILL; stage 5 (five): exit status 3]: two broke"
      )
    })
  )

  it.effect("status and exitCode answer with the first failing stage", () =>
    Effect.gen(function* () {
      const executor = scripted({ one: { status: exited(4) }, two: { status: exited(5) } })
      const pipeline = Pipeline.make(Command.make("one"), Command.make("two"))
      expect(yield* Command.status(pipeline).pipe(executor.provide)).toEqual(exited(4))
      expect(yield* Command.exitCode(pipeline).pipe(executor.provide)).toBe(4)
    })
  )
})

describe("starting a pipeline", () => {
  it.effect("without startPipeline, each stage's stdout is piped into the next stage's stdin", () =>
    Effect.gen(function* () {
      const executor = scripted({})
      yield* Command.run(
        Pipeline.make(
          Command.make("one").pipe(Command.feed("input")),
          Command.make("two"),
          Command.make("three").pipe(Command.stdout(Stdio.file("/tmp/out")))
        )
      ).pipe(executor.provide)
      const [one, two, three] = executor.started
      expect([one!.stdin?._tag, one!.stdout?._tag]).toEqual(["Feed", "Pipe"])
      expect([two!.stdin?._tag, two!.stdout?._tag]).toEqual(["FromStream", "Pipe"])
      expect([three!.stdin?._tag, three!.stdout]).toEqual(["FromStream", Stdio.file("/tmp/out")])
    })
  )

  it.effect("a backend's startPipeline is used when it has one", () =>
    Effect.gen(function* () {
      const executor = scripted({}, { native: true })
      const pipeline = Pipeline.make(Command.make("one"), Command.make("two"))
      yield* Command.run(pipeline).pipe(executor.provide)
      expect(executor.pipelines).toEqual([pipeline])
    })
  )

  it.effect("an invalid pipeline starts nothing", () =>
    Effect.gen(function* () {
      const executor = scripted({})
      const error = yield* Effect.flip(
        Command.run(Pipeline.make(Command.make("one").pipe(Command.stdout(Stdio.pipe)), Command.make("two"))).pipe(
          executor.provide
        )
      )
      expect(error).toBeInstanceOf(CommandError.InvalidCommand)
      expect(executor.started).toEqual([])
    })
  )

  it.scoped("the Process gives every stage, its pid is the last stage's, and kill reaches every stage", () =>
    Effect.gen(function* () {
      const executor = scripted({ one: { hangs: true }, two: { hangs: true } })
      const process = yield* Command.start(Pipeline.make(Command.make("one"), Command.make("two"))).pipe(
        executor.provide
      )
      expect(process.stages.map((stage) => stage.pid)).toEqual([1001, 1002])
      expect(process.pid).toBe(1002)
      expect(yield* process.isRunning).toBe(true)
      yield* process.kill("SIGUSR1")
      expect(executor.signals).toEqual(["one SIGUSR1", "two SIGUSR1"])
      expect(yield* process.wait).toEqual(signaled("SIGUSR1"))
      expect(yield* process.isRunning).toBe(false)
    })
  )

  it.effect("the pipeline's timeout is its shortest stage timeout, and it stops every stage", () =>
    Effect.gen(function* () {
      const executor = scripted({ one: { hangs: true }, two: { hangs: true } })
      const fiber = yield* Command.run(
        Pipeline.make(
          Command.make("one").pipe(Command.timeout("5 seconds")),
          Command.make("two").pipe(Command.timeout("2 seconds"))
        )
      ).pipe(executor.provide, Effect.flip, Effect.fork)
      yield* TestClock.adjust("1999 millis")
      expect(executor.signals).toEqual([])
      yield* TestClock.adjust("1 milli")
      const error = yield* Fiber.join(fiber)
      expect(error).toBeInstanceOf(CommandError.TimeoutError)
      expect(Duration.toMillis((error as CommandError.TimeoutError).timeout)).toBe(2000)
      expect([...executor.signals].sort()).toEqual(["one SIGTERM", "two SIGTERM"])
    })
  )
})
