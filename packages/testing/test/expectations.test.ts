import { existsSync } from "node:fs"
import { Command, ExitStatus, Stdio } from "@tether/command"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { Expectation, ExpectationError, TestCommandExecutor } from "../src/index.js"

/** The defect an effect died with, or a test failure when it did not die. */
const defectOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    const defect = Exit.isFailure(exit) ? Cause.dieOption(exit.cause) : Option.none()
    if (Option.isNone(defect)) throw new Error(`expected a defect, got ${String(exit)}`)
    return defect.value
  })

describe("matching", () => {
  it.effect("an exact argv expectation answers with its scripted output", () =>
    Effect.gen(function* () {
      expect(yield* Command.string(Command.make("git", "rev-parse", "--abbrev-ref", "HEAD"))).toBe("main\n")
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layer([
          Expectation.argv("git", "rev-parse", "--abbrev-ref", "HEAD").pipe(Expectation.stdout("main\n"))
        ])
      )
    )
  )

  it.effect("an argv prefix accepts any arguments after it", () =>
    Effect.gen(function* () {
      yield* Command.run(Command.make("git", "commit", "-m", "first"))
      yield* Command.run(Command.make("git", "commit", "--amend", "--no-edit"))
      const calls = yield* TestCommandExecutor.calls
      expect(calls.map((call) => Command.argv(call))).toEqual([
        ["git", "commit", "-m", "first"],
        ["git", "commit", "--amend", "--no-edit"]
      ])
    }).pipe(
      Effect.provide(TestCommandExecutor.layer([Expectation.argvPrefix("git", "commit").pipe(Expectation.times(2))]))
    )
  )

  it.effect("a predicate sees the whole command: environment, working directory, stdio", () =>
    Effect.gen(function* () {
      const plain = Command.make("make", "test")
      const inCi = plain.pipe(Command.cwd("/srv/app"), Command.setEnv("CI", "1"))
      expect(yield* Command.string(inCi)).toBe("ci\n")
      expect(yield* Command.string(plain)).toBe("local\n")
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layer([
          Expectation.where(
            "make in /srv/app with CI=1",
            (command) =>
              command.cwd === "/srv/app" &&
              command.env.some((entry) => entry._tag === "Set" && entry.name === "CI" && entry.value === "1")
          ).pipe(Expectation.stdout("ci\n")),
          Expectation.argv("make", "test").pipe(Expectation.stdout("local\n"))
        ])
      )
    )
  )

  it.effect("a redacted argument matches by its value and stays hidden in failure messages", () =>
    Effect.gen(function* () {
      yield* Command.run(Command.make("mysql", "-p", Redacted.make("hunter2")))
      const defect = yield* defectOf(Command.run(Command.make("mysql", "-p", Redacted.make("wrong"))))
      expect(defect).toBeInstanceOf(ExpectationError.UnexpectedCommand)
      expect((defect as Error).message).toBe(
        [
          "Unexpected command: mysql -p <redacted>",
          "  closest expectations:",
          "    1. argv: mysql -p <redacted> (expected once, used 1 time)"
        ].join("\n")
      )
      yield* Effect.flip(TestCommandExecutor.verify)
    }).pipe(Effect.provide(TestCommandExecutor.layer([Expectation.argv("mysql", "-p", Redacted.make("hunter2"))])))
  )

  it.effect("calls returns every command as the executor received it, comparable with Equal", () =>
    Effect.gen(function* () {
      yield* Command.run(Command.make("git", "init"))
      yield* Command.string(Command.make("git", "status"))
      const calls = yield* TestCommandExecutor.calls
      const expected = Data.array([
        Command.make("git", "init"),
        Command.make("git", "status").pipe(Command.stdout(Stdio.pipe))
      ])
      expect(Equal.equals(calls, expected)).toBe(true)
      expect(Equal.equals(calls, Data.array([Command.make("git", "init"), Command.make("git", "status")]))).toBe(false)
    }).pipe(
      Effect.provide(TestCommandExecutor.layer([Expectation.argv("git", "init"), Expectation.argv("git", "status")]))
    )
  )
})

describe("strictness", () => {
  it.effect("an unexpected command dies with a message naming it and the closest expectations", () =>
    Effect.gen(function* () {
      const defect = yield* defectOf(Command.run(Command.make("git", "push", "origin", "mian")))
      expect(defect).toBeInstanceOf(ExpectationError.UnexpectedCommand)
      expect((defect as Error).message).toBe(
        [
          "Unexpected command: git push origin mian",
          "  closest expectations:",
          "    1. argv: git push origin main (expected once, used 0 times)",
          "    2. argv prefix: git fetch (expected once, used 0 times)",
          "    3. argv: ls (expected once, used 0 times)"
        ].join("\n")
      )
      // The test acknowledges the failure; the layer then has nothing new to report when it closes.
      yield* Effect.flip(TestCommandExecutor.verify)
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layer([
          Expectation.where("runs in /srv", (command) => command.cwd === "/srv"),
          Expectation.argv("ls"),
          Expectation.argvPrefix("git", "fetch"),
          Expectation.argv("git", "push", "origin", "main")
        ])
      )
    )
  )

  it.effect("recovering from CommandError does not hide an unexpected command", () =>
    Effect.gen(function* () {
      const recovered = Command.string(Command.make("git", "describe")).pipe(
        Effect.catchAll(() => Effect.succeed("fallback"))
      )
      const defect = yield* defectOf(recovered)
      expect(defect).toBeInstanceOf(ExpectationError.UnexpectedCommand)
      yield* Effect.flip(TestCommandExecutor.verify)
    }).pipe(Effect.provide(TestCommandExecutor.layer([])))
  )

  it.effect("with no expectations at all, the message says so", () =>
    Effect.gen(function* () {
      const defect = yield* defectOf(Command.run(Command.make("rm", "-rf", "/tmp/x")))
      expect((defect as Error).message).toBe("Unexpected command: rm -rf /tmp/x\n  no expectations were set")
      yield* Effect.flip(TestCommandExecutor.verify)
    }).pipe(Effect.provide(TestCommandExecutor.layer([])))
  )

  it.effect("verify fails with every unmet expectation, unexpected command and stdin mismatch", () =>
    Effect.gen(function* () {
      yield* Command.run(Command.make("git", "init"))
      yield* Command.run(Command.make("git", "push")).pipe(Effect.exit)
      const error = yield* Effect.flip(TestCommandExecutor.verify)
      expect(error).toBeInstanceOf(ExpectationError.VerificationError)
      expect(error.message).toBe(
        [
          "Command expectations were not met:",
          "  unmet: argv: git commit -m first (expected once, used 0 times)",
          "  unmet: argv prefix: git log (expected at least 1 time, used 0 times)",
          "  unexpected: git push"
        ].join("\n")
      )
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layer([
          Expectation.argv("git", "init"),
          Expectation.argv("git", "commit", "-m", "first"),
          Expectation.argvPrefix("git", "log").pipe(Expectation.atLeastOnce),
          Expectation.argv("git", "gc").pipe(Expectation.anyTimes)
        ])
      )
    )
  )

  it.effect("unmet expectations fail the test when the layer's scope closes", () =>
    Effect.gen(function* () {
      const test = Command.run(Command.make("git", "init")).pipe(
        Effect.provide(
          TestCommandExecutor.layer([Expectation.argv("git", "init"), Expectation.argv("git", "commit", "-m", "x")])
        )
      )
      const defect = yield* defectOf(test)
      expect(defect).toBeInstanceOf(ExpectationError.VerificationError)
      expect((defect as Error).message).toBe(
        "Command expectations were not met:\n  unmet: argv: git commit -m x (expected once, used 0 times)"
      )
    })
  )

  it.effect("an unexpected command swallowed by the code still fails the test when the scope closes", () =>
    Effect.gen(function* () {
      const test = Command.run(Command.make("curl", "http://127.0.0.1/")).pipe(
        Effect.catchAllCause(() => Effect.void),
        Effect.provide(TestCommandExecutor.layer([]))
      )
      const defect = yield* defectOf(test)
      expect((defect as Error).message).toBe("Command expectations were not met:\n  unexpected: curl http://127.0.0.1/")
    })
  )

  it.effect("the end-of-test check can be turned off", () =>
    Effect.gen(function* () {
      const test = Effect.void.pipe(
        Effect.provide(TestCommandExecutor.layer([Expectation.argv("never")], { verifyOnClose: false }))
      )
      expect(Exit.isSuccess(yield* Effect.exit(test))).toBe(true)
    })
  )
})

describe("times and order", () => {
  it.effect("an expectation used up makes one more run unexpected, showing its count", () =>
    Effect.gen(function* () {
      yield* Command.run(Command.make("date"))
      yield* Command.run(Command.make("date"))
      const defect = yield* defectOf(Command.run(Command.make("date")))
      expect((defect as Error).message).toBe(
        [
          "Unexpected command: date",
          "  closest expectations:",
          "    1. argv: date (expected 2 times, used 2 times)"
        ].join("\n")
      )
      yield* Effect.flip(TestCommandExecutor.verify)
    }).pipe(Effect.provide(TestCommandExecutor.layer([Expectation.argv("date").pipe(Expectation.times(2))])))
  )

  it.effect("unordered: the first expectation in the list that matches and has uses left serves", () =>
    Effect.gen(function* () {
      expect(yield* Command.string(Command.make("git", "log"))).toBe("exact\n")
      expect(yield* Command.string(Command.make("git", "log"))).toBe("prefix\n")
      expect(yield* Command.string(Command.make("git", "status"))).toBe("prefix\n")
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layer([
          Expectation.argv("git", "log").pipe(Expectation.stdout("exact\n")),
          Expectation.argvPrefix("git").pipe(Expectation.stdout("prefix\n"), Expectation.anyTimes)
        ])
      )
    )
  )

  it.effect("ordered: commands must come in the listed order", () =>
    Effect.gen(function* () {
      yield* Command.run(Command.make("git", "init"))
      const defect = yield* defectOf(Command.run(Command.make("git", "log")))
      expect((defect as Error).message).toBe(
        [
          "Unexpected command: git log",
          "  next in order: argv: git commit -m first (expected once, used 0 times)",
          "  closest expectations:",
          "    1. argv: git log (expected once, used 0 times)",
          "    2. argv: git init (expected once, used 1 time)",
          "    3. argv: git commit -m first (expected once, used 0 times)"
        ].join("\n")
      )
      yield* Effect.flip(TestCommandExecutor.verify)
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layer(
          [
            Expectation.argv("git", "init"),
            Expectation.argv("git", "commit", "-m", "first"),
            Expectation.argv("git", "log")
          ],
          { ordered: true }
        )
      )
    )
  )

  it.effect("ordered: an expectation repeats up to its maximum, and optional ones may be skipped", () =>
    Effect.gen(function* () {
      yield* Command.run(Command.make("fetch"))
      yield* Command.run(Command.make("fetch"))
      yield* Command.run(Command.make("build"))
      const defect = yield* defectOf(Command.run(Command.make("fetch")))
      expect((defect as Error).message).toContain("next in order: argv: deploy (expected once, used 0 times)")
      yield* Command.run(Command.make("deploy"))
      const error = yield* Effect.flip(TestCommandExecutor.verify)
      expect(error.unmet).toEqual([])
      expect(error.unexpected.map((u) => u.command)).toEqual(["fetch"])
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layer(
          [
            Expectation.argv("fetch").pipe(Expectation.times(2)),
            Expectation.argv("lint").pipe(Expectation.anyTimes),
            Expectation.argv("build"),
            Expectation.argv("deploy")
          ],
          { ordered: true }
        )
      )
    )
  )

  it.effect("ordered: a step not yet run its minimum blocks the next one", () =>
    Effect.gen(function* () {
      yield* Command.run(Command.make("fetch"))
      const defect = yield* defectOf(Command.run(Command.make("build")))
      expect((defect as Error).message).toContain("next in order: argv: fetch (expected 2 times, used 1 time)")
      yield* Effect.flip(TestCommandExecutor.verify)
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layer([Expectation.argv("fetch").pipe(Expectation.times(2)), Expectation.argv("build")], {
          ordered: true
        })
      )
    )
  )
})

describe("layerEffect", () => {
  class Workspace extends Effect.Tag("test/Workspace")<Workspace, { readonly root: string }>() {}

  it.effect("builds expectations from services", () =>
    Effect.gen(function* () {
      expect(yield* Command.string(Command.make("ls", "/work/space"))).toBe("README\n")
    }).pipe(
      Effect.provide(
        TestCommandExecutor.layerEffect(
          Effect.map(Workspace, ({ root }) => [Expectation.argv("ls", root).pipe(Expectation.stdout("README\n"))])
        )
      ),
      Effect.provideService(Workspace, { root: "/work/space" })
    )
  )
})

describe("runs", () => {
  it.effect("records each run's expectation, stdin, signals and status, under a pid no real process can have", () =>
    Effect.gen(function* () {
      yield* Command.run(Command.make("tee", "/dev/null").pipe(Command.feed("hello")))
      const [run] = yield* TestCommandExecutor.runs
      expect(run!.expectation).toBe("argv: tee /dev/null (expected once)")
      expect(run!.stdin).toBe("hello")
      expect(run!.signals).toEqual([])
      expect(Equal.equals(run!.status, Option.some(ExitStatus.Exited({ code: 0 })))).toBe(true)
      expect(run!.pid).toBeGreaterThan(4_194_304)
      expect(existsSync(`/proc/${run!.pid}`)).toBe(false)
    }).pipe(Effect.provide(TestCommandExecutor.layer([Expectation.argv("tee", "/dev/null")])))
  )
})
