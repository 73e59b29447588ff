import { readdirSync, readFileSync } from "node:fs"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * Sends a signal to a whole process group. Returns `false` when the group has no member left. Callers
 * guarantee the group still exists (its leader has not been reaped, or a member was seen just now).
 */
export const signalGroup = (pgid: number, signal: string | 0): boolean => {
  try {
    // Node knows no signal named "0": the existence probe must be the number.
    process.kill(-pgid, signal as NodeJS.Signals | 0)
    return true
  } catch {
    return false
  }
}

const readState = (pid: string): { pgrp: number; state: string } | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
    // The command name in parentheses may hold spaces and parentheses: read after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return { state: fields[0]!, pgrp: Number(fields[2]) }
  } catch {
    return undefined
  }
}

const hasProc = (() => {
  try {
    readdirSync("/proc/self/fd")
    return true
  } catch {
    return false
  }
})()

/**
 * Whether any live process is still in the group. `kill(-pgid, 0)` answers for most groups in one
 * system call; when it finds members, Linux's /proc tells zombies apart, because an orphan's zombie
 * counts as a member until its new parent reaps it, and some init processes never do.
 */
export const groupAlive = (pgid: number): boolean => {
  if (!signalGroup(pgid, 0)) return false
  if (!hasProc) return true
  for (const pid of readdirSync("/proc")) {
    if (pid.charCodeAt(0) > 57) continue
    const entry = readState(pid)
    if (entry !== undefined && entry.pgrp === pgid && entry.state !== "Z" && entry.state !== "X") return true
  }
  return false
}

const poll = (pgid: number, within: Duration.Duration) =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(within)
    while (groupAlive(pgid)) {
      if (Date.now() >= deadline) return false
      yield* Effect.sleep(Duration.millis(10))
    }
    return true
  })

/**
 * Stops what is left of a group whose leader has already exited and been reaped (a background
 * grandchild, say): the kill signal, the grace period, then SIGKILL.
 */
export const sweepGroup = (pgid: number, signal: string, grace: Duration.Duration) =>
  Effect.gen(function* () {
    if (!groupAlive(pgid)) return
    signalGroup(pgid, signal)
    if (yield* poll(pgid, grace)) return
    signalGroup(pgid, "SIGKILL")
    yield* poll(pgid, Duration.seconds(1))
  })

const live = new Set<number>()
let installed = false

/**
 * Remembers a running group, so that a parent which exits (`process.exit`, the end of the event loop)
 * takes it along. Node's "exit" handlers cannot wait, so this is SIGKILL at once; a graceful stop is
 * what closing scopes does, for example under `NodeRuntime.runMain` on SIGINT or SIGTERM.
 */
export const track = (pgid: number): void => {
  if (!installed) {
    installed = true
    process.once("exit", () => {
      for (const group of live) signalGroup(group, "SIGKILL")
    })
  }
  live.add(pgid)
}

export const untrack = (pgid: number): void => {
  live.delete(pgid)
}
