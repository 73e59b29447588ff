/*
 * Runs with an fd inherited without close-on-exec (fd argv[3], which the test hands down), as a process
 * inherits fds from whatever started it. Prints whether that fd lacks close-on-exec here, then the fds
 * the probe (argv[2]) sees when Tether runs it.
 */
import { readFileSync } from "node:fs"
import { Command } from "@tether/command"
import { NodeCommandExecutor } from "@tether/platform-node"
import * as Effect from "effect/Effect"

const flags = /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${process.argv[3]}`, "utf8"))
const inheritable = flags !== null && (parseInt(flags[1]!, 8) & 0o2000000) === 0

const program = Command.string(Command.make(process.argv[2]!)).pipe(
  Effect.map((text) => (JSON.parse(text) as { fds: Array<{ fd: number }> }).fds.map((entry) => entry.fd))
)

Effect.runPromise(program.pipe(Effect.provide(NodeCommandExecutor.layer))).then(
  (fds) => process.stdout.write(JSON.stringify({ inheritable, fds }) + "\n"),
  (error) => {
    process.stdout.write(JSON.stringify({ error: String(error) }) + "\n")
    process.exitCode = 1
  }
)
