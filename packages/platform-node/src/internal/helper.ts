/**
 * The exec helper (`native/tether-exec.c`): finding the built binary, turning a command's settings into
 * its arguments, and reading what it reports over its control channel.
 */
import type * as ChildProcess from "node:child_process"
import { accessSync, closeSync, constants as fs, readFileSync } from "node:fs"
import { constants as os } from "node:os"
import type { Duplex, Readable, Writable } from "node:stream"
import { fileURLToPath } from "node:url"
import type * as Command from "@tether/command/Command"
import * as CommandError from "@tether/command/CommandError"
import * as ExitStatus from "@tether/command/ExitStatus"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import { signalGroup, track, untrack } from "./stop.js"

const builtPath = fileURLToPath(new URL("../../build/tether-exec", import.meta.url))

let built: boolean | undefined

/**
 * The helper to spawn, or why there is none: `TETHER_EXEC_HELPER=0` turns it off, and it exists only
 * where the install script could build it (Linux with a C compiler).
 */
export const locate = (): { readonly path: string } | { readonly path?: undefined; readonly reason: string } => {
  if (process.env.TETHER_EXEC_HELPER === "0") return { reason: "the exec helper is turned off (TETHER_EXEC_HELPER=0)" }
  if (process.platform !== "linux") return { reason: `the exec helper needs Linux, and this is ${process.platform}` }
  if (built === undefined) {
    try {
      accessSync(builtPath, fs.X_OK)
      built = true
    } catch {
      built = false
    }
  }
  return built
    ? { path: builtPath }
    : { reason: `the exec helper was not built (no ${builtPath}; the package's install script builds it with cc)` }
}

/**
 * A started command as the executor drives it, watched from the moment it is spawned: a fast child can
 * exit before the fiber that spawned it runs again, and its exit must not be missed.
 */
export interface Leader {
  /** The command's stdio streams by fd (Node's ends of its pipes). */
  readonly stdio: ReadonlyArray<Readable | Writable | null>
  /** The command's pid, which is also its process group id. */
  readonly pid: number
  status: ExitStatus.ExitStatus | undefined
  readonly onExit: Array<(status: ExitStatus.ExitStatus) => void>
  /** Signals the command's process group; called only before its exit was seen. */
  readonly signal: (signal: string) => void
  /** Once the command is stopped: ends whatever it left behind. */
  readonly release: Effect.Effect<void>
}

const signalNumber = (name: string): number => os.signals[name as keyof typeof os.signals] ?? os.signals.SIGTERM

const signalNames = new Map<number, string>()
for (const [name, n] of Object.entries(os.signals)) if (!signalNames.has(n)) signalNames.set(n, name)

const errnoNames = new Map<number, string>()
for (const [name, n] of Object.entries(os.errno)) if (!errnoNames.has(n)) errnoNames.set(n, name)

const limitWord = (n: number) => (n === Infinity ? "inf" : String(n))

/** The longest grace period the helper takes, about 35 years: effectively forever. */
const maxGraceMillis = 2 ** 40

export interface Invocation {
  /** The child fd of the control channel. */
  readonly control: number
  /** The resolved program and the whole argv (argv[0] as the program will see it). */
  readonly file: string
  readonly argv: ReadonlyArray<string>
  /** The fds above 2 the target keeps: those its stdio array opens. Every other one is closed. */
  readonly keep: ReadonlyArray<number>
  /** dup2(from, to) in the target, for what Node's stdio array cannot express. */
  readonly dups: ReadonlyArray<readonly [number, number]>
  readonly dir?: string | undefined
  readonly daemon?: { readonly pidFile: string | undefined } | undefined
  /** Under the fork server: the child fd of the hold pipe, and the words that open its other fds. */
  readonly hold?: number | undefined
  readonly opens?: ReadonlyArray<string> | undefined
}

/** The helper's arguments: every setting as its own word, never parsed by a shell. */
export const argumentsOf = (command: Command.Command, invocation: Invocation): Array<string> => {
  const args = ["-c", String(invocation.control)]
  if (command.umask !== undefined) args.push("-m", command.umask.toString(8))
  for (const l of command.limits) args.push("-l", `${l.resource}:${limitWord(l.soft)}:${limitWord(l.hard)}`)
  if (command.user !== undefined) args.push("-u", String(command.user))
  if (command.group !== undefined) args.push("-g", String(command.group))
  if (command.clearCaps) args.push("-x")
  if (command.noNewPrivileges) args.push("-n")
  for (const fd of invocation.keep) args.push("-k", String(fd))
  for (const [from, to] of invocation.dups) args.push("-d", `${from}:${to}`)
  const grace = Math.min(Math.ceil(Duration.toMillis(command.gracePeriod)), maxGraceMillis)
  args.push("-s", String(signalNumber(command.killSignal)), "-t", String(grace))
  if (invocation.dir !== undefined) args.push("-C", invocation.dir)
  if (invocation.hold !== undefined) args.push("-h", String(invocation.hold))
  if (invocation.opens !== undefined) args.push(...invocation.opens)
  if (invocation.daemon !== undefined) {
    args.push("-D")
    if (invocation.daemon.pidFile !== undefined) args.push("-p", invocation.daemon.pidFile)
  }
  args.push("--", invocation.file, ...invocation.argv)
  return args
}

/** What the helper reported instead of a pid: the step that failed and its errno name. */
export interface Failure {
  readonly step: string
  readonly code: string
  readonly detail: string | undefined
}

type Line =
  | { readonly _tag: "Pid"; readonly pid: number }
  | { readonly _tag: "Failure"; readonly failure: Failure }
  | { readonly _tag: "Status"; readonly status: ExitStatus.ExitStatus }

const parseLine = (line: string): Line | undefined => {
  const words = line.split(" ")
  switch (words[0]) {
    case "pid":
      return { _tag: "Pid", pid: Number(words[1]) }
    case "error": {
      const errno = Number(words[2])
      const code = errnoNames.get(errno) ?? `errno ${errno}`
      return { _tag: "Failure", failure: { step: words[1] ?? "", code, detail: words.slice(3).join(" ") || undefined } }
    }
    case "exit":
      return { _tag: "Status", status: ExitStatus.Exited({ code: Number(words[1]) }) }
    case "signal": {
      const n = Number(words[1])
      const signal = signalNames.get(n) ?? `SIG${n}`
      return { _tag: "Status", status: ExitStatus.Signaled({ signal, coreDumped: words[2] === "1" }) }
    }
    default:
      return undefined
  }
}

/** Calls `f` with each complete line the channel carries. */
const readLines = (socket: Readable, f: (line: Line) => void) => {
  let pending = ""
  socket.setEncoding("latin1")
  socket.on("data", (chunk: string) => {
    pending += chunk
    let nl: number
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = parseLine(pending.slice(0, nl))
      pending = pending.slice(nl + 1)
      if (line !== undefined) f(line)
    }
  })
  // The helper ending first (or Node tearing the socket down) must not become an 'error' event.
  socket.on("error", () => {})
}

const ended = (code: number | null, signal: NodeJS.Signals | null) =>
  code !== null ? `exited with ${code}` : `was killed by ${signal}`

/**
 * How Node talks with one supervisor: the stream it reports on, how Node asks it to stop (by ending the
 * channel), and how Node learns that it has exited, with its own status when Node is its parent.
 */
export interface Channel {
  readonly reports: Readable
  readonly close: () => void
  readonly onExit: (f: (status: ExitStatus.ExitStatus | undefined, how: string) => void) => void
}

/** The channel of a supervisor Node spawned itself: a socketpair, half-closed to stop it. */
export const childChannel = (child: ChildProcess.ChildProcess, socket: Duplex): Channel => ({
  reports: socket,
  close: () => socket.end(),
  onExit: (f) =>
    child.once("exit", (code, signal) =>
      f(
        code !== null
          ? ExitStatus.Exited({ code })
          : ExitStatus.Signaled({ signal: signal ?? "SIGKILL", coreDumped: false }),
        ended(code, signal)
      )
    )
})

/**
 * The channel of a supervisor the fork server forked: a report pipe, and a hold pipe whose only write
 * end is Node's, closed to stop it. The supervisor is the report pipe's only writer, so its end of file
 * is the supervisor's exit.
 */
export const serverChannel = (reports: Readable, hold: number): Channel => {
  let open = true
  return {
    reports,
    close: () => {
      if (open) closeSync(hold)
      open = false
    },
    onExit: (f) => {
      // A supervisor always reports the command's end before its own; one killed outright took the
      // command along (its parent-death signal is SIGKILL).
      const onEnd = () => {
        if (open) closeSync(hold)
        open = false
        f(ExitStatus.Signaled({ signal: "SIGKILL", coreDumped: false }), "ended")
      }
      reports.once("end", onEnd)
      reports.once("close", onEnd)
    }
  }
}

/**
 * Watches a freshly started supervisor: `done` gets the target's pid once it has exec'd, or the step
 * that failed. The leader's status then comes from the supervisor: a report of the target's end, or its
 * own exit status.
 * Returns a canceler: it closes the channel, which makes the supervisor stop whatever it started, and
 * waits until it has.
 */
export const supervise = (
  channel: Channel,
  stdio: ReadonlyArray<Readable | Writable | null>,
  done: (result: Leader | Failure) => void
): Effect.Effect<void> => {
  const socket = channel.reports
  const finished = Deferred.unsafeMake<void>(FiberId.none)
  let leader: Leader | undefined
  let supervisorExited = false
  let channelEnded = false
  let settled = false
  const settle = (result: Leader | Failure) => {
    if (settled) return
    settled = true
    done(result)
  }

  const closeChannel = Effect.suspend(() => {
    if (!(supervisorExited && channelEnded)) channel.close()
    return Deferred.await(finished)
  }).pipe(Effect.ensuring(Effect.sync(() => socket.destroy())))

  const exitWith = (status: ExitStatus.ExitStatus) => {
    if (leader === undefined || leader.status !== undefined) return
    leader.status = status
    for (const f of leader.onExit) f(status)
  }
  const start = (pid: number) => {
    const self: Leader = {
      stdio,
      pid,
      status: undefined,
      onExit: [],
      // Signalled from here, synchronously, like a child of Node's own. The supervisor reaps the target,
      // so its exit may not have reached Node yet; Linux hands out pids in a cycle, so the pid of a
      // process reaped this instant is not a new group's for a long while.
      signal: (signal) => {
        if (!supervisorExited) signalGroup(pid, signal)
      },
      release: closeChannel
    }
    leader = self
    // A parent that calls process.exit kills the group at once, as without the helper; the supervisor
    // sees the channel close and ends whatever left the group.
    track(pid)
    settle(self)
  }

  readLines(socket, (line) => {
    if (line._tag === "Pid" && leader === undefined) start(line.pid)
    else if (line._tag === "Failure") settle(line.failure)
    else if (line._tag === "Status") exitWith(line.status)
  })
  let helperExit = ""
  let helperStatus: ExitStatus.ExitStatus | undefined
  // The exit event may come before the last report is read: only both together mean the end. With no
  // report of the target's end, the supervisor's status is the target's: it ends with it when nothing
  // else is left, and a supervisor killed outright took the target along (its parent-death signal).
  const check = () => {
    if (!supervisorExited || !channelEnded) return
    settle({ step: "helper", code: "EHELPER", detail: `the exec helper ${helperExit} without a report` })
    if (helperStatus !== undefined) exitWith(helperStatus)
    // Tracked until now, not only until the leader's exit: a background process left in its group must
    // still die with a parent that exits (the supervisor, which outlives it, is gone only now).
    if (leader !== undefined) untrack(leader.pid)
    Deferred.unsafeDone(finished, Effect.void)
  }
  const onEnd = () => {
    channelEnded = true
    check()
  }
  socket.once("end", onEnd)
  socket.once("close", onEnd)
  channel.onExit((status, how) => {
    supervisorExited = true
    helperExit = how
    helperStatus = status
    check()
  })
  return closeChannel
}

/**
 * Watches a daemon's start: `done` gets its pid, written after the pid file and before its exec. The
 * channel closes when it execs, so end of file without a failure means it runs.
 */
export const awaitDaemon = (
  child: ChildProcess.ChildProcess,
  control: number,
  stdio: ReadonlyArray<Readable | Writable | null>,
  done: (result: number | Failure) => void
): (() => void) => {
  const socket = stdio[control] as Duplex
  let pid: number | undefined
  let failure: Failure | undefined
  let helperExit: string | undefined
  let channelEnded = false
  readLines(socket, (line) => {
    if (line._tag === "Pid") pid = line.pid
    else if (line._tag === "Failure") failure ??= line.failure
  })
  const check = () => {
    if (helperExit === undefined || !channelEnded) return
    socket.destroy()
    if (failure !== undefined) done(failure)
    else if (pid !== undefined) done(pid)
    else done({ step: "helper", code: "EHELPER", detail: `the exec helper ${helperExit} without a report` })
  }
  const onEnd = () => {
    channelEnded = true
    check()
  }
  socket.once("end", onEnd)
  socket.once("close", onEnd)
  child.once("exit", (code, signal) => {
    helperExit = ended(code, signal)
    check()
  })
  return () => socket.destroy()
}

const pidIn = (path: string | undefined): number | undefined => {
  try {
    const pid = Number.parseInt(readFileSync(path ?? "", "latin1"), 10)
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/** The setting a failed step belongs to, as the caller wrote it. */
const settingOf = (failure: Failure): string | undefined => {
  switch (failure.step) {
    case "limit":
      return `Command.limit("${failure.detail ?? ""}")`
    case "setgroups":
      return "Command.user/Command.group (clearing supplementary groups)"
    case "group":
      return "Command.group"
    case "user":
      return "Command.user"
    case "ambient":
    case "bounding":
    case "caps":
      return "Command.clearCaps"
    case "nnp":
      return "Command.noNewPrivileges"
    default:
      return undefined
  }
}

/**
 * The typed error for a failure the helper reported. `execFailure` maps a failed exec the way a failed
 * `spawn` is mapped (missing program, permission, ...).
 */
export const failureError = (
  shown: string,
  failure: Failure,
  context: {
    readonly cwd: string
    readonly pidFile?: string | undefined
    readonly files?: ReadonlyMap<number, string> | undefined
  },
  execFailure: (code: string) => CommandError.CommandError
): CommandError.CommandError => {
  const setting = settingOf(failure)
  switch (failure.step) {
    case "exec":
      return execFailure(failure.code)
    case "cwd":
      return new CommandError.WorkingDirectoryError({
        command: shown,
        directory: context.cwd,
        reason: failure.code === "ENOENT" ? "no such directory" : `cannot change to it (${failure.code})`
      })
    case "locked":
      return new CommandError.PidFileLocked({
        command: shown,
        path: context.pidFile ?? "",
        pid: pidIn(context.pidFile)
      })
    case "open":
      return new CommandError.SpawnError({
        command: shown,
        code: failure.code,
        reason: `cannot open '${context.files?.get(Number(failure.detail)) ?? "?"}' for fd ${failure.detail ?? "?"}`
      })
    case "pidfile":
      return new CommandError.SpawnError({
        command: shown,
        code: failure.code,
        reason: `cannot write the pid file '${context.pidFile ?? ""}'`
      })
  }
  // EINVAL from prctl: the kernel does not know the operation at all.
  if (setting !== undefined && failure.code === "EINVAL" && (failure.step === "ambient" || failure.step === "nnp")) {
    return new CommandError.Unsupported({ command: shown, setting, reason: "this kernel does not support it" })
  }
  return new CommandError.SpawnError({
    command: shown,
    code: failure.code,
    reason:
      setting !== undefined
        ? `the kernel refused ${setting}`
        : `the exec helper failed at '${failure.step}'${failure.detail !== undefined ? `: ${failure.detail}` : ""}`
  })
}
