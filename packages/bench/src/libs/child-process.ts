/**
 * Raw `node:child_process`, used the way a careful caller would, with the same stdio as Tether's
 * runners (stdin and stdout on `/dev/null`, stderr piped) where the scenario allows it.
 *
 * @since 0.1.0
 */
import { execFile, spawn, type ChildProcess } from "node:child_process"
import { once } from "node:events"
import { createInterface } from "node:readline"
import { pool, timeEach, type Adapter } from "../adapter.js"

const closed = (child: ChildProcess): Promise<unknown> => once(child, "close")

const runTrue = () => closed(spawn("true", [], { stdio: ["ignore", "ignore", "pipe"] }))

/** @since 0.1.0 */
export const adapter: Adapter = {
  spawn: (n) => timeEach(n, runTrue),
  concurrent: (n, width) => pool(n, width, runTrue),
  capture: (bytes) =>
    new Promise((resolve, reject) =>
      execFile(
        "head",
        ["-c", String(bytes), "/dev/zero"],
        { encoding: "utf8", maxBuffer: Infinity },
        (error, stdout) => (error ? reject(error) : resolve(stdout.length))
      )
    ),
  lines: async (n) => {
    const child = spawn("seq", [String(n)], { stdio: ["ignore", "pipe", "pipe"] })
    const done = closed(child)
    let count = 0
    const reader = createInterface({ input: child.stdout!, crlfDelay: Infinity })
    reader.on("line", () => count++)
    await Promise.all([once(reader, "close"), done])
    return count
  },
  bytes: async (bytes) => {
    const child = spawn("head", ["-c", String(bytes), "/dev/zero"], { stdio: ["ignore", "pipe", "pipe"] })
    let total = 0
    child.stdout!.on("data", (chunk: Buffer) => (total += chunk.length))
    await closed(child)
    return total
  },
  pipeline: async (bytes) => {
    // Each stage gets the previous stage's pipe as its stdin fd: the bytes never enter JavaScript.
    const head = spawn("head", ["-c", String(bytes), "/dev/zero"], { stdio: ["ignore", "pipe", "inherit"] })
    const cat = spawn("cat", [], { stdio: [head.stdout!, "pipe", "inherit"] })
    head.stdout!.destroy()
    const wc = spawn("wc", ["-c"], { stdio: [cat.stdout!, "pipe", "inherit"] })
    cat.stdout!.destroy()
    let out = ""
    wc.stdout!.setEncoding("utf8").on("data", (text: string) => (out += text))
    await Promise.all([closed(head), closed(cat), closed(wc)])
    return out.trim()
  },
  kill: (n) =>
    timeEach(n, async () => {
      const child = spawn("sleep", ["1000"], { stdio: ["ignore", "ignore", "pipe"] })
      await once(child, "spawn")
      const done = closed(child)
      child.kill("SIGTERM")
      await done
    })
}
