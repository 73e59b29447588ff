/*
 * One Node process's life with Tether, for the lifecycle attacks: argv[2] names the scenario, argv[3] is
 * a unique word the commands carry (so the test finds them by their argv), argv[4] a scratch path. Each
 * scenario prints one JSON line once its commands run (their pids, the fork server's pid), then does
 * what the scenario says to its own process.
 */
import { readdirSync, readFileSync } from "node:fs"
import { NodeRuntime } from "@effect/platform-node"
import { Command, Stdio } from "@tether/command"
import type { CommandExecutor } from "@tether/command/CommandExecutor"
import { NodeCommandExecutor } from "@tether/platform-node"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

const [scenario, word = "0", scratch = "/tmp"] = process.argv.slice(2)

const children = (parent: number): Array<number> =>
  readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, "latin1")
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === parent
      } catch {
        return false
      }
    })
    .map(Number)

const servers = () =>
  children(process.pid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "latin1").startsWith("tether-exec\0-S\0")
    } catch {
      return false
    }
  })

const say = (value: Record<string, unknown>) =>
  Effect.sync(() => process.stdout.write(JSON.stringify({ ...value, node: process.pid, servers: servers() }) + "\n"))

/** `sh -c script` with the unique word as $1, so that the command is found by its argv. */
const sh = (script: string) => Command.make("sh", "-c", script, "sh", word)
/** A command that ignores SIGTERM and runs `sleep WORD` in its group: only SIGKILL stops it in time. */
const stubborn = sh(`trap "" TERM; sleep "$1" & wait`).pipe(Command.gracePeriod("30 seconds"))
/** A command that records a graceful stop in the scratch file, then exits. */
const graceful = sh(`trap 'echo TERM > ${scratch}; exit 0' TERM; sleep "$1" & wait`)

const layer = NodeCommandExecutor.layer

const scenarios: Record<string, () => void> = {
  // process.exit(0) from a finalizer that runs while a command still runs (it was added after the start).
  "exit-in-finalizer": () =>
    Effect.runFork(
      Effect.gen(function* () {
        const child = yield* Command.start(stubborn)
        yield* Effect.addFinalizer(() => Effect.sync(() => process.exit(0)))
        yield* say({ pid: child.pid })
        yield* Effect.sleep("300 millis")
      }).pipe(Effect.scoped, Effect.provide(layer))
    ),
  // process.exit(0) right after asking for a start, before the fork server answered.
  "exit-while-starting": () =>
    Effect.runFork(
      Effect.gen(function* () {
        yield* Command.exitCode(Command.make("true"))
        yield* say({})
        yield* Effect.forkDaemon(Command.start(stubborn).pipe(Effect.zipRight(Effect.never), Effect.scoped))
        yield* Effect.yieldNow()
        // The request is on the channel; the answer is not here yet.
        process.exit(0)
      }).pipe(Effect.provide(layer))
    ),
  // process.exit(0) once a command's leader has exited, its background child (which ignores SIGTERM) still
  // running in its group: the command's scope is still open.
  "exit-after-leader": () =>
    Effect.runFork(
      Effect.gen(function* () {
        const child = yield* Command.start(
          sh(`(trap "" TERM; exec sleep "$1") & echo started`).pipe(
            Command.stdout(Stdio.pipe),
            Command.gracePeriod("30 seconds")
          )
        )
        yield* child.wait
        yield* say({ pid: child.pid })
        yield* Effect.sleep("200 millis")
        process.exit(0)
      }).pipe(Effect.scoped, Effect.provide(layer))
    ),
  // process.exit(0) while a command's start waits on its stdin, a FIFO (argv[4]) nobody opens for writing.
  "exit-fifo": () =>
    Effect.runFork(
      Effect.gen(function* () {
        yield* Command.exitCode(Command.make("true"))
        const [server] = servers()
        yield* Effect.forkDaemon(
          Command.run(Command.make("cat").pipe(Command.stdin(Stdio.file(scratch)))).pipe(Effect.exit)
        )
        yield* Effect.sleep("300 millis")
        yield* say({ supervisors: children(server!) })
        process.exit(0)
      }).pipe(Effect.provide(layer))
    ),
  // An exception nobody catches, with a command running.
  uncaught: () =>
    Effect.runFork(
      Effect.gen(function* () {
        const child = yield* Command.start(stubborn)
        yield* say({ pid: child.pid })
        setTimeout(() => {
          throw new Error("boom")
        }, 200)
        return yield* Effect.never
      }).pipe(Effect.scoped, Effect.provide(layer))
    ),
  // A rejected promise nobody handles, with a command running.
  rejection: () =>
    Effect.runFork(
      Effect.gen(function* () {
        const child = yield* Command.start(stubborn)
        yield* say({ pid: child.pid })
        setTimeout(() => void Promise.reject(new Error("boom")), 200)
        return yield* Effect.never
      }).pipe(Effect.scoped, Effect.provide(layer))
    ),
  // Under runMain, waiting for SIGINT or SIGTERM with a command that stops gracefully.
  "run-main": () =>
    NodeRuntime.runMain(
      Effect.gen(function* () {
        const child = yield* Command.start(graceful)
        yield* say({ pid: child.pid })
        return yield* Effect.never
      }).pipe(Effect.scoped, Effect.provide(layer)),
      { disableErrorReporting: true }
    ),
  // Commands that succeed, fail, time out, fail to exec, are interrupted while starting: then nothing.
  natural: () =>
    Effect.runFork(
      Effect.gen(function* () {
        yield* Command.string(Command.make("echo", "hi"))
        yield* Command.exitCode(sh("exit 3"))
        yield* Effect.exit(Command.run(Command.make("/nonexistent/program")))
        yield* Effect.exit(Command.run(sh('sleep "$1"').pipe(Command.timeout("100 millis"))))
        for (let i = 0; i < 20; i++) {
          yield* Effect.exit(
            Command.run(sh('sleep "$1"').pipe(Command.stdout(Stdio.pipe))).pipe(Effect.timeout(`${i * 50} micros`))
          )
        }
        const fiber = yield* Effect.fork(Command.run(stubborn.pipe(Command.gracePeriod("100 millis"))))
        yield* Effect.sleep("100 millis")
        yield* Fiber.interrupt(fiber)
        yield* say({})
      }).pipe(Effect.provide(layer))
    ),
  // Many runtimes, each providing the layer anew, made and disposed in turn and side by side.
  runtimes: () => {
    const go = async () => {
      const kept: Array<ManagedRuntime.ManagedRuntime<CommandExecutor, never>> = []
      for (let i = 0; i < 10; i++) {
        const runtime = ManagedRuntime.make(layer)
        await runtime.runPromise(Command.string(Command.make("echo", String(i))))
        if (i % 2 === 0) await runtime.dispose()
        else kept.push(runtime)
      }
      const all = await Promise.all(
        kept.map((runtime) => runtime.runPromise(Command.string(Command.make("echo", "x"))))
      )
      await Promise.all(kept.map((runtime) => runtime.dispose()))
      process.stdout.write(JSON.stringify({ node: process.pid, servers: servers(), outputs: all.length }) + "\n")
    }
    void go()
  },
  // Tether in a command: this scenario again, one level down, with a long command of its own.
  nested: () =>
    Effect.runFork(
      Effect.gen(function* () {
        const inner = yield* Command.start(
          Command.make(process.execPath, "--import", "tsx", new URL(import.meta.url).pathname, "inner", word).pipe(
            Command.stdout(Stdio.pipe)
          )
        )
        const line = yield* inner.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.runHead)
        yield* say({ pid: inner.pid, inner: JSON.parse(Option.getOrElse(line, () => "null")) })
        return yield* Effect.never
      }).pipe(Effect.scoped, Effect.provide(layer))
    ),
  inner: () =>
    Effect.runFork(
      Effect.gen(function* () {
        const child = yield* Command.start(stubborn)
        yield* say({ pid: child.pid })
        return yield* Effect.never
      }).pipe(Effect.scoped, Effect.provide(layer))
    ),
  // A command that inherits Node's stdin (whatever it is) and reports what it read, then nothing.
  "inherit-stdin": () =>
    Effect.runFork(
      Effect.gen(function* () {
        const out = yield* Command.string(
          Command.make("sh", "-c", 'head -c 100 || echo "read failed"').pipe(Command.stdin(Stdio.inherit))
        )
        yield* say({ out })
      }).pipe(Effect.provide(layer))
    )
}

const run = scenarios[scenario ?? ""]
if (run === undefined) throw new Error(`no scenario ${scenario}`)
run()
