/**
 * nano-spawn 2.
 *
 * @since 0.1.0
 */
import spawn from "nano-spawn"
import { pool, timeEach, type Adapter } from "../adapter.js"

const runTrue = () => spawn("true")

/** @since 0.1.0 */
export const adapter: Adapter = {
  spawn: (n) => timeEach(n, runTrue),
  concurrent: (n, width) => pool(n, width, runTrue),
  capture: async (bytes) => (await spawn("head", ["-c", String(bytes), "/dev/zero"])).stdout.length,
  lines: async (n) => {
    let count = 0
    for await (const _ of spawn("seq", [String(n)]).stdout) count++
    return count
  },
  pipeline: async (bytes) =>
    (
      await spawn("head", ["-c", String(bytes), "/dev/zero"])
        .pipe("cat")
        .pipe("wc", ["-c"])
    ).stdout.trim(),
  kill: (n) =>
    timeEach(n, async () => {
      const subprocess = spawn("sleep", ["1000"])
      const child = await subprocess.nodeChildProcess
      child.kill("SIGTERM")
      await subprocess.catch(() => undefined)
    }),
  cannot: { bytes: "iterates lines only" }
}
