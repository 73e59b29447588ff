/*
 * The exec helper's settings, each checked against what the kernel shows for the running command.
 */
import { closeSync, fstatSync, openSync, readFileSync, readlinkSync } from "node:fs"
import { join } from "node:path"
import { Command, CommandError, ExitStatus, Stdio } from "@tether/command"
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { describe, expect } from "vitest"
import { locate } from "../src/internal/helper.js"
import { limitOf, runFixture, stat, status } from "./exec-helper/support.js"
import { eventually, forkServerOn, layer, probe, report, sh, startedHere, tempDir, writeFile } from "./support.js"

const fdsOf = (r: { fds: ReadonlyArray<{ fd: number }> }) => r.fds.map((entry) => entry.fd)

/** A command that stays up while the test reads /proc, stopped when the scope closes. */
const running = (f: (c: Command.Command) => Command.Command) => Command.start(f(Command.make("sleep", "30")))

it("the exec helper is built here, so that these tests check it", () => {
  expect(locate()).toMatchObject({ path: expect.stringMatching(/tether-exec$/) })
})

/** An fd number Node leaves alone at start-up (it sets close-on-exec on the lowest ones). */
const inherited = 100

/**
 * Runs the probe from a Node fixture that inherited fd `inherited` without close-on-exec, as a process
 * inherits fds from whatever started it; returns what the fixture saw.
 */
const inheritedFd = (env: Record<string, string>) =>
  Effect.gen(function* () {
    const held = openSync(join(yield* tempDir, "held"), "w")
    yield* Effect.addFinalizer(() => Effect.sync(() => closeSync(held)))
    const stdio: Array<"ignore" | "pipe" | number> = ["ignore", "pipe", "pipe"]
    while (stdio.length < inherited) stdio.push("ignore")
    stdio.push(held)
    const fixture = yield* runFixture("inherited-fd.ts", [probe, String(inherited)], { stdio, env })
    return (yield* fixture.firstLine) as { inheritable: boolean; fds: Array<number> }
  })

describe("fds", () => {
  it.scopedLive("an fd inherited without close-on-exec does not reach the child", () =>
    Effect.gen(function* () {
      const seen = yield* inheritedFd({})
      expect(seen.inheritable).toBe(true)
      expect(seen.fds).toEqual([0, 1, 2])
    })
  )

  it.scopedLive("without the helper the same fd leaks: what the helper is for", () =>
    Effect.gen(function* () {
      const seen = yield* inheritedFd({ TETHER_EXEC_HELPER: "0" })
      expect(seen.inheritable).toBe(true)
      expect(seen.fds).toContain(inherited)
    })
  )

  it.scopedLive("libvirt's passFd: the child sees the passed fds only; closeParent closes the parent's", () =>
    Effect.gen(function* () {
      const file = join(yield* tempDir, "shared")
      const [a, b, c] = [openSync(file, "w"), openSync(file, "w"), openSync(file, "w")]
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          for (const fd of [a, b]) closeSync(fd)
        })
      )
      const r = yield* report(Command.make(probe).pipe(Command.passFd(a), Command.passFd(c, { closeParent: true })))
      expect(fdsOf(r)).toEqual([0, 1, 2, a, c].sort((x, y) => x - y))
      expect(r.fds.find((entry) => entry.fd === c)?.target).toBe(file)
      expect(fstatSync(a).isFile()).toBe(true)
      expect(fstatSync(b).isFile()).toBe(true)
      expect(() => readlinkSync(`/proc/self/fd/${c}`)).toThrow()
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("closeParent closes the parent's fd once: a file that takes its number later is left alone", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const passed = openSync(join(dir, "passed"), "w")
      const reopened = yield* Effect.scoped(
        Effect.gen(function* () {
          const process = yield* Command.start(Command.make(probe).pipe(Command.passFd(passed, { closeParent: true })))
          yield* process.wait
          // The number is free again, so the next open takes it.
          const reopened = openSync(join(dir, "later"), "w")
          expect(reopened).toBe(passed)
          return reopened
        })
      )
      yield* Effect.addFinalizer(() => Effect.sync(() => closeSync(reopened)))
      expect(readlinkSync(`/proc/self/fd/${reopened}`)).toBe(join(dir, "later"))
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("closeParent closes the parent's fd when the command never runs", () =>
    Effect.gen(function* () {
      const passed = openSync(join(yield* tempDir, "passed"), "w")
      const error = yield* Effect.flip(
        Command.run(Command.make("/nonexistent/program").pipe(Command.passFd(passed, { closeParent: true })))
      )
      expect(error).toBeInstanceOf(CommandError.CommandNotFound)
      expect(() => fstatSync(passed)).toThrow()
    }).pipe(Effect.provide(layer))
  )

  it.live("mergeStderr makes fd 2 the very pipe fd 1 is", () =>
    Effect.gen(function* () {
      const r = yield* report(Command.make(probe).pipe(Command.mergeStderr))
      const target = (fd: number) => r.fds.find((entry) => entry.fd === fd)?.target
      expect(target(1)).toMatch(/^(pipe|socket):/)
      expect(target(2)).toBe(target(1))
    }).pipe(Effect.provide(layer))
  )
})

describe("process settings", () => {
  it.live("umask", () =>
    Effect.gen(function* () {
      expect((yield* report(Command.make(probe).pipe(Command.umask(0o027)))).umask).toBe(0o027)
      expect((yield* report(Command.make(probe).pipe(Command.umask(0o777)))).umask).toBe(0o777)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("limits: nofile, nproc, core, memlock, as, cpu, soft and hard, Infinity as unlimited", () =>
    Effect.gen(function* () {
      const process = yield* running((c) =>
        c.pipe(
          Command.limit("nofile", 100, 200),
          Command.limit("nproc", 50, 60),
          Command.limit("core", 0, Infinity),
          Command.limit("memlock", 65536),
          Command.limit("as", 2 ** 30, Infinity),
          Command.limit("cpu", 100, 200)
        )
      )
      expect(limitOf(process.pid, "Max open files")).toEqual({ soft: "100", hard: "200" })
      expect(limitOf(process.pid, "Max processes")).toEqual({ soft: "50", hard: "60" })
      expect(limitOf(process.pid, "Max core file size")).toEqual({ soft: "0", hard: "unlimited" })
      expect(limitOf(process.pid, "Max locked memory")).toEqual({ soft: "65536", hard: "65536" })
      expect(limitOf(process.pid, "Max address space")).toEqual({ soft: String(2 ** 30), hard: "unlimited" })
      expect(limitOf(process.pid, "Max cpu time")).toEqual({ soft: "100", hard: "200" })
    }).pipe(Effect.provide(layer))
  )

  it.live("a limit the kernel refuses is a SpawnError naming it, not an exit status", () =>
    Effect.gen(function* () {
      const max = Number(readFileSync("/proc/sys/fs/nr_open", "utf8"))
      const error = yield* Effect.flip(Command.run(Command.make("true").pipe(Command.limit("nofile", max + 1))))
      expect(error).toBeInstanceOf(CommandError.SpawnError)
      expect(error).toMatchObject({ code: "EPERM" })
      expect(error.message).toContain('Command.limit("nofile")')
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("user and group: every uid and gid, and no supplementary group", () =>
    Effect.gen(function* () {
      const process = yield* running((c) => c.pipe(Command.user(65534), Command.group(65533)))
      const s = status(process.pid)
      expect(s.Uid!.split(/\s+/)).toEqual(["65534", "65534", "65534", "65534"])
      expect(s.Gid!.split(/\s+/)).toEqual(["65533", "65533", "65533", "65533"])
      expect(s.Groups).toBe("")
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("user alone also drops the supplementary groups (root's among them)", () =>
    Effect.gen(function* () {
      const process = yield* running((c) => c.pipe(Command.user(65534)))
      const s = status(process.pid)
      expect(s.Uid!.split(/\s+/)[0]).toBe("65534")
      expect(s.Groups).toBe("")
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("clearCaps empties every capability set, bounding and ambient included", () =>
    Effect.gen(function* () {
      const before = status((yield* running((c) => c)).pid)
      expect(before.CapEff).not.toBe("0000000000000000")
      const s = status((yield* running((c) => c.pipe(Command.clearCaps))).pid)
      for (const set of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"])
        expect([set, s[set]]).toEqual([set, "0000000000000000"])
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("noNewPrivileges", () =>
    Effect.gen(function* () {
      expect(status((yield* running((c) => c)).pid).NoNewPrivs).toBe("0")
      expect(status((yield* running((c) => c.pipe(Command.noNewPrivileges))).pid).NoNewPrivs).toBe("1")
    }).pipe(Effect.provide(layer))
  )

  it.live("a core dump is reported as such", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const result = yield* Command.status(sh("kill -SEGV $$").pipe(Command.cwd(dir), Command.limit("core", Infinity)))
      expect(result).toEqual(ExitStatus.Signaled({ signal: "SIGSEGV", coreDumped: true }))
      const plain = yield* Command.status(sh("kill -SEGV $$").pipe(Command.cwd(dir), Command.limit("core", 0)))
      expect(plain).toEqual(ExitStatus.Signaled({ signal: "SIGSEGV", coreDumped: false }))
    }).pipe(Effect.scoped, Effect.provide(layer))
  )
})

describe("the target and its supervisor", () => {
  it.scopedLive("Process.pid is the program's, leading its own group under a supervisor started for Node", () =>
    Effect.gen(function* () {
      const process = yield* running((c) => c)
      const target = stat(process.pid)
      expect(readlinkSync(`/proc/${process.pid}/exe`)).toMatch(/sleep$/)
      expect(target.pgrp).toBe(process.pid)
      expect(readlinkSync(`/proc/${target.ppid}/exe`)).toMatch(/tether-exec$/)
      expect(startedHere(target.ppid)).toBe(true)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("the supervisor shrugs off SIGTERM, SIGINT and SIGHUP: it must outlive what it guards", () =>
    Effect.gen(function* () {
      const process = yield* running((c) => c)
      const supervisor = stat(process.pid).ppid
      for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) globalThis.process.kill(supervisor, signal)
      yield* Effect.sleep("100 millis")
      expect(stat(supervisor).state).not.toBe("Z")
      expect(yield* process.isRunning).toBe(true)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("the supervisor is gone with the scope, and nothing of it is left unreaped", () =>
    Effect.gen(function* () {
      const supervisor = yield* Effect.scoped(
        Effect.gen(function* () {
          const process = yield* running((c) => c)
          return stat(process.pid).ppid
        })
      )
      const gone = () => {
        try {
          stat(supervisor)
          return false
        } catch {
          return true
        }
      }
      // Node reaps a supervisor it spawned before the scope closes; one the fork server forked is reaped
      // by the server, as soon as it has ended.
      if (forkServerOn) expect(yield* eventually(gone, 1000)).toBe(true)
      else expect(gone()).toBe(true)
    }).pipe(Effect.provide(layer))
  )

  it.live("a file without #! runs under /bin/sh, as execvp does", () =>
    Effect.gen(function* () {
      const script = writeFile(join(yield* tempDir, "plain"), 'echo "from $0 $1"\n')
      expect(yield* Command.string(Command.make(script, "x"))).toBe(`from ${script} x\n`)
    }).pipe(Effect.scoped, Effect.provide(layer))
  )

  it.live("an interpreter that does not exist is CommandNotFound, as without the helper", () =>
    Effect.gen(function* () {
      const script = writeFile(join(yield* tempDir, "script"), "#!/nonexistent/interpreter\n")
      const error = yield* Effect.flip(Command.run(Command.make(script)))
      expect(error).toBeInstanceOf(CommandError.CommandNotFound)
    }).pipe(Effect.scoped, Effect.provide(layer))
  )

  it.live("a daemonized command is not for Command.start", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.run(Command.make("true").pipe(Command.daemonize)))
      expect(error).toBeInstanceOf(CommandError.InvalidCommand)
      expect(error.message).toContain("Command.daemon")
    }).pipe(Effect.provide(layer))
  )

  it.live("a pid file without daemonize is InvalidCommand", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.run(Command.make("true").pipe(Command.pidFile("/tmp/x.pid"))))
      expect(error).toBeInstanceOf(CommandError.InvalidCommand)
    }).pipe(Effect.provide(layer))
  )

  it.live("stdin, stdout and stderr keep working through the supervisor", () =>
    Effect.gen(function* () {
      const out = yield* Command.output(sh("cat; echo err >&2; exit 3").pipe(Command.stdin(Stdio.feed("fed\n"))))
      expect(out).toEqual({ status: ExitStatus.Exited({ code: 3 }), stdout: "fed\n", stderr: "err\n" })
    }).pipe(Effect.provide(layer))
  )
})
