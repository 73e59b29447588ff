import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import { dual } from "effect/Function"
import * as Hash from "effect/Hash"
import { NodeInspectSymbol } from "effect/Inspectable"
import { pipeArguments } from "effect/Pipeable"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Command from "../Command.js"
import type { CommandError } from "../CommandError.js"
import * as ExitStatus from "../ExitStatus.js"
import type * as Pipeline from "../Pipeline.js"
import * as Process from "../Process.js"
import * as Stdio from "../Stdio.js"
import { isCommand, toString as commandToString, withDefaults } from "./command.js"
import { validate as validateCommand } from "./validate.js"

/** @internal */
export const TypeId: Pipeline.TypeId = Symbol.for("@tether/command/Pipeline") as Pipeline.TypeId

const Proto = {
  [TypeId]: TypeId,
  pipe() {
    // eslint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  },
  [Equal.symbol](this: Pipeline.Pipeline, that: unknown): boolean {
    return (
      isPipeline(that) &&
      this.stages.length === that.stages.length &&
      this.stages.every((stage, i) => Equal.equals(stage, that.stages[i]))
    )
  },
  [Hash.symbol](this: Pipeline.Pipeline): number {
    return Hash.cached(this, Hash.array(this.stages.map((stage) => Hash.hash(stage))))
  },
  toString(this: Pipeline.Pipeline): string {
    return toString(this)
  },
  toJSON(this: Pipeline.Pipeline) {
    return { _id: "Pipeline", command: toString(this), stages: this.stages.map((stage) => stage.toJSON()) }
  },
  [NodeInspectSymbol](this: Pipeline.Pipeline) {
    return this.toJSON()
  }
}

/** @internal */
export const isPipeline = (u: unknown): u is Pipeline.Pipeline => typeof u === "object" && u !== null && TypeId in u

const stagesOf = (part: Command.Command | Pipeline.Pipeline): ReadonlyArray<Command.Command> =>
  isPipeline(part) ? part.stages : [part]

/** @internal */
export const make = (...parts: ReadonlyArray<Command.Command | Pipeline.Pipeline>): Pipeline.Pipeline =>
  Object.assign(Object.create(Proto), { stages: parts.flatMap(stagesOf) })

/** @internal */
export const pipeTo = dual<
  (that: Command.Command | Pipeline.Pipeline) => (self: Command.Command | Pipeline.Pipeline) => Pipeline.Pipeline,
  (self: Command.Command | Pipeline.Pipeline, that: Command.Command | Pipeline.Pipeline) => Pipeline.Pipeline
>(2, (self, that) => make(self, that))

/** @internal */
export const toString = (self: Command.Command | Pipeline.Pipeline): string =>
  isPipeline(self) ? self.stages.map(commandToString).join(" | ") : commandToString(self)

/** Every fault of a pipeline: each stage's, and settings that fight the connections between stages. */
export const validate = (self: Command.Command | Pipeline.Pipeline): ReadonlyArray<string> => {
  if (isCommand(self)) return validateCommand(self)
  if (self.stages.length < 2) return ["a pipeline needs at least two stages"]
  const last = self.stages.length - 1
  return self.stages.flatMap((stage, i) => {
    const problems = [...validateCommand(stage)]
    if (i > 0 && stage.stdin !== undefined) {
      problems.push(`its stdin is set to ${Stdio.format(stage.stdin)}, but it reads the previous stage's output`)
    }
    if (i < last && stage.maxOutput !== undefined) {
      problems.push("it has maxOutput, but its output goes to the next stage, not to a runner that captures it")
    }
    if (i < last && stage.stdout !== undefined) {
      problems.push(`its stdout is set to ${Stdio.format(stage.stdout)}, but it feeds the next stage`)
    }
    return problems.map((problem) => `stage ${i + 1} (${commandToString(stage)}): ${problem}`)
  })
}

/** @internal */
export const first = (self: Command.Command | Pipeline.Pipeline): Command.Command =>
  isPipeline(self) ? self.stages[0]! : self

/** @internal */
export const last = (self: Command.Command | Pipeline.Pipeline): Command.Command =>
  isPipeline(self) ? self.stages[self.stages.length - 1]! : self

/** Applies settings to the last stage: runners choose where the final output goes. */
export const withOutput = (
  self: Command.Command | Pipeline.Pipeline,
  patch: Parameters<typeof withDefaults>[1]
): Command.Command | Pipeline.Pipeline =>
  isPipeline(self) ? make(...self.stages.slice(0, -1), withDefaults(last(self), patch)) : withDefaults(self, patch)

/** A pipeline runs until its shortest stage timeout. */
export const timeout = (self: Command.Command | Pipeline.Pipeline): Duration.Duration | undefined =>
  stagesOf(self).reduce<Duration.Duration | undefined>(
    (shortest, stage) =>
      stage.timeout === undefined
        ? shortest
        : shortest === undefined
          ? stage.timeout
          : Duration.min(shortest, stage.timeout),
    undefined
  )

/**
 * The stages that failed, in pipeline order. A stage other than the last that died of SIGPIPE is not a
 * failure: a later stage stopped reading, as `head` does, and that is how a shell pipeline ends.
 */
export const failures = (statuses: ReadonlyArray<ExitStatus.ExitStatus>): ReadonlyArray<number> =>
  statuses.flatMap((status, i) => {
    if (ExitStatus.isSuccess(status)) return []
    if (status._tag === "Signaled" && status.signal === "SIGPIPE" && i < statuses.length - 1) return []
    return [i]
  })

/**
 * One `Process` for a whole pipeline, built from its stages' processes: input goes to the first stage,
 * output comes from the last, and waiting, killing and stopping reach every stage. `wait` answers like
 * `set -o pipefail`: the status of the first failing stage, else the last stage's.
 */
export const combine = (pipeline: Pipeline.Pipeline, stages: ReadonlyArray<Process.Process>): Process.Process => {
  const head = stages[0]!
  const tail = stages[stages.length - 1]!
  // The stage that answers for the pipeline, once every stage has exited.
  const deciding = Effect.map(
    Effect.forEach(stages, (stage) => stage.wait, { concurrency: "unbounded" }),
    (statuses) => stages[failures(statuses)[0] ?? statuses.length - 1]!
  )
  const wait = Effect.flatMap(deciding, (stage) => stage.wait)
  return {
    [Process.TypeId]: Process.TypeId,
    pid: tail.pid,
    command: pipeline,
    stages,
    stdin: head.stdin,
    stdout: tail.stdout,
    stderr: tail.stderr,
    fd: tail.fd,
    wait,
    exitCode: Effect.flatMap(deciding, (stage) => stage.exitCode),
    kill: (signal) => Effect.forEach(stages, (stage) => stage.kill(signal), { discard: true }),
    stop: Effect.forEach(stages, (stage) => stage.stop, { concurrency: "unbounded", discard: true }),
    isRunning: Effect.map(
      Effect.forEach(stages, (stage) => stage.isRunning),
      (running) => running.some(Boolean)
    ),
    stderrTail: tail.stderrTail
  }
}

/**
 * Starts the stages of a pipeline in a scope of their own inside the caller's: they are stopped with the
 * caller's scope, or at once when a later stage fails to start (or the start is interrupted), so that a
 * failed start leaves no stage running for as long as the caller's scope lives.
 */
const allOrNone = <A, E, R>(
  startStages: Effect.Effect<A, E, R | Scope.Scope>
): Effect.Effect<A, E, Exclude<R, Scope.Scope> | Scope.Scope> =>
  Effect.gen(function* () {
    const stages = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    return yield* startStages.pipe(
      Scope.extend(stages),
      Effect.onError((cause) => Scope.close(stages, Exit.failCause(cause)))
    )
  })

/**
 * The output of a stage as the next stage's input. When the next stage stops reading before the end,
 * the writer gets SIGPIPE, as it would from a kernel pipe whose reader has gone. An interrupted copy is
 * no such thing: the pipeline is being stopped, and each stage gets its own kill signal and grace period.
 */
const upstream = (previous: Process.Process) => {
  let ended = false
  return previous.stdout.pipe(
    Stream.onEnd(Effect.sync(() => (ended = true))),
    Stream.ensuringWith((exit) => (ended || !Exit.isSuccess(exit) ? Effect.void : previous.kill("SIGPIPE")))
  )
}

/**
 * Starts a pipeline with nothing but a backend's `start` for single commands: each stage's stdout is a
 * pipe the parent reads and copies into the next stage's stdin. Bytes pass through JavaScript, so a
 * backend that can connect processes directly (the Node executor, with OS pipes) does better; fakes and
 * remote backends get working pipelines from this.
 */
export const startThroughStreams =
  (
    start: (command: Command.Command) => Effect.Effect<Process.Process, CommandError, Scope.Scope>
  ): ((pipeline: Pipeline.Pipeline) => Effect.Effect<Process.Process, CommandError, Scope.Scope>) =>
  (pipeline) =>
    allOrNone(
      Effect.gen(function* () {
        const stages: Array<Process.Process> = []
        for (const [i, stage] of pipeline.stages.entries()) {
          const previous = stages[i - 1]
          const wired = withDefaults(stage, {
            stdin: previous === undefined ? stage.stdin : Stdio.fromStream(upstream(previous)),
            stdout: i < pipeline.stages.length - 1 ? Stdio.pipe : stage.stdout
          })
          stages.push(yield* start(wired))
        }
        return combine(pipeline, stages)
      })
    )
