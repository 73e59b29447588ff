import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Command, CommandError, CommandExecutor, ExitStatus, Pipeline, Stdio } from "@tether/command"
import { NodeCommandExecutor } from "@tether/platform-node"
import { it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { describe, expect } from "vitest"
import { tempDir, timed } from "./support.js"

const sh = (script: string) => Command.make("sh", "-c", script)

const MiB = 1024 * 1024

/**
 * The same behaviours under the Node executor's OS pipes and under the fallback every backend without
 * `startPipeline` gets: the stages' own `start`, connected through streams.
 */
const executors = [
  { name: "connected by OS pipes", layer: NodeCommandExecutor.layer },
  {
    name: "connected through streams (startThroughStreams)",
    layer: Layer.succeed(CommandExecutor.CommandExecutor, { start: NodeCommandExecutor.make.start })
  }
]

/** Records unhandled rejections and uncaught exceptions while an effect runs. */
const watchUnhandled = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const seen: Array<unknown> = []
      const listener = (error: unknown) => seen.push(error)
      process.on("unhandledRejection", listener)
      process.on("uncaughtException", listener)
      return { seen, listener }
    }),
    ({ seen }) =>
      self.pipe(
        // A late 'error' event needs a turn of the event loop to surface.
        Effect.tap(() => Effect.sleep("50 millis")),
        Effect.map((value) => ({ value, seen }))
      ),
    ({ listener }) =>
      Effect.sync(() => {
        process.off("unhandledRejection", listener)
        process.off("uncaughtException", listener)
      })
  )

describe.each(executors)("pipelines $name", ({ layer }) => {
  describe("SIGPIPE of a stage before the last is not a failure", () => {
    it.live("yes | head -n 1 returns y and succeeds", () =>
      Effect.gen(function* () {
        const out = yield* Command.string(Pipeline.make(Command.make("yes"), Command.make("head", "-n", "1")))
        expect(out).toBe("y\n")
      }).pipe(Effect.provide(layer))
    )

    it.scopedLive("yes dies of SIGPIPE, and the pipeline's status is still success", () =>
      Effect.gen(function* () {
        const process = yield* Command.start(Pipeline.make(Command.make("yes"), Command.make("head", "-n", "1")))
        expect(yield* process.wait).toEqual(ExitStatus.Exited({ code: 0 }))
        expect(yield* process.stages[0]!.wait).toEqual(ExitStatus.Signaled({ signal: "SIGPIPE", coreDumped: false }))
      }).pipe(Effect.provide(layer))
    )

    it.scoped("cat of an 8 MiB file into head -c 10 returns 10 bytes and succeeds", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const file = join(dir, "big")
        writeFileSync(file, new Uint8Array(8 * MiB).fill(97))
        const out = yield* Command.string(Pipeline.make(Command.make("cat", file), Command.make("head", "-c", "10")))
        expect(out).toBe("a".repeat(10))
      }).pipe(Effect.provide(layer))
    )

    it.live("seq 1 100000000 | head -n 2 returns two lines without waiting for seq to finish", () =>
      Effect.gen(function* () {
        const { exit, ms } = yield* timed(
          Command.string(Pipeline.make(Command.make("seq", "1", "100000000"), Command.make("head", "-n", "2")))
        )
        expect(yield* exit).toBe("1\n2\n")
        expect(ms).toBeLessThan(10_000)
      }).pipe(Effect.provide(layer))
    )

    it.live("a shell loop echoing into head -n 1 succeeds", () =>
      Effect.gen(function* () {
        const out = yield* Command.string(
          Pipeline.make(sh("while :; do echo loop; done"), Command.make("head", "-n", "1"))
        )
        expect(out).toBe("loop\n")
      }).pipe(Effect.provide(layer))
    )

    it.live("twenty pipelines started at once all end: no stage holds another pipeline's pipe open", () =>
      Effect.gen(function* () {
        const yesHead = Pipeline.make(Command.make("yes"), Command.make("head", "-n", "1"))
        const outs = yield* Effect.all(
          Array.from({ length: 20 }, () => Command.string(yesHead)),
          { concurrency: "unbounded" }
        ).pipe(Effect.timeout("20 seconds"))
        expect(outs).toEqual(Array.from({ length: 20 }, () => "y\n"))
      }).pipe(Effect.provide(layer))
    )

    it.live("SIGPIPE of the last stage is a failure", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Command.run(Pipeline.make(Command.make("true"), sh("kill -PIPE $$"))))
        expect(error).toBeInstanceOf(CommandError.SignalError)
        expect(error).toMatchObject({ signal: "SIGPIPE", command: "sh -c 'kill -PIPE $$'", pipeline: { stage: 2 } })
      }).pipe(Effect.provide(layer))
    )

    it.live("a stage before the last killed by SIGTERM is a failure", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Command.run(Pipeline.make(sh("kill -TERM $$"), Command.make("cat"))))
        expect(error).toBeInstanceOf(CommandError.SignalError)
        expect(error).toMatchObject({ signal: "SIGTERM", command: "sh -c 'kill -TERM $$'", pipeline: { stage: 1 } })
      }).pipe(Effect.provide(layer))
    )
  })

  describe("pipefail: the error names the failing stage", () => {
    it.live("false | cat fails naming false as stage 1", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Command.run(Pipeline.make(Command.make("false"), Command.make("cat"))))
        expect(error).toBeInstanceOf(CommandError.ExitCodeError)
        expect(error).toMatchObject({
          command: "false",
          exitCode: 1,
          pipeline: { pipeline: "false | cat", stage: 1, others: [] }
        })
        expect(error.message).toContain("(false)")
        expect(error.message).toContain("stage 1 of (false | cat)")
      }).pipe(Effect.provide(layer))
    )

    it.live("the error carries the failing stage's stderr tail, not another stage's", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(
          Command.string(Pipeline.make(sh("echo first-stage-broke >&2; exit 3"), sh("cat; echo second-stage-fine >&2")))
        )
        expect(error).toMatchObject({ _tag: "ExitCodeError", exitCode: 3, stderr: "first-stage-broke\n" })
        expect(error.message).toContain("first-stage-broke")
      }).pipe(Effect.provide(layer))
    )

    for (const position of [1, 2, 3]) {
      it.live(`a failing stage ${position} of 3 is named by position, command, status and stderr`, () =>
        Effect.gen(function* () {
          const failing = sh(`cat; echo "stage ${position} broke" >&2; exit 7`)
          const stages = [1, 2, 3].map((i) => (i === position ? failing : Command.make("cat")))
          const target = Pipeline.make(stages[0]!, stages[1]!, stages[2]!)
          const error = yield* Effect.flip(Command.string(target))
          expect(error).toBeInstanceOf(CommandError.ExitCodeError)
          expect(error).toMatchObject({
            command: Command.toString(failing),
            exitCode: 7,
            stderr: `stage ${position} broke\n`,
            pipeline: { pipeline: Pipeline.toString(target), stage: position, others: [] }
          })
        }).pipe(Effect.provide(layer))
      )
    }

    it.live("with several failing stages the first is named and the others listed", () =>
      Effect.gen(function* () {
        const target = Pipeline.make(
          sh("exit 3"),
          Command.make("cat"),
          sh("cat >/dev/null; exit 5"),
          sh("kill -TERM $$")
        )
        const error = yield* Effect.flip(Command.run(target))
        expect(error).toMatchObject({ _tag: "ExitCodeError", command: "sh -c 'exit 3'", exitCode: 3 })
        expect(error).toMatchObject({
          pipeline: {
            stage: 1,
            others: [
              "stage 3 (sh -c 'cat >/dev/null; exit 5'): exit status 5",
              "stage 4 (sh -c 'kill -TERM $$'): signal SIGTERM"
            ]
          }
        })
        expect(error.message).toContain("also failed: stage 3")
      }).pipe(Effect.provide(layer))
    )

    it.live("stream fails at its end naming the failing stage", () =>
      Effect.gen(function* () {
        const target = Pipeline.make(sh("echo data; exit 4"), Command.make("cat"))
        const collected: Array<string> = []
        const error = yield* Effect.flip(
          Stream.runForEach(Command.streamLines(target), (line) => Effect.sync(() => collected.push(line)))
        )
        expect(collected).toEqual(["data"])
        expect(error).toMatchObject({ _tag: "ExitCodeError", exitCode: 4, pipeline: { stage: 1 } })
      }).pipe(Effect.provide(layer))
    )
  })

  describe("every runner accepts a pipeline", () => {
    const sorted = Pipeline.make(sh("printf 'b\\na\\n'"), Command.make("sort"))

    it.live("run", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const file = join(dir, "out")
        yield* Command.run(Pipeline.make(Command.make("echo", "hi"), sh(`cat > ${file}`)))
        expect(readFileSync(file, "utf8")).toBe("hi\n")
      }).pipe(Effect.scoped, Effect.provide(layer))
    )

    it.live("exitCode returns the first failing stage's code", () =>
      Effect.gen(function* () {
        expect(yield* Command.exitCode(Pipeline.make(sh("exit 4"), Command.make("true")))).toBe(4)
        expect(yield* Command.exitCode(Pipeline.make(Command.make("true"), sh("exit 5")))).toBe(5)
        expect(yield* Command.exitCode(Pipeline.make(Command.make("yes"), Command.make("head", "-n", "1")))).toBe(0)
      }).pipe(Effect.provide(layer))
    )

    it.live("status returns the pipefail status", () =>
      Effect.gen(function* () {
        expect(yield* Command.status(Pipeline.make(sh("exit 6"), sh("exit 2")))).toEqual(ExitStatus.Exited({ code: 6 }))
        expect(yield* Command.status(Pipeline.make(Command.make("true"), sh("kill -KILL $$")))).toEqual(
          ExitStatus.Signaled({ signal: "SIGKILL", coreDumped: false })
        )
      }).pipe(Effect.provide(layer))
    )

    it.live("string", () =>
      Effect.gen(function* () {
        expect(yield* Command.string(sorted)).toBe("a\nb\n")
      }).pipe(Effect.provide(layer))
    )

    it.live("bytes", () =>
      Effect.gen(function* () {
        const bytes = yield* Command.bytes(Pipeline.make(sh("printf '\\001\\377'"), Command.make("cat")))
        expect(Array.from(bytes)).toEqual([1, 255])
      }).pipe(Effect.provide(layer))
    )

    it.live("lines", () =>
      Effect.gen(function* () {
        expect(yield* Command.lines(sorted)).toEqual(["a", "b"])
      }).pipe(Effect.provide(layer))
    )

    it.live("output captures the last stage's stdout and stderr", () =>
      Effect.gen(function* () {
        const result = yield* Command.output(
          Pipeline.make(sh("echo hi; echo not-this >&2"), sh("cat; echo warn >&2; exit 3"))
        )
        expect(result).toEqual({ status: ExitStatus.Exited({ code: 3 }), stdout: "hi\n", stderr: "warn\n" })
      }).pipe(Effect.provide(layer))
    )

    it.live("json", () =>
      Effect.gen(function* () {
        const value = yield* Command.json(Schema.Struct({ n: Schema.Number }))(
          Pipeline.make(Command.make("echo", '{"n": 41}'), sh("sed s/41/42/"))
        )
        expect(value).toEqual({ n: 42 })
      }).pipe(Effect.provide(layer))
    )

    it.live("stream", () =>
      Effect.gen(function* () {
        const chunks = yield* Stream.runCollect(
          Command.stream(Pipeline.make(Command.make("head", "-c", String(MiB), "/dev/zero"), Command.make("cat")))
        )
        expect(Chunk.reduce(chunks, 0, (n, chunk) => n + chunk.length)).toBe(MiB)
      }).pipe(Effect.provide(layer))
    )

    it.live("streamLines", () =>
      Effect.gen(function* () {
        expect(Chunk.toArray(yield* Stream.runCollect(Command.streamLines(sorted)))).toEqual(["a", "b"])
      }).pipe(Effect.provide(layer))
    )

    it.scopedLive("start writes to the first stage and reads the last", () =>
      Effect.gen(function* () {
        const process = yield* Command.start(
          Pipeline.make(
            Command.make("tr", "a-z", "A-Z").pipe(Command.stdin(Stdio.pipe)),
            Command.make("rev").pipe(Command.stdout(Stdio.pipe))
          )
        )
        const [, out] = yield* Effect.all(
          [
            Stream.run(Stream.make("abc\n"), process.stdin),
            Stream.runCollect(Stream.decodeText(process.stdout)).pipe(Effect.map(Chunk.join("")))
          ],
          { concurrency: 2 }
        )
        expect(out).toBe("CBA\n")
        expect(yield* process.wait).toEqual(ExitStatus.Exited({ code: 0 }))
      }).pipe(Effect.provide(layer))
    )
  })

  describe("stdio: stdin to the first stage, stdout from the last, stderr per stage", () => {
    it.live("a feed goes to the first stage", () =>
      Effect.gen(function* () {
        const out = yield* Command.string(
          Pipeline.make(Command.make("tr", "a-z", "A-Z").pipe(Command.feed("hello\n")), Command.make("rev"))
        )
        expect(out).toBe("OLLEH\n")
      }).pipe(Effect.provide(layer))
    )

    it.live("a feed of 8 MiB into a first stage that reads one byte succeeds with nothing unhandled", () =>
      Effect.gen(function* () {
        const { seen, value } = yield* watchUnhandled(
          Command.string(
            Pipeline.make(
              Command.make("head", "-c", "1").pipe(Command.feed(new Uint8Array(8 * MiB).fill(122))),
              Command.make("cat")
            )
          )
        )
        expect(value).toBe("z")
        expect(seen).toEqual([])
      }).pipe(Effect.provide(layer))
    )

    it.live("a file stdin on the first stage and a file stdout on the last", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const input = join(dir, "in")
        const output = join(dir, "out")
        writeFileSync(input, "one\ntwo\n")
        yield* Command.run(
          Pipeline.make(
            Command.make("cat").pipe(Command.stdin(Stdio.file(input))),
            Command.make("tac").pipe(Command.stdout(Stdio.file(output)))
          )
        )
        expect(readFileSync(output, "utf8")).toBe("two\none\n")
      }).pipe(Effect.scoped, Effect.provide(layer))
    )

    it.live("each stage's stderr goes where that stage says", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const first = join(dir, "first")
        const second = join(dir, "second")
        yield* Command.run(
          Pipeline.make(
            sh("echo one >&2; echo data").pipe(Command.stderr(Stdio.file(first))),
            sh("cat >/dev/null; echo two >&2").pipe(Command.stderr(Stdio.file(second)))
          )
        )
        expect([readFileSync(first, "utf8"), readFileSync(second, "utf8")]).toEqual(["one\n", "two\n"])
      }).pipe(Effect.scoped, Effect.provide(layer))
    )

    it.live("the last stage fails with its own stderr tail while an earlier stage also wrote to stderr", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(
          Command.run(Pipeline.make(sh("echo early >&2; echo x"), sh("cat >/dev/null; echo late >&2; exit 2")))
        )
        expect(error).toMatchObject({ _tag: "ExitCodeError", stderr: "late\n", pipeline: { stage: 2 } })
      }).pipe(Effect.provide(layer))
    )

    it.live("mergeStderr on an inner stage sends its stderr into the pipe", () =>
      Effect.gen(function* () {
        const out = yield* Command.string(
          Pipeline.make(sh("echo out; echo err >&2").pipe(Command.mergeStderr), Command.make("sort"))
        )
        expect(out).toBe("err\nout\n")
      }).pipe(Effect.provide(layer))
    )

    it.live("an inner stage's piped stderr that nobody reads does not block the pipeline", () =>
      Effect.gen(function* () {
        const out = yield* Command.string(
          Pipeline.make(
            sh(`head -c ${4 * MiB} /dev/zero >&2; echo done`).pipe(Command.stderr(Stdio.pipe)),
            Command.make("cat")
          )
        ).pipe(Effect.timeout("10 seconds"))
        expect(out).toBe("done\n")
      }).pipe(Effect.provide(layer))
    )

    it.scoped("an inner stage with stdout set is InvalidCommand naming the stage, and nothing runs", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const marker = join(dir, "ran")
        const error = yield* Effect.flip(
          Command.run(
            Pipeline.make(
              sh(`touch ${marker}`),
              Command.make("cat").pipe(Command.stdout(Stdio.file(join(dir, "x")))),
              Command.make("cat")
            )
          )
        )
        expect(error).toBeInstanceOf(CommandError.InvalidCommand)
        expect((error as CommandError.InvalidCommand).problems).toEqual([
          `stage 2 (cat): its stdout is set to file ${join(dir, "x")}, but it feeds the next stage`
        ])
        expect(existsSync(marker)).toBe(false)
      }).pipe(Effect.provide(layer))
    )

    it.scoped("an inner stage with stdin set is InvalidCommand naming the stage, and nothing runs", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const marker = join(dir, "ran")
        const error = yield* Effect.flip(
          Command.run(Pipeline.make(sh(`touch ${marker}`), Command.make("cat").pipe(Command.feed("text"))))
        )
        expect(error).toBeInstanceOf(CommandError.InvalidCommand)
        expect((error as CommandError.InvalidCommand).problems).toEqual([
          "stage 2 (cat): its stdin is set to fed bytes, but it reads the previous stage's output"
        ])
        expect(existsSync(marker)).toBe(false)
      }).pipe(Effect.provide(layer))
    )
  })
})
