/*
 * Attacks on the fork server (`tether-exec -S`): one long-lived helper per Node process that forks a
 * supervisor for every command. Each test cleans up, by pid, whatever it started; a fork server stopped
 * with SIGSTOP is always continued.
 */
import { execFileSync } from "node:child_process"
import { closeSync, constants, openSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import type { Readable } from "node:stream"
import { Command, CommandError, Stdio } from "@tether/command"
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import { describe, expect } from "vitest"
import {
  envOf,
  eventually,
  forkServerOn,
  forkServers,
  isAlive,
  layer,
  openFds,
  probe,
  processesWith,
  report,
  sh,
  tempDir,
  uniqueSleep
} from "./support.js"
import { killAllWith, runNode, theServer } from "./exec-helper/support.js"

const packageRoot = join(__dirname, "..")

/** Stops the fork server (SIGSTOP) for the scope; it is continued when the scope closes, whatever happened. */
const stopped = (server: number) =>
  Effect.acquireRelease(
    Effect.sync(() => process.kill(server, "SIGSTOP")),
    () =>
      Effect.sync(() => {
        try {
          process.kill(server, "SIGCONT")
        } catch {
          // It was killed meanwhile.
        }
      })
  )

const continueServer = (server: number) => Effect.sync(() => process.kill(server, "SIGCONT"))

/** A FIFO in a fresh directory; opening its write end (non-blocking) when the scope closes frees a blocked reader. */
const fifo = Effect.gen(function* () {
  const path = join(yield* tempDir, "fifo")
  execFileSync("mkfifo", [path])
  yield* Effect.addFinalizer(() => unblock(path))
  return path
})

/** Lets a reader blocked opening `path` go on (it then reads end of file at once). */
const unblock = (path: string) =>
  Effect.sync(() => {
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK))
    } catch {
      // Nobody is waiting on it.
    }
  })

/** Runs `node -e script` (ESM, tsx) from this package, killed by pid when the scope closes. */
const nodeScript = (script: string, options: { readonly stdio?: Array<"ignore" | "pipe" | "inherit"> } = {}) =>
  runNode(["--import", "tsx", "--input-type=module", "-e", script], { cwd: packageRoot, ...options })

const prelude = `
import { Command, Stdio } from "@tether/command"
import { NodeCommandExecutor } from "@tether/platform-node"
import * as Effect from "effect/Effect"
const run = (effect) => Effect.runPromise(effect.pipe(Effect.provide(NodeCommandExecutor.layer)))
const print = (value) => process.stdout.write(JSON.stringify(value) + "\\n")
`

describe.runIf(forkServerOn)("the fork server", () => {
  // ---------------------------------------------------------------------------------------------------
  // One command's request must not take the shared server down with it.
  // ---------------------------------------------------------------------------------------------------

  it.scopedLive(
    "a Command.fd number the server refuses fails that command alone: requests queued behind it still start",
    () =>
      Effect.gen(function* () {
        const server = yield* theServer
        yield* stopped(server)
        // The server reads both messages in one go: the refused one first.
        const refused = yield* Effect.fork(
          Effect.either(Command.exitCode(Command.make("true").pipe(Command.fd(1 << 20, Stdio.pipe))))
        )
        yield* Effect.sleep("50 millis")
        const others = yield* Effect.fork(
          Effect.all(
            Array.from({ length: 4 }, () => Effect.either(Command.string(Command.make("echo", "ok")))),
            { concurrency: "unbounded" }
          )
        )
        yield* Effect.sleep("50 millis")
        yield* continueServer(server)
        expect(Either.isLeft(yield* Fiber.join(refused))).toBe(true)
        const results = yield* Fiber.join(others)
        expect(results.map((r) => (Either.isRight(r) ? r.right : `${r.left._tag}: ${r.left.message}`))).toEqual([
          "ok\n",
          "ok\n",
          "ok\n",
          "ok\n"
        ])
        // The server survives a request it refuses.
        expect(forkServers()).toEqual([server])
      }).pipe(Effect.provide(layer))
  )

  it.live("a command started right after the server died starts (on a new server), not EHELPER", () =>
    Effect.gen(function* () {
      const server = yield* theServer
      process.kill(server, "SIGKILL")
      const result = yield* Effect.either(Command.string(Command.make("echo", "after")))
      expect(Either.isRight(result) ? result.right : `${result.left._tag}: ${result.left.message}`).toBe("after\n")
    }).pipe(Effect.provide(layer))
  )

  it.live(
    "the server killed with requests pending: they fail with SpawnError, a running command keeps its status, the next command gets a new server",
    () =>
      Effect.gen(function* () {
        const server = yield* theServer
        const running = yield* Effect.fork(Command.exitCode(sh("sleep 0.5; exit 3")))
        yield* Effect.sleep("100 millis")
        process.kill(server, "SIGSTOP")
        const pending = yield* Effect.fork(
          Effect.all(
            Array.from({ length: 3 }, () => Effect.either(Command.string(Command.make("echo", "x")))),
            { concurrency: "unbounded" }
          )
        )
        yield* Effect.sleep("100 millis")
        process.kill(server, "SIGKILL")
        const results = yield* Fiber.join(pending).pipe(Effect.timeout("5 seconds"))
        for (const r of results) {
          // Either it failed, typed, or (better) it was started elsewhere.
          if (Either.isLeft(r)) expect(r.left).toBeInstanceOf(CommandError.SpawnError)
          else expect(r.right).toBe("x\n")
        }
        expect(yield* Fiber.join(running)).toBe(3)
        yield* eventually(() => forkServers().length === 0 || forkServers()[0] !== server)
        expect(yield* Command.string(Command.make("echo", "y"))).toBe("y\n")
        const now = forkServers()
        expect(now).toHaveLength(1)
        expect(now[0]).not.toBe(server)
      }).pipe(Effect.provide(layer))
  )

  // ---------------------------------------------------------------------------------------------------
  // A supervisor must hold nothing of another command's.
  // ---------------------------------------------------------------------------------------------------

  it.scopedLive(
    "a command waiting to open its stdin (a FIFO) does not hold the pipes of a command started just before it",
    () =>
      Effect.gen(function* () {
        const path = yield* fifo
        const server = yield* theServer
        yield* stopped(server)
        // Both requests reach the server before Node releases the first command's pipe ends.
        const first = yield* Effect.fork(Command.string(Command.make("cat").pipe(Command.feed("hello"))))
        yield* Effect.sleep("50 millis")
        const waiting = yield* Effect.fork(
          Effect.either(Command.run(Command.make("cat").pipe(Command.stdin(Stdio.file(path)))))
        )
        yield* Effect.sleep("50 millis")
        yield* continueServer(server)
        // `cat` of the first command must see end of file on its stdin once "hello" is fed.
        const result = yield* Fiber.join(first).pipe(Effect.timeout("3 seconds"), Effect.either)
        yield* unblock(path)
        yield* Fiber.join(waiting)
        if (Either.isLeft(result)) yield* Fiber.join(first)
        expect(Either.isRight(result) ? result.right : "hung: its stdin never reached end of file").toBe("hello")
      }).pipe(Effect.provide(layer))
  )

  it.scopedLive("interrupting a command whose supervisor is stuck opening its stdin (a FIFO) returns", () =>
    Effect.gen(function* () {
      const path = yield* fifo
      const fiber = yield* Effect.fork(
        Command.run(Command.make("cat").pipe(Command.stdin(Stdio.file(path)), Command.timeout("200 millis")))
      )
      yield* Effect.sleep("300 millis")
      const interrupted = yield* Fiber.interrupt(fiber).pipe(Effect.timeout("3 seconds"), Effect.either)
      yield* unblock(path)
      yield* Fiber.await(fiber)
      expect(Either.isRight(interrupted) ? "returned" : "hung until the FIFO was opened").toBe("returned")
    }).pipe(Effect.provide(layer))
  )

  // ---------------------------------------------------------------------------------------------------
  // Interruption at every moment of the start.
  // ---------------------------------------------------------------------------------------------------

  it.scopedLive(
    "interrupting a start before the server replies: once the interruption returns, nothing of the command is alive",
    () =>
      Effect.gen(function* () {
        const word = uniqueSleep(30)
        yield* Effect.addFinalizer(() => killAllWith(word))
        const server = yield* theServer
        for (let round = 0; round < 10; round++) {
          yield* stopped(server)
          // A command that ignores its kill signal: only being killed outright stops it in time.
          const command = sh(`trap "" TERM; sleep "$1" & sleep "$1"`, word).pipe(Command.gracePeriod("30 seconds"))
          const fiber = yield* Effect.fork(Command.run(command))
          yield* Effect.sleep("20 millis")
          // The interruption waits for the server's answer, which comes once the server runs again.
          const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
          yield* Effect.sleep(`${round} millis`)
          yield* continueServer(server)
          yield* Fiber.join(interrupting)
          expect({ round, alive: processesWith(word) }).toEqual({ round, alive: [] })
        }
      }).pipe(Effect.provide(layer))
  )

  it.live(
    "starts interrupted at every moment, failures and successes leave the server's and Node's fds at their baseline",
    () =>
      Effect.gen(function* () {
        const server = yield* theServer
        const serverFds = () => readdirSync(`/proc/${server}/fd`).length
        const baseline = { server: serverFds(), node: openFds() }
        for (let i = 0; i < 200; i++) {
          const fiber = yield* Effect.fork(
            Command.string(sh("echo hi; cat >/dev/null").pipe(Command.feed("abc"), Command.fd(5, Stdio.pipe)))
          )
          for (let k = 0; k < i % 9; k++) yield* Effect.yieldNow()
          if (i % 2 === 0) yield* Fiber.interrupt(fiber)
          else yield* Fiber.await(fiber)
          yield* Effect.either(
            Command.run(Command.make("true").pipe(Command.stdout(Stdio.file("/nonexistent/dir/out"))))
          )
          yield* Effect.either(Command.run(sh("exit 7")))
        }
        expect(yield* eventually(() => serverFds() === baseline.server && openFds() === baseline.node)).toBe(true)
      }).pipe(Effect.provide(layer)),
    60_000
  )

  it.live(
    "2000 x true, 64 at a time: every one exits 0, through one server",
    () =>
      Effect.gen(function* () {
        const server = yield* theServer
        const codes = yield* Effect.forEach(
          Array.from({ length: 2000 }, (_, i) => i),
          (i) => Command.exitCode(i % 2 === 0 ? Command.make("true") : sh("exit $1", String(i % 5))),
          { concurrency: 64 }
        )
        expect(codes).toEqual(Array.from({ length: 2000 }, (_, i) => (i % 2 === 0 ? 0 : i % 5)))
        expect(forkServers()).toEqual([server])
      }).pipe(Effect.provide(layer)),
    120_000
  )

  // ---------------------------------------------------------------------------------------------------
  // What the server took from Node when it started must not outlive Node's own changes.
  // ---------------------------------------------------------------------------------------------------

  it.scopedLive(
    "a umask Node set after the server started applies to the command and to the files its stdio names",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        yield* theServer
        yield* Effect.acquireRelease(
          Effect.sync(() => process.umask(0o077)),
          (previous) => Effect.sync(() => process.umask(previous))
        )
        const out = join(dir, "private")
        const shown = yield* Command.string(sh("umask"))
        yield* Command.run(Command.make("true").pipe(Command.stdout(Stdio.file(out))))
        expect({ umask: shown.trim(), mode: (statSync(out).mode & 0o777).toString(8) }).toEqual({
          umask: "0077",
          mode: "600"
        })
      }).pipe(Effect.provide(layer))
  )

  it.scopedLive.runIf(process.getuid?.() === 0)("commands still start after Node dropped its privileges (setuid)", () =>
    Effect.gen(function* () {
      const script = `${prelude}
await run(Command.exitCode(Command.make("true")))
process.setgid(65534)
process.setuid(65534)
run(Command.string(Command.make("id", "-u"))).then(
  (out) => print({ out }),
  (error) => print({ error: String(error.message ?? error) })
)`
      const child = yield* nodeScript(script)
      expect(yield* child.firstLine).toEqual({ out: "65534\n" })
    })
  )

  it.scopedLive("an fd Node inherited and then closed is not held open by the server", () =>
    Effect.gen(function* () {
      // The script inherits fd 50 (one end of a pipe this test reads), starts a command (and so the
      // server), closes fd 50, and stays up: this test must then see the end of that pipe.
      const script = `${prelude}
import { closeSync } from "node:fs"
await run(Command.exitCode(Command.make("true")))
closeSync(50)
print({ closed: true })
setInterval(() => {}, 1000)`
      const stdio: Array<"ignore" | "pipe" | "inherit"> = ["ignore", "pipe", "pipe"]
      while (stdio.length < 50) stdio.push("ignore")
      stdio.push("pipe")
      const { child, firstLine } = yield* nodeScript(script, { stdio })
      const inherited = (child.stdio as ReadonlyArray<unknown>)[50] as Readable
      let ended = false
      inherited.on("end", () => (ended = true))
      inherited.on("close", () => (ended = true))
      inherited.resume()
      expect(yield* firstLine).toEqual({ closed: true })
      expect(yield* eventually(() => ended, 1500)).toBe(true)
    })
  )

  // ---------------------------------------------------------------------------------------------------
  // What passes, worth keeping: the parent's death, bytes through the protocol, stdio kinds.
  // ---------------------------------------------------------------------------------------------------

  it.scopedLive(
    "Node SIGKILLed while commands run through its server, and while requests are pending in it: nothing survives",
    () =>
      Effect.gen(function* () {
        const word = uniqueSleep(300)
        yield* Effect.addFinalizer(() => killAllWith(word))
        // Three commands run; 300 ms later three more are asked for, while this test holds the server stopped.
        const script = `${prelude}
const one = Command.start(Command.make("sh", "-c", 'sleep "$1"; :', "sh", "${word}"))
const program = Effect.gen(function* () {
  const pids = []
  for (let i = 0; i < 3; i++) pids.push((yield* one).pid)
  print({ pids })
  yield* Effect.sleep("300 millis")
  yield* Effect.all([one, one, one], { concurrency: "unbounded" })
  return yield* Effect.never
})
Effect.runFork(program.pipe(Effect.scoped, Effect.provide(NodeCommandExecutor.layer)))`
        const { child, firstLine } = yield* nodeScript(script)
        const { pids } = (yield* firstLine) as { pids: Array<number> }
        expect(yield* eventually(() => processesWith(word).length >= 6)).toBe(true)
        const servers = forkServers(child.pid!)
        expect(servers).toHaveLength(1)
        const server = servers[0]!
        yield* stopped(server)
        yield* Effect.sleep("600 millis")
        child.kill("SIGKILL")
        yield* Effect.sleep("50 millis")
        yield* continueServer(server)
        expect(
          yield* eventually(
            () => processesWith(word).length === 0 && pids.every((p) => !isAlive(p)) && !isAlive(server),
            3000
          )
        ).toBe(true)
      })
  )

  it.live("odd bytes in argv and the environment reach the command verbatim through the server", () =>
    Effect.gen(function* () {
      const args = ["", "a\nb", "x=y=z", "€ü\u{1F600}", " lead", "-h", "--", "-c", "3", "\t", "run", "release"]
      const env = { EMPTY: "", EQ: "a=b=c", NL: "line1\nline2", UTF: "ö€", DASH: "-S" }
      const r = yield* report(Command.make(probe, ...args).pipe(Command.env(env)))
      expect(r.argv).toEqual([probe, ...args])
      expect(envOf(r)).toMatchObject(env)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("mergeStderr with each stdout kind: fd 2 is fd 1 in the command", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const target = (r: { fds: ReadonlyArray<{ fd: number; target: string }> }, fd: number) =>
        r.fds.find((e) => e.fd === fd)?.target
      // Piped (string captures stdout).
      const piped = yield* report(Command.make(probe).pipe(Command.mergeStderr))
      expect(target(piped, 2)).toBe(target(piped, 1))
      // To a file with a colon in its name, relative to Node's working directory.
      const file = join(dir, "a:b:c")
      yield* Command.run(sh("echo out; echo err >&2").pipe(Command.stdout(Stdio.file(file)), Command.mergeStderr))
      expect(readFileSync(file, "utf8")).toBe("out\nerr\n")
      // To /dev/null.
      const nulled = yield* Command.exitCode(
        sh('[ "$(readlink /proc/$$/fd/2)" = /dev/null ]').pipe(Command.stdout(Stdio.Null), Command.mergeStderr)
      )
      expect(nulled).toBe(0)
    }).pipe(Effect.provide(layer))
  )

  it.live(
    "environments around the 4 MiB message limit: each runs or fails with E2BIG (exec's own limit), and the server stays up",
    () =>
      Effect.gen(function* () {
        // A single value may be at most 128 KiB for exec; many of them make the message large.
        const value = "v".repeat(100 * 1024)
        const env = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`BIG${i}`, value]))
        for (const n of [18, 19, 41, 42]) {
          const result = yield* Effect.either(Command.string(sh('printf %s "${#BIG0}"').pipe(Command.env(env(n)))))
          // Above exec's own limit (a quarter of the stack limit) E2BIG is expected; nothing else is.
          if (Either.isLeft(result)) expect(result.left).toMatchObject({ _tag: "SpawnError", code: "E2BIG" })
          else expect(result.right).toBe(String(value.length))
        }
        expect(forkServers()).toHaveLength(1)
      }).pipe(Effect.provide(layer))
  )
})
