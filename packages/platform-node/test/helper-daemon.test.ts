/*
 * Command.daemon through the exec helper: the one process that outlives its scope and its parent.
 * Every test stops its daemons by the pid their pid file names.
 */
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { Command, CommandError, Stdio } from "@tether/command"
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { describe, expect } from "vitest"
import { killAtEnd, killPid, runFixture, stat } from "./exec-helper/support.js"
import { eventually, isAlive, layer, tempDir, writeFile } from "./support.js"

/** Daemons started by a test, killed by pid when its scope closes. */
const daemons: Array<number> = []
const remember = (pid: number) => {
  daemons.push(pid)
  return pid
}

const pidIn = (file: string) => Number(readFileSync(file, "utf8").trim())

/** Whether some process holds an open-file-description or POSIX lock on `file`, as /proc/locks shows. */
const locked = (file: string) => {
  const { ino } = statSync(file)
  return readFileSync("/proc/locks", "utf8")
    .split("\n")
    .some((line) => /\bWRITE\b/.test(line) && line.split(/\s+/).some((field) => field.endsWith(`:${ino}`)))
}

describe("Command.daemon", () => {
  it.scopedLive("writes and locks the pid file before it returns; the daemon is detached from everything", () =>
    Effect.gen(function* () {
      yield* killAtEnd(() => daemons)
      const pidFile = join(yield* tempDir, "d.pid")
      const { pid } = yield* Command.daemon(
        Command.make("sleep", "300").pipe(Command.daemonize, Command.pidFile(pidFile))
      )
      remember(pid)
      expect(existsSync(pidFile)).toBe(true)
      expect(pidIn(pidFile)).toBe(pid)
      expect(locked(pidFile)).toBe(true)
      const s = stat(pid)
      expect(readlinkSync(`/proc/${pid}/exe`)).toMatch(/sleep$/)
      expect(s.ppid).not.toBe(globalThis.process.pid)
      expect(s.session).not.toBe(stat(globalThis.process.pid).session)
      expect(s.session).not.toBe(pid)
      expect(readlinkSync(`/proc/${pid}/cwd`)).toBe("/")
      for (const fd of [0, 1, 2]) expect(readlinkSync(`/proc/${pid}/fd/${fd}`)).toBe("/dev/null")
      killPid(pidIn(pidFile))
      expect(yield* eventually(() => !isAlive(pid))).toBe(true)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a relative Command.cwd is the parent's directory's, taken once", () =>
    Effect.gen(function* () {
      yield* killAtEnd(() => daemons)
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(process.cwd(), ".tether-daemon-cwd-"))),
        (made) => Effect.sync(() => rmSync(made, { recursive: true, force: true }))
      )
      const { pid } = yield* Command.daemon(
        Command.make("sleep", "300").pipe(Command.daemonize, Command.cwd(relative(process.cwd(), dir)))
      )
      remember(pid)
      expect(readlinkSync(`/proc/${pid}/cwd`)).toBe(dir)
      killPid(pid)
      expect(yield* eventually(() => !isAlive(pid))).toBe(true)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a second daemon with the same locked pid file fails with PidFileLocked naming it", () =>
    Effect.gen(function* () {
      yield* killAtEnd(() => daemons)
      const pidFile = join(yield* tempDir, "d.pid")
      const daemon = Command.make("sleep", "300").pipe(Command.daemonize, Command.pidFile(pidFile))
      const first = remember((yield* Command.daemon(daemon)).pid)
      const error = yield* Effect.flip(Command.daemon(daemon))
      expect(error).toBeInstanceOf(CommandError.PidFileLocked)
      expect(error).toMatchObject({ path: pidFile, pid: first })
      expect(error.message).toContain(pidFile)
      expect(pidIn(pidFile)).toBe(first)
      expect(isAlive(first)).toBe(true)
      killPid(pidIn(pidFile))
      // Once the holder is gone, the file is free for the next one.
      expect(yield* eventually(() => !isAlive(first))).toBe(true)
      const second = remember((yield* Command.daemon(daemon)).pid)
      expect(pidIn(pidFile)).toBe(second)
      killPid(pidIn(pidFile))
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("survives its parent's SIGKILL: no parent-death signal, no containment", () =>
    Effect.gen(function* () {
      yield* killAtEnd(() => daemons)
      const pidFile = join(yield* tempDir, "d.pid")
      const parent = yield* runFixture("daemon-parent.ts", [pidFile, "300"])
      const { pid } = (yield* parent.firstLine) as { pid: number }
      remember(pid)
      killPid(parent.child.pid!)
      yield* parent.exited
      yield* Effect.sleep("300 millis")
      expect(isAlive(pidIn(pidFile))).toBe(true)
      killPid(pidIn(pidFile))
    })
  )

  it.scopedLive("needs no pid file, and writes stdout where it is told", () =>
    Effect.gen(function* () {
      yield* killAtEnd(() => daemons)
      const dir = yield* tempDir
      const out = join(dir, "out")
      const { pid } = yield* Command.daemon(
        Command.make("sh", "-c", "pwd; exec sleep 300").pipe(Command.stdout(Stdio.file(out)))
      )
      remember(pid)
      expect(yield* eventually(() => existsSync(out) && readFileSync(out, "utf8") === "/\n")).toBe(true)
      killPid(pid)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("takes the exec helper's settings too", () =>
    Effect.gen(function* () {
      yield* killAtEnd(() => daemons)
      const { pid } = yield* Command.daemon(
        Command.make("sleep", "300").pipe(Command.user(65534), Command.limit("nofile", 64), Command.noNewPrivileges)
      )
      remember(pid)
      const status = readFileSync(`/proc/${pid}/status`, "utf8")
      expect(status).toMatch(/^Uid:\s+65534\s/m)
      expect(status).toMatch(/^NoNewPrivs:\s+1$/m)
      expect(readFileSync(`/proc/${pid}/limits`, "utf8")).toMatch(/^Max open files\s+64\s+64\s/m)
      killPid(pid)
    }).pipe(Effect.provide(layer))
  )

  it.live("an exec failure is a typed error, not a daemon that died", () =>
    Effect.gen(function* () {
      const script = writeFile(join(yield* tempDir, "script"), "#!/nonexistent/interpreter\n")
      const error = yield* Effect.flip(Command.daemon(Command.make(script)))
      expect(error).toBeInstanceOf(CommandError.CommandNotFound)
    }).pipe(Effect.scoped, Effect.provide(layer))
  )

  it.live("a pipe for a daemon's output is InvalidCommand: nothing would read it", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.daemon(Command.make("true").pipe(Command.stdout(Stdio.pipe))))
      expect(error).toBeInstanceOf(CommandError.InvalidCommand)
    }).pipe(Effect.provide(layer))
  )
})
