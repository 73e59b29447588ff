import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Command } from "@tether/command"
import { NodeCommandExecutor } from "@tether/platform-node"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { ExpectationError, Recording, TestCommandExecutor } from "../src/index.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync("/tmp/testing-helper-")),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const recording = (path: string) => Recording.record(path).pipe(Layer.provide(NodeCommandExecutor.layer))

const defectOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    const defect = Exit.isFailure(exit) ? Cause.dieOption(exit.cause) : Option.none()
    if (Option.isNone(defect)) throw new Error(`expected a defect, got ${String(exit)}`)
    return defect.value as Error
  })

const script = "cat; printf 'warn\\n' >&2; exit 2"
const quotedScript = `'${script.replace(/'/g, "'\\''")}'`
const mismatchMessage = `Command (sh -c ${quotedScript}) expected on stdin "to upper\\n", received "something else\\n"`

/** The same program body, run once against real processes and once against the fixture. */
const body = Effect.gen(function* () {
  const output = yield* Command.output(Command.make("sh", "-c", script).pipe(Command.feed("to upper\n")))
  const binary = yield* Command.bytes(Command.make("printf", "\\377\\376"))
  yield* Command.run(Command.make("true", Redacted.make("s3cret")))
  const failure = yield* Effect.flip(Command.run(Command.make("sh", "-c", "echo 'no such thing' >&2; exit 1")))
  return { output, binary: Array.from(binary), failure: failure.message }
})

describe("Recording", () => {
  it.scopedLive("record writes each run of a real executor to a JSON fixture, secrets left out", () =>
    Effect.gen(function* () {
      const path = join(yield* tempDir, "fixtures", "runs.json")
      yield* Effect.provide(body, recording(path))
      const text = readFileSync(path, "utf-8")
      expect(text).not.toContain("s3cret")
      expect(JSON.parse(text)).toEqual({
        version: 1,
        runs: [
          {
            command: `sh -c ${quotedScript}`,
            argv: ["sh", "-c", script],
            stdin: "to upper\n",
            stdout: "to upper\n",
            stderr: "warn\n",
            status: { _tag: "Exited", code: 2 },
            stopped: false
          },
          {
            command: "printf '\\377\\376'",
            argv: ["printf", "\\377\\376"],
            stdin: "",
            stdout: { base64: "//4=" },
            stderr: "",
            status: { _tag: "Exited", code: 0 },
            stopped: false
          },
          {
            command: "true <redacted>",
            argv: ["true", null],
            stdin: "",
            stdout: "",
            stderr: "",
            status: { _tag: "Exited", code: 0 },
            stopped: false
          },
          {
            command: "sh -c 'echo '\\''no such thing'\\'' >&2; exit 1'",
            argv: ["sh", "-c", "echo 'no such thing' >&2; exit 1"],
            stdin: "",
            stdout: "",
            stderr: "no such thing\n",
            status: { _tag: "Exited", code: 1 },
            stopped: false
          }
        ]
      })
    })
  )

  it.scopedLive("replay gives the program the same answers the real processes gave", () =>
    Effect.gen(function* () {
      const path = join(yield* tempDir, "runs.json")
      const recorded = yield* Effect.provide(body, recording(path))
      const replayed = yield* Effect.provide(body, Recording.replay(path))
      expect(replayed).toEqual(recorded)
      expect(recorded.output.stdout).toBe("to upper\n")
      expect(recorded.binary).toEqual([0xff, 0xfe])
    })
  )

  it.scopedLive("a run the caller stopped replays as a process that runs until it is stopped again", () =>
    Effect.gen(function* () {
      const path = join(yield* tempDir, "runs.json")
      const slow = Effect.flip(Command.run(Command.make("sleep", "30").pipe(Command.timeout("200 millis"))))
      expect((yield* Effect.provide(slow, recording(path)))._tag).toBe("TimeoutError")
      const [run] = JSON.parse(readFileSync(path, "utf-8")).runs
      expect(run.status).toEqual({ _tag: "Signaled", signal: "SIGTERM", coreDumped: false })
      expect(run.stopped).toBe(true)
      expect((yield* Effect.provide(slow, Recording.replay(path)))._tag).toBe("TimeoutError")
    })
  )

  it.scopedLive("replay is strict: other commands, other stdin and missing runs all fail", () =>
    Effect.gen(function* () {
      const path = join(yield* tempDir, "runs.json")
      yield* Effect.provide(body, recording(path))
      const test = Effect.gen(function* () {
        const unexpected = yield* defectOf(Command.run(Command.make("sh", "-c", "exit 2")))
        expect(unexpected).toBeInstanceOf(ExpectationError.UnexpectedCommand)
        expect(unexpected.message).toBe(
          [
            "Unexpected command: sh -c 'exit 2'",
            `  next in order: recorded: sh -c ${quotedScript} (expected once, used 0 times)`,
            "  closest expectations:",
            `    1. recorded: sh -c ${quotedScript} (expected once, used 0 times)`,
            "    2. recorded: sh -c 'echo '\\''no such thing'\\'' >&2; exit 1' (expected once, used 0 times)",
            "    3. recorded: true <redacted> (expected once, used 0 times)"
          ].join("\n")
        )
        const mismatch = yield* defectOf(
          Command.output(Command.make("sh", "-c", script).pipe(Command.feed("something else\n")))
        )
        expect(mismatch.message).toBe(mismatchMessage)
      })
      const defect = yield* defectOf(Effect.provide(test, Recording.replay(path)))
      expect(defect).toBeInstanceOf(ExpectationError.VerificationError)
      expect(defect.message.split("\n")).toEqual([
        "Command expectations were not met:",
        "  unmet: recorded: printf '\\377\\376' (expected once, used 0 times)",
        "  unmet: recorded: true <redacted> (expected once, used 0 times)",
        "  unmet: recorded: sh -c 'echo '\\''no such thing'\\'' >&2; exit 1' (expected once, used 0 times)",
        "  unexpected: sh -c 'exit 2'",
        `  stdin: ${mismatchMessage}`
      ])
    })
  )

  it.scopedLive("a fixture that is not one fails the layer with FixtureError", () =>
    Effect.gen(function* () {
      const path = join(yield* tempDir, "broken.json")
      writeFileSync(path, JSON.stringify({ version: 2, runs: [] }))
      const error = yield* Effect.flip(Effect.provide(Effect.void, Recording.replay(path)))
      expect(error._tag).toBe("FixtureError")
      expect(error.message).toContain(`Cannot use the command fixture ${path}:`)
      expect(error.message).toContain("version")
      const missing = yield* Effect.flip(Effect.provide(Effect.void, Recording.replay(join(path, "nope"))))
      expect(missing.message).toContain("ENOTDIR")
    })
  )

  it.live("recorded expectations can be mixed into a hand-written list", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync("/tmp/testing-helper-")
      try {
        const path = join(dir, "runs.json")
        yield* Effect.provide(Command.run(Command.make("true")), recording(path))
        const expectations = yield* Recording.expectations(path)
        const calls = yield* Effect.gen(function* () {
          yield* Command.run(Command.make("true"))
          return yield* TestCommandExecutor.calls
        }).pipe(Effect.provide(TestCommandExecutor.layer(expectations)))
        expect(calls.map(String)).toEqual(["true"])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  )
})
