import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Command, CommandError, ExitStatus, Stdio } from "@tether/command"
import { it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { describe, expect } from "vitest"
import { eventually, groupMembers, isAlive, killGroup, layer, probe, sh, tempDir, timed } from "./support.js"

const statOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return { state: fields[0]!, ppid: Number(fields[1]), pgrp: Number(fields[2]), session: Number(fields[3]) }
}

const cleanupGroup = (pgid: number) => Effect.addFinalizer(() => Effect.sync(() => killGroup(pgid)))

describe("runners that return after the exit", () => {
  it.live("run succeeds on exit 0", () =>
    Effect.gen(function* () {
      expect(yield* Command.run(Command.make("true"))).toBeUndefined()
    }).pipe(Effect.provide(layer))
  )

  it.live("exitCode returns the exit code", () =>
    Effect.gen(function* () {
      expect(yield* Command.exitCode(sh("exit 7"))).toBe(7)
    }).pipe(Effect.provide(layer))
  )

  it.live("status returns Exited with the code", () =>
    Effect.gen(function* () {
      expect(yield* Command.status(Command.make("true"))).toEqual(ExitStatus.Exited({ code: 0 }))
      expect(yield* Command.status(sh("exit 255"))).toEqual(ExitStatus.Exited({ code: 255 }))
    }).pipe(Effect.provide(layer))
  )

  it.live("string returns stdout as text", () =>
    Effect.gen(function* () {
      expect(yield* Command.string(Command.make("echo", "hello"))).toBe("hello\n")
    }).pipe(Effect.provide(layer))
  )

  it.live("bytes returns stdout as bytes, unchanged", () =>
    Effect.gen(function* () {
      const bytes = yield* Command.bytes(Command.make("printf", "\\000\\377\\200a"))
      expect(Array.from(bytes)).toEqual([0, 255, 128, 97])
    }).pipe(Effect.provide(layer))
  )

  it.live("lines returns stdout split into lines", () =>
    Effect.gen(function* () {
      expect(yield* Command.lines(Command.make("printf", "one\\ntwo\\n"))).toEqual(["one", "two"])
    }).pipe(Effect.provide(layer))
  )

  it.live("output returns status, stdout and stderr without failing on the exit code", () =>
    Effect.gen(function* () {
      const result = yield* Command.output(sh("echo out; echo err >&2; exit 5"))
      expect(result).toEqual({ status: ExitStatus.Exited({ code: 5 }), stdout: "out\n", stderr: "err\n" })
    }).pipe(Effect.provide(layer))
  )

  it.live("output and status fail with TimeoutError when the timeout stops the command", () =>
    Effect.gen(function* () {
      const slow = Command.make("sleep", "5").pipe(Command.timeout("50 millis"))
      expect(yield* Effect.flip(Command.output(slow))).toBeInstanceOf(CommandError.TimeoutError)
      expect(yield* Effect.flip(Command.status(slow))).toBeInstanceOf(CommandError.TimeoutError)
      expect(yield* Effect.flip(Command.exitCode(slow))).toBeInstanceOf(CommandError.TimeoutError)
    }).pipe(Effect.provide(layer))
  )

  it.live("a command that ends before its timeout is not a timeout", () =>
    Effect.gen(function* () {
      expect(yield* Command.string(Command.make("echo", "in time").pipe(Command.timeout("10 seconds")))).toBe(
        "in time\n"
      )
    }).pipe(Effect.provide(layer))
  )

  it.live("output fails with the spawn error when the program cannot start", () =>
    Effect.gen(function* () {
      expect((yield* Effect.flip(Command.output(Command.make("tether-no-such-program"))))._tag).toBe("CommandNotFound")
    }).pipe(Effect.provide(layer))
  )
})

describe("json", () => {
  const Point = Schema.Struct({ x: Schema.Number, y: Schema.Number })

  it.live("decodes stdout with the schema", () =>
    Effect.gen(function* () {
      const point = yield* Command.json(Point)(Command.make("echo", '{"x":1,"y":2}'))
      expect(point).toEqual({ x: 1, y: 2 })
    }).pipe(Effect.provide(layer))
  )

  it.live("fails with OutputDecodeError naming the command when the schema does not match", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.json(Point)(Command.make("echo", '{"x":"one"}')))
      expect(error).toBeInstanceOf(CommandError.OutputDecodeError)
      expect(error.message).toContain(`echo '{"x":"one"}'`)
      expect((error as CommandError.OutputDecodeError).command).toBe(`echo '{"x":"one"}'`)
    }).pipe(Effect.provide(layer))
  )

  it.live("fails with OutputDecodeError when stdout is not JSON", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.json(Point)(Command.make("echo", "not json")))
      expect(error).toBeInstanceOf(CommandError.OutputDecodeError)
      expect(error.message).toContain("echo 'not json'")
    }).pipe(Effect.provide(layer))
  )

  it.live("fails with ExitCodeError, not a decode error, when the command fails", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.json(Point)(sh('echo \'{"x":1,"y":2}\'; exit 1')))
      expect(error._tag).toBe("ExitCodeError")
    }).pipe(Effect.provide(layer))
  )
})

describe("streams", () => {
  it.live("stream emits stdout's bytes", () =>
    Effect.gen(function* () {
      const chunks = yield* Stream.runCollect(Command.stream(Command.make("head", "-c", "300000", "/dev/zero")))
      expect(Chunk.reduce(chunks, 0, (n, chunk) => n + chunk.length)).toBe(300_000)
    }).pipe(Effect.provide(layer))
  )

  it.live("stream emits what was written, then fails with ExitCodeError at its end", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const exit = yield* Command.streamLines(sh("echo one; echo two; echo bad >&2; exit 2")).pipe(
        Stream.runForEach((line) => Effect.sync(() => seen.push(line))),
        Effect.exit
      )
      expect(seen).toEqual(["one", "two"])
      const error = yield* Effect.flip(exit)
      expect(error).toMatchObject({ _tag: "ExitCodeError", exitCode: 2, stderr: "bad\n" })
    }).pipe(Effect.provide(layer))
  )

  it.live("stream fails with SignalError when a signal killed the child", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Stream.runDrain(Command.stream(sh("echo x; kill -TERM $$"))))
      expect(error).toMatchObject({ _tag: "SignalError", signal: "SIGTERM" })
    }).pipe(Effect.provide(layer))
  )

  it.live("a stream can be consumed slowly without losing bytes", () =>
    Effect.gen(function* () {
      const lines = yield* Command.streamLines(Command.make("seq", "1", "2000")).pipe(
        Stream.tap((line) => (Number(line) % 500 === 0 ? Effect.sleep("20 millis") : Effect.void)),
        Stream.runCollect
      )
      expect(Chunk.toArray(lines)).toEqual(Array.from({ length: 2000 }, (_, i) => String(i + 1)))
    }).pipe(Effect.provide(layer))
  )
})

describe("a started process", () => {
  it.scopedLive("leads a process group of its own, and its pid is the child's", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(Command.make(probe).pipe(Command.stdout(Stdio.pipe)))
      const report = JSON.parse(yield* Stream.decodeText(process.stdout).pipe(Stream.mkString)) as {
        pid: number
        pgid: number
      }
      expect(report.pid).toBe(process.pid)
      expect(report.pgid).toBe(process.pid)
      expect(report.pgid).not.toBe(statOf(globalThis.process.pid).pgrp)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("isRunning is true until the child exits, and wait returns its status", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(Command.make("sleep", "0.2"))
      expect(yield* process.isRunning).toBe(true)
      expect(statOf(process.pid).pgrp).toBe(process.pid)
      expect(yield* process.wait).toEqual(ExitStatus.Exited({ code: 0 }))
      expect(yield* process.isRunning).toBe(false)
      expect(yield* process.wait).toEqual(ExitStatus.Exited({ code: 0 }))
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("exitCode returns the code, and fails with SignalError after a signal", () =>
    Effect.gen(function* () {
      const exited = yield* Command.start(sh("exit 9"))
      expect(yield* exited.exitCode).toBe(9)
      const killed = yield* Command.start(Command.make("sleep", "30"))
      yield* killed.kill("SIGKILL")
      expect(yield* Effect.flip(killed.exitCode)).toMatchObject({ _tag: "SignalError", signal: "SIGKILL" })
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("stdin is a Sink whose end is the child's end of file", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(
        Command.make("wc", "-l").pipe(Command.stdin(Stdio.pipe), Command.stdout(Stdio.pipe))
      )
      yield* Stream.run(Stream.make("a\n", "b\n", "c\n"), process.stdin)
      expect(yield* Stream.decodeText(process.stdout).pipe(Stream.mkString)).toBe("3\n")
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("stdin fails with InvalidCommand when stdin is not a pipe", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(Command.make("true"))
      const error = yield* Effect.flip(Stream.run(Stream.make("x"), process.stdin))
      expect(error._tag).toBe("InvalidCommand")
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("kill sends the command's kill signal to the group by default", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(sh("sleep 30 & sleep 30; true").pipe(Command.killSignal("SIGUSR2")))
      yield* cleanupGroup(process.pid)
      expect(yield* eventually(() => groupMembers(process.pid).length === 3)).toBe(true)
      yield* process.kill()
      expect(yield* process.wait).toEqual(ExitStatus.Signaled({ signal: "SIGUSR2", coreDumped: false }))
      expect(yield* eventually(() => groupMembers(process.pid).length === 0)).toBe(true)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("kill sends the signal it is given", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(Command.make("sleep", "30"))
      yield* process.kill("SIGINT")
      expect(yield* process.wait).toEqual(ExitStatus.Signaled({ signal: "SIGINT", coreDumped: false }))
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("kill after the exit is a no-op and not an error", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(Command.make("true"))
      expect(yield* process.wait).toEqual(ExitStatus.Exited({ code: 0 }))
      yield* process.kill()
      yield* process.kill("SIGKILL")
      yield* process.stop
      expect(yield* process.wait).toEqual(ExitStatus.Exited({ code: 0 }))
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("stop ends the whole group and returns once the child is reaped", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(sh("sleep 30 & sleep 30; true"))
      yield* cleanupGroup(process.pid)
      expect(yield* eventually(() => groupMembers(process.pid).length === 3)).toBe(true)
      yield* process.stop
      expect(yield* process.isRunning).toBe(false)
      expect(isAlive(process.pid)).toBe(false)
      expect(yield* process.wait).toEqual(ExitStatus.Signaled({ signal: "SIGTERM", coreDumped: false }))
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("stop sends SIGKILL after the grace period to a child that ignores SIGTERM", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(sh('trap "" TERM; sleep 30').pipe(Command.gracePeriod("300 millis")))
      yield* cleanupGroup(process.pid)
      expect(yield* eventually(() => groupMembers(process.pid).length === 2)).toBe(true)
      const { ms } = yield* timed(process.stop)
      expect(ms).toBeGreaterThanOrEqual(250)
      expect(yield* process.wait).toEqual(ExitStatus.Signaled({ signal: "SIGKILL", coreDumped: false }))
    }).pipe(Effect.provide(layer))
  )
})

describe("closing the scope of a started process", () => {
  it.live("kills the whole process group", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const process = yield* Command.start(sh("sleep 30 & sleep 30 & sleep 30; true")).pipe(Scope.extend(scope))
      try {
        expect(yield* eventually(() => groupMembers(process.pid).length === 4)).toBe(true)
        yield* Scope.close(scope, Exit.void)
        expect(groupMembers(process.pid)).toEqual([])
      } finally {
        killGroup(process.pid)
      }
    }).pipe(Effect.provide(layer))
  )

  it.live("kills a child ignoring SIGTERM with SIGKILL once the grace period is over", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const process = yield* Command.start(
        sh('trap "" TERM; sleep 30 & sleep 30; true').pipe(Command.gracePeriod("300 millis"))
      ).pipe(Scope.extend(scope))
      try {
        expect(yield* eventually(() => groupMembers(process.pid).length === 3)).toBe(true)
        const { ms } = yield* timed(Scope.close(scope, Exit.void))
        expect(ms).toBeGreaterThanOrEqual(250)
        expect(ms).toBeLessThan(5000)
        expect(groupMembers(process.pid)).toEqual([])
      } finally {
        killGroup(process.pid)
      }
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("stops a grandchild left behind after the leader exited", () =>
    Effect.gen(function* () {
      const pidFile = join(yield* tempDir, "pid")
      const scope = yield* Scope.make()
      const process = yield* Command.start(sh('sleep 30 & echo $! > "$1"', pidFile)).pipe(Scope.extend(scope))
      try {
        yield* process.wait
        const grandchild = Number(readFileSync(pidFile, "utf8"))
        expect(isAlive(grandchild)).toBe(true)
        yield* Scope.close(scope, Exit.void)
        expect(isAlive(grandchild)).toBe(false)
      } finally {
        killGroup(process.pid)
      }
    }).pipe(Effect.provide(layer))
  )
})
