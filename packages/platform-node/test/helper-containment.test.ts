/*
 * With the exec helper, nothing a command started outlives its scope or its parent: the supervisor is
 * the subreaper of every descendant, those that left the process group or the session included.
 */
import { join } from "node:path"
import { Command } from "@tether/command"
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { describe, expect } from "vitest"
import { killAtEnd, killPid, runFixture, stat } from "./exec-helper/support.js"
import { eventually, isAlive, layer, processesWith, readPid, sh, startedHere, tempDir, uniqueSleep } from "./support.js"

/** Pids a test must not leave behind, killed when its scope closes should an assertion fail. */
const watched: Array<number> = []
const watch = (...pids: ReadonlyArray<number>) => {
  watched.push(...pids)
  return pids
}

describe("when the scope closes", () => {
  it.scopedLive("a descendant that left the group and session with setsid is gone", () =>
    Effect.gen(function* () {
      yield* killAtEnd(() => watched)
      const pidFile = join(yield* tempDir, "pid")
      const out = yield* Command.string(sh('setsid sleep 300 & echo $! > "$1"; echo started', pidFile))
      expect(out).toBe("started\n")
      const [escaped] = watch(yield* readPid(pidFile))
      expect(isAlive(escaped!)).toBe(false)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("so is an orphan of a double fork, while the command runs and after", () =>
    Effect.gen(function* () {
      yield* killAtEnd(() => watched)
      const pidFile = join(yield* tempDir, "pid")
      const orphan = yield* Effect.scoped(
        Effect.gen(function* () {
          const process = yield* Command.start(sh('(setsid sleep 300 & echo $! > "$1"); sleep 300', pidFile))
          const [orphan] = watch(yield* readPid(pidFile))
          // Reparented to the supervisor, not to init: the subreaper holds it.
          expect(yield* eventually(() => isAlive(orphan!) && stat(orphan!).ppid !== process.pid)).toBe(true)
          expect(startedHere(stat(orphan!).ppid)).toBe(true)
          return orphan!
        })
      )
      expect(isAlive(orphan)).toBe(false)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("an orphan that ends first is reaped at once, not left a zombie", () =>
    Effect.gen(function* () {
      yield* killAtEnd(() => watched)
      const pidFile = join(yield* tempDir, "pid")
      const process = yield* Command.start(sh('(sleep 0.1 & echo $! > "$1"); sleep 300', pidFile))
      const [orphan] = watch(yield* readPid(pidFile))
      // Gone from /proc altogether: something reaped it (init here never reaps).
      expect(yield* eventually(() => !isAlive(orphan!) && !existsInProc(orphan!), 3000)).toBe(true)
      expect(yield* process.isRunning).toBe(true)
    }).pipe(Effect.provide(layer))
  )
})

const existsInProc = (pid: number) => {
  try {
    stat(pid)
    return true
  } catch {
    return false
  }
}

describe("when the parent is SIGKILLed", () => {
  const parentDies = (script: (sleep: string) => string, expected: number) =>
    Effect.gen(function* () {
      const sleep = uniqueSleep(300)
      yield* killAtEnd(() => processesWith(sleep))
      const parent = yield* runFixture("parent.ts", [script(sleep)])
      const { pid } = (yield* parent.firstLine) as { pid: number }
      expect(yield* eventually(() => processesWith(sleep).length === expected)).toBe(true)
      const started = processesWith(sleep)
      killPid(parent.child.pid!)
      yield* parent.exited
      const gone = yield* eventually(() => !isAlive(pid) && started.every((p) => !isAlive(p)), 1000)
      expect({ gone, left: started.filter(isAlive) }).toEqual({ gone: true, left: [] })
    })

  it.scopedLive("sh -c 'sleep 300': within 1 s neither is alive", () => parentDies((s) => `sleep ${s}; true`, 1))

  it.scopedLive("sh -c 'sleep 300 & sleep 301': the background grandchild goes too", () =>
    parentDies((s) => `sleep ${s} & sleep ${s}; true`, 2)
  )

  it.scopedLive("a grandchild that left with setsid goes too", () =>
    parentDies((s) => `setsid sleep ${s} & sleep ${s}; true`, 2)
  )

  it.scopedLive("processes that ignore SIGTERM go too, without waiting out their 2 s grace period", () =>
    parentDies((s) => `trap "" TERM; sleep ${s} & sleep ${s}; true`, 2)
  )
})
