/*
 * A parent that starts a daemon (`sleep argv[3]`, pid file argv[2]), prints its pid as JSON and waits to
 * be killed: the daemon must outlive it.
 */
import { Command } from "@tether/command"
import { NodeCommandExecutor } from "@tether/platform-node"
import * as Effect from "effect/Effect"

const program = Effect.gen(function* () {
  const daemon = yield* Command.daemon(
    Command.make("sleep", process.argv[3]!).pipe(Command.daemonize, Command.pidFile(process.argv[2]!))
  )
  process.stdout.write(JSON.stringify(daemon) + "\n")
  return yield* Effect.never
})

Effect.runFork(program.pipe(Effect.provide(NodeCommandExecutor.layer)))
