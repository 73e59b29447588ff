/**
 * A dry-run `CommandExecutor`: it runs nothing. Each command is logged (its `Command.toString`, at info
 * level, through Effect's logger) and answered by a fake process that exits at once, with empty output
 * and code 0 or with what a callback answers. Use it to see what a program would run, or to test code
 * paths without caring which commands they take (for that, `TestCommandExecutor` is stricter).
 *
 * @since 0.1.0
 */
import * as Command from "@tether/command/Command"
import { CommandExecutor, type Service } from "@tether/command/CommandExecutor"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Expectation from "./Expectation.js"
import { toBytes } from "./internal/expectation.js"
import * as fake from "./internal/fake.js"

/**
 * An executor whose every command is answered by `answer`: its `stdout` and `stderr` are written (to
 * where the command's settings send them), then it exits with `exitCode` (default 0).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (answer: (command: Command.Command) => Effect.Effect<Expectation.Reply>): Service => ({
  start: (command) =>
    Effect.gen(function* () {
      yield* Effect.logInfo(Command.toString(command))
      const reply = yield* answer(command)
      const steps: Array<Expectation.Step> = []
      if (reply.stdout !== undefined) steps.push({ _tag: "Write", fd: 1, data: toBytes(reply.stdout) })
      if (reply.stderr !== undefined) steps.push({ _tag: "Write", fd: 2, data: toBytes(reply.stderr) })
      const record: fake.RunRecord = {
        command,
        pid: fake.allocatePid(),
        expectation: undefined,
        stdin: [],
        signals: [],
        status: undefined
      }
      const script = { steps, ending: { _tag: "Exit", code: reply.exitCode ?? 0 }, ignoredSignals: [] } as const
      return yield* fake.start(command, script, record, () => {})
    })
})

/**
 * Logs every command and answers success with empty output.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<CommandExecutor> = Layer.succeed(
  CommandExecutor,
  make(() => Effect.succeed({}))
)

/**
 * Logs every command and answers with what `answer` computes from it (libvirt's dry-run callback).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  answer: (command: Command.Command) => Effect.Effect<Expectation.Reply>
): Layer.Layer<CommandExecutor> => Layer.succeed(CommandExecutor, make(answer))
