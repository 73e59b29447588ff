import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { join, relative as relativePath } from "node:path"
import { Command, CommandError, ExitStatus, Stdio } from "@tether/command"
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { describe, expect } from "vitest"
import { layer, probe, report, sh, tempDir, writeFile } from "./support.js"

describe("death by signal", () => {
  const abort = sh("kill -ABRT $$")

  it.scopedLive("run fails with SignalError naming SIGABRT", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const error = yield* Effect.flip(Command.run(abort.pipe(Command.cwd(dir))))
      expect(error).toBeInstanceOf(CommandError.SignalError)
      expect(error).toMatchObject({ signal: "SIGABRT" })
      expect(error.message).toContain("SIGABRT")
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("status succeeds with Signaled SIGABRT", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const status = yield* Command.status(abort.pipe(Command.cwd(dir)))
      expect(ExitStatus.isSignaled(status) && status.signal).toBe("SIGABRT")
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("exitCode fails with SignalError", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const error = yield* Effect.flip(Command.exitCode(abort.pipe(Command.cwd(dir))))
      expect(error).toBeInstanceOf(CommandError.SignalError)
    }).pipe(Effect.provide(layer))
  )

  it.live("string fails with SignalError carrying what the child wrote before it died", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.string(sh("echo partial; echo dying >&2; kill -KILL $$")))
      expect(error).toBeInstanceOf(CommandError.SignalError)
      expect(error).toMatchObject({ signal: "SIGKILL", stdout: "partial\n", stderr: "dying\n" })
    }).pipe(Effect.provide(layer))
  )

  it.live("output reports a signal as its status without failing", () =>
    Effect.gen(function* () {
      const result = yield* Command.output(sh("echo out; kill -TERM $$"))
      expect(result.status).toEqual(ExitStatus.Signaled({ signal: "SIGTERM", coreDumped: false }))
      expect(result.stdout).toBe("out\n")
    }).pipe(Effect.provide(layer))
  )
})

describe("a non-zero exit", () => {
  const three = sh("echo out; echo err >&2; exit 3")

  it.live("string fails with ExitCodeError naming the status and stderr, carrying stdout", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.string(three))
      expect(error).toBeInstanceOf(CommandError.ExitCodeError)
      expect(error.message).toContain("unexpected exit status 3")
      expect(error.message).toContain("err")
      expect(error).toMatchObject({ exitCode: 3, stdout: "out\n", stderr: "err\n" })
    }).pipe(Effect.provide(layer))
  )

  it.live("the ExitCodeError message reads like libvirt's", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.string(three))
      expect(error.message).toBe(
        `Child process (sh -c 'echo out; echo err >&2; exit 3' sh) unexpected exit status 3: err`
      )
    }).pipe(Effect.provide(layer))
  )

  it.live("run fails with ExitCodeError carrying an empty stdout", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.run(three))
      expect(error).toMatchObject({ _tag: "ExitCodeError", exitCode: 3, stdout: "", stderr: "err\n" })
    }).pipe(Effect.provide(layer))
  )

  it.live("lines and bytes fail the same way", () =>
    Effect.gen(function* () {
      expect(yield* Effect.flip(Command.lines(three))).toMatchObject({ _tag: "ExitCodeError", stdout: "out\n" })
      expect(yield* Effect.flip(Command.bytes(three))).toMatchObject({ _tag: "ExitCodeError", stdout: "out\n" })
    }).pipe(Effect.provide(layer))
  )

  it.live("exitCode and status return the code without failing", () =>
    Effect.gen(function* () {
      expect(yield* Command.exitCode(three)).toBe(3)
      expect(yield* Command.status(three)).toEqual(ExitStatus.Exited({ code: 3 }))
    }).pipe(Effect.provide(layer))
  )

  it.live("the stderr tail keeps the last 64 KiB of a long stderr", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Command.run(sh("head -c 1000000 /dev/zero | tr '\\0' a >&2; echo; echo the-end >&2; exit 1"))
      )
      expect(error._tag).toBe("ExitCodeError")
      const stderr = (error as CommandError.ExitCodeError).stderr
      expect(stderr.endsWith("the-end\n")).toBe(true)
      expect(stderr.length).toBeGreaterThanOrEqual(64 * 1024)
      expect(stderr.length).toBeLessThan(200 * 1024)
    }).pipe(Effect.provide(layer))
  )
})

describe("a NUL byte makes the command invalid, and nothing is spawned", () => {
  const places: ReadonlyArray<[string, (marker: string) => Command.Command]> = [
    ["an argument", (m) => sh('touch "$1"', m).pipe(Command.args("a\0b"))],
    ["an environment value", (m) => sh('touch "$1"', m).pipe(Command.inheritEnv, Command.setEnv("X", "a\0b"))],
    ["an environment name", (m) => sh('touch "$1"', m).pipe(Command.inheritEnv, Command.setEnv("X\0Y", "v"))],
    ["a passed environment name", (m) => sh('touch "$1"', m).pipe(Command.inheritEnv, Command.envPass("X\0Y"))],
    ["the working directory", (m) => sh('touch "$1"', m).pipe(Command.cwd("/tmp\0x"))],
    ["the program", (m) => Command.make("/bin/sh\0", "-c", 'touch "$1"', "sh", m)],
    ["a prefix word", (m) => sh('touch "$1"', m).pipe(Command.prefix(["env\0"]))],
    ["a stdin file path", (m) => sh('touch "$1"', m).pipe(Command.stdin(Stdio.file("/dev/null\0x")))],
    ["a stdout file path", (m) => sh('touch "$1"', m).pipe(Command.stdout(Stdio.file("/tmp/out\0x")))],
    ["a stderr file path", (m) => sh('touch "$1"', m).pipe(Command.stderr(Stdio.file("/tmp/err\0x")))],
    ["an extra fd's file path", (m) => sh('touch "$1"', m).pipe(Command.fd(3, Stdio.file("/dev/null\0x")))]
  ]
  for (const [place, build] of places) {
    it.scopedLive(`a NUL byte in ${place} fails with InvalidCommand`, () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const marker = join(dir, "spawned")
        const exit = yield* Effect.exit(Command.run(build(marker)))
        expect(Exit.isFailure(exit) && exit.cause._tag).toBe("Fail")
        const error = yield* Effect.flip(exit)
        expect(error).toBeInstanceOf(CommandError.InvalidCommand)
        expect((error as CommandError.InvalidCommand).problems.join("\n")).toMatch(/NUL/)
        expect(existsSync(marker)).toBe(false)
      }).pipe(Effect.provide(layer))
    )
  }
})

describe("the working directory", () => {
  it.scopedLive("a missing working directory fails with WorkingDirectoryError naming it", () =>
    Effect.gen(function* () {
      const dir = join(yield* tempDir, "missing")
      const error = yield* Effect.flip(Command.run(Command.make("true").pipe(Command.cwd(dir))))
      expect(error).toBeInstanceOf(CommandError.WorkingDirectoryError)
      expect(error).toMatchObject({ directory: dir })
      expect(error.message).toContain(dir)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a missing working directory is blamed even when the program is a relative path", () =>
    Effect.gen(function* () {
      const dir = join(yield* tempDir, "missing")
      const error = yield* Effect.flip(Command.run(Command.make("./run.sh").pipe(Command.cwd(dir))))
      expect(error).toBeInstanceOf(CommandError.WorkingDirectoryError)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a regular file as working directory fails with WorkingDirectoryError", () =>
    Effect.gen(function* () {
      const file = writeFile(join(yield* tempDir, "file"), "x", 0o644)
      const error = yield* Effect.flip(Command.run(Command.make("true").pipe(Command.cwd(file))))
      expect(error).toBeInstanceOf(CommandError.WorkingDirectoryError)
      expect(error).toMatchObject({ directory: file, reason: "not a directory" })
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a relative working directory is resolved against the parent's", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const relative = relativePath(process.cwd(), dir)
      const r = yield* report(Command.make(probe).pipe(Command.cwd(relative)))
      expect(r.cwd).toBe(dir)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a relative working directory below the parent's is taken from the parent's, not from /", () =>
    Effect.gen(function* () {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(process.cwd(), ".tether-cwd-"))),
        (made) => Effect.sync(() => rmSync(made, { recursive: true, force: true }))
      )
      const r = yield* report(Command.make(probe).pipe(Command.cwd(relativePath(process.cwd(), dir))))
      expect(r.cwd).toBe(dir)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("the child runs in the working directory", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const r = yield* report(Command.make(probe).pipe(Command.cwd(dir)))
      expect(r.cwd).toBe(dir)
    }).pipe(Effect.provide(layer))
  )
})

describe("programs that may not be executed", () => {
  it.scopedLive("a script without the execute bit fails with PermissionDenied naming the file", () =>
    Effect.gen(function* () {
      const script = writeFile(join(yield* tempDir, "script.sh"), "#!/bin/sh\necho hi\n", 0o644)
      const error = yield* Effect.flip(Command.run(Command.make(script)))
      expect(error).toBeInstanceOf(CommandError.PermissionDenied)
      expect(error).toMatchObject({ path: script })
      expect(error.message).toContain(script)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a script without the execute bit found on PATH fails with PermissionDenied", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const script = writeFile(join(dir, "tether-noexec"), "#!/bin/sh\necho hi\n", 0o644)
      const error = yield* Effect.flip(Command.run(Command.make("tether-noexec").pipe(Command.setEnv("PATH", dir))))
      expect(error).toMatchObject({ _tag: "PermissionDenied", path: script })
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a directory as the program fails with PermissionDenied", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const error = yield* Effect.flip(Command.run(Command.make(dir)))
      expect(error).toMatchObject({ _tag: "PermissionDenied", path: dir })
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("an executable file the kernel cannot run fails with a typed error, not a defect", () =>
    Effect.gen(function* () {
      const file = writeFile(join(yield* tempDir, "garbage"), new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3]))
      const exit = yield* Effect.exit(Command.run(Command.make(file)))
      expect(Exit.isFailure(exit) && exit.cause._tag).toBe("Fail")
      // libuv follows execvp here: on ENOEXEC it hands the file to /bin/sh, which then fails on it.
      const error = yield* Effect.flip(exit)
      expect(["PermissionDenied", "SpawnError", "ExitCodeError"]).toContain(error._tag)
    }).pipe(Effect.provide(layer))
  )
})

describe("finding the program", () => {
  it.scopedLive("a program not on PATH fails with CommandNotFound listing the directories searched", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = `${dir}/a:${dir}/b:/usr/bin`
      const error = yield* Effect.flip(
        Command.run(Command.make("tether-no-such-program").pipe(Command.setEnv("PATH", path)))
      )
      expect(error).toBeInstanceOf(CommandError.CommandNotFound)
      expect(error).toMatchObject({ program: "tether-no-such-program", searched: [`${dir}/a`, `${dir}/b`, "/usr/bin"] })
      expect(error.message).toContain(path)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a program not on the inherited PATH fails with CommandNotFound", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.run(Command.make("tether-no-such-program")))
      expect(error).toMatchObject({ _tag: "CommandNotFound", searched: (process.env.PATH ?? "").split(":") })
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("an explicit relative path is resolved against the working directory", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      writeFile(join(dir, "run.sh"), "#!/bin/sh\necho from-cwd\n")
      expect(yield* Command.string(Command.make("./run.sh").pipe(Command.cwd(dir)))).toBe("from-cwd\n")
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("an explicit relative path is never searched on PATH", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const bin = join(dir, "bin")
      const work = join(dir, "work")
      mkdirSync(bin)
      mkdirSync(work)
      writeFile(join(bin, "run.sh"), "#!/bin/sh\necho from-path\n")
      const error = yield* Effect.flip(
        Command.string(Command.make("./run.sh").pipe(Command.cwd(work), Command.setEnv("PATH", bin)))
      )
      expect(error).toMatchObject({ _tag: "CommandNotFound", program: join(work, "run.sh"), searched: [] })
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a relative path with a directory part is resolved against the working directory", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      mkdirSync(join(dir, "sub"))
      writeFile(join(dir, "sub", "run.sh"), "#!/bin/sh\necho from-sub\n")
      expect(yield* Command.string(Command.make("sub/run.sh").pipe(Command.cwd(dir)))).toBe("from-sub\n")
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("PATH entries that are missing, a regular file or empty are skipped", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const bin = join(dir, "bin")
      mkdirSync(bin)
      writeFile(join(bin, "tether-found"), "#!/bin/sh\necho found\n")
      const file = writeFile(join(dir, "plain-file"), "x", 0o644)
      const path = [join(dir, "missing"), file, "", bin].join(":")
      const out = yield* Command.string(Command.make("tether-found").pipe(Command.setEnv("PATH", path)))
      expect(out).toBe("found\n")
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a non-executable match earlier on PATH does not hide an executable one later", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      mkdirSync(join(dir, "a"))
      mkdirSync(join(dir, "b"))
      writeFile(join(dir, "a", "tether-tool"), "#!/bin/sh\necho a\n", 0o644)
      writeFile(join(dir, "b", "tether-tool"), "#!/bin/sh\necho b\n")
      const path = `${join(dir, "a")}:${join(dir, "b")}`
      expect(yield* Command.string(Command.make("tether-tool").pipe(Command.setEnv("PATH", path)))).toBe("b\n")
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("the first executable match on PATH wins", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      mkdirSync(join(dir, "a"))
      mkdirSync(join(dir, "b"))
      writeFile(join(dir, "a", "tether-tool"), "#!/bin/sh\necho a\n")
      writeFile(join(dir, "b", "tether-tool"), "#!/bin/sh\necho b\n")
      const path = `${join(dir, "a")}:${join(dir, "b")}`
      expect(yield* Command.string(Command.make("tether-tool").pipe(Command.setEnv("PATH", path)))).toBe("a\n")
    }).pipe(Effect.provide(layer))
  )
})
