import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Command, ExitStatus, Stdio } from "@tether/command"
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { describe, expect } from "vitest"
import { eventually, layer, sh, tempDir } from "./support.js"

const state = (pid: number): string => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
  } catch {
    return "gone"
  }
}

describe("pipes nobody asked to read", () => {
  it.live("a runner drains an extra fd's pipe it does not return, so the child never blocks on it", () =>
    Effect.gen(function* () {
      const code = yield* Command.exitCode(
        sh("head -c 1000000 /dev/zero >&3; exit 5").pipe(Command.fd(3, Stdio.pipe))
      ).pipe(Effect.timeout("10 seconds"))
      expect(code).toBe(5)
    }).pipe(Effect.provide(layer))
  )
})

describe("reading a pipe", () => {
  it.scopedLive("a second read of the same pipe fails with InvalidCommand instead of waiting forever", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(Command.make("echo", "hi").pipe(Command.stdout(Stdio.pipe)))
      const first = yield* Stream.runCollect(Stream.decodeText(process.stdout))
      expect(Array.from(first).join("")).toBe("hi\n")
      const second = yield* Effect.flip(Stream.runCollect(process.stdout)).pipe(Effect.timeout("5 seconds"))
      expect(second._tag).toBe("InvalidCommand")
      expect(second.message).toContain("Process.stdout was already read")
    }).pipe(Effect.provide(layer))
  )

  it.live("a consumer slower than a chatty background grandchild still reaches the end", () =>
    Effect.gen(function* () {
      const lines = yield* Command.streamLines(
        sh("(trap 'exit 0' TERM; while :; do echo tick; sleep 0.02; done) & echo started")
      ).pipe(
        Stream.tap(() => Effect.sleep("30 millis")),
        Stream.runCollect,
        Effect.timeout("15 seconds")
      )
      expect(Array.from(lines)).toContain("started")
    }).pipe(Effect.provide(layer))
  )
})

describe("extra fds", () => {
  it.scopedLive("an extra fd opened from a file with append is written to, after what the file held", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = join(dir, "log")
      writeFileSync(path, "before\n")
      yield* Command.run(sh("echo appended >&3").pipe(Command.fd(3, Stdio.file(path, { append: true }))))
      expect(readFileSync(path, "utf8")).toBe("before\nappended\n")
    }).pipe(Effect.provide(layer))
  )
})

describe("stopping a stopped process", () => {
  it.scopedLive("a child stopped with SIGSTOP is continued, so it handles the kill signal instead of SIGKILL", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(
        sh("trap 'exit 0' TERM; kill -STOP $$; sleep 100").pipe(Command.gracePeriod("5 seconds"))
      )
      expect(yield* eventually(() => state(process.pid) === "T")).toBe(true)
      yield* process.stop
      expect(yield* process.wait).toEqual(ExitStatus.Exited({ code: 0 }))
    }).pipe(Effect.provide(layer))
  )
})

describe("scripts", () => {
  it.scopedLive("a script whose #! interpreter is missing fails naming the interpreter, not the script", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const script = join(dir, "run.sh")
      writeFileSync(script, "#!/nonexistent/tether-shell\necho hi\n", { mode: 0o755 })
      const error = yield* Effect.flip(Command.run(Command.make(script)))
      expect(error._tag).toBe("CommandNotFound")
      expect(error._tag === "CommandNotFound" && error.program).toBe("/nonexistent/tether-shell")
    }).pipe(Effect.provide(layer))
  )
})
