/**
 * execa 9, with `maxBuffer` lifted for captures and `buffer: false` while streaming.
 *
 * @since 0.1.0
 */
import { once } from "node:events"
import { execa } from "execa"
import { pool, timeEach, type Adapter } from "../adapter.js"

const runTrue = () => execa("true")

/** @since 0.1.0 */
export const adapter: Adapter = {
  spawn: (n) => timeEach(n, runTrue),
  concurrent: (n, width) => pool(n, width, runTrue),
  capture: async (bytes) => {
    const result = await execa("head", ["-c", String(bytes), "/dev/zero"], { maxBuffer: Infinity })
    return result.stdout.length
  },
  lines: async (n) => {
    let count = 0
    for await (const _ of execa("seq", [String(n)], { buffer: false })) count++
    return count
  },
  bytes: async (bytes) => {
    let total = 0
    const child = execa("head", ["-c", String(bytes), "/dev/zero"], { buffer: false })
    for await (const chunk of child.iterable({ binary: true })) total += chunk.length
    return total
  },
  pipeline: async (bytes) => {
    const result = await execa("head", ["-c", String(bytes), "/dev/zero"])
      .pipe("cat")
      .pipe("wc", ["-c"])
    return result.stdout.trim()
  },
  kill: (n) =>
    timeEach(n, async () => {
      const child = execa("sleep", ["1000"])
      await once(child, "spawn")
      child.kill("SIGTERM")
      await child.catch(() => undefined)
    })
}
