import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { Command, CommandError } from "@tether/command"
import { it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { describe, expect } from "vitest"
import {
  eventually,
  groupMembers,
  isAlive,
  killGroup,
  layer,
  readPid,
  sh,
  spawnFixture,
  tempDir,
  timed,
  unhandledDuring
} from "./support.js"

/** Kills, when the scope closes, whatever of the group a failed test left behind. */
const cleanupGroup = (pgid: number) => Effect.addFinalizer(() => Effect.sync(() => killGroup(pgid)))

describe("timeouts stop the whole command", () => {
  it.scopedLive("a timed-out shell fails with TimeoutError and no process of it stays alive", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const pidFile = join(dir, "pid")
      const error = yield* Effect.flip(
        Command.run(sh('echo $$ > "$1"; sleep 300; true', pidFile).pipe(Command.timeout("200 millis")))
      )
      expect(error).toBeInstanceOf(CommandError.TimeoutError)
      const pid = yield* readPid(pidFile)
      yield* cleanupGroup(pid)
      expect(groupMembers(pid)).toEqual([])
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a timed-out shell with a background grandchild leaves neither alive", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const pidFile = join(dir, "pid")
      const error = yield* Effect.flip(
        Command.run(sh('sleep 300 & echo $! > "$1"; sleep 300; true', pidFile).pipe(Command.timeout("200 millis")))
      )
      expect(error).toBeInstanceOf(CommandError.TimeoutError)
      const grandchild = yield* readPid(pidFile)
      expect(isAlive(grandchild)).toBe(false)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a timed-out stream fails with TimeoutError after the lines it read", () =>
    Effect.gen(function* () {
      const exit = yield* Command.streamLines(sh("echo $$; sleep 300; true").pipe(Command.timeout("200 millis"))).pipe(
        Stream.runCollect,
        Effect.either
      )
      expect(exit._tag).toBe("Left")
      if (exit._tag === "Left") expect(exit.left).toBeInstanceOf(CommandError.TimeoutError)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a started process's wait fails with TimeoutError and its group is gone", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(sh("sleep 300 & sleep 300; true").pipe(Command.timeout("200 millis")))
      yield* cleanupGroup(process.pid)
      const error = yield* Effect.flip(process.wait)
      expect(error).toBeInstanceOf(CommandError.TimeoutError)
      expect(yield* eventually(() => groupMembers(process.pid).length === 0)).toBe(true)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a child ignoring SIGTERM is killed after the grace period", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const pidFile = join(dir, "pid")
      const { exit, ms } = yield* timed(
        Command.run(
          sh('trap "" TERM; echo $$ > "$1"; sleep 300', pidFile).pipe(
            Command.timeout("200 millis"),
            Command.gracePeriod("500 millis")
          )
        )
      )
      const pid = yield* readPid(pidFile)
      yield* cleanupGroup(pid)
      expect(yield* Effect.flip(exit)).toBeInstanceOf(CommandError.TimeoutError)
      expect(ms).toBeLessThan(2000)
      expect(ms).toBeGreaterThanOrEqual(650)
      expect(groupMembers(pid)).toEqual([])
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("the kill signal is the one the command names", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const marker = join(dir, "got")
      const error = yield* Effect.flip(
        Command.run(
          sh('trap "echo USR1 > \\"$1\\"; exit 0" USR1; sleep 300 & wait', marker).pipe(
            Command.timeout("200 millis"),
            Command.killSignal("SIGUSR1")
          )
        )
      )
      expect(error).toBeInstanceOf(CommandError.TimeoutError)
      expect(readFileSync(marker, "utf8")).toBe("USR1\n")
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a child that exits on SIGTERM within the grace period is not sent SIGKILL", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const marker = join(dir, "got")
      const { exit, ms } = yield* timed(
        Command.run(
          sh('trap "echo TERM > \\"$1\\"; exit 0" TERM; sleep 300 & wait', marker).pipe(
            Command.timeout("200 millis"),
            Command.gracePeriod("10 seconds")
          )
        )
      )
      expect(yield* Effect.flip(exit)).toBeInstanceOf(CommandError.TimeoutError)
      expect(readFileSync(marker, "utf8")).toBe("TERM\n")
      expect(ms).toBeLessThan(5000)
    }).pipe(Effect.provide(layer))
  )
})

describe("interrupting a consumer stops the child", () => {
  const ticker = sh("echo $$; while :; do echo tick; sleep 0.05; done")

  it.scopedLive("interrupting a fiber consuming streamLines kills the child and is a plain interruption", () =>
    Effect.gen(function* () {
      const first = yield* Deferred.make<string>()
      const { value: exit, seen } = yield* unhandledDuring(
        Effect.gen(function* () {
          const fiber = yield* Command.streamLines(ticker).pipe(
            Stream.runForEach((line) => Deferred.succeed(first, line)),
            Effect.fork
          )
          const pid = Number(yield* Deferred.await(first))
          yield* cleanupGroup(pid)
          expect(groupMembers(pid)).toContain(pid)
          const exit = yield* Fiber.interrupt(fiber)
          expect(groupMembers(pid)).toEqual([])
          return exit
        })
      )
      expect(Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)).toBe(true)
      expect(seen).toEqual([])
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("interrupting a fiber waiting in Command.string kills the child", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const pidFile = join(dir, "pid")
      const fiber = yield* Effect.fork(Command.string(sh('echo $$ > "$1"; sleep 300 & sleep 300; true', pidFile)))
      const pid = yield* readPid(pidFile)
      yield* cleanupGroup(pid)
      expect(yield* eventually(() => groupMembers(pid).length === 3)).toBe(true)
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)).toBe(true)
      expect(groupMembers(pid)).toEqual([])
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("interrupting a fiber waiting on a started process kills its group", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<number>()
      const fiber = yield* Effect.fork(
        Effect.scoped(
          Effect.gen(function* () {
            const process = yield* Command.start(sh("sleep 300 & sleep 300; true"))
            yield* Deferred.succeed(started, process.pid)
            return yield* process.wait
          })
        )
      )
      const pid = yield* Deferred.await(started)
      yield* cleanupGroup(pid)
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)).toBe(true)
      expect(groupMembers(pid)).toEqual([])
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("taking the first lines of an endless stream ends it and kills the child", () =>
    Effect.gen(function* () {
      const lines = yield* Command.streamLines(ticker).pipe(Stream.take(3), Stream.runCollect)
      const [pid, ...ticks] = Array.from(lines)
      yield* cleanupGroup(Number(pid))
      expect(ticks).toEqual(["tick", "tick"])
      expect(groupMembers(Number(pid))).toEqual([])
    }).pipe(Effect.provide(layer))
  )
})

describe("a parent that goes away takes its commands along", () => {
  it.scopedLive("process.exit(0) while a started command runs leaves nothing of it alive", () =>
    Effect.gen(function* () {
      const fixture = yield* spawnFixture("exit-while-running.ts", ["sleep 300"])
      const { pid } = JSON.parse(yield* fixture.firstLine) as { pid: number }
      yield* cleanupGroup(pid)
      expect(groupMembers(pid).length).toBeGreaterThan(0)
      fixture.child.stdin.write("go\n")
      expect(yield* fixture.exited).toEqual({ code: 0, signal: null })
      expect(yield* eventually(() => groupMembers(pid).length === 0, 1000)).toBe(true)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("process.exit(0) while a command with a background grandchild runs leaves neither alive", () =>
    Effect.gen(function* () {
      const fixture = yield* spawnFixture("exit-while-running.ts", ["sleep 300 & sleep 300; true"])
      const { pid } = JSON.parse(yield* fixture.firstLine) as { pid: number }
      yield* cleanupGroup(pid)
      expect(yield* eventually(() => groupMembers(pid).length === 3)).toBe(true)
      fixture.child.stdin.write("go\n")
      expect(yield* fixture.exited).toEqual({ code: 0, signal: null })
      expect(yield* eventually(() => groupMembers(pid).length === 0, 1000)).toBe(true)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("SIGTERM to a parent under NodeRuntime.runMain stops the command gracefully", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const marker = join(dir, "got")
      const fixture = yield* spawnFixture("terminated-under-run-main.ts", [
        'trap "echo TERM > \\"$1\\"; exit 0" TERM; sleep 300 & wait',
        marker
      ])
      const { pid } = JSON.parse(yield* fixture.firstLine) as { pid: number }
      yield* cleanupGroup(pid)
      expect(groupMembers(pid).length).toBeGreaterThan(0)
      fixture.child.kill("SIGTERM")
      const exited = yield* fixture.exited.pipe(Effect.timeout("10 seconds"))
      expect(exited.signal === "SIGTERM" || exited.code !== null).toBe(true)
      expect(groupMembers(pid)).toEqual([])
      expect(existsSync(marker) && readFileSync(marker, "utf8")).toBe("TERM\n")
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("SIGTERM to a parent under NodeRuntime.runMain also stops a child that ignores SIGTERM", () =>
    Effect.gen(function* () {
      const fixture = yield* spawnFixture("terminated-under-run-main.ts", ['trap "" TERM; sleep 300 & wait'])
      const { pid } = JSON.parse(yield* fixture.firstLine) as { pid: number }
      yield* cleanupGroup(pid)
      expect(yield* eventually(() => groupMembers(pid).length === 2)).toBe(true)
      fixture.child.kill("SIGTERM")
      yield* fixture.exited.pipe(Effect.timeout("10 seconds"))
      expect(groupMembers(pid)).toEqual([])
    }).pipe(Effect.provide(layer))
  )
})
