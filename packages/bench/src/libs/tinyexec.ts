/**
 * tinyexec 1.
 *
 * @since 0.1.0
 */
import { once } from "node:events"
import { x } from "tinyexec"
import { pool, timeEach, type Adapter } from "../adapter.js"

const runTrue = async () => x("true", [], { throwOnError: true })

/** @since 0.1.0 */
export const adapter: Adapter = {
  spawn: (n) => timeEach(n, runTrue),
  concurrent: (n, width) => pool(n, width, runTrue),
  capture: async (bytes) => (await x("head", ["-c", String(bytes), "/dev/zero"], { throwOnError: true })).stdout.length,
  lines: async (n) => {
    let count = 0
    for await (const _ of x("seq", [String(n)], { throwOnError: true })) count++
    return count
  },
  pipeline: async (bytes) =>
    (
      await x("head", ["-c", String(bytes), "/dev/zero"], { throwOnError: true })
        .pipe("cat", [], { throwOnError: true })
        .pipe("wc", ["-c"], { throwOnError: true })
    ).stdout.trim(),
  kill: (n) =>
    timeEach(n, async () => {
      const child = x("sleep", ["1000"])
      await once(child.process!, "spawn")
      child.kill("SIGTERM")
      await Promise.resolve(child).catch(() => undefined)
    }),
  cannot: { bytes: "iterates lines only" }
}
