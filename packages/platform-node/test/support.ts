import { readdirSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Command } from "@tether/command"
import { NodeCommandExecutor } from "@tether/platform-node"
import * as Effect from "effect/Effect"

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
