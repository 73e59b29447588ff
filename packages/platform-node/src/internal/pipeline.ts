import * as ChildProcess from "node:child_process"
import { closeSync, constants, mkdtempSync, openSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Command from "@tether/command/Command"
import * as CommandError from "@tether/command/CommandError"
import * as CommandExecutor from "@tether/command/CommandExecutor"
import type * as Pipeline from "@tether/command/Pipeline"
import type * as Process from "@tether/command/Process"
import * as Stdio from "@tether/command/Stdio"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Helper from "./helper.js"
import * as Server from "./server.js"
import { start } from "./spawn.js"

interface OsPipe {
  read: number | undefined
  write: number | undefined
}

const closeEnd = (pipe: OsPipe, end: "read" | "write") => {
  const fd = pipe[end]
  pipe[end] = undefined
  if (fd !== undefined) closeSync(fd)
}

/** Pipes made by the fork server, when there is one: no program to run, no name in the file system. */
const serverPipes = (count: number): Effect.Effect<Array<OsPipe> | undefined> =>
  Effect.async<Array<OsPipe> | undefined>((resume) => {
    const helper = Helper.locate()
    const server = helper.path === undefined ? undefined : Server.forkServer(helper.path)
    const cancel = server?.pipes(count, (reply) => {
      if (reply._tag === "Failed") return resume(Effect.succeed(undefined))
      const pipes: Array<OsPipe> = []
      for (let i = 0; i < count; i++) pipes.push({ read: reply.fds[2 * i], write: reply.fds[2 * i + 1] })
      resume(Effect.succeed(pipes))
    })
    if (cancel === undefined) return resume(Effect.succeed(undefined))
    return Effect.sync(cancel)
  })

/**
 * Makes `count` real pipes: the fork server's, or else FIFOs. Node has no `pipe(2)` and its stdio "pipe" is a socketpair, which moves bytes
 * at half a pipe's speed; a FIFO gives true pipe fds: opened read-write first (so neither of the next two
 * opens blocks waiting for the other side), then read-only and write-only, then the read-write fd closed
 * and the name unlinked. `mkfifo` is the POSIX utility; its absence is reported so that the caller can
 * fall back to socketpairs.
 */
const makePipes = (shown: string, count: number): Effect.Effect<Array<OsPipe>, CommandError.SpawnError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.flatMap(serverPipes(count), (made) => (made !== undefined ? Effect.succeed(made) : fifos(shown, count))),
    // The parent keeps no end of an inner pipe once the stages hold theirs, so EOF and SIGPIPE behave as
    // in a shell; whatever is still open here (a stage failed to start) is closed with the scope.
    (pipes) =>
      Effect.sync(() => {
        for (const pipe of pipes) {
          closeEnd(pipe, "read")
          closeEnd(pipe, "write")
        }
      })
  )

const fifos = (shown: string, count: number) =>
  Effect.async<Array<OsPipe>, CommandError.SpawnError>((resume) => {
    const fail = (cause: unknown) => {
      const e = cause as NodeJS.ErrnoException
      resume(
        Effect.fail(
          new CommandError.SpawnError({
            command: shown,
            code: String(e.code ?? "EPIPE"),
            reason: `cannot make pipes between stages: ${e.message}`
          })
        )
      )
    }
    let dir: string
    try {
      dir = mkdtempSync(join(tmpdir(), "tether-pipe-"))
    } catch (cause) {
      return fail(cause)
    }
    const names = Array.from({ length: count }, (_, i) => join(dir, String(i)))
    ChildProcess.execFile("mkfifo", ["-m", "600", ...names], (error) => {
      const pipes: Array<OsPipe> = []
      try {
        if (error) throw error
        for (const name of names) {
          const both = openSync(name, constants.O_RDWR)
          const pipe: OsPipe = { read: undefined, write: undefined }
          pipes.push(pipe)
          try {
            pipe.read = openSync(name, constants.O_RDONLY)
            pipe.write = openSync(name, constants.O_WRONLY)
          } finally {
            closeSync(both)
          }
        }
        resume(Effect.succeed(pipes))
      } catch (cause) {
        // Running out of fds halfway must not leak the pipes already opened.
        for (const pipe of pipes) {
          closeEnd(pipe, "read")
          closeEnd(pipe, "write")
        }
        fail(cause)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })

/**
 * Starts every stage in its own process group, stage `i`'s stdout and stage `i + 1`'s stdin being the
 * two ends of one OS pipe, so the bytes between stages never reach JavaScript.
 *
 * The stages and pipes live in a scope of their own inside the caller's: when a later stage fails to
 * start, those already started are stopped (and the pipes closed) at once, not when the caller's scope
 * ends.
 */
export const startPipeline = (
  pipeline: Pipeline.Pipeline
): Effect.Effect<Process.Process, CommandError.CommandError, Scope.Scope> =>
  Effect.gen(function* () {
    const stages = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    return yield* connect(pipeline).pipe(
      Scope.extend(stages),
      Effect.onError((cause) => Scope.close(stages, Exit.failCause(cause)))
    )
  })

const connect = (pipeline: Pipeline.Pipeline): Effect.Effect<Process.Process, CommandError.CommandError, Scope.Scope> =>
  Effect.gen(function* () {
    const shown = pipeline.stages.map(Command.toString).join(" | ")
    const pipes = yield* makePipes(shown, pipeline.stages.length - 1).pipe(
      Effect.tapError((error) =>
        Effect.logWarning("tether: no OS pipes for this pipeline; its stages are connected through Node instead").pipe(
          Effect.annotateLogs({ command: shown, reason: error.reason })
        )
      ),
      Effect.option
    )
    if (pipes._tag === "None") return yield* CommandExecutor.startThroughStreams(start)(pipeline)

    const last = pipeline.stages.length - 1
    const stages: Array<Process.Process> = []
    for (const [i, stage] of pipeline.stages.entries()) {
      let wired = stage
      if (i > 0) wired = Command.stdin(wired, Stdio.fd(pipes.value[i - 1]!.read!))
      if (i < last) wired = Command.stdout(wired, Stdio.fd(pipes.value[i]!.write!))
      stages.push(yield* start(wired))
      if (i > 0) closeEnd(pipes.value[i - 1]!, "read")
      if (i < last) closeEnd(pipes.value[i]!, "write")
    }
    return CommandExecutor.combine(pipeline, stages)
  })
