import { spawn } from "node:child_process"
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Command, type CommandError } from "@tether/command"
import type { CommandExecutor } from "@tether/command/CommandExecutor"
import { NodeCommandExecutor } from "@tether/platform-node"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

const here = dirname(fileURLToPath(import.meta.url))

/** The probe built by globalSetup: reports argv, env, fds, cwd, umask and ids as JSON. */
export const probe = join(here, "..", "build", "test", "probe")

export interface ProbeReport {
  readonly argv: ReadonlyArray<string>
  readonly env: ReadonlyArray<string>
  readonly fds: ReadonlyArray<{ readonly fd: number; readonly target: string }>
  readonly cwd: string
  readonly umask: number
  readonly pid: number
  readonly ppid: number
  readonly pgid: number
  readonly sid: number
}

/** Runs the probe as `command` describes (its program replaced by the probe) and parses its report. */
export const report = (command: Command.Command) =>
  Command.string(command).pipe(Effect.map((text) => JSON.parse(text) as ProbeReport))

export const envOf = (r: ProbeReport): Record<string, string> =>
  Object.fromEntries(r.env.map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]))

export const layer = NodeCommandExecutor.layer

/** A process counts as alive unless it is gone or a zombie (this machine's init never reaps orphans). */
export const isAlive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    return state !== "Z" && state !== "X"
  } catch {
    return false
  }
}

/** The live (non-zombie) members of a process group. */
export const groupMembers = (pgid: number): Array<number> => {
  const members: Array<number> = []
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      if (Number(fields[2]) === pgid && fields[0] !== "Z") members.push(Number(name))
    } catch {
      // The process ended while we looked.
    }
  }
  return members
}

/** The parent's open fds, for hygiene checks. */
export const openFds = (): number => readdirSync("/proc/self/fd").length

/** Kills, by pid, what a failed test may have left behind. Never by name. */
export const killGroup = (pgid: number) => {
  try {
    process.kill(-pgid, "SIGKILL")
  } catch {
    // Already gone.
  }
}

/** Waits (polling, bounded) until a condition holds; returns whether it did. */
export const eventually = (condition: () => boolean, ms = 2000) =>
  Effect.gen(function* () {
    const deadline = Date.now() + ms
    while (!condition()) {
      if (Date.now() > deadline) return false
      yield* Effect.sleep("10 millis")
    }
    return true
  })

/** The fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, ... */
const statFields = (pid: number | string): Array<string> | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  } catch {
    return undefined
  }
}

/** Children of `parent` (by default this test process) in state Z: reaped by nobody. */
export const zombieChildren = (parent: number = process.pid): Array<number> => {
  const zombies: Array<number> = []
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    const fields = statFields(name)
    if (fields !== undefined && Number(fields[1]) === parent && fields[0] === "Z") zombies.push(Number(name))
  }
  return zombies
}

/** Whether `pid` is a fork server (`tether-exec -S`), which lives as long as the process that started it. */
export const isForkServer = (pid: number): boolean => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1").startsWith("tether-exec\0-S\0")
  } catch {
    return false
  }
}

/** Whether commands start through the fork server here (the helper's default), not a helper of their own. */
export const forkServerOn = process.env.TETHER_FORK_SERVER !== "0" && process.env.TETHER_EXEC_HELPER !== "0"

/**
 * Whether `supervisor`, a command's supervisor, was started for this process: by its fork server, a child
 * of this process, or by this process itself when the fork server is off.
 */
export const startedHere = (supervisor: number): boolean => {
  const parent = Number(statFields(String(supervisor))?.[1])
  if (!forkServerOn) return parent === process.pid
  return isForkServer(parent) && Number(statFields(String(parent))?.[1]) === process.pid
}

/** The fork servers among the children of `parent`: at most one per process. */
export const forkServers = (parent: number = process.pid): Array<number> => allLiveChildren(parent).filter(isForkServer)

const allLiveChildren = (parent: number): Array<number> => {
  const children: Array<number> = []
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    const fields = statFields(name)
    if (fields !== undefined && Number(fields[1]) === parent && fields[0] !== "Z") children.push(Number(name))
  }
  return children
}

/**
 * Live (non-zombie) children of `parent`, by default this test process. Its fork server, which stays for
 * the life of the process by design (`forkServers` counts it), stands in for its own children: the
 * supervisors it started for this process.
 */
export const liveChildren = (parent: number = process.pid): Array<number> =>
  allLiveChildren(parent).flatMap((pid) => (isForkServer(pid) ? allLiveChildren(pid) : [pid]))

/** A fresh directory under /tmp for one test, removed by the scope that made it. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync("/tmp/tether-foundation-")),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** Writes an executable (or, with `mode`, any) file and returns its path. */
export const writeFile = (path: string, content: string | Uint8Array, mode = 0o755): string => {
  writeFileSync(path, content, { mode })
  chmodSync(path, mode)
  return path
}

/** Reads a pid that a child wrote to a file, waiting (bounded) for it to appear. */
export const readPid = (path: string) =>
  Effect.gen(function* () {
    yield* eventually(() => existsSync(path) && /^\d+\s*$/.test(readFileSync(path, "utf8")))
    return Number(readFileSync(path, "utf8").trim())
  })

/** Milliseconds an effect took, with its result. */
export const timed = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const started = Date.now()
    const exit = yield* Effect.exit(self)
    return { exit, ms: Date.now() - started }
  })

/** The repository root, for running fixtures with `node --import tsx`. */
export const repoRoot = join(here, "..", "..", "..")

export const fixtures = join(here, "fixtures")

/** `sh -c script` with `args` as `$1`, `$2`, ... */
export const sh = (script: string, ...args: ReadonlyArray<Command.Arg>) =>
  Command.make("sh", "-c", script, "sh", ...args)

/** Records unhandled rejections and uncaught exceptions while an effect runs. */
export const unhandledDuring = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const seen: Array<unknown> = []
      const record = (error: unknown) => seen.push(error)
      process.on("unhandledRejection", record)
      process.on("uncaughtException", record)
      return { seen, record }
    }),
    ({ seen }) => Effect.map(self, (value) => ({ value, seen })),
    ({ record }) =>
      // Give a late 'error' event a few turns of the event loop to surface.
      Effect.sleep("20 millis").pipe(
        Effect.zipRight(
          Effect.sync(() => {
            process.off("unhandledRejection", record)
            process.off("uncaughtException", record)
          })
        )
      )
  )

/**
 * Runs a fixture script under `node --import tsx` with plain `node:child_process` (not Tether), killed
 * with its whole process tree's leader when the scope closes if it is still running.
 */
export const spawnFixture = (name: string, args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(process.execPath, ["--import", "tsx", join(fixtures, name), ...args], {
        cwd: repoRoot,
        stdio: ["pipe", "pipe", "pipe"]
      })
      let stderr = ""
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
      const firstLine = Effect.async<string, Error>((resume) => {
        let out = ""
        const onData = (chunk: Buffer) => {
          out += chunk.toString()
          if (out.includes("\n")) {
            child.stdout.off("data", onData)
            resume(Effect.succeed(out.slice(0, out.indexOf("\n"))))
          }
        }
        child.stdout.on("data", onData)
        child.once("exit", () => resume(Effect.fail(new Error(`fixture exited before printing: ${stderr}`))))
      })
      const exited = Effect.async<{ code: number | null; signal: string | null }>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          return resume(Effect.succeed({ code: child.exitCode, signal: child.signalCode }))
        }
        child.once("exit", (code, signal) => resume(Effect.succeed({ code, signal })))
      })
      return { child, firstLine, exited, stderr: () => stderr }
    }),
    ({ child }) =>
      Effect.sync(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      })
  )

/** Live processes whose command line holds `word` as one of its arguments, wherever they are reparented. */
export const processesWith = (word: string): Array<number> => {
  const found: Array<number> = []
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    try {
      const args = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0")
      if (args.includes(word) && isAlive(Number(name))) found.push(Number(name))
    } catch {
      // The process ended while we looked.
    }
  }
  return found
}

/** A sleep duration no other test uses, so that its processes can be found by their command line. */
export const uniqueSleep = (seconds: number) => `${seconds}.${String(process.pid).padStart(7, "0")}${Date.now() % 1000}`

/** Every runner, by name, each run to its end (streams drained, a started process's scope closed). */
export const everyRunner: ReadonlyArray<
  readonly [string, (c: Command.Command) => Effect.Effect<unknown, CommandError.CommandError, CommandExecutor>]
> = [
  ["run", Command.run],
  ["exitCode", Command.exitCode],
  ["status", Command.status],
  ["string", Command.string],
  ["bytes", Command.bytes],
  ["lines", Command.lines],
  ["output", Command.output],
  ["json", Command.json(Schema.Unknown)],
  ["stream", (c) => Stream.runDrain(Command.stream(c))],
  ["streamLines", (c) => Stream.runDrain(Command.streamLines(c))],
  ["start", (c) => Effect.scoped(Command.start(c))]
]
