import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { Command, CommandError, Stdio } from "@tether/command"
import { it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import { describe, expect } from "vitest"
import { sh, groupMembers, isAlive, layer, tempDir, timed, unhandledDuring } from "./support.js"

const MiB = 1024 * 1024

describe("unread pipes never block the child", () => {
  it.live("exitCode returns 0 for a child writing 1 MiB to stdout nobody reads", () =>
    Effect.gen(function* () {
      const code = yield* Command.exitCode(Command.make("head", "-c", String(MiB), "/dev/zero"))
      expect(code).toBe(0)
    }).pipe(Effect.provide(layer))
  )

  it.live("exitCode returns 0 for a child writing 1 MiB to its default stderr", () =>
    Effect.gen(function* () {
      const code = yield* Command.exitCode(sh(`head -c ${MiB} /dev/zero >&2`))
      expect(code).toBe(0)
    }).pipe(Effect.provide(layer))
  )

  it.live("run drains a stdout explicitly piped but never read", () =>
    Effect.gen(function* () {
      const code = yield* Command.exitCode(
        Command.make("head", "-c", String(4 * MiB), "/dev/zero").pipe(Command.stdout(Stdio.pipe))
      )
      expect(code).toBe(0)
    }).pipe(Effect.provide(layer))
  )

  it.live("run drains a stderr explicitly piped but never read", () =>
    Effect.gen(function* () {
      yield* Command.run(sh(`head -c ${4 * MiB} /dev/zero >&2`).pipe(Command.stderr(Stdio.pipe)))
    }).pipe(Effect.provide(layer))
  )
})

describe("reading one stream while the child floods the other", () => {
  it.live("string returns stdout while the child writes 10 MB to stderr first", () =>
    Effect.gen(function* () {
      const out = yield* Command.string(sh("head -c 10000000 /dev/zero >&2; echo done"))
      expect(out).toBe("done\n")
    }).pipe(Effect.provide(layer))
  )

  it.live("output reads stderr while the child writes 10 MB to stdout first", () =>
    Effect.gen(function* () {
      const result = yield* Command.output(sh("head -c 10000000 /dev/zero; echo done >&2"))
      expect(result.stdout.length).toBe(10_000_000)
      expect(result.stderr).toBe("done\n")
    }).pipe(Effect.provide(layer))
  )

  it.live("output captures both streams when the child floods them alternately", () =>
    Effect.gen(function* () {
      const script = `for i in 1 2 3 4; do head -c ${2 * MiB} /dev/zero; head -c ${2 * MiB} /dev/zero >&2; done`
      const result = yield* Command.output(sh(script))
      expect(result.stdout.length).toBe(8 * MiB)
      expect(result.stderr.length).toBe(8 * MiB)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("start lets the caller read stdout while a piped stderr is flooded", () =>
    Effect.gen(function* () {
      // Reading stdout alone would stall once stderr's pipe filled; both streams are read concurrently.
      const process = yield* Command.start(
        sh(`head -c ${4 * MiB} /dev/zero >&2; echo done`).pipe(Command.stdout(Stdio.pipe), Command.stderr(Stdio.pipe))
      )
      const [out, err] = yield* Effect.all(
        [
          Stream.decodeText(process.stdout).pipe(Stream.mkString),
          Stream.runFold(process.stderr, 0, (n, chunk) => n + chunk.length)
        ],
        { concurrency: 2 }
      )
      expect(out).toBe("done\n")
      expect(err).toBe(4 * MiB)
      expect(yield* process.exitCode).toBe(0)
    }).pipe(Effect.provide(layer))
  )
})

describe("stdin is /dev/null unless set", () => {
  it.live("string of cat returns the empty string at once", () =>
    Effect.gen(function* () {
      const { exit, ms } = yield* timed(Command.string(Command.make("cat")))
      expect(exit).toEqual(Exit.succeed(""))
      expect(ms).toBeLessThan(5000)
    }).pipe(Effect.provide(layer))
  )

  it.live("a shell read sees end of file", () =>
    Effect.gen(function* () {
      const out = yield* Command.string(sh('if read line; then echo "got $line"; else echo eof; fi'))
      expect(out).toBe("eof\n")
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a started cat exits by itself without anyone closing its stdin", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(Command.make("cat"))
      expect(yield* process.wait.pipe(Effect.timeout("5 seconds"))).toEqual({ _tag: "Exited", code: 0 })
    }).pipe(Effect.provide(layer))
  )
})

describe("a background grandchild holding a pipe does not hold the caller", () => {
  it.live("string returns once the leader exits while a grandchild keeps stdout open, then no one is left", () =>
    Effect.gen(function* () {
      const { exit, ms } = yield* timed(Command.string(sh("sleep 30 & echo started $$ $!")))
      expect(ms).toBeLessThan(1000)
      const [word, leader, grandchild] = Exit.getOrElse(exit, () => "")
        .trim()
        .split(" ")
      expect(word).toBe("started")
      expect(groupMembers(Number(leader))).toEqual([])
      expect(isAlive(Number(grandchild))).toBe(false)
    }).pipe(Effect.provide(layer))
  )

  it.live("string returns while a grandchild holds only the default stderr", () =>
    Effect.gen(function* () {
      const { exit, ms } = yield* timed(Command.string(sh("sleep 30 >/dev/null & echo started $$ $!")))
      expect(ms).toBeLessThan(2000)
      const [word, leader, grandchild] = Exit.getOrElse(exit, () => "")
        .trim()
        .split(" ")
      expect(word).toBe("started")
      expect(groupMembers(Number(leader))).toEqual([])
      expect(isAlive(Number(grandchild))).toBe(false)
    }).pipe(Effect.provide(layer))
  )

  it.live("run fails promptly with the stderr tail while a grandchild holds stderr", () =>
    Effect.gen(function* () {
      const { exit, ms } = yield* timed(Command.run(sh("sleep 30 >/dev/null & echo oops >&2; exit 4")))
      expect(ms).toBeLessThan(2000)
      const error = yield* Effect.flip(exit)
      expect(error).toBeInstanceOf(CommandError.ExitCodeError)
      expect(error).toMatchObject({ exitCode: 4, stderr: "oops\n" })
    }).pipe(Effect.provide(layer))
  )

  it.live("string returns while a grandchild holding stdout keeps writing to it", () =>
    Effect.gen(function* () {
      const { exit, ms } = yield* timed(
        Command.string(sh("while :; do echo more; sleep 0.005; done & echo started $!")).pipe(
          Effect.timeout("10 seconds")
        )
      )
      expect(ms).toBeLessThan(5000)
      const out = yield* exit
      // The grandchild may write before the leader does.
      const started = out.split("\n").find((line) => line.startsWith("started "))
      expect(started).toBeDefined()
      expect(isAlive(Number(started!.split(" ")[1]))).toBe(false)
    }).pipe(Effect.provide(layer))
  )

  it.live("run fails promptly while a grandchild holding stderr keeps writing to it", () =>
    Effect.gen(function* () {
      const { exit, ms } = yield* timed(
        Command.run(sh("while :; do echo more >&2; sleep 0.005; done & exit 6")).pipe(Effect.timeout("10 seconds"))
      )
      expect(ms).toBeLessThan(5000)
      expect(yield* Effect.flip(exit)).toMatchObject({ _tag: "ExitCodeError", exitCode: 6 })
    }).pipe(Effect.provide(layer))
  )

  it.live("a slow consumer still gets all the leader wrote before it exited", () =>
    Effect.gen(function* () {
      // What the leader leaves in the pipe takes the consumer longer to read than the drain limit.
      const total = yield* Command.stream(Command.make("head", "-c", "200000", "/dev/zero")).pipe(
        Stream.tap(() => Effect.sleep("400 millis")),
        Stream.runFold(0, (n, chunk) => n + chunk.length)
      )
      expect(total).toBe(200_000)
    }).pipe(Effect.provide(layer))
  )

  it.live("output returns while a grandchild holds both piped streams", () =>
    Effect.gen(function* () {
      const { exit, ms } = yield* timed(Command.output(sh("sleep 30 & echo out; echo err >&2")))
      expect(ms).toBeLessThan(2000)
      const result = yield* exit
      expect([result.stdout, result.stderr]).toEqual(["out\n", "err\n"])
    }).pipe(Effect.provide(layer))
  )

  it.live("streamLines ends once the leader exits while a grandchild keeps stdout open", () =>
    Effect.gen(function* () {
      const { exit, ms } = yield* timed(Stream.runCollect(Command.streamLines(sh("sleep 30 & echo $!"))))
      expect(ms).toBeLessThan(2000)
      const lines = Chunk.toArray(yield* exit)
      expect(lines.length).toBe(1)
      expect(isAlive(Number(lines[0]))).toBe(false)
    }).pipe(Effect.provide(layer))
  )
})

describe("output written just before exit is all received", () => {
  const writer = (stream: "stdout" | "stderr") =>
    Command.make(
      process.execPath,
      "-e",
      `let s = ""; for (let i = 0; i < 20000; i++) s += i + "\\n"; process.${stream}.write(s); process.exit(0)`
    )

  it.live("lines receives every one of 20 000 lines from a child that exits at once", () =>
    Effect.gen(function* () {
      const lines = yield* Command.lines(writer("stdout"))
      expect(lines.length).toBe(20_000)
      expect(lines[0]).toBe("0")
      expect(lines[19_999]).toBe("19999")
    }).pipe(Effect.provide(layer))
  )

  it.live("streamLines receives every one of 20 000 lines from a child that exits at once", () =>
    Effect.gen(function* () {
      const lines = Chunk.toArray(yield* Stream.runCollect(Command.streamLines(writer("stdout"))))
      expect(lines.length).toBe(20_000)
      expect(lines.every((line, i) => line === String(i))).toBe(true)
    }).pipe(Effect.provide(layer))
  )

  it.live("output receives all of stderr from a child that exits at once", () =>
    Effect.gen(function* () {
      const result = yield* Command.output(writer("stderr"))
      const lines = result.stderr.split("\n")
      expect(lines.length).toBe(20_001)
      expect(lines[19_999]).toBe("19999")
    }).pipe(Effect.provide(layer))
  )
})

describe("feeding a child that does not read", () => {
  const eightMiB = new Uint8Array(8 * MiB).fill(120)

  it.live("feeding 8 MiB to true exits 0 with nothing unhandled", () =>
    Effect.gen(function* () {
      const { value, seen } = yield* unhandledDuring(
        Command.exitCode(Command.make("true").pipe(Command.feed(eightMiB)))
      )
      expect(value).toBe(0)
      expect(seen).toEqual([])
    }).pipe(Effect.provide(layer))
  )

  it.live("feeding an 8 MiB stream to a child that reads one byte succeeds", () =>
    Effect.gen(function* () {
      const input = Stream.range(1, 128).pipe(Stream.map(() => new Uint8Array(64 * 1024).fill(121)))
      const { value, seen } = yield* unhandledDuring(
        Command.string(Command.make("head", "-c", "1").pipe(Command.feed(input)))
      )
      expect(value).toBe("y")
      expect(seen).toEqual([])
    }).pipe(Effect.provide(layer))
  )

  it.live("feeding 8 MiB on fd 3 to a child that never reads it exits 0 with nothing unhandled", () =>
    Effect.gen(function* () {
      const { value, seen } = yield* unhandledDuring(
        Command.exitCode(Command.make("true").pipe(Command.fd(3, Stdio.feed(eightMiB))))
      )
      expect(value).toBe(0)
      expect(seen).toEqual([])
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("writing 8 MiB through Process.stdin to a child that exited succeeds", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(Command.make("true").pipe(Command.stdin(Stdio.pipe)))
      yield* process.wait
      const { seen } = yield* unhandledDuring(
        Stream.run(Stream.make(eightMiB.subarray(0, 4 * MiB), eightMiB.subarray(4 * MiB)), process.stdin)
      )
      expect(seen).toEqual([])
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("Process.stdin returns when the child exits mid-write", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(Command.make("head", "-c", "10").pipe(Command.stdin(Stdio.pipe)))
      const sink = Stream.run(Stream.make(eightMiB), process.stdin).pipe(Effect.timeout("5 seconds"))
      yield* sink
      expect(yield* process.exitCode).toBe(0)
    }).pipe(Effect.provide(layer))
  )
})

describe("a timeout fires whatever stdin is", () => {
  it.scopedLive("sleep with a large file as stdin fails with TimeoutError within the bound", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = join(dir, "big")
      writeFileSync(file, new Uint8Array(16 * MiB))
      const { exit, ms } = yield* timed(
        Command.run(Command.make("sleep", "10").pipe(Command.stdin(Stdio.file(file)), Command.timeout("1 second")))
      )
      expect(yield* Effect.flip(exit)).toBeInstanceOf(CommandError.TimeoutError)
      expect(ms).toBeLessThan(3000)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a started cat whose piped stdin nobody closes fails its wait with TimeoutError", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(
        Command.make("cat").pipe(Command.stdin(Stdio.pipe), Command.timeout("300 millis"))
      )
      const { exit, ms } = yield* timed(process.wait)
      expect(yield* Effect.flip(exit)).toBeInstanceOf(CommandError.TimeoutError)
      expect(ms).toBeLessThan(3000)
    }).pipe(Effect.provide(layer))
  )

  it.live("sleep fed 16 MiB it never reads fails with TimeoutError within the bound", () =>
    Effect.gen(function* () {
      const { exit, ms } = yield* timed(
        Command.run(
          Command.make("sleep", "10").pipe(Command.feed(new Uint8Array(16 * MiB)), Command.timeout("1 second"))
        )
      )
      expect(yield* Effect.flip(exit)).toBeInstanceOf(CommandError.TimeoutError)
      expect(ms).toBeLessThan(3000)
    }).pipe(Effect.provide(layer))
  )
})
