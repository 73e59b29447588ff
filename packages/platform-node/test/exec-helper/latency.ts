/*
 * Spawn+wait latency of `true`: plain child_process.spawn, the exec helper spawned by hand, and
 * Command.run with and without the helper. The four are interleaved, round after round, so that a busy
 * machine slows them alike; each line is a median. Run from the repository root:
 *
 *   node --import tsx packages/platform-node/test/exec-helper/latency.ts [runs]
 */
import { spawn } from "node:child_process"
import { Command } from "@tether/command"
import { NodeCommandExecutor } from "@tether/platform-node"
import * as Effect from "effect/Effect"
import { locate } from "../../src/internal/helper.js"

const runs = Number(process.argv[2] ?? 300)
const helper = locate().path
if (helper === undefined) throw new Error("the exec helper is not built")

const plain = () =>
  new Promise<void>((resolve, reject) => {
    const child = spawn("/bin/true", [], { stdio: ["ignore", "ignore", "pipe"], detached: true })
    child.stderr!.resume()
    child.once("error", reject)
    child.once("exit", () => resolve())
  })

/** The helper alone: spawned as the executor spawns it, done at its exit report and end of channel. */
const helperAlone = () =>
  new Promise<void>((resolve, reject) => {
    const child = spawn(helper, ["-c", "3", "--", "/bin/true", "true"], {
      stdio: ["ignore", "ignore", "pipe", "pipe"],
      detached: true
    })
    child.stderr!.resume()
    let pending = 2
    const done = () => --pending === 0 && resolve()
    child.stdio[3]!.on("data", () => {}).once("end", done)
    child.once("error", reject)
    child.once("exit", done)
  })

const command = Command.make("/bin/true")
const tether = (withHelper: boolean) => () => {
  if (withHelper) delete process.env.TETHER_EXEC_HELPER
  else process.env.TETHER_EXEC_HELPER = "0"
  return Effect.runPromise(Command.run(command).pipe(Effect.provide(NodeCommandExecutor.layer)))
}

const variants: ReadonlyArray<readonly [string, () => Promise<unknown>]> = [
  ["child_process.spawn", plain],
  ["helper alone", helperAlone],
  ["Command.run, no helper", tether(false)],
  ["Command.run, helper", tether(true)]
]

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!

const main = async () => {
  const times = variants.map(() => [] as Array<number>)
  for (let warm = 0; warm < 20; warm++) for (const [, f] of variants) await f()
  for (let round = 0; round < runs; round++) {
    for (const [i, [, f]] of variants.entries()) {
      const started = process.hrtime.bigint()
      await f()
      times[i]!.push(Number(process.hrtime.bigint() - started) / 1e6)
    }
  }
  const base = median(times[0]!)
  for (const [i, [name]] of variants.entries()) {
    const ms = median(times[i]!)
    process.stdout.write(`${name.padEnd(24)} ${ms.toFixed(3)} ms  ${(ms / base).toFixed(2)}x\n`)
  }
}

void main()
