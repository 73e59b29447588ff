import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs"
import { join } from "node:path"
import { Command, CommandError, CommandExecutor, ExitStatus, Pipeline, Stdio } from "@tether/command"
import { NodeCommandExecutor } from "@tether/platform-node"
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { describe, expect } from "vitest"
import {
  eventually,
  forkServerOn,
  groupMembers,
  isAlive,
  liveChildren,
  openFds,
  readPid,
  tempDir,
  timed
} from "./support.js"

const sh = (script: string) => Command.make("sh", "-c", script)

const native = NodeCommandExecutor.layer

const executors = [
  { name: "connected by OS pipes", layer: native },
  {
    name: "connected through streams (startThroughStreams)",
    layer: Layer.succeed(CommandExecutor.CommandExecutor, { start: NodeCommandExecutor.make.start })
  }
]

/**
 * The pipe behind fd `n` of a process, as `dev:inode`, or `undefined` if the fd is not a pipe. A pipe made
 * with pipe(2) shows in /proc as `pipe:[inode]`, one made from an unlinked FIFO as `<path> (deleted)`;
 * both are FIFOs to stat(2), and both ends of one pipe have the same inode.
 */
const pipeOf = (pid: number | "self", fd: number | string): string | undefined => {
  try {
    const stat = statSync(`/proc/${pid}/fd/${fd}`)
    return stat.isFIFO() ? `${stat.dev}:${stat.ino}` : undefined
  } catch {
    // The fd was closed while we looked (the one that listed the directory, for the parent).
    return undefined
  }
}

/** Every pipe the parent holds an end of. */
const parentPipes = (): Array<string> => readdirSync("/proc/self/fd").flatMap((fd) => pipeOf("self", fd) ?? [])

/** Live processes running `sleep <duration>`. */
const sleepsOf = (duration: string): Array<number> =>
  readdirSync("/proc").flatMap((name) => {
    if (!/^\d+$/.test(name)) return []
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, "latin1").split("\0")
      return argv[0] === "sleep" && argv[1] === duration && isAlive(Number(name)) ? [Number(name)] : []
    } catch {
      // It ended while we looked.
      return []
    }
  })

/** argv[0] of a running process. */
const programOf = (pid: number): string => readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0")[0]!

/** The process group of a running process. */
const pgidOf = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2])
}

/** A stage that writes its pid to `file`, starts a background sleep in its group, then sleeps itself. */
const sleeper = (file: string) => sh(`echo $$ > ${file}; sleep 30 & exec sleep 30`)

describe("the bytes between stages never pass through JavaScript", () => {
  it.scopedLive("inner stages' stdin and stdout are the two ends of kernel pipes the parent does not hold", () =>
    Effect.gen(function* () {
      const stage = sh("exec sleep 5")
      const process = yield* Command.start(Pipeline.make(stage, stage, stage))
      const [first, second, third] = process.stages.map((s) => s.pid)

      const firstOut = pipeOf(first!, 1)
      const secondIn = pipeOf(second!, 0)
      const secondOut = pipeOf(second!, 1)
      const thirdIn = pipeOf(third!, 0)
      expect([firstOut, secondIn, secondOut, thirdIn].every((pipe) => pipe !== undefined)).toBe(true)
      expect(secondIn).toBe(firstOut)
      expect(thirdIn).toBe(secondOut)
      expect(secondOut).not.toBe(firstOut)
      expect([readlinkSync(`/proc/${first}/fd/0`), readlinkSync(`/proc/${third}/fd/1`)]).toEqual([
        "/dev/null",
        "/dev/null"
      ])

      const parent = parentPipes()
      expect(parent).not.toContain(firstOut)
      expect(parent).not.toContain(secondOut)
    }).pipe(Effect.provide(native))
  )

  it.live("head -c 1G /dev/zero | cat | wc -c prints 1073741824 while the parent's memory stays flat", () =>
    Effect.gen(function* () {
      const before = process.memoryUsage().rss
      let peak = before
      const sampler = yield* Effect.sync(() => {
        peak = Math.max(peak, process.memoryUsage().rss)
      }).pipe(Effect.zipRight(Effect.sleep("20 millis")), Effect.forever, Effect.fork)
      const out = yield* Command.string(
        Pipeline.make(Command.make("head", "-c", "1G", "/dev/zero"), Command.make("cat"), Command.make("wc", "-c"))
      )
      yield* Fiber.interrupt(sampler)
      expect(out.trim()).toBe("1073741824")
      expect(peak - before).toBeLessThan(100 * 1024 * 1024)
    }).pipe(Effect.provide(native))
  )
})

describe("when OS pipes cannot be made, the Node executor connects the stages through streams", () => {
  /** Sets an environment variable of this (test) process for the rest of the scope. */
  const withEnv = (name: string, value: string) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        const saved = process.env[name]
        process.env[name] = value
        return saved
      }),
      (saved) =>
        Effect.sync(() => {
          if (saved === undefined) delete process.env[name]
          else process.env[name] = saved
        })
    )

  const sleepThenCat = Pipeline.make(Command.make("/bin/sleep", "5"), Command.make("/bin/cat"))
  const yesHead = Pipeline.make(Command.make("/usr/bin/yes"), Command.make("/usr/bin/head", "-n", "1"))

  it.scopedLive("without mkfifo on PATH", () =>
    Effect.gen(function* () {
      yield* withEnv("PATH", "/nonexistent-tether-bin")
      // The fork server makes pipes without either: these tests are about the way without it.
      yield* withEnv("TETHER_FORK_SERVER", "0")
      const process = yield* Command.start(sleepThenCat)
      // Two pipes with Node between them, not one pipe from stage to stage.
      const out = readlinkSync(`/proc/${process.stages[0]!.pid}/fd/1`)
      expect(out).toMatch(/^(socket|pipe):/)
      expect(readlinkSync(`/proc/${process.stages[1]!.pid}/fd/0`)).not.toBe(out)
      expect(yield* Command.string(yesHead)).toBe("y\n")
    }).pipe(Effect.provide(native))
  )

  it.scopedLive("when the temporary directory does not exist", () =>
    Effect.gen(function* () {
      yield* withEnv("TMPDIR", "/nonexistent-tether-tmp")
      // The fork server makes pipes without either: these tests are about the way without it.
      yield* withEnv("TETHER_FORK_SERVER", "0")
      const process = yield* Command.start(sleepThenCat)
      // Two pipes with Node between them, not one pipe from stage to stage.
      const out = readlinkSync(`/proc/${process.stages[0]!.pid}/fd/1`)
      expect(out).toMatch(/^(socket|pipe):/)
      expect(readlinkSync(`/proc/${process.stages[1]!.pid}/fd/0`)).not.toBe(out)
      expect(yield* Command.string(yesHead)).toBe("y\n")
    }).pipe(Effect.provide(native))
  )
  it.scopedLive.skipIf(!forkServerOn)("the fork server's pipes need neither mkfifo nor a temporary directory", () =>
    Effect.gen(function* () {
      yield* withEnv("PATH", "/nonexistent-tether-bin")
      yield* withEnv("TMPDIR", "/nonexistent-tether-tmp")
      const process = yield* Command.start(sleepThenCat)
      const out = readlinkSync(`/proc/${process.stages[0]!.pid}/fd/1`)
      expect(out).toMatch(/^pipe:/)
      expect(readlinkSync(`/proc/${process.stages[1]!.pid}/fd/0`)).toBe(out)
      expect(yield* Command.string(yesHead)).toBe("y\n")
    }).pipe(Effect.provide(native))
  )
})

describe("Process for a pipeline", () => {
  it.scopedLive("stages gives every stage's pid, each leading its own process group", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(
        Pipeline.make(Command.make("sleep", "5"), Command.make("cat"), Command.make("tail", "-f", "/dev/null"))
      )
      const pids = process.stages.map((stage) => stage.pid)
      expect(pids.map(programOf)).toEqual(["sleep", "cat", "tail"])
      expect(pids.map(pgidOf)).toEqual(pids)
      expect(process.pid).toBe(pids[2])
      expect(new Set(pids).size).toBe(3)
    }).pipe(Effect.provide(native))
  )

  it.scopedLive("wait returns the first failing stage's status and stages[i].wait each stage's", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(Pipeline.make(Command.make("true"), sh("exit 3"), sh("exit 4")))
      expect(yield* process.wait).toEqual(ExitStatus.Exited({ code: 3 }))
      const statuses = yield* Effect.forEach(process.stages, (stage) => stage.wait)
      expect(statuses).toEqual([0, 3, 4].map((code) => ExitStatus.Exited({ code })))
    }).pipe(Effect.provide(native))
  )

  it.scopedLive("wait returns the last stage's status when no stage failed", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(Pipeline.make(Command.make("yes"), Command.make("head", "-c", "1")))
      expect(yield* process.wait).toEqual(ExitStatus.Exited({ code: 0 }))
      expect(yield* process.isRunning).toBe(false)
    }).pipe(Effect.provide(native))
  )

  it.scopedLive("exitCode fails with SignalError naming a stage before the last that a signal killed", () =>
    Effect.gen(function* () {
      const process = yield* Command.start(Pipeline.make(sh("kill -TERM $$"), Command.make("true")))
      const error = yield* Effect.flip(process.exitCode)
      expect(error).toBeInstanceOf(CommandError.SignalError)
      expect(error).toMatchObject({ signal: "SIGTERM", command: "sh -c 'kill -TERM $$'" })
    }).pipe(Effect.provide(native))
  )

  it.live("the exitCode runner fails with SignalError naming the stage a signal killed", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.exitCode(Pipeline.make(sh("kill -TERM $$"), Command.make("true"))))
      expect(error).toBeInstanceOf(CommandError.SignalError)
      expect(error).toMatchObject({ signal: "SIGTERM", command: "sh -c 'kill -TERM $$'", pipeline: { stage: 1 } })
    }).pipe(Effect.provide(native))
  )
})

describe.each(executors)("stopping a pipeline $name stops every stage's process group", ({ layer }) => {
  /** Starts `count` sleeper stages through `run`, returning their pids and the members of their groups. */
  const sleepers = (dir: string, count: number, last?: (stage: Command.Command) => Command.Command) => {
    const files = Array.from({ length: count }, (_, i) => join(dir, `stage-${i}`))
    const stages = files.map((file, i) => (i === count - 1 && last ? last(sleeper(file)) : sleeper(file)))
    return { files, pipeline: Pipeline.make(stages[0]!, stages[1]!, ...stages.slice(2)) }
  }

  /** The pids written by the stages, and every live member of their groups once each has two. */
  const membersOf = (files: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      const pids = yield* Effect.forEach(files, readPid)
      yield* eventually(() => pids.every((pid) => groupMembers(pid).length >= 2))
      return pids.flatMap(groupMembers)
    })

  it.live("when the scope of start closes", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { files, pipeline } = sleepers(dir, 3)
      const members = yield* Effect.scoped(
        Effect.gen(function* () {
          yield* Command.start(pipeline)
          return yield* membersOf(files)
        })
      )
      expect(members.length).toBe(6)
      expect(members.filter(isAlive)).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(layer))
  )

  it.live("when the fiber running it is interrupted", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { files, pipeline } = sleepers(dir, 3)
      const fiber = yield* Effect.fork(Command.run(pipeline))
      const members = yield* membersOf(files)
      yield* Fiber.interrupt(fiber)
      expect(members.length).toBe(6)
      expect(members.filter(isAlive)).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(layer))
  )

  it.live("when a stage's timeout passes, failing with TimeoutError", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { files, pipeline } = sleepers(dir, 3, Command.timeout("500 millis"))
      const fiber = yield* Effect.fork(timed(Command.run(pipeline)))
      const members = yield* membersOf(files)
      const { exit, ms } = yield* Fiber.join(fiber)
      const error = yield* Effect.flip(exit)
      expect(error).toBeInstanceOf(CommandError.TimeoutError)
      expect(ms).toBeLessThan(10_000)
      expect(members.filter(isAlive)).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(layer))
  )

  it.live("when a stream of its output is taken only in part", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const first = join(dir, "first")
      const second = join(dir, "second")
      const head = yield* Stream.runHead(
        Command.stream(Pipeline.make(sh(`echo $$ > ${first}; exec yes`), sh(`echo $$ > ${second}; exec cat`)))
      )
      expect(head._tag).toBe("Some")
      const pids = [Number(readFileSync(first, "utf8")), Number(readFileSync(second, "utf8"))]
      expect(pids.filter(isAlive)).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(layer))
  )

  it.live("with each stage's own kill signal, so that a stage can clean up", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const pid = join(dir, "pid")
      const cleaned = join(dir, "cleaned")
      const cleanup = sh(`trap 'echo done > ${cleaned}; exit 0' USR1; echo $$ > ${pid}; sleep 30 & wait`).pipe(
        Command.killSignal("SIGUSR1")
      )
      const fiber = yield* Effect.fork(Command.run(Pipeline.make(cleanup, Command.make("cat"))))
      yield* readPid(pid)
      yield* Fiber.interrupt(fiber)
      expect(yield* eventually(() => existsSync(cleaned))).toBe(true)
      expect(readFileSync(cleaned, "utf8")).toBe("done\n")
    }).pipe(Effect.scoped, Effect.provide(layer))
  )

  it.live("when the last stage's output passes maxOutput, failing with OutputLimitError", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { files, pipeline } = sleepers(dir, 2)
      const flood = Pipeline.make(
        pipeline.stages[0]!,
        sh(`echo $$ > ${files[1]}; exec yes`).pipe(Command.maxOutput(1000))
      )
      const fiber = yield* Effect.fork(Effect.flip(Command.string(flood)))
      const error = yield* Fiber.join(fiber)
      expect(error).toBeInstanceOf(CommandError.OutputLimitError)
      const pids = yield* Effect.forEach(files, readPid)
      expect(pids.filter(isAlive)).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(layer))
  )

  it.live("when a later stage fails to start, the stages already started are stopped at once", () =>
    Effect.gen(function* () {
      const before = new Set(liveChildren())
      const result = yield* Effect.scoped(
        Effect.gen(function* () {
          const started = yield* Effect.either(
            Command.start(Pipeline.make(Command.make("sleep", "30"), Command.make("/nonexistent/tether-program")))
          )
          // Still inside the scope that start was given: nothing may be left running in it.
          return { started, left: liveChildren().filter((pid) => !before.has(pid)) }
        })
      )
      expect(result.started._tag).toBe("Left")
      expect(result.left).toEqual([])
    }).pipe(Effect.provide(layer))
  )
})

describe("the parent keeps nothing", () => {
  it.live("interrupting pipelines at every moment of their start leaves no process and no fd behind", () =>
    Effect.gen(function* () {
      // A run first: the fork server and its channel stay for the life of the process.
      yield* Command.run(Command.make("true"))
      const baseline = openFds()
      // An unusual duration marks this test's sleeps, background ones included, among all processes.
      const target = Pipeline.make(sh("sleep 5.0417 & exec sleep 5.0417"), Command.make("cat"), sh("exec sleep 5.0417"))
      yield* Effect.forEach(
        Array.from({ length: 100 }, (_, i) => i),
        (i) => Effect.exit(Command.string(target).pipe(Effect.timeout(`${(i % 25) * 200} micros`))),
        { concurrency: 4, discard: true }
      )
      expect(yield* eventually(() => liveChildren().length === 0, 5000)).toBe(true)
      expect(yield* eventually(() => sleepsOf("5.0417").length === 0, 5000)).toBe(true)
      expect(yield* eventually(() => openFds() === baseline, 5000)).toBe(true)
    }).pipe(Effect.provide(native))
  )

  it.live("its fd count returns to the baseline after pipelines that succeed, fail and are interrupted", () =>
    Effect.gen(function* () {
      const baseline = openFds()
      for (let i = 0; i < 5; i++) {
        yield* Command.string(Pipeline.make(Command.make("echo", "x"), Command.make("cat"), Command.make("cat")))
        yield* Effect.either(Command.run(Pipeline.make(Command.make("false"), Command.make("cat"))))
        yield* Effect.either(Command.run(Pipeline.make(Command.make("true"), Command.make("/nonexistent/x"))))
        yield* Command.run(Pipeline.make(Command.make("sleep", "30"), Command.make("cat"))).pipe(
          Effect.timeout("50 millis"),
          Effect.either
        )
        yield* Effect.scoped(
          Command.start(Pipeline.make(Command.make("cat").pipe(Command.stdin(Stdio.pipe)), Command.make("cat")))
        )
      }
      expect(yield* eventually(() => openFds() === baseline)).toBe(true)
    }).pipe(Effect.provide(native))
  )
})
