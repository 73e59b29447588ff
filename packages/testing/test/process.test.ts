import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { Command, ExitStatus, Stdio } from "@tether/command"
import { NodeCommandExecutor } from "@tether/platform-node"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { Expectation, ExpectationError, TestCommandExecutor } from "../src/index.js"

const lastRun = Effect.map(TestCommandExecutor.runs, (runs) => runs[runs.length - 1]!)

/** Lets forked fibers run what became ready after a clock adjustment. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync("/tmp/testing-helper-")),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

describe("output", () => {
  it.effect("scripted delays run on the TestClock", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(Command.make("tail", "-f", "log").pipe(Command.stdout(Stdio.pipe)))
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      yield* process.stdout.pipe(
        Stream.decodeText(),
        Stream.runForEach((text) => Ref.update(seen, (all) => [...all, text])),
        Effect.fork
      )
      yield* settle
      expect(yield* Ref.get(seen)).toEqual(["first\n"])
      yield* TestClock.adjust("999 millis")
      yield* settle
      expect(yield* Ref.get(seen)).toEqual(["first\n"])
      yield* TestClock.adjust("1 millis")
      yield* settle
      expect(yield* Ref.get(seen)).toEqual(["first\n", "second\n"])
      expect(yield* process.isRunning).toBe(true)
      yield* TestClock.adjust("1 minute")
      expect(yield* process.wait).toEqual(ExitStatus.Exited({ code: 0 }))
      expect(yield* Ref.get(seen)).toEqual(["first\n", "second\n"])
    }).pipe(
      Effect.scoped,
      Effect.provide(
        TestCommandExecutor.layer([
          Expectation.argv("tail", "-f", "log").pipe(
            Expectation.stdout("first\n"),
            Expectation.stdout("second\n", { delay: "1 second" }),
            Expectation.sleep("1 minute")
          )
        ])
      )
    )
  )

  it.effect("streamLines decodes a character split across two delayed writes", () =>
    Effect.gen(function* () {
      const lines = yield* Command.streamLines(Command.make("journalctl", "-f")).pipe(Stream.runCollect, Effect.fork)
      yield* TestClock.adjust("2 seconds")
      expect(Chunk.toReadonlyArray(yield* Fiber.join(lines))).toEqual(["a€b", "c"])
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layer([
          Expectation.argv("journalctl", "-f").pipe(
            Expectation.stdout(new Uint8Array([0x61, 0xe2, 0x82])),
            Expectation.stdout(new Uint8Array([0xac, 0x62, 0x0a, 0x63]), { delay: "1 second" })
          )
        ])
      )
    )
  )

  it.effect("mergeStderr interleaves both streams in the order written", () =>
    Effect.gen(function* () {
      expect(yield* Command.string(Command.make("make").pipe(Command.mergeStderr))).toBe("cc a.c\nwarning\ncc b.c\n")
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layer([
          Expectation.argv("make").pipe(
            Expectation.stdout("cc a.c\n"),
            Expectation.stderr("warning\n"),
            Expectation.stdout("cc b.c\n")
          )
        ])
      )
    )
  )

  it.effect("output captures both streams and the status without failing", () =>
    Effect.gen(function* () {
      const result = yield* Command.output(Command.make("grep", "x", "missing"))
      expect(result).toEqual({
        status: ExitStatus.Exited({ code: 2 }),
        stdout: "",
        stderr: "grep: missing: No such file or directory\n"
      })
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layer([
          Expectation.argv("grep", "x", "missing").pipe(
            Expectation.stderr("grep: missing: No such file or directory\n"),
            Expectation.exit(2)
          )
        ])
      )
    )
  )

  it.scoped("stdout set to a file is written to that file", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = join(dir, "out.txt")
      const write = Command.make("date").pipe(Command.stdout(Stdio.file(file)))
      yield* Command.run(write).pipe(
        Effect.provide(TestCommandExecutor.layer([Expectation.argv("date").pipe(Expectation.stdout("Thu\n"))]))
      )
      expect(readFileSync(file, "utf-8")).toBe("Thu\n")
    })
  )

  it.effect("output past maxOutput fails with OutputLimitError and kills the fake", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.string(Command.make("yes").pipe(Command.maxOutput(4))))
      expect(error._tag).toBe("OutputLimitError")
      const run = yield* lastRun
      expect(run.signals).toEqual(["SIGKILL"])
      expect(run.status).toEqual(Option.some(ExitStatus.Signaled({ signal: "SIGKILL", coreDumped: false })))
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layer([
          Expectation.argv("yes").pipe(Expectation.stdout("y\ny\ny\n"), Expectation.neverExits)
        ])
      )
    )
  )
})

describe("exit status", () => {
  it.effect("a non-zero exit fails with ExitCodeError carrying the stderr tail", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.run(Command.make("git", "status")))
      expect(error._tag).toBe("ExitCodeError")
      expect(error.message).toBe(
        "Child process (git status) unexpected exit status 128: fatal: not a git repository (or any of the parent directories): .git"
      )
      expect(yield* Command.exitCode(Command.make("git", "status"))).toBe(128)
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layer([
          Expectation.argv("git", "status").pipe(
            Expectation.stderr("fatal: not a git repository (or any of the parent directories): .git\n"),
            Expectation.exit(128),
            Expectation.times(2)
          )
        ])
      )
    )
  )

  it.effect("a fake killed by a signal fails run with SignalError and status reports it", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.run(Command.make("crash")))
      expect(error.message).toBe("Child process (crash) unexpected fatal signal SIGSEGV")
      expect(yield* Command.status(Command.make("crash"))).toEqual(
        ExitStatus.Signaled({ signal: "SIGSEGV", coreDumped: false })
      )
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layer([Expectation.argv("crash").pipe(Expectation.signal("SIGSEGV"), Expectation.times(2))])
      )
    )
  )

  it.live("a fake's failure is the very ExitCodeError the real program gives", () =>
    Effect.gen(function* () {
      const script = "printf 'partial\\n'; printf 'disk full\\n' >&2; exit 3"
      const command = Command.make("sh", "-c", script)
      const real = yield* Effect.flip(Command.string(command)).pipe(Effect.provide(NodeCommandExecutor.layer))
      const fake = yield* Effect.flip(Command.string(command)).pipe(
        Effect.provide(
          TestCommandExecutor.layer([
            Expectation.argv("sh", "-c", script).pipe(
              Expectation.stdout("partial\n"),
              Expectation.stderr("disk full\n"),
              Expectation.exit(3)
            )
          ])
        )
      )
      expect(real._tag).toBe("ExitCodeError")
      expect(fake.message).toBe(real.message)
      expect(Equal.equals(fake, real)).toBe(true)
    })
  )
})

describe("stopping", () => {
  it.effect("a fake that never exits is stopped by the command's timeout, which fails with TimeoutError", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.fork(
        Command.run(Command.make("sleep", "infinity").pipe(Command.timeout("5 seconds")))
      )
      yield* TestClock.adjust("4 seconds")
      expect((yield* lastRun).signals).toEqual([])
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit) && Cause.failureOption(exit.cause)).toEqual(
        Option.some(
          expect.objectContaining({
            _tag: "TimeoutError",
            message: "Child process (sleep infinity) timed out after 5s"
          })
        )
      )
      const run = yield* lastRun
      expect(run.signals).toEqual(["SIGTERM"])
      expect(run.status).toEqual(Option.some(ExitStatus.Signaled({ signal: "SIGTERM", coreDumped: false })))
    }).pipe(
      Effect.provide(TestCommandExecutor.layer([Expectation.argv("sleep", "infinity").pipe(Expectation.neverExits)]))
    )
  )

  it.effect("a fake that ignores the kill signal gets SIGKILL once the grace period is over", () =>
    Effect.gen(function* () {
      const command = Command.make("server").pipe(
        Command.timeout("1 second"),
        Command.killSignal("SIGINT"),
        Command.gracePeriod("3 seconds")
      )
      const fiber = yield* Effect.fork(Effect.flip(Command.run(command)))
      yield* TestClock.adjust("1 second")
      yield* settle
      expect((yield* lastRun).signals).toEqual(["SIGINT"])
      expect((yield* lastRun).status).toEqual(Option.none())
      yield* TestClock.adjust("3 seconds")
      expect((yield* Fiber.join(fiber))._tag).toBe("TimeoutError")
      const run = yield* lastRun
      expect(run.signals).toEqual(["SIGINT", "SIGKILL"])
      expect(run.status).toEqual(Option.some(ExitStatus.Signaled({ signal: "SIGKILL", coreDumped: false })))
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layer([
          Expectation.argv("server").pipe(Expectation.ignoreSignal("SIGINT"), Expectation.neverExits)
        ])
      )
    )
  )

  it.effect("closing the scope of a started fake kills it", () =>
    Effect.gen(function* () {
      const running = yield* Effect.scoped(
        Effect.gen(function* () {
          const process = yield* Command.start(Command.make("sleep", "infinity"))
          return yield* process.isRunning
        })
      )
      expect(running).toBe(true)
      const run = yield* lastRun
      expect(run.signals).toEqual(["SIGTERM"])
      expect(run.status).toEqual(Option.some(ExitStatus.Signaled({ signal: "SIGTERM", coreDumped: false })))
    }).pipe(
      Effect.provide(TestCommandExecutor.layer([Expectation.argv("sleep", "infinity").pipe(Expectation.neverExits)]))
    )
  )

  it.effect("closing the scope of a fake that ignores the kill signal sends SIGKILL after the grace period", () =>
    Effect.gen(function* () {
      const closing = yield* Effect.fork(
        Effect.scoped(Command.start(Command.make("stubborn").pipe(Command.gracePeriod("10 seconds"))))
      )
      yield* settle
      expect((yield* lastRun).signals).toEqual(["SIGTERM"])
      yield* TestClock.adjust("9 seconds")
      yield* settle
      expect((yield* lastRun).status).toEqual(Option.none())
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(closing)
      const run = yield* lastRun
      expect(run.signals).toEqual(["SIGTERM", "SIGKILL"])
      expect(run.status).toEqual(Option.some(ExitStatus.Signaled({ signal: "SIGKILL", coreDumped: false })))
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layer([
          Expectation.argv("stubborn").pipe(Expectation.ignoreSignal("SIGTERM"), Expectation.neverExits)
        ])
      )
    )
  )

  it.effect("interrupting the fiber that runs a fake kills it, as an interruption", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.fork(Command.run(Command.make("sleep", "infinity")))
      yield* settle
      expect((yield* TestCommandExecutor.runs).length).toBe(1)
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      const run = yield* lastRun
      expect(run.signals).toEqual(["SIGTERM"])
      expect(run.status).toEqual(Option.some(ExitStatus.Signaled({ signal: "SIGTERM", coreDumped: false })))
    }).pipe(
      Effect.provide(TestCommandExecutor.layer([Expectation.argv("sleep", "infinity").pipe(Expectation.neverExits)]))
    )
  )

  it.effect("kill sends a signal, and a signal the fake survives is recorded but leaves it running", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(Command.make("nginx"))
      yield* process.kill("SIGHUP")
      yield* process.kill("SIGWINCH")
      expect(yield* process.isRunning).toBe(true)
      yield* process.kill()
      expect(yield* process.wait).toEqual(ExitStatus.Signaled({ signal: "SIGTERM", coreDumped: false }))
      yield* process.kill("SIGKILL")
      expect((yield* lastRun).signals).toEqual(["SIGHUP", "SIGWINCH", "SIGTERM"])
    }).pipe(
      Effect.scoped,
      Effect.provide(
        TestCommandExecutor.layer([
          Expectation.argv("nginx").pipe(Expectation.ignoreSignal("SIGHUP"), Expectation.neverExits)
        ])
      )
    )
  )
})

describe("stdin", () => {
  it.effect("the stdin sink collects what the caller writes, and respond answers from it", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(
        Command.make("tr", "a-z", "A-Z").pipe(Command.stdin(Stdio.pipe), Command.stdout(Stdio.pipe))
      )
      yield* Stream.run(Stream.make("hello ", new TextEncoder().encode("world")), process.stdin)
      const out = yield* process.stdout.pipe(Stream.decodeText(), Stream.mkString)
      expect(out).toBe("HELLO WORLD")
      expect((yield* lastRun).stdin).toBe("hello world")
    }).pipe(
      Effect.scoped,
      Effect.provide(
        TestCommandExecutor.layer([
          Expectation.argv("tr", "a-z", "A-Z").pipe(
            Expectation.expectStdin("hello world"),
            Expectation.respond(({ stdin }) => Effect.succeed({ stdout: stdin.toUpperCase() }))
          )
        ])
      )
    )
  )

  it.effect("a fed stdin that differs from the expected one makes wait die with StdinMismatch", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Command.run(Command.make("psql").pipe(Command.feed("DROP TABLE users;"))))
      const defect = Exit.isFailure(exit) ? Cause.dieOption(exit.cause) : Option.none()
      expect(Option.getOrThrow(defect)).toBeInstanceOf(ExpectationError.StdinMismatch)
      expect((Option.getOrThrow(defect) as Error).message).toBe(
        'Command (psql) expected on stdin "SELECT 1;", received "DROP TABLE users;"'
      )
      const error = yield* Effect.flip(TestCommandExecutor.verify)
      expect(error.message).toBe(
        'Command expectations were not met:\n  stdin: Command (psql) expected on stdin "SELECT 1;", received "DROP TABLE users;"'
      )
    }).pipe(
      Effect.provide(TestCommandExecutor.layer([Expectation.argv("psql").pipe(Expectation.expectStdin("SELECT 1;"))]))
    )
  )

  it.effect("a labelled test checks stdin that is not known byte for byte", () =>
    Effect.gen(function* () {
      yield* Command.run(Command.make("jq", ".").pipe(Command.feed(Stream.make('{"a":', " 1}"))))
      expect((yield* lastRun).stdin).toBe('{"a": 1}')
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layer([
          Expectation.argv("jq", ".").pipe(
            Expectation.expectStdin({
              label: "a JSON object",
              test: (text) => typeof JSON.parse(text) === "object"
            })
          )
        ])
      )
    )
  )

  it.effect("a fake that checks stdin cannot read the parent's stdin: Unsupported", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.run(Command.make("cat").pipe(Command.stdin(Stdio.inherit))))
      expect(error.message).toBe(
        "Cannot run (cat): Command.stdin(Stdio.inherit) is unsupported here: a fake process that checks its input cannot read the parent's streams"
      )
    }).pipe(Effect.provide(TestCommandExecutor.layer([Expectation.argv("cat").pipe(Expectation.expectStdin(""))])))
  )
})

describe("pipelines", () => {
  it.effect("a pipeline of fakes connects each stage's stdout to the next one's stdin", () =>
    Effect.gen(function* () {
      const pipeline = Command.make("git", "ls-files").pipe(Command.pipeTo(Command.make("wc", "-l")))
      expect(yield* Command.string(pipeline)).toBe("2\n")
      const runs = yield* TestCommandExecutor.runs
      expect(runs.map((run) => run.stdin)).toEqual(["", "a.ts\nb.ts\n"])
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layer(
          [
            Expectation.argv("git", "ls-files").pipe(Expectation.stdout("a.ts\n"), Expectation.stdout("b.ts\n")),
            Expectation.argv("wc", "-l").pipe(
              Expectation.respond(({ stdin }) => Effect.succeed({ stdout: `${stdin.split("\n").length - 1}\n` }))
            )
          ],
          { ordered: true }
        )
      )
    )
  )

  it.effect("a failing stage fails the pipeline, named as the failing stage", () =>
    Effect.gen(function* () {
      const pipeline = Command.make("false").pipe(Command.pipeTo(Command.make("cat")))
      const error = yield* Effect.flip(Command.string(pipeline))
      expect(error._tag).toBe("ExitCodeError")
      expect(error.message).toContain("(false)")
      expect(error.message).toContain("stage 1")
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layer([Expectation.argv("false").pipe(Expectation.exit(1)), Expectation.argv("cat")])
      )
    )
  )
})
