/*
 * A third round of attacks on the fork server: the life of a Node process that uses Tether. Each scenario
 * runs in a child Node (`exec-helper/attack3-life.ts`) that this test starts; what is asserted is what the
 * kernel shows once it is gone: which processes live, whether its stdout reached end of file, its exit
 * code. Every test kills, by pid, the child Node, its fork server and every command it started.
 */
import { execFileSync } from "node:child_process"
import { join } from "node:path"
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { describe, expect } from "vitest"
import { eventually, forkServerOn, isAlive, processesWith, tempDir, uniqueSleep } from "./support.js"
import { killAtEnd, runFixture } from "./exec-helper/support.js"

interface Report {
  readonly node: number
  readonly servers: ReadonlyArray<number>
  readonly pid?: number
  readonly supervisors?: ReadonlyArray<number>
  readonly inner?: Report
  readonly out?: string
}

/**
 * Runs a scenario of `attack3-life.ts` with a fresh unique word (a sleep duration), and registers the
 * clean-up of everything it may leave: the commands (by their argv), its fork servers and supervisors.
 */
const life = (scenario: string, options: { readonly scratch?: string; readonly stdio?: "pipe-stdin" } = {}) =>
  Effect.gen(function* () {
    const word = uniqueSleep(300)
    const pids: Array<number> = []
    yield* killAtEnd(() => [...processesWith(word), ...pids])
    const fixture = yield* runFixture("attack3-life.ts", [scenario, word, options.scratch ?? "/tmp/none"], {
      stdio: [options.stdio === "pipe-stdin" ? "pipe" : "ignore", "pipe", "pipe"]
    })
    // The end of its stdout and stderr: nothing holds the pipes Node was given any more.
    let closed = false
    fixture.child.once("close", () => (closed = true))
    const exit = Effect.async<{ code: number | null; signal: string | null }>((resume) => {
      const { child } = fixture
      if (child.exitCode !== null || child.signalCode !== null) {
        return resume(Effect.succeed({ code: child.exitCode, signal: child.signalCode }))
      }
      child.once("exit", (code, signal) => resume(Effect.succeed({ code, signal })))
    })
    const first = Effect.map(fixture.firstLine, (line) => {
      const report = line as Report
      const remember = (r: Report | undefined) => {
        if (r === undefined) return
        pids.push(...r.servers, ...(r.supervisors ?? []))
        remember(r.inner)
      }
      remember(report)
      return report
    })
    return { ...fixture, word, first, exit, closed: () => closed }
  })

/** Waits (at most 5 s) for the child Node to exit; returns its status and how long it took. */
const exitWithin5s = (exit: Effect.Effect<{ code: number | null; signal: string | null }>) =>
  Effect.gen(function* () {
    const started = Date.now()
    const status = yield* exit.pipe(Effect.timeout("5 seconds"), Effect.option)
    return { status: status._tag === "Some" ? status.value : "still running after 5 s", ms: Date.now() - started }
  })

describe.runIf(forkServerOn)("the fork server, third round: a Node process's life", () => {
  // ---------------------------------------------------------------------------------------------------
  // process.exit() at awkward moments.
  // ---------------------------------------------------------------------------------------------------

  it.scopedLive("process.exit() while a start is pending: the command does not outlive Node", () =>
    Effect.gen(function* () {
      // The fixture asks for a command that ignores SIGTERM (grace period 30 s), then calls process.exit()
      // before the fork server answers.
      const run = yield* life("exit-while-starting")
      yield* run.first
      expect((yield* exitWithin5s(run.exit)).status).toEqual({ code: 0, signal: null })
      const gone = yield* eventually(() => processesWith(run.word).length === 0, 5000)
      expect({ gone, left: processesWith(run.word).length }).toEqual({ gone: true, left: 0 })
    })
  )

  it.scopedLive(
    "process.exit() once a command's leader exited: its background child, still in its group, does not outlive Node",
    () =>
      Effect.gen(function* () {
        // Without the exec helper Node SIGKILLs the group on exit; with it, the group is no longer tracked
        // once the leader's exit is reported, and the supervisor only stops it gracefully (30 s here).
        const run = yield* life("exit-after-leader")
        yield* run.first
        expect((yield* exitWithin5s(run.exit)).status).toEqual({ code: 0, signal: null })
        const gone = yield* eventually(() => processesWith(run.word).length === 0, 5000)
        expect({ gone, left: processesWith(run.word).length }).toEqual({ gone: true, left: 0 })
      })
  )

  it.scopedLive(
    "process.exit() while a command's start waits on its stdin FIFO: no supervisor is left holding Node's stdout",
    () =>
      Effect.gen(function* () {
        const fifo = join(yield* tempDir, "fifo")
        execFileSync("mkfifo", [fifo])
        const run = yield* life("exit-fifo", { scratch: fifo })
        const report = yield* run.first
        expect(report.supervisors).toHaveLength(1)
        expect((yield* exitWithin5s(run.exit)).status).toEqual({ code: 0, signal: null })
        const supervisor = report.supervisors![0]!
        const gone = yield* eventually(() => !isAlive(supervisor) && run.closed(), 5000)
        expect({ gone, supervisorAlive: isAlive(supervisor), stdoutClosed: run.closed() }).toEqual({
          gone: true,
          supervisorAlive: false,
          stdoutClosed: true
        })
      })
  )

  it.scopedLive("process.exit() in a finalizer that runs while a command runs: nothing of it survives", () =>
    Effect.gen(function* () {
      const run = yield* life("exit-in-finalizer")
      const report = yield* run.first
      expect(isAlive(report.pid!)).toBe(true)
      expect((yield* exitWithin5s(run.exit)).status).toEqual({ code: 0, signal: null })
      const gone = yield* eventually(
        () => processesWith(run.word).length === 0 && report.servers.every((s) => !isAlive(s)) && run.closed(),
        5000
      )
      expect(gone).toBe(true)
    })
  )

  // ---------------------------------------------------------------------------------------------------
  // Dying of an error, or of a signal under runMain.
  // ---------------------------------------------------------------------------------------------------

  for (const scenario of ["uncaught", "rejection"]) {
    it.scopedLive(
      `an ${scenario === "uncaught" ? "uncaught exception" : "unhandled rejection"} with a command running`,
      () =>
        Effect.gen(function* () {
          const run = yield* life(scenario)
          const report = yield* run.first
          expect(isAlive(report.pid!)).toBe(true)
          expect((yield* exitWithin5s(run.exit)).status).toEqual({ code: 1, signal: null })
          const gone = yield* eventually(
            () => processesWith(run.word).length === 0 && report.servers.every((s) => !isAlive(s)) && run.closed(),
            5000
          )
          expect(gone).toBe(true)
        })
    )
  }

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it.scopedLive(`${signal} under NodeRuntime.runMain: a graceful stop, then Node exits, its server with it`, () =>
      Effect.gen(function* () {
        const marker = join(yield* tempDir, "got")
        const run = yield* life("run-main", { scratch: marker })
        const report = yield* run.first
        expect(isAlive(report.pid!)).toBe(true)
        run.child.kill(signal)
        const { status } = yield* exitWithin5s(run.exit)
        expect(status).not.toBe("still running after 5 s")
        const gone = yield* eventually(
          () => processesWith(run.word).length === 0 && report.servers.every((s) => !isAlive(s)) && run.closed(),
          5000
        )
        expect(gone).toBe(true)
        expect(execFileSync("cat", [marker], { encoding: "utf8" })).toBe("TERM\n")
      })
    )
  }

  // ---------------------------------------------------------------------------------------------------
  // The event loop ending by itself; many runtimes; Tether inside a command.
  // ---------------------------------------------------------------------------------------------------

  it.scopedLive(
    "after commands that succeed, fail, time out, fail to exec and are interrupted while starting, Node exits by itself",
    () =>
      Effect.gen(function* () {
        const run = yield* life("natural")
        const report = yield* run.first
        expect(report.servers).toHaveLength(1)
        expect((yield* exitWithin5s(run.exit)).status).toEqual({ code: 0, signal: null })
        const gone = yield* eventually(
          () => processesWith(run.word).length === 0 && report.servers.every((s) => !isAlive(s)) && run.closed(),
          5000
        )
        expect(gone).toBe(true)
      })
  )

  it.scopedLive("ten ManagedRuntimes providing the layer, disposed in turn: one server, and Node exits by itself", () =>
    Effect.gen(function* () {
      const run = yield* life("runtimes")
      const report = yield* run.first
      expect({ servers: report.servers.length, outputs: (report as { outputs?: number }).outputs }).toEqual({
        servers: 1,
        outputs: 5
      })
      expect((yield* exitWithin5s(run.exit)).status).toEqual({ code: 0, signal: null })
      expect(yield* eventually(() => report.servers.every((s) => !isAlive(s)), 5000)).toBe(true)
    })
  )

  it.scopedLive("Tether inside a command (nested fork servers): SIGTERM to the outer Node ends every level", () =>
    Effect.gen(function* () {
      const run = yield* life("nested")
      const report = yield* run.first
      const inner = report.inner!
      expect(inner.servers).toHaveLength(1)
      expect(report.servers).toHaveLength(1)
      expect(inner.servers[0]).not.toBe(report.servers[0])
      expect(isAlive(inner.pid!)).toBe(true)
      run.child.kill("SIGTERM")
      expect((yield* exitWithin5s(run.exit)).status).toEqual({ code: null, signal: "SIGTERM" })
      const everyone = [report.pid!, inner.node, ...report.servers, ...inner.servers]
      const gone = yield* eventually(
        () => processesWith(run.word).length === 0 && everyone.every((p) => !isAlive(p)),
        5000
      )
      expect({ gone, left: [...processesWith(run.word), ...everyone.filter(isAlive)] }).toEqual({
        gone: true,
        left: []
      })
    })
  )

  // ---------------------------------------------------------------------------------------------------
  // Node's own stdin, given to a command with Stdio.inherit through the server.
  // ---------------------------------------------------------------------------------------------------

  it.scopedLive("Stdio.inherit of Node's stdin when it is a pipe: the command reads it, and Node exits", () =>
    Effect.gen(function* () {
      const run = yield* life("inherit-stdin", { stdio: "pipe-stdin" })
      run.child.stdin!.end("through the pipe\n")
      const report = yield* run.first
      expect(report.out).toBe("through the pipe\n")
      expect((yield* exitWithin5s(run.exit)).status).toEqual({ code: 0, signal: null })
      expect(yield* eventually(() => report.servers.every((s) => !isAlive(s)) && run.closed(), 5000)).toBe(true)
    })
  )

  it.scopedLive("Stdio.inherit of Node's stdin when it is /dev/null (ignored): end of file at once", () =>
    Effect.gen(function* () {
      const run = yield* life("inherit-stdin")
      const report = yield* run.first
      expect(report.out).toBe("")
      expect((yield* exitWithin5s(run.exit)).status).toEqual({ code: 0, signal: null })
    })
  )
})
