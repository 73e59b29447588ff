/**
 * The `runhook` example of libvirt's virCommand guide, made real: every executable in a hooks folder is
 * run in name order with a clean, common environment, four arguments, and an XML document on stdin. A
 * hook that exits non-zero stops the chain with a typed `ExitCodeError` naming it.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Command } from "@tether/command"
import { NodeCommandExecutor } from "@tether/platform-node"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"

const hooksDir = join(dirname(fileURLToPath(import.meta.url)), "hooks.d")

/** A hook is an executable regular file in the hooks folder. */
const hooks = (dir: string): ReadonlyArray<string> =>
  readdirSync(dir)
    .sort()
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile() && (statSync(path).mode & 0o111) !== 0)

/** One hook run: libvirt's runhook, line for line. */
const runHook = (path: string, id: string, op: string, subop: string, extra: string, input: string, logDir: string) =>
  Command.make(path).pipe(
    Command.envPassCommon,
    Command.setEnv("HOOK_LOG_DIR", logDir),
    Command.args(id, op, subop, extra),
    Command.feed(input),
    Command.timeout("10 seconds"),
    Command.string
  )

/** Runs every hook for one event; the first failure ends the chain and is returned as a typed error. */
const dispatch = (id: string, op: string, document: string, logDir: string) =>
  Effect.forEach(hooks(hooksDir), (hook) => runHook(hook, id, op, "begin", "-", document, logDir), {
    concurrency: 1
  }).pipe(Effect.map((outputs) => outputs.filter((text) => text.length > 0)))

const guest = (name: string, memory?: number) =>
  `<domain type="kvm">\n  <name>${name}</name>\n${memory ? `  <memory unit="MiB">${memory}</memory>\n` : ""}</domain>\n`

const program = Effect.gen(function* () {
  const logDir = mkdtempSync(join(tmpdir(), "tether-hooks-"))

  const ok = yield* dispatch("web01", "start", guest("web01", 2048), logDir)
  yield* Console.log(`web01 start: ${hooks(hooksDir).length} hooks ran`)
  for (const line of ok) yield* Console.log(`  ${line.trimEnd()}`)

  const refused = yield* dispatch("db01", "start", guest("db01"), logDir).pipe(
    Effect.catchTag("ExitCodeError", (error) =>
      Effect.succeed(`db01 start refused by a hook (exit ${error.exitCode}): ${error.stderr.trim()}`)
    )
  )
  yield* Console.log(typeof refused === "string" ? refused : "db01 start: unexpectedly accepted")

  yield* Console.log(`\nevents.log:\n${readFileSync(join(logDir, "events.log"), "utf8")}`)
})

program.pipe(Effect.provide(NodeCommandExecutor.layer), NodeRuntime.runMain)
