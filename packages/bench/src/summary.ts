/**
 * Turns the runs into the printed report: a time table, a memory table, and Tether against its targets.
 *
 * @since 0.1.0
 */
import type { Kind } from "./adapter.js"
import type { Library, Report } from "./runner.js"
import type { Scenario } from "./scenarios.js"
import { formatMegabytes, formatMillis, formatRatio, markdownTable, median } from "./stats.js"

/**
 * One run as the parent saw it: the runner's report, or how the runner ended without one.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = Report | { readonly status: "timed out" | "crashed"; readonly reason: string }

/**
 * Every run of one library in one scenario. `stopped` once it is not to be run again.
 *
 * @since 0.1.0
 * @category models
 */
export interface Cell {
  readonly outcomes: Array<Outcome>
  stopped: boolean
}

type Ok = Extract<Outcome, { status: "ok" }>

/**
 * The medians of a cell's successful runs. For per-call kinds the time is the median of every sample
 * of every run; otherwise the median of the runs' durations.
 *
 * @since 0.1.0
 * @category summary
 */
export const medians = (
  kind: Kind,
  cell: Cell
):
  | {
      readonly ms: number
      readonly cpu: number
      readonly maxRss: number
      readonly growth: number
      readonly runs: number
    }
  | undefined => {
  const ok = cell.outcomes.filter((o): o is Ok => o.status === "ok")
  if (ok.length === 0) return undefined
  const perCall = kind === "spawn" || kind === "helper" || kind === "kill"
  return {
    ms: perCall ? median(ok.flatMap((o) => o.samples)) : median(ok.map((o) => o.ms)),
    cpu: median(ok.map((o) => o.cpu)),
    maxRss: median(ok.map((o) => o.maxRss)),
    growth: median(ok.map((o) => o.maxRss - o.rssBefore)),
    runs: ok.length
  }
}

const problemOf = (cell: Cell): string | undefined => {
  const bad = cell.outcomes.find((o) => o.status !== "ok")
  if (bad === undefined) return undefined
  if (bad.status === "cannot") return bad.reason === "not yet" ? "not yet" : `cannot (${bad.reason})`
  return `${bad.status} (${bad.reason})`
}

const withProblem = (text: string, cell: Cell): string => {
  const problem = problemOf(cell)
  return problem === undefined ? text : `${text}; then ${problem}`
}

/**
 * The text of one cell of the time table.
 *
 * @since 0.1.0
 * @category summary
 */
export const timeCell = (scenario: Scenario, cell: Cell | undefined, reference: Cell | undefined): string => {
  if (cell === undefined) return ""
  const value = medians(scenario.kind, cell)
  if (value === undefined) return problemOf(cell) ?? ""
  const base = reference === undefined ? undefined : medians(scenario.kind, reference)
  const ratio = base === undefined ? "" : ` (${formatRatio(value.ms, base.ms)})`
  return withProblem(`${formatMillis(value.ms)}${ratio}`, cell)
}

/**
 * The text of one cell of the CPU table: the runner's CPU time per call or per run, with its ratio.
 *
 * @since 0.1.0
 * @category summary
 */
export const cpuCell = (scenario: Scenario, cell: Cell | undefined, reference: Cell | undefined): string => {
  if (cell === undefined) return ""
  const value = medians(scenario.kind, cell)
  if (value === undefined) return problemOf(cell) ?? ""
  const base = reference === undefined ? undefined : medians(scenario.kind, reference)
  return `${formatMillis(value.cpu)}${base === undefined ? "" : ` (${formatRatio(value.cpu, base.cpu)})`}`
}

/**
 * The text of one cell of the memory table: peak RSS of the runner, and its growth during the work.
 *
 * @since 0.1.0
 * @category summary
 */
export const memoryCell = (scenario: Scenario, cell: Cell | undefined): string => {
  if (cell === undefined) return ""
  const value = medians(scenario.kind, cell)
  if (value === undefined) return problemOf(cell) ?? ""
  return withProblem(`${formatMegabytes(value.maxRss)} (+${formatMegabytes(value.growth).replace(" MB", "")})`, cell)
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Machine {
  readonly tether: string
  readonly cpus: number
  readonly cpuModel: string
  readonly memoryGiB: number
  readonly node: string
  readonly kernel: string
  readonly loadBefore: ReadonlyArray<number>
  readonly loadAfter: ReadonlyArray<number>
  readonly began: string
  readonly minutes: number
}

interface Input {
  readonly scenarios: ReadonlyArray<Scenario>
  readonly cells: ReadonlyMap<string, ReadonlyMap<Library, Cell>>
  readonly machine: Machine
  readonly versions: Readonly<Record<string, string>>
  readonly quick: boolean
}

const columns = (scenarios: ReadonlyArray<Scenario>): ReadonlyArray<Library> => {
  const seen: Array<Library> = []
  for (const s of scenarios) for (const l of s.libraries) if (!seen.includes(l)) seen.push(l)
  return seen
}

/** Growth a constant-memory stream stays under, whatever it carries: an eighth of the full run's 1 GiB. */
const streamBound = 128 * 1024 * 1024

interface Verdict {
  readonly target: string
  readonly measured: string
  readonly met: "yes" | "no" | "n/a"
}

/**
 * Tether's figures against the targets it set itself.
 *
 * @since 0.1.0
 * @category summary
 */
export const verdicts = (input: Input): ReadonlyArray<Verdict> => {
  const out: Array<Verdict> = []
  const find = (id: string): Scenario | undefined => input.scenarios.find((s) => s.id === id)
  const figures = (id: string, library: Library) => {
    const scenario = find(id)
    const cell = input.cells.get(id)?.get(library)
    return scenario === undefined || cell === undefined ? undefined : medians(scenario.kind, cell)
  }
  const judge = (ok: boolean): "yes" | "no" => (ok ? "yes" : "no")
  const missing = (id: string) => {
    const cell = input.cells.get(id)?.get("Tether")
    return cell === undefined ? "not run" : (problemOf(cell) ?? "no result")
  }

  const spawnRatio = (id: string, target: string, bound: number) => {
    if (find(id) === undefined) return
    const mine = figures(id, "Tether")
    const raw = figures(id, "child_process")
    out.push({
      target,
      measured: mine && raw ? `${(mine.ms / raw.ms).toFixed(2)}x` : missing(id),
      met: mine && raw ? judge(mine.ms <= bound * raw.ms) : "n/a"
    })
  }
  spawnRatio("spawn", "spawn+wait ≤ 1.10x child_process", 1.1)
  spawnRatio("spawn-plain", "spawn+wait ≤ 1.10x child_process without the exec helper", 1.1)
  spawnRatio("helper", "spawn+wait ≤ 1.20x child_process with the exec helper", 1.2)
  spawnRatio("helper", "aim: spawn+wait ≤ 1.00x child_process with the exec helper", 1.0)

  for (const [id, label, size] of [
    ["capture-1M", "1 MB", 1],
    ["capture-50M", "50 MB", 50],
    ["capture-200M", "200 MB", 200]
  ] as const) {
    if (find(id) === undefined) continue
    const mine = figures(id, "Tether")
    const raw = figures(id, "child_process")
    out.push({
      target: `capture ${label} at least as fast as execFile`,
      measured: mine && raw ? `${(mine.ms / raw.ms).toFixed(2)}x its time` : missing(id),
      met: mine && raw ? judge(mine.ms <= raw.ms) : "n/a"
    })
    // At 1 MB the runner's own baseline swamps the figure; the rule is judged where it can be seen.
    if (size < 50) continue
    const bytes = size * 1024 * 1024
    out.push({
      target: `capture ${label}: RSS growth ≤ 2.2x the output`,
      measured: mine ? `${(mine.growth / bytes).toFixed(2)}x (+${formatMegabytes(mine.growth)})` : missing(id),
      met: mine ? judge(mine.growth <= 2.2 * bytes) : "n/a"
    })
  }

  const pipeline = find("pipeline")
  if (pipeline !== undefined) {
    const mine = figures("pipeline", "Tether")
    const sh = figures("pipeline", "sh -c")
    out.push({
      target: "pipeline throughput ≥ 0.95x sh",
      measured: mine && sh ? `${(sh.ms / mine.ms).toFixed(2)}x` : missing("pipeline"),
      met: mine && sh ? judge(sh.ms / mine.ms >= 0.95) : "n/a"
    })
    out.push({
      target: "pipeline: parent peak RSS < 150 MB",
      measured: mine ? `${formatMegabytes(mine.maxRss)} (+${formatMegabytes(mine.growth)})` : missing("pipeline"),
      met: mine ? judge(mine.maxRss < 150 * 1024 * 1024) : "n/a"
    })
  }

  const stream = find("stream")
  if (stream !== undefined) {
    const mine = figures("stream", "Tether")
    out.push({
      target: `stream ${formatMegabytes(stream.size)} in constant memory (RSS growth < ${formatMegabytes(streamBound)})`,
      measured: mine ? `+${formatMegabytes(mine.growth)}` : missing("stream"),
      met: mine ? judge(mine.growth < streamBound) : "n/a"
    })
  }
  return out
}

/**
 * The whole printed report, in Markdown.
 *
 * @since 0.1.0
 * @category summary
 */
export const summarize = (input: Input): string => {
  const libraries = columns(input.scenarios)
  const timeRows = input.scenarios.map((scenario) => {
    const row = input.cells.get(scenario.id)!
    const reference = row.get(scenario.reference)
    return [
      `${scenario.title}; ratio to ${scenario.reference}`,
      ...libraries.map((l) => timeCell(scenario, row.get(l), reference))
    ]
  })
  const cpuRows = input.scenarios.map((scenario) => {
    const row = input.cells.get(scenario.id)!
    const reference = row.get(scenario.reference)
    return [scenario.title, ...libraries.map((l) => cpuCell(scenario, row.get(l), reference))]
  })
  const memoryRows = input.scenarios
    .filter((s) => s.memory)
    .map((scenario) => {
      const row = input.cells.get(scenario.id)!
      return [scenario.title, ...libraries.map((l) => memoryCell(scenario, row.get(l)))]
    })
  const m = input.machine
  const versions = Object.entries(input.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(", ")
  return [
    `# Tether benchmarks${input.quick ? " (--quick)" : ""}`,
    "",
    `- Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.kernel}, Node ${m.node}`,
    `- Load average before/after: ${m.loadBefore.map((n) => n.toFixed(2)).join(" ")} / ${m.loadAfter
      .map((n) => n.toFixed(2))
      .join(" ")}`,
    `- Tether at ${m.tether}; ${versions}`,
    `- Started ${m.began}, took ${m.minutes.toFixed(1)} min`,
    "",
    "## Time (median; ratio of times to the reference, lower is better)",
    "",
    markdownTable(["scenario", ...libraries], timeRows),
    "",
    "## CPU time of the parent (user + system per call or per run; ratio to the same reference)",
    "",
    markdownTable(["scenario", ...libraries], cpuRows),
    "",
    "## Memory (peak RSS of the runner process, and in brackets its growth during the measured work)",
    "",
    markdownTable(["scenario", ...libraries], memoryRows),
    "",
    "## Tether against its targets",
    "",
    markdownTable(
      ["target", "measured", "met"],
      verdicts(input).map((v) => [v.target, v.measured, v.met])
    ),
    ""
  ].join("\n")
}
