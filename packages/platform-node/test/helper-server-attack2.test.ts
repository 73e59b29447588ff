/*
 * A second round of attacks on the fork server (`tether-exec -S`): FIFOs given as `Stdio.fd`, worker
 * threads that use Tether, a Node process at its fd limit, pipelines started and stopped at every moment,
 * exit statuses and stopped commands. Each test cleans up, by pid, whatever it started.
 */
import { execFileSync } from "node:child_process"
import { accessSync, closeSync, constants, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { pathToFileURL } from "node:url"
import { Command, CommandError, ExitStatus, Pipeline, Stdio } from "@tether/command"
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import { describe, expect } from "vitest"
import {
  eventually,
  forkServerOn,
  forkServers,
  layer,
  openFds,
  processesWith,
  sh,
  tempDir,
  uniqueSleep,
  writeFile
} from "./support.js"
import { killAllWith, runNode, theServer } from "./exec-helper/support.js"

const packageRoot = join(__dirname, "..")
const require = createRequire(join(packageRoot, "package.json"))

/** An fd of this process, closed when the scope closes. */
const opened = (path: string, flags: number) =>
  Effect.acquireRelease(
    Effect.sync(() => openSync(path, flags)),
    (fd) =>
      Effect.sync(() => {
        try {
          closeSync(fd)
        } catch {
          // Closed already.
        }
      })
  )

/** A FIFO in a fresh directory; opening it (non-blocking) both ways when the scope closes frees a blocked opener. */
const fifo = Effect.gen(function* () {
  const path = join(yield* tempDir, "fifo")
  execFileSync("mkfifo", [path])
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      for (const flags of [constants.O_RDONLY | constants.O_NONBLOCK, constants.O_WRONLY | constants.O_NONBLOCK]) {
        try {
          closeSync(openSync(path, flags))
        } catch {
          // Nobody waits on that side.
        }
      }
    })
  )
  return path
})

/** A child Node from this package, through `prefix` if given, killed by pid when the scope closes. */
const nodeChild = (args: ReadonlyArray<string>, prefix: ReadonlyArray<string> = []) =>
  runNode(args, { cwd: packageRoot, prefix })

/**
 * A worker-thread module, written to `dir`, that loads Tether from this repository (its TypeScript through
 * tsx) and runs `body` with `Command`, `Effect`, `run` and `parentPort` in scope. Returns the module to pass
 * to `new Worker`.
 */
const workerModule = (dir: string, body: string): string => {
  const url = (path: string) => JSON.stringify(pathToFileURL(path).href)
  const tsx = join(dirname(require.resolve("tsx/esm/api")), "index.mjs")
  const effect = join(dirname(require.resolve("effect/package.json")), "dist", "esm", "Effect.js")
  writeFileSync(
    join(dir, "worker-body.mjs"),
    `import { parentPort } from "node:worker_threads"
import { Command } from ${url(join(packageRoot, "..", "command", "src", "index.ts"))}
import { NodeCommandExecutor } from ${url(join(packageRoot, "src", "index.ts"))}
import * as Effect from ${url(effect)}
const run = (effect) => Effect.runPromise(effect.pipe(Effect.provide(NodeCommandExecutor.layer)))
${body}
`
  )
  const boot = join(dir, "worker.mjs")
  writeFileSync(
    boot,
    `import { register } from ${url(tsx)}
register()
await import(${url(join(dir, "worker-body.mjs"))})
`
  )
  return boot
}

describe.runIf(forkServerOn)("the fork server, second round", () => {
  // ---------------------------------------------------------------------------------------------------
  // Stdio.fd of a FIFO: a FIFO reopened through /proc is not the same as the fd it names.
  // ---------------------------------------------------------------------------------------------------

  it.scopedLive(
    "Stdio.fd of a FIFO's read end whose writers are gone: the command reads end of file at once, as with a pipe",
    () =>
      Effect.gen(function* () {
        const path = yield* fifo
        // Opened read-write first, so that the read-only open does not wait; then only a reader is left.
        const both = openSync(path, constants.O_RDWR)
        const reader = yield* opened(path, constants.O_RDONLY)
        closeSync(both)
        const result = yield* Command.exitCode(Command.make("cat").pipe(Command.stdin(Stdio.fd(reader)))).pipe(
          Effect.timeout("5 seconds"),
          Effect.either
        )
        expect(Either.isRight(result) ? result.right : `${result.left._tag}: still starting after 5 s`).toBe(0)
      }).pipe(Effect.provide(layer))
  )

  it.scopedLive("Stdio.fd of a FIFO's write end whose readers are gone: the command gets SIGPIPE, as with a pipe", () =>
    Effect.gen(function* () {
      const path = yield* fifo
      const both = openSync(path, constants.O_RDWR)
      const writer = yield* opened(path, constants.O_WRONLY)
      closeSync(both)
      const result = yield* Command.status(Command.make("echo", "lost").pipe(Command.stdout(Stdio.fd(writer)))).pipe(
        Effect.timeout("5 seconds"),
        Effect.either
      )
      expect(Either.isRight(result) ? result.right : `${result.left._tag}: still starting after 5 s`).toEqual(
        ExitStatus.Signaled({ signal: "SIGPIPE", coreDumped: false })
      )
    }).pipe(Effect.provide(layer))
  )

  // ---------------------------------------------------------------------------------------------------
  // Worker threads: each has a fork server of its own, in the same process.
  // ---------------------------------------------------------------------------------------------------

  it.scopedLive("a worker thread that ran commands does not close the main thread's fds when it exits", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const worker = workerModule(
        dir,
        `for (let i = 0; i < 3; i++) await run(Command.string(Command.make("echo", "hi")))
parentPort.postMessage("ran")
parentPort.once("message", () => process.exit(0))`
      )
      // The main thread opens files after the worker's commands ended, then lets the worker exit.
      const main = join(dir, "main.mjs")
      writeFileSync(
        main,
        `import { Worker } from "node:worker_threads"
import { fstatSync, openSync } from "node:fs"
const worker = new Worker(${JSON.stringify(worker)})
worker.on("error", (error) => console.log(JSON.stringify({ error: String(error) })))
await new Promise((resolve) => worker.once("message", resolve))
const mine = Array.from({ length: 12 }, () => openSync("/dev/null", "r"))
worker.postMessage("exit")
await new Promise((resolve) => worker.once("exit", resolve))
const closed = mine.filter((fd) => { try { fstatSync(fd); return false } catch { return true } })
console.log(JSON.stringify({ closed }))
`
      )
      const { firstLine } = yield* nodeChild([main])
      expect(yield* firstLine).toEqual({ closed: [] })
    })
  )

  it.scopedLive("a worker thread that ran a command leaves no zombie fork server behind once it has ended", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const worker = workerModule(
        dir,
        `await run(Command.string(Command.make("echo", "hi")))
parentPort.postMessage("ran")`
      )
      const main = join(dir, "main.mjs")
      writeFileSync(
        main,
        `import { Worker } from "node:worker_threads"
import { readdirSync, readFileSync } from "node:fs"
for (let i = 0; i < 3; i++) {
  const worker = new Worker(${JSON.stringify(worker)})
  await new Promise((resolve) => worker.once("exit", resolve))
}
await new Promise((resolve) => setTimeout(resolve, 500))
const zombies = []
for (const name of readdirSync("/proc")) {
  if (!/^\\d+$/.test(name)) continue
  try {
    const stat = readFileSync("/proc/" + name + "/stat", "latin1")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    if (Number(fields[1]) === process.pid && fields[0] === "Z") zombies.push(stat.slice(stat.indexOf("("), stat.lastIndexOf(")") + 1))
  } catch {}
}
console.log(JSON.stringify({ zombies }))
`
      )
      const { firstLine } = yield* nodeChild([main])
      expect(yield* firstLine).toEqual({ zombies: [] })
    })
  )

  // ---------------------------------------------------------------------------------------------------
  // Node at its fd limit.
  // ---------------------------------------------------------------------------------------------------

  it.scopedLive.runIf(existsOnPath("prlimit"))(
    "a command started while Node has no fd left fails with a typed EMFILE, and nothing is thrown uncaught",
    () =>
      Effect.gen(function* () {
        const script = `
import { closeSync, openSync } from "node:fs"
import { Command } from "@tether/command"
import { NodeCommandExecutor } from "@tether/platform-node"
import * as Effect from "effect/Effect"
const run = (effect) => Effect.runPromise(effect.pipe(Effect.provide(NodeCommandExecutor.layer)))
const uncaught = []
process.on("uncaughtException", (error) => uncaught.push(String(error)))
await run(Command.exitCode(Command.make("true")))
const held = []
try { for (;;) held.push(openSync("/dev/null", "r")) } catch {}
const result = await run(Effect.either(Command.exitCode(Command.make("true"))))
for (const fd of held) closeSync(fd)
await new Promise((resolve) => setTimeout(resolve, 200))
const outcome = result._tag === "Right" ? { exit: result.right } : { error: result.left._tag, code: result.left.code }
console.log(JSON.stringify({ outcome, uncaught }))
`
        const { firstLine } = yield* nodeChild(
          ["--import", "tsx", "--input-type=module", "-e", script],
          ["prlimit", "--nofile=256:256"]
        )
        const { outcome, uncaught } = (yield* firstLine) as { outcome: unknown; uncaught: Array<string> }
        expect(uncaught).toEqual([])
        expect(outcome).toEqual({ error: "SpawnError", code: "EMFILE" })
      })
  )

  // ---------------------------------------------------------------------------------------------------
  // What passes, worth keeping.
  // ---------------------------------------------------------------------------------------------------

  it.scopedLive(
    "pipelines of 2 to 10 stages, interrupted at every moment or failing mid-start, leave no stage alive and no fd in Node or the server",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const word = uniqueSleep(30)
        yield* Effect.addFinalizer(() => killAllWith(word))
        const server = yield* theServer
        const serverFds = () => readdirSync(`/proc/${server}/fd`).length
        // Fds of earlier tests' children close asynchronously: the baseline is taken once the count holds still.
        let last = -1
        while (openFds() !== last) {
          last = openFds()
          yield* Effect.sleep("100 millis")
        }
        const baseline = { server: serverFds(), node: openFds() }
        // An executable whose interpreter is missing: found on resolution, failing only at exec, in the supervisor.
        const broken = writeFile(join(dir, "broken"), "#!/nonexistent/interpreter\n")
        const sleeper = sh('exec sleep "$1"', word)
        for (let i = 0; i < 60; i++) {
          const length = 2 + (i % 9)
          const stages = Array.from({ length }, (_, k) => (k === 0 ? sleeper : Command.make("cat")))
          const fiber = yield* Effect.fork(Command.string(Pipeline.make(stages[0]!, stages[1]!, ...stages.slice(2))))
          for (let k = 0; k < i % 11; k++) yield* Effect.yieldNow()
          yield* Fiber.interrupt(fiber)
          // The last stage fails at exec, or at opening its output: the stages before it are stopped.
          const bad =
            i % 2 === 0
              ? Command.make(broken)
              : Command.make("cat").pipe(Command.stdout(Stdio.file(join(dir, "missing", "out"))))
          const withBad = (last: Command.Command): [Command.Command, ...Array<Command.Command>] => {
            const middle = Array.from({ length: length - 2 }, () => Command.make("cat"))
            return middle.length === 0 ? [last] : [middle[0]!, ...middle.slice(1), last]
          }
          const failed = yield* Effect.either(Command.run(Pipeline.make(sleeper, ...withBad(bad))))
          expect(Either.isLeft(failed) && failed.left._tag).toBe(i % 2 === 0 ? "CommandNotFound" : "SpawnError")
        }
        expect(yield* eventually(() => processesWith(word).length === 0, 3000)).toBe(true)
        yield* eventually(() => serverFds() === baseline.server && openFds() === baseline.node, 3000)
        expect({ server: serverFds(), node: openFds() }).toEqual(baseline)
        expect(forkServers()).toEqual([server])
      }).pipe(Effect.provide(layer)),
    60_000
  )

  it.scopedLive("every exit code 0-255, and signals with and without a core dump, come through the server", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const statuses = yield* Effect.forEach(
        Array.from({ length: 256 }, (_, i) => i),
        (i) => Command.status(sh("exit $1", String(i))),
        { concurrency: 16 }
      )
      expect(statuses).toEqual(Array.from({ length: 256 }, (_, code) => ExitStatus.Exited({ code })))
      const killed = (signal: string, core: boolean) =>
        Command.status(sh(`kill -${signal} $$`).pipe(Command.cwd(dir), Command.limit("core", core ? Infinity : 0)))
      for (const signal of ["SEGV", "ABRT", "KILL", "TERM", "PIPE"]) {
        expect(yield* killed(signal, false)).toEqual(ExitStatus.Signaled({ signal: `SIG${signal}`, coreDumped: false }))
      }
      // Whether a core is written depends on the machine's core_pattern: only a plain file name is sure.
      if (readFileSync("/proc/sys/kernel/core_pattern", "latin1").trim() === "core") {
        expect(yield* killed("SEGV", true)).toEqual(ExitStatus.Signaled({ signal: "SIGSEGV", coreDumped: true }))
      }
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive(
    "a timed-out command that stopped itself (SIGSTOP) and ignores SIGTERM is killed after its grace period",
    () =>
      Effect.gen(function* () {
        const word = uniqueSleep(300)
        yield* Effect.addFinalizer(() => killAllWith(word))
        yield* theServer
        const result = yield* Effect.either(
          Command.run(
            sh('trap "" TERM; sleep "$1" & kill -STOP $$; wait', word).pipe(
              Command.timeout("300 millis"),
              Command.gracePeriod("300 millis")
            )
          )
        )
        expect(Either.isLeft(result) && result.left).toBeInstanceOf(CommandError.TimeoutError)
        expect(yield* eventually(() => processesWith(word).length === 0, 3000)).toBe(true)
      }).pipe(Effect.provide(layer))
  )
})

function existsOnPath(program: string): boolean {
  return (process.env.PATH ?? "").split(":").some((dir) => {
    try {
      accessSync(join(dir, program), constants.X_OK)
      return dir !== ""
    } catch {
      return false
    }
  })
}
