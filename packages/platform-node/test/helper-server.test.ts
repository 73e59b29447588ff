/*
 * The fork server: one `tether-exec -S` per Node process forks every command's supervisor. What the kernel
 * shows about it: one process, in a session of its own, holding Node's stdio and nothing of the commands'
 * once they run; commands that outlive it when it is killed; a new one for the next command; and gone
 * with Node.
 */
import { readdirSync, readlinkSync } from "node:fs"
import { join } from "node:path"
import { Command, CommandError, Stdio } from "@tether/command"
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { describe, expect } from "vitest"
import { killAtEnd, killPid, runFixture, stat, theServer } from "./exec-helper/support.js"
import {
  eventually,
  forkServerOn,
  forkServers,
  isAlive,
  layer,
  processesWith,
  sh,
  startedHere,
  tempDir,
  uniqueSleep
} from "./support.js"

const fdsOf = (pid: number) => readdirSync(`/proc/${pid}/fd`).length

describe.skipIf(!forkServerOn)("the fork server", () => {
  it.live("is one process for every command, in a session of its own, with Node's stdio and cwd /", () =>
    Effect.gen(function* () {
      const server = yield* theServer
      yield* Effect.forEach(Array.from({ length: 20 }), () => Command.run(Command.make("true")), { concurrency: 8 })
      expect(forkServers()).toEqual([server])
      const own = stat(server)
      expect(own.session).toBe(server)
      expect(readlinkSync(`/proc/${server}/cwd`)).toBe("/")
      for (const fd of [0, 1, 2]) {
        expect(readlinkSync(`/proc/${server}/fd/${fd}`)).toBe(readlinkSync(`/proc/self/fd/${fd}`))
      }
    }).pipe(Effect.provide(layer))
  )

  it.live("keeps nothing of the commands it started: its fd count is back to its baseline", () =>
    Effect.gen(function* () {
      const server = yield* theServer
      const baseline = fdsOf(server)
      const sleep = uniqueSleep(5)
      const kinds = [
        Command.string(Command.make("echo", "ok")),
        Command.run(sh("echo err >&2; exit 3")),
        Command.string(Command.make("cat").pipe(Command.feed("x"))),
        Command.run(Command.make("true").pipe(Command.fd(3, Stdio.feed("x")), Command.fd(4, Stdio.pipe))),
        Command.run(Command.make("true").pipe(Command.stdout(Stdio.file("/nonexistent-tether-dir/out")))),
        Command.run(Command.make("sleep", sleep)).pipe(Effect.timeout("1 millis")),
        Command.streamLines(sh("while :; do echo y; done")).pipe(Stream.take(2), Stream.runDrain)
      ]
      yield* Effect.forEach(
        Array.from({ length: 140 }, (_, i) => kinds[i % kinds.length]!),
        (run) => Effect.exit(run),
        { concurrency: 8, discard: true }
      )
      const settled = yield* eventually(() => fdsOf(server) === baseline, 5000)
      expect({ settled, fds: fdsOf(server) }).toEqual({ settled: true, fds: baseline })
      expect(yield* eventually(() => processesWith(sleep).length === 0, 5000)).toBe(true)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive(
    "killed outright, it leaves running commands to their scopes, and the next command gets a new one",
    () =>
      Effect.gen(function* () {
        const server = yield* theServer
        const sleep = uniqueSleep(300)
        yield* killAtEnd(() => processesWith(sleep))
        const fiber = yield* Effect.fork(
          Effect.scoped(
            Effect.gen(function* () {
              const process = yield* Command.start(
                Command.make("sh", "-c", 'read line; echo "got $line"; exec sleep "$1"', "sh", sleep).pipe(
                  Command.stdin(Stdio.pipe),
                  Command.stdout(Stdio.pipe)
                )
              )
              expect(startedHere(stat(process.pid).ppid)).toBe(true)
              killPid(server)
              expect(yield* eventually(() => !isAlive(server))).toBe(true)
              // The command still runs, and its pipes still work: they never went through the server.
              yield* Stream.run(Stream.make("hello\n"), process.stdin)
              const first = yield* Stream.runHead(Stream.splitLines(Stream.decodeText(process.stdout)))
              expect(first._tag === "Some" ? first.value : undefined).toBe("got hello")
              expect(yield* process.isRunning).toBe(true)
              return process.pid
            })
          )
        )
        const pid = yield* Fiber.join(fiber)
        // The scope closed: the command is gone although its supervisor's parent was killed.
        expect(yield* eventually(() => !isAlive(pid) && processesWith(sleep).length === 0)).toBe(true)
        expect(yield* Command.string(Command.make("echo", "again"))).toBe("again\n")
        const [next] = forkServers()
        expect(next).toBeDefined()
        expect(next).not.toBe(server)
      }).pipe(Effect.provide(layer))
  )

  it.live("a file it cannot open for the command is a SpawnError naming the file", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = join(dir, "missing", "out")
      const error = yield* Effect.flip(Command.run(Command.make("true").pipe(Command.stdout(Stdio.file(path)))))
      expect(error).toBeInstanceOf(CommandError.SpawnError)
      expect((error as CommandError.SpawnError).code).toBe("ENOENT")
      expect(error.message).toContain(path)
    }).pipe(Effect.scoped, Effect.provide(layer))
  )

  it.live("a command's output pipe holds as much as a socketpair: 256 KiB written just before exit arrive", () =>
    Effect.gen(function* () {
      // One write of 256 KiB from a program that exits at once: with a 64 KiB pipe, Node loses the rest.
      const script = `process.stdout.write("x".repeat(256 * 1024)); process.exit(0)`
      const out = yield* Command.string(Command.make(process.execPath, "-e", script))
      expect(out.length).toBe(256 * 1024)
    }).pipe(Effect.provide(layer))
  )
})

describe.skipIf(!forkServerOn)("when Node is SIGKILLed", () => {
  it.scopedLive("its fork server ends, and so does every command it started", () =>
    Effect.gen(function* () {
      const sleep = uniqueSleep(300)
      yield* killAtEnd(() => processesWith(sleep))
      const parent = yield* runFixture("parent.ts", [`sleep ${sleep} & sleep ${sleep}; true`])
      yield* parent.firstLine
      expect(yield* eventually(() => processesWith(sleep).length === 2)).toBe(true)
      const servers = forkServers(parent.child.pid!)
      expect(servers.length).toBe(1)
      yield* killAtEnd(() => servers)
      const started = processesWith(sleep)
      killPid(parent.child.pid!)
      yield* parent.exited
      const gone = yield* eventually(() => [...servers, ...started].every((p) => !isAlive(p)), 1000)
      expect({ gone, left: [...servers, ...started].filter(isAlive) }).toEqual({ gone: true, left: [] })
    })
  )
})

describe("interrupted while the fork server answers", () => {
  it.live("a start interrupted at every moment leaves no process behind", () =>
    Effect.gen(function* () {
      const sleep = uniqueSleep(30)
      const exits = yield* Effect.forEach(
        Array.from({ length: 60 }, (_, i) => i),
        (i) =>
          Effect.exit(
            Command.run(Command.make("sleep", sleep).pipe(Command.stdout(Stdio.pipe))).pipe(
              Effect.timeout(`${(i % 30) * 100} micros`)
            )
          ),
        { concurrency: 4 }
      )
      expect(exits.every(Exit.isFailure)).toBe(true)
      expect(yield* eventually(() => processesWith(sleep).length === 0, 5000)).toBe(true)
    }).pipe(Effect.provide(layer))
  )
})
