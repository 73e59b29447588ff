/**
 * One measurement in a fresh Node process, so that one run's heap never pollutes the next:
 * `node --import tsx runner.ts <kind> <library> <size>`. It prints one line of JSON (see `Report`).
 *
 * @since 0.1.0
 */
import { NotYet, type Adapter, type Kind } from "./adapter.js"

/**
 * What a runner prints. `ms` is the measured duration (the median of the samples for per-call kinds),
 * `maxRss` the peak resident set of the whole runner in bytes, `rssBefore` its resident set just before
 * the measured work began. CPU time is counted too: unlike wall time, it hardly moves when other work
 * shares the machine.
 *
 * @since 0.1.0
 * @category models
 */
export type Report =
  | {
      readonly status: "ok"
      readonly ms: number
      readonly samples: ReadonlyArray<number>
      readonly maxRss: number
      readonly rssBefore: number
      /** CPU time (user + system) of the runner process during the work, in milliseconds per call or run. */
      readonly cpu: number
    }
  | { readonly status: "cannot" | "wrong" | "failed"; readonly reason: string }

/**
 * The libraries, by the name the table shows.
 *
 * @since 0.1.0
 * @category libraries
 */
export const libraries = {
  Tether: () => import("./libs/tether.js"),
  child_process: () => import("./libs/child-process.js"),
  "@effect/platform": () => import("./libs/effect-platform.js"),
  execa: () => import("./libs/execa.js"),
  "nano-spawn": () => import("./libs/nano-spawn.js"),
  tinyexec: () => import("./libs/tinyexec.js"),
  "sh -c": () => import("./libs/sh.js")
} as const

/**
 * @since 0.1.0
 * @category libraries
 */
export type Library = keyof typeof libraries

const width = 16

/** Runs one kind at one size, checking that the library really did the work. */
const measure = async (adapter: Adapter, kind: Kind, size: number): Promise<ReadonlyArray<number> | string> => {
  const expect = (got: number | string, want: number) => (Number(got) === want ? [] : `got ${got}, expected ${want}`)
  switch (kind) {
    case "spawn":
      return adapter.spawn!(size)
    case "helper":
      return (adapter.helper ?? adapter.spawn)!(size)
    case "kill":
      return adapter.kill!(size)
    case "concurrent":
      await adapter.concurrent!(size, width)
      return []
    case "capture":
      return expect(await adapter.capture!(size), size)
    case "lines":
      return expect(await adapter.lines!(size), size)
    case "bytes":
      return expect(await adapter.bytes!(size), size)
    case "pipeline":
      return expect(await adapter.pipeline!(size), size)
  }
}

/** A small run of the same work first, so that loading and compiling the library is not measured. */
const warmUpSize: Record<Kind, (size: number) => number> = {
  spawn: () => 20,
  helper: () => 20,
  kill: () => 5,
  concurrent: () => 64,
  capture: () => 64 * 1024,
  lines: () => 1000,
  bytes: () => 1024 * 1024,
  pipeline: () => 1024 * 1024
}

const main = async (kind: Kind, library: Library, size: number): Promise<Report> => {
  const adapter = (await libraries[library]()).adapter as Adapter
  if ((kind === "helper" ? adapter.spawn : adapter[kind]) === undefined)
    return { status: "cannot", reason: adapter.cannot?.[kind] ?? "cannot" }
  try {
    const warm = await measure(adapter, kind, warmUpSize[kind](size))
    if (typeof warm === "string") return { status: "wrong", reason: warm }
    const rssBefore = process.memoryUsage.rss()
    const cpuBefore = process.cpuUsage()
    const begin = performance.now()
    const result = await measure(adapter, kind, size)
    const elapsed = performance.now() - begin
    const cpuUsed = process.cpuUsage(cpuBefore)
    if (typeof result === "string") return { status: "wrong", reason: result }
    const maxRss = process.resourceUsage().maxRSS * 1024
    const ms = result.length > 0 ? [...result].sort((a, b) => a - b)[result.length >> 1]! : elapsed
    const cpu = (cpuUsed.user + cpuUsed.system) / 1000 / Math.max(1, result.length)
    return { status: "ok", ms, samples: result, maxRss, rssBefore, cpu }
  } catch (error) {
    if (error instanceof NotYet) return { status: "cannot", reason: "not yet" }
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    return { status: "failed", reason: message.split("\n")[0]!.slice(0, 160) }
  }
}

// A bound that runs out sends SIGTERM: exiting through process.exit lets each library's exit hooks
// take its children along.
process.once("SIGTERM", () => process.exit(143))

const [kind, library, size] = process.argv.slice(2) as [Kind, Library, string]
main(kind, library, Number(size)).then(
  (report) => {
    process.stdout.write(`${JSON.stringify(report)}\n`)
    process.exit(0)
  },
  (error) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
