/*
 * A parent that starts `sh -c argv[2]` under Tether, prints the command's pid as JSON and waits to be
 * killed: the test sends it SIGKILL, which no finalizer of Node's survives.
 */
import { Command } from "@tether/command"
import { NodeCommandExecutor } from "@tether/platform-node"
import * as Effect from "effect/Effect"

const program = Effect.gen(function* () {
  const child = yield* Command.start(Command.make("sh", "-c", process.argv[2]!))
  process.stdout.write(JSON.stringify({ pid: child.pid }) + "\n")
  return yield* Effect.never
})

Effect.runFork(program.pipe(Effect.scoped, Effect.provide(NodeCommandExecutor.layer)))
