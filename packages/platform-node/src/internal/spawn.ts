import * as ChildProcess from "node:child_process"
import { closeSync, constants, openSync, readlinkSync, readSync } from "node:fs"
import { Socket } from "node:net"
import { resolve as resolvePath } from "node:path"
import type { Duplex, Readable, Writable } from "node:stream"
import * as Command from "@tether/command/Command"
import * as CommandError from "@tether/command/CommandError"
import * as ExitStatus from "@tether/command/ExitStatus"
import * as Process from "@tether/command/Process"
import type * as Stdio from "@tether/command/Stdio"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import * as Sink from "effect/Sink"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Helper from "./helper.js"
import * as Server from "./server.js"
import { checkDirectory, resolveProgram } from "./resolve.js"
import { OutputPipe, pump, TailPipe, end, write } from "./stdio.js"
import { groupAlive, signalGroup, sweepGroup, track, untrack } from "./stop.js"

type NodeStdio = "ignore" | "inherit" | "pipe" | number

const text = (arg: Command.Arg): string => (Redacted.isRedacted(arg) ? Redacted.value(arg) : arg)

/** The settings that only code between fork and exec can apply; without the exec helper they fail. */
export const helperSettings = (command: Command.Command): ReadonlyArray<string> => {
  const settings: Array<string> = []
  if (command.daemonize) settings.push("daemonize")
  if (command.pidFile !== undefined) settings.push("pidFile")
  if (command.clearCaps) settings.push("clearCaps")
  if (command.noNewPrivileges) settings.push("noNewPrivileges")
  if (command.user !== undefined) settings.push("user")
  if (command.group !== undefined) settings.push("group")
  if (command.umask !== undefined) settings.push("umask")
  if (command.limits.length > 0) settings.push("limit")
  return settings
}

/**
 * The interpreter a script names on its `#!` line. exec reports ENOENT both for a missing program and for
 * an existing script whose interpreter is missing; the error must name the file that is really missing.
 */
const interpreterOf = (file: string): string | undefined => {
  let fd: number | undefined
  try {
    fd = openSync(file, constants.O_RDONLY)
    const head = Buffer.alloc(256)
    const length = readSync(fd, head, 0, head.length, 0)
    return /^#!\s*(\S+)/.exec(head.toString("latin1", 0, length))?.[1]
  } catch {
    return undefined
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

const spawnFailure = (
  shown: string,
  cwd: string,
  file: string,
  error: NodeJS.ErrnoException
): CommandError.CommandError => {
  switch (error.code) {
    case "ENOENT":
      return (
        checkDirectory(shown, cwd) ??
        new CommandError.CommandNotFound({ command: shown, program: interpreterOf(file) ?? file, searched: [] })
      )
    case "EACCES":
    case "ENOEXEC":
      return new CommandError.PermissionDenied({ command: shown, path: file })
    default:
      return new CommandError.SpawnError({ command: shown, code: error.code ?? "UNKNOWN", reason: error.message })
  }
}

/** Opens the files a command's stdio settings name, in the parent, so that the child gets them as fds. */
const openFiles = (shown: string, command: Command.Command) =>
  Effect.try({
    try: () => {
      const opened = new Map<number, number>()
      const open = (fd: number, stdio: Stdio.Stdio | undefined, input: boolean) => {
        if (stdio?._tag !== "File") return
        const flags = input
          ? constants.O_RDONLY
          : constants.O_WRONLY | constants.O_CREAT | (stdio.append ? constants.O_APPEND : constants.O_TRUNC)
        // libuv opens every file with O_CLOEXEC: only the child's dup2 copies survive exec.
        opened.set(fd, openSync(stdio.path, flags, 0o666))
      }
      try {
        open(0, command.stdin, true)
        open(1, command.stdout, false)
        open(2, command.stderr, false)
        // An extra fd's file is read, unless the command asked to append to it.
        for (const entry of command.fds)
          open(entry.fd, entry.stdio, !(entry.stdio._tag === "File" && entry.stdio.append))
      } catch (error) {
        closeFiles(opened)
        throw error
      }
      return opened
    },
    catch: (error) => {
      const e = error as NodeJS.ErrnoException
      return new CommandError.SpawnError({ command: shown, code: e.code ?? "UNKNOWN", reason: e.message })
    }
  })

const closeFiles = (opened: Map<number, number>) => opened.forEach((fd) => closeSync(fd))

const nodeStdio = (stdio: Stdio.Stdio | undefined, fd: number, files: Map<number, number>): NodeStdio => {
  if (stdio === undefined) return fd === 2 ? "pipe" : "ignore"
  switch (stdio._tag) {
    case "Null":
      return "ignore"
    case "Inherit":
      return "inherit"
    case "Pipe":
    case "Feed":
    case "FromStream":
      return "pipe"
    case "File":
      return files.get(fd)!
    case "Fd":
      return stdio.fd
  }
}

/**
 * The stdio array for `spawn`. Returns `merge: true` when stderr must share stdout's pipe: Node cannot
 * hand one pipe to two child fds, so the child is then started through `sh`, which duplicates it.
 */
const stdioArray = (command: Command.Command, files: Map<number, number>) => {
  const stdio: Array<NodeStdio | undefined> = [
    nodeStdio(command.stdin, 0, files),
    nodeStdio(command.stdout, 1, files),
    nodeStdio(command.stderr, 2, files)
  ]
  let merge = false
  if (command.mergeStderr) {
    const out = stdio[1]!
    if (out === "pipe") {
      merge = true
      stdio[2] = "ignore"
    } else stdio[2] = out === "inherit" ? 1 : out
  }
  for (const entry of command.fds) stdio[entry.fd] = nodeStdio(entry.stdio, entry.fd, files)
  for (const passed of command.passFds) stdio[passed.fd] = passed.fd
  for (let i = 3; i < stdio.length; i++) stdio[i] ??= "ignore"
  return { stdio: stdio as Array<NodeStdio>, merge }
}

/**
 * `sh` runs the program with stderr duplicated onto stdout; `$0` is the program, never parsed. The shell
 * exports a PWD of its own making, so the script puts back the child's (as `$1`) or unsets it.
 */
const mergeArgs = (file: string, args: ReadonlyArray<string>, env: Record<string, string>) =>
  env.PWD === undefined
    ? ["-c", 'unset PWD; exec "$0" "$@" 2>&1', file, ...args]
    : ["-c", 'PWD=$1; export PWD; shift; exec "$0" "$@" 2>&1', file, env.PWD, ...args]

const statusOf = (code: number | null, signal: NodeJS.Signals | null): ExitStatus.ExitStatus =>
  code !== null ? ExitStatus.Exited({ code }) : ExitStatus.Signaled({ signal: signal ?? "UNKNOWN", coreDumped: false })

/** What to exec and how: the child's environment, its working directory (checked), argv, and the file. */
const resolveLaunch = (shown: string, command: Command.Command) =>
  Effect.gen(function* () {
    const env = Command.environment(command, process.env)
    const cwd = command.cwd ?? process.cwd()
    if (command.cwd !== undefined) {
      const bad = checkDirectory(shown, command.cwd)
      if (bad) return yield* bad
    }
    const argv = Command.argv(command).map(text)
    const file = resolveProgram(shown, argv[0]!, cwd, env.PATH)
    if (typeof file !== "string") return yield* file
    return { env, cwd, argv, file }
  })

/** Starts one command under Node's `child_process`, in its own process group. */
export const start = (
  command: Command.Command
): Effect.Effect<Process.Process, CommandError.CommandError, Scope.Scope> =>
  Effect.gen(function* () {
    const shown = Command.toString(command)
    const helper = Helper.locate()
    const needsHelper = helperSettings(command)
    if (needsHelper.length > 0 && helper.path === undefined) {
      return yield* new CommandError.Unsupported({
        command: shown,
        setting: needsHelper.map((s) => `Command.${s}`).join(", "),
        reason: helper.reason
      })
    }
    if (command.daemonize) {
      return yield* new CommandError.InvalidCommand({
        command: shown,
        problems: ["a daemonized command outlives every scope: run it with Command.daemon"]
      })
    }

    // Resolve the environment, the working directory and the program before anything is opened.
    const { env, cwd, argv, file } = yield* resolveLaunch(shown, command)

    const runtime = yield* Effect.runtime<never>()
    // The fork server, when it can express the command's stdio; else a helper or a child of Node's own.
    const server = helper.path === undefined ? undefined : Server.forkServer(helper.path)
    const plan = server === undefined ? undefined : servedPlan(command)
    const served =
      server === undefined || plan === undefined
        ? undefined
        : yield* spawnServed(server, command, shown, { env, cwd, file, argv, files: new Map() }, plan)
    // Otherwise spawn, with the files its stdio names open only until the child holds its own copies.
    const spawned =
      served ??
      (yield* Effect.acquireUseRelease(
        openFiles(shown, command),
        (files) =>
          helper.path === undefined
            ? spawnChild(command, shown, { env, cwd, file, argv, files })
            : spawnSupervised(command, shown, { env, cwd, file, argv, files }, helper.path),
        (files) => Effect.sync(() => closeFiles(files))
      ))
    return yield* manage(command, shown, spawned, runtime)
  }).pipe(Effect.ensuring(closeParents(command)))

/**
 * `passFd(fd, { closeParent: true })`: the parent's fd is closed once, when the child holds its copy or
 * will never run. Once only: by a later close, the number may name another file of this process.
 */
const closeParents = (command: Command.Command) =>
  Effect.sync(() => {
    for (const passed of command.passFds) if (passed.closeParent) closeQuietly(passed.fd)
  })

interface SpawnInput {
  readonly env: Record<string, string>
  readonly cwd: string
  readonly file: string
  readonly argv: ReadonlyArray<string>
  readonly files: Map<number, number>
}

/**
 * A child and its exit, watched from the moment it is spawned: a fast child can exit before the fiber
 * that spawned it runs again, and its "exit" event must not be missed.
 */
type Spawned = Helper.Leader

const whenExited = (spawned: Spawned, f: (status: ExitStatus.ExitStatus) => void) => {
  if (spawned.status !== undefined) f(spawned.status)
  else spawned.onExit.push(f)
}

/**
 * The child's stdio streams, taken from Node: when a child exits, Node resumes every stdio stream of it
 * that nobody listens to, discarding the data, and Tether's pipes are read later, at their consumer's
 * pace (a fast child may have exited before the fiber that spawned it runs again).
 */
const takeStdio = (child: ChildProcess.ChildProcess): Array<Readable | Writable | null> => {
  // No stdio at all: Node ran out of fds (EMFILE, ENFILE) and reports it as an 'error' event next.
  if (child.stdio == null) return []
  const streams = [...child.stdio] as Array<Readable | Writable | null>
  for (let fd = 0; fd < streams.length; fd++) {
    if ((streams[fd] as Readable | null)?.readable) (child.stdio as Array<unknown>)[fd] = null
  }
  return streams
}

const spawnChild = (command: Command.Command, shown: string, input: SpawnInput) =>
  Effect.async<Spawned, CommandError.CommandError>((resume) => {
    const { merge, stdio } = stdioArray(command, input.files)
    const [file, args, argv0] = merge
      ? ["/bin/sh", mergeArgs(input.file, input.argv.slice(1), input.env), "sh"]
      : [input.file, input.argv.slice(1), input.argv[0]!]
    let child: ChildProcess.ChildProcess
    try {
      // detached: the child calls setsid(), so it leads a process group Tether can signal as a whole.
      child = ChildProcess.spawn(file, args, { argv0, cwd: input.cwd, env: input.env, stdio, detached: true })
    } catch (error) {
      return resume(Effect.fail(spawnFailure(shown, input.cwd, input.file, error as NodeJS.ErrnoException)))
    }
    const streams = takeStdio(child)
    const onSpawn = () => {
      child.off("error", onError)
      const pid = child.pid!
      track(pid)
      // A late error (a failed kill, a closed pipe) must never be an unhandled 'error' event.
      child.on("error", () => {})
      const spawned: Spawned = {
        stdio: streams,
        pid,
        status: undefined,
        onExit: [],
        signal: (signal) => signalGroup(pid, signal),
        release: Effect.zipRight(
          sweepGroup(pid, command.killSignal, command.gracePeriod),
          Effect.sync(() => untrack(pid))
        )
      }
      child.once("exit", (code, signal) => {
        spawned.status = statusOf(code, signal)
        for (const f of spawned.onExit) f(spawned.status)
      })
      resume(Effect.succeed(spawned))
    }
    const onError = (error: NodeJS.ErrnoException) => {
      child.off("spawn", onSpawn)
      for (const s of streams) s?.destroy()
      resume(Effect.fail(spawnFailure(shown, input.cwd, input.file, error)))
    }
    child.once("spawn", onSpawn)
    child.once("error", onError)
    // Interrupted before Node confirmed the start: nobody will manage this child, so it goes now. Node's
    // spawn returns after the exec, so the child already leads its group; it is reaped by Node as usual.
    return Effect.sync(() => {
      child.off("spawn", onSpawn)
      child.off("error", onError)
      child.on("error", () => {})
      if (child.pid !== undefined && !signalGroup(child.pid, "SIGKILL")) child.kill("SIGKILL")
      for (const s of streams) s?.destroy()
    })
  })

/**
 * Node starts the exec helper in place of the program, with one more fd: the channel the helper reports
 * on. The streams are taken at once, before Node's exit handling can discard what nobody read yet. A
 * failure to start the helper goes to `fail` (then `undefined` is returned), now or as Node's 'error'
 * event until the caller calls `reported`.
 */
const spawnHelper = (
  shown: string,
  helper: string,
  args: ReadonlyArray<string>,
  input: SpawnInput,
  stdio: ReadonlyArray<NodeStdio>,
  fail: (error: CommandError.CommandError) => void
) => {
  let child: ChildProcess.ChildProcess
  try {
    child = ChildProcess.spawn(helper, args, {
      argv0: "tether-exec",
      cwd: input.cwd,
      env: input.env,
      stdio: [...stdio, "pipe"],
      detached: true
    })
  } catch (error) {
    return fail(helperFailure(shown, input.cwd, helper, error as NodeJS.ErrnoException))
  }
  const streams = takeStdio(child)
  const destroy = () => {
    for (const s of streams) s?.destroy()
  }
  const onError = (error: NodeJS.ErrnoException) => {
    destroy()
    fail(helperFailure(shown, input.cwd, helper, error))
  }
  child.once("error", onError)
  // A late error (a failed kill, a closed pipe) must never be an unhandled 'error' event.
  child.on("error", () => {})
  // Node could not even make the pipes (no fd left): its 'error' event says why.
  if (streams.length === 0) return
  /** Called once the helper has reported: a spawn error can no longer come. */
  const reported = () => child.off("error", onError)
  return { child, streams, destroy, reported }
}

/** The typed error for the program's failed exec, as the helper reports it (an errno name). */
const execFailureOf = (shown: string, input: SpawnInput) => (code: string) =>
  spawnFailure(shown, input.cwd, input.file, Object.assign(new Error(`exec failed: ${code}`), { code }))

/** Node could not start the helper itself: its working directory is gone, or the helper is. */
const helperFailure = (shown: string, cwd: string, helper: string, error: NodeJS.ErrnoException) =>
  checkDirectory(shown, cwd) ??
  new CommandError.SpawnError({
    command: shown,
    code: error.code ?? "UNKNOWN",
    reason: `cannot run the exec helper ${helper}: ${error.message}`
  })

/** The fds above 2 a stdio array opens in the child; the helper closes every other one. */
const keptFds = (stdio: ReadonlyArray<NodeStdio>) =>
  stdio.flatMap((entry, fd) => (fd > 2 && entry !== "ignore" ? [fd] : []))

/**
 * Starts the command under the exec helper: Node spawns the supervisor with the command's stdio plus one
 * fd, the control channel; the supervisor forks the target, which applies the settings and execs.
 * Merging stderr into a stdout pipe is a dup2 in the target, so no shell is involved.
 */
const spawnSupervised = (command: Command.Command, shown: string, input: SpawnInput, helper: string) =>
  Effect.async<Spawned, CommandError.CommandError>((resume) => {
    const { merge, stdio } = stdioArray(command, input.files)
    const control = stdio.length
    const args = Helper.argumentsOf(command, {
      control,
      file: input.file,
      argv: input.argv,
      keep: keptFds(stdio),
      dups: merge ? [[1, 2]] : []
    })
    const execFailure = execFailureOf(shown, input)
    const started = spawnHelper(shown, helper, args, input, stdio, (error) => resume(Effect.fail(error)))
    if (started === undefined) return
    const { child, streams, destroy, reported } = started
    const channel = Helper.childChannel(child, streams[control] as Duplex)
    const cancel = Helper.supervise(channel, streams, (result) => {
      reported()
      if (!("step" in result)) return resume(Effect.succeed(result))
      destroy()
      resume(Effect.fail(Helper.failureError(shown, result, { cwd: input.cwd }, execFailure)))
    })
    return Effect.ensuring(cancel, Effect.sync(destroy))
  })

/** What the fork server is asked for: the pipes to make, the words that open the other fds, and more. */
interface ServedPlan {
  readonly pipes: ReadonlyArray<Server.PipeSpec>
  readonly opens: ReadonlyArray<string>
  readonly keep: ReadonlyArray<number>
  readonly control: number
  readonly hold: number
  readonly files: ReadonlyMap<number, string>
}

/**
 * Whether `fd` is an anonymous pipe. A named FIFO is not: reopened through /proc, it would wait for its
 * other side, where the fd itself would give end of file or SIGPIPE at once.
 */
const isPipe = (fd: number): boolean => {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`).startsWith("pipe:")
  } catch {
    return false
  }
}

const outputFlags = (append: boolean) =>
  constants.O_WRONLY | constants.O_CREAT | (append ? constants.O_APPEND : constants.O_TRUNC)

/**
 * The command's fds as the fork server makes them, or `undefined` when it cannot: an fd of this process
 * (`Stdio.fd`, `Command.passFd`, an inherited fd above 2) is not the server's to give.
 */
const servedPlan = (command: Command.Command): ServedPlan | undefined => {
  if (command.passFds.length > 0) return undefined
  const pipes: Array<Server.PipeSpec> = []
  const opens: Array<string> = []
  const files = new Map<number, string>()
  const place = (fd: number, stdio: Stdio.Stdio, flags: number, output: boolean): boolean => {
    switch (stdio._tag) {
      case "Null":
        opens.push("-N", String(fd))
        return true
      case "Inherit":
        // The server's fds 0-2 are this process's.
        return fd <= 2
      case "Pipe":
        pipes.push({ fd, writes: output })
        return true
      case "Feed":
      case "FromStream":
        pipes.push({ fd, writes: false })
        return true
      case "File": {
        const path = resolvePath(stdio.path)
        opens.push("-o", `${fd}:${flags.toString(8)}:${path}`)
        files.set(fd, stdio.path)
        return true
      }
      case "Fd": {
        // A pipe of this process reopened through /proc is the same pipe; any other fd is not the
        // server's to give (a file reopened would not share its offset).
        if (fd > 2 || !isPipe(stdio.fd)) return false
        const access = fd === 0 ? constants.O_RDONLY : constants.O_WRONLY
        opens.push("-o", `${fd}:${access.toString(8)}:/proc/${process.pid}/fd/${stdio.fd}`)
        return true
      }
    }
  }
  const appends = (stdio: Stdio.Stdio | undefined) => stdio?._tag === "File" && stdio.append
  if (!place(0, command.stdin ?? { _tag: "Null" }, constants.O_RDONLY, false)) return undefined
  if (!place(1, command.stdout ?? { _tag: "Null" }, outputFlags(appends(command.stdout)), true)) return undefined
  // Merged, stderr is a dup of stdout in the command; unset, it is a pipe for the kept tail.
  if (!command.mergeStderr) {
    if (!place(2, command.stderr ?? { _tag: "Pipe" }, outputFlags(appends(command.stderr)), true)) return undefined
  }
  let top = 2
  for (const entry of command.fds) {
    // An extra fd's file is read, unless the command asked to append to it.
    const flags = appends(entry.stdio) ? outputFlags(true) : constants.O_RDONLY
    if (!place(entry.fd, entry.stdio, flags, true)) return undefined
    top = Math.max(top, entry.fd)
  }
  const control = top + 1
  const hold = top + 2
  pipes.push({ fd: control, writes: true, control: true }, { fd: hold, writes: false })
  return { pipes, opens, keep: command.fds.map((entry) => entry.fd), control, hold, files }
}

/**
 * Starts the command through the fork server: it makes the pipes, forks a supervisor that applies the
 * settings and forks the target, and hands Node its ends of the pipes. `undefined`: the server could not
 * take the request (it is gone, or the request is too large), and the caller spawns another way.
 */
const spawnServed = (
  server: Server.ForkServer,
  command: Command.Command,
  shown: string,
  input: SpawnInput,
  plan: ServedPlan
) =>
  Effect.async<Spawned | undefined, CommandError.CommandError>((resume) => {
    const args = Helper.argumentsOf(command, {
      control: plan.control,
      hold: plan.hold,
      file: input.file,
      argv: input.argv,
      keep: plan.keep,
      dups: command.mergeStderr ? [[1, 2]] : [],
      // Absolute: the supervisor runs in the server's directory, "/", not in this process's.
      dir: resolvePath(input.cwd),
      opens: plan.opens
    })
    const env = Object.entries(input.env).map(([name, value]) => `${name}=${value}`)
    const execFailure = execFailureOf(shown, input)
    let streams: Array<Readable | Writable | null> = []
    const destroy = () => {
      for (const s of streams) s?.destroy()
    }
    // Interrupted, the start is undone before the interruption returns: the command may already run (or
    // be about to), so the supervisor is killed outright unless it has reported the command's pid, and
    // the canceler waits until it is gone.
    let interrupted = false
    let stopped: Effect.Effect<void> | undefined
    const gone = Deferred.unsafeMake<void>(FiberId.none)
    const sent = server.start(plan.pipes, args, env, (reply) => {
      if (reply._tag === "Failed") {
        if (interrupted) return Deferred.unsafeDone(gone, Effect.void)
        // The server died with the request: nothing it forked for it survives its hold pipe, and the
        // command starts another way.
        if (reply.code === "EHELPER") return resume(Effect.succeed(undefined))
        return resume(
          Effect.fail(
            new CommandError.SpawnError({
              command: shown,
              code: reply.code,
              reason: `the fork server failed at '${reply.step}'${reply.detail !== undefined ? `: ${reply.detail}` : ""}`
            })
          )
        )
      }
      streams = new Array(plan.hold + 1).fill(null)
      let hold = -1
      plan.pipes.forEach((pipe, i) => {
        const fd = reply.fds[i]!
        if (pipe.fd === plan.hold) hold = fd
        else streams[pipe.fd] = new Socket({ fd, readable: pipe.writes, writable: !pipe.writes })
      })
      const channel = Helper.serverChannel(streams[plan.control] as Readable, hold)
      let reported = false
      let leader: number | undefined
      const closeChannel = Helper.supervise(channel, streams, (result) => {
        reported = true
        if (!("step" in result)) {
          leader = result.pid
          return resume(Effect.succeed(result))
        }
        destroy()
        resume(Effect.fail(Helper.failureError(shown, result, { cwd: input.cwd, files: plan.files }, execFailure)))
      })
      stopped = Effect.suspend(() => {
        // Before its report the supervisor may be blocked (opening a FIFO, say) with every signal but
        // SIGKILL blocked. Killed, it takes its command along (the command's parent-death signal), and
        // whatever the command started in its group goes with the group once the report, read to its end,
        // names it. (A descendant that left the group is killed by the server, which adopts it.)
        const killed = !reported
        if (killed) killQuietly(reply.supervisor)
        const swept = Effect.async<void>((resume) => server.sweep(reply.supervisor, () => resume(Effect.void)))
        return Effect.ensuring(
          closeChannel,
          Effect.suspend(() => {
            destroy()
            if (!killed) return Effect.void
            if (leader !== undefined) signalGroup(leader, "SIGKILL")
            return swept
          })
        )
      })
      if (interrupted) Effect.runFork(Effect.ensuring(stopped, Deferred.done(gone, Exit.void)))
    })
    if (!sent) return resume(Effect.succeed(undefined))
    return Effect.suspend(() => {
      interrupted = true
      return stopped ?? Deferred.await(gone)
    })
  })

const killQuietly = (pid: number) => {
  try {
    process.kill(pid, "SIGKILL")
  } catch {
    // Already gone.
  }
}

/**
 * Wraps a spawned child into a `Process` and registers its stop in the current scope: the kill signal
 * to the group, the grace period, SIGKILL, the reap, then whatever is left of the group, then every fd.
 */
const manage = (command: Command.Command, shown: string, spawned: Spawned, runtime: Runtime.Runtime<never>) =>
  Effect.gen(function* () {
    const pid = spawned.pid
    const startedAt = Date.now()
    const exit = yield* Deferred.make<ExitStatus.ExitStatus>()
    let exited = false

    const outputs: Array<OutputPipe | TailPipe> = []
    const pipeOf = (fd: number) => spawned.stdio[fd] as Readable | null | undefined
    const output = (fd: number) => {
      const socket = pipeOf(fd)
      if (!socket) return undefined
      const pipe = new OutputPipe(socket)
      outputs.push(pipe)
      return pipe
    }
    const stdout = command.stdout?._tag === "Pipe" ? output(1) : undefined
    const stderr = command.stderr?._tag === "Pipe" ? output(2) : undefined
    const tail =
      command.stderr === undefined && !command.mergeStderr && pipeOf(2) ? new TailPipe(pipeOf(2)!) : undefined
    if (tail) outputs.push(tail)
    const extra = new Map<number, OutputPipe>()
    for (const entry of command.fds) {
      if (entry.stdio._tag === "Pipe") {
        const pipe = output(entry.fd)
        if (pipe) extra.set(entry.fd, pipe)
      }
    }

    // Logging costs a fiber per exit: skip it unless debug lines would be kept.
    const debug = LogLevel.lessThanEqual(yield* FiberRef.get(FiberRef.currentMinimumLogLevel), LogLevel.Debug)
    whenExited(spawned, (status) => {
      exited = true
      for (const pipe of outputs) pipe.leaderExited(() => groupAlive(pid))
      Deferred.unsafeDone(exit, Effect.succeed(status))
      if (!debug) return
      Runtime.runFork(runtime)(
        Effect.logDebug("child exited").pipe(
          Effect.annotateLogs({ pid, command: shown, status: ExitStatus.format(status), ms: Date.now() - startedAt })
        )
      )
    })
    if (debug) yield* Effect.logDebug("child spawned").pipe(Effect.annotateLogs({ pid, command: shown }))

    const kill = (signal?: string) =>
      Effect.sync(() => {
        if (!exited) spawned.signal(signal ?? command.killSignal)
      })

    const stop = Effect.gen(function* () {
      if (!exited) {
        spawned.signal(command.killSignal)
        // A stopped process (SIGSTOP, SIGTSTP) only handles the kill signal once it runs again.
        if (!exited) spawned.signal("SIGCONT")
        // The scope's finalizer runs uninterruptibly; unless the wait may be cut short, the timeout would
        // wait for it and a child that ignores the kill signal would never get SIGKILL.
        const inTime = yield* Deferred.await(exit).pipe(
          Effect.interruptible,
          Effect.timeout(command.gracePeriod),
          Effect.option
        )
        if (inTime._tag === "None" && !exited) {
          spawned.signal("SIGKILL")
          yield* Deferred.await(exit)
        }
      }
    })

    // Inputs: a feed or stream is written by a fiber of this scope; a pipe is the caller's sink.
    const inputs: Array<Writable> = []
    const feedInput = (fd: number, stdio: Stdio.Stdio | undefined) => {
      const socket = spawned.stdio[fd] as Writable | null | undefined
      if (!socket || stdio === undefined) return Effect.void
      inputs.push(socket)
      socket.on("error", () => {})
      if (stdio._tag === "Feed") return pump(socket, Stream.make(stdio.data)).pipe(Effect.forkScoped, Effect.asVoid)
      if (stdio._tag === "FromStream") return pump(socket, stdio.stream).pipe(Effect.forkScoped, Effect.asVoid)
      return Effect.void
    }

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        yield* stop
        yield* spawned.release
        for (const pipe of outputs) pipe.close()
        for (const socket of inputs) socket.destroy()
      }).pipe(Effect.uninterruptible)
    )

    yield* feedInput(0, command.stdin)
    for (const entry of command.fds) yield* feedInput(entry.fd, entry.stdio)

    const stdinSocket =
      command.stdin?._tag === "Pipe" ? ((spawned.stdio[0] as Writable | null) ?? undefined) : undefined
    const stdinSink: Sink.Sink<void, Uint8Array | string, never, CommandError.CommandError> =
      stdinSocket === undefined
        ? Sink.failSync(
            () =>
              new CommandError.InvalidCommand({
                command: shown,
                problems: ["Process.stdin needs stdin set to Stdio.pipe"]
              })
          )
        : Sink.forEachWhile((chunk: Uint8Array | string) => write(stdinSocket, chunk)).pipe(
            Sink.ignoreLeftover,
            Sink.mapEffect(() => end(stdinSocket))
          )

    const wait = Deferred.await(exit)
    const process: Process.Process = {
      [Process.TypeId]: Process.TypeId,
      pid,
      command,
      stages: [],
      stdin: stdinSink,
      stdout: stdout?.stream ?? Stream.empty,
      stderr: stderr?.stream ?? Stream.empty,
      fd: (n) => extra.get(n)?.stream ?? Stream.empty,
      wait,
      exitCode: Process.exitCodeFrom(shown, wait),
      kill,
      stop,
      isRunning: Effect.sync(() => !exited),
      stderrTail: tail ? Effect.zipRight(Deferred.await(tail.ended), tail.text) : Effect.succeed("")
    }
    return process
  })

const closeQuietly = (fd: number) => {
  try {
    closeSync(fd)
  } catch {
    // Already closed by the caller.
  }
}

/** What a daemon's stdio may be: nothing reads or writes a pipe once `Command.daemon` has returned. */
const daemonProblems = (command: Command.Command): Array<string> => {
  const problems: Array<string> = []
  const check = (what: string, stdio: Stdio.Stdio | undefined) => {
    if (stdio?._tag === "Pipe" || stdio?._tag === "Feed" || stdio?._tag === "FromStream") {
      problems.push(`a daemon's ${what} cannot be ${stdio._tag === "Pipe" ? "a pipe" : "fed"}: nothing would be there`)
    }
  }
  check("stdin", command.stdin)
  check("stdout", command.stdout)
  check("stderr", command.stderr)
  for (const entry of command.fds) check(`fd ${entry.fd}`, entry.stdio)
  if (command.timeout !== undefined) problems.push("a daemon has no timeout: it outlives the call that starts it")
  return problems
}

/**
 * Starts a daemonized command through the exec helper and returns its pid once it runs: the daemon has
 * written and locked its pid file (when it has one) and exec'd. Its stdio is `/dev/null` unless set;
 * its working directory is `/` unless set with `Command.cwd`. Once spawned, the start is not undone by
 * interruption: the daemon is on its own from the first fork.
 */
export const daemon = (command: Command.Command): Effect.Effect<{ readonly pid: number }, CommandError.CommandError> =>
  Effect.gen(function* () {
    const shown = Command.toString(command)
    const helper = Helper.locate()
    if (helper.path === undefined) {
      const settings = ["daemon", ...helperSettings(command).filter((s) => s !== "daemonize")]
      return yield* new CommandError.Unsupported({
        command: shown,
        setting: settings.map((s) => `Command.${s}`).join(", "),
        reason: helper.reason
      })
    }
    const problems = daemonProblems(command)
    if (problems.length > 0) return yield* new CommandError.InvalidCommand({ command: shown, problems })

    const { env, cwd, argv, file } = yield* resolveLaunch(shown, command)
    const pidFile = command.pidFile === undefined ? undefined : resolvePath(cwd, command.pidFile)

    const pid = yield* Effect.acquireUseRelease(
      openFiles(shown, command),
      (files) => spawnDaemon(command, shown, { env, cwd, file, argv, files }, helper.path, pidFile),
      (files) => Effect.sync(() => closeFiles(files))
    )
    return { pid }
  }).pipe(Effect.ensuring(closeParents(command)))

const spawnDaemon = (
  command: Command.Command,
  shown: string,
  input: SpawnInput,
  helper: string,
  pidFile: string | undefined
) =>
  Effect.async<number, CommandError.CommandError>((resume) => {
    const { stdio } = stdioArray(command, input.files)
    // Unset, stderr is /dev/null like the others: no tail is kept for a process nobody waits for.
    if (command.stderr === undefined && !command.mergeStderr) stdio[2] = "ignore"
    const control = stdio.length
    const args = Helper.argumentsOf(command, {
      control,
      file: input.file,
      argv: input.argv,
      keep: keptFds(stdio),
      dups: [],
      // Absolute: Node starts the helper in the working directory already, and a relative one would be
      // taken from there a second time.
      dir: command.cwd === undefined ? undefined : resolvePath(command.cwd),
      daemon: { pidFile }
    })
    const started = spawnHelper(shown, helper, args, input, stdio, (error) => resume(Effect.fail(error)))
    if (started === undefined) return
    const { child, streams, destroy, reported } = started
    const execFailure = execFailureOf(shown, input)
    const cancel = Helper.awaitDaemon(child, control, streams, (result) => {
      reported()
      destroy()
      if (typeof result === "number") return resume(Effect.succeed(result))
      const context = { cwd: command.cwd ?? "/", pidFile }
      resume(Effect.fail(Helper.failureError(shown, result, context, execFailure)))
    })
    return Effect.sync(() => {
      cancel()
      destroy()
    })
  })
