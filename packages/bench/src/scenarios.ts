/**
 * The scenarios `pnpm bench` runs, with their sizes, rounds and time bounds.
 *
 * @since 0.1.0
 */
import type { Kind } from "./adapter.js"
import type { Library } from "./runner.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Scenario {
  /** A short name for `--only`. */
  readonly id: string
  /** The row label in the tables. */
  readonly title: string
  readonly kind: Kind
  /** Samples for per-call kinds, bytes or lines for the others. */
  readonly size: number
  readonly rounds: number
  /** Seconds one run of one library may take before it is stopped and shown as timed out. */
  readonly bound: number
  /** The library every ratio in the row is taken to. */
  readonly reference: Library
  readonly libraries: ReadonlyArray<Library>
  /** Whether the row's peak RSS is shown in the memory table. */
  readonly memory: boolean
  /** Environment variables set for every runner of the row. */
  readonly env?: Readonly<Record<string, string>>
}

const MiB = 1024 * 1024

/**
 * The libraries every scenario runs, in table order.
 *
 * @since 0.1.0
 * @category scenarios
 */
export const peers: ReadonlyArray<Library> = [
  "Tether",
  "child_process",
  "@effect/platform",
  "execa",
  "nano-spawn",
  "tinyexec"
]

/**
 * The full run: about ten minutes on two cores.
 *
 * @since 0.1.0
 * @category scenarios
 */
export const full: ReadonlyArray<Scenario> = [
  {
    id: "spawn",
    title: "spawn+wait `true` (median of 300 × rounds)",
    kind: "spawn",
    size: 300,
    rounds: 3,
    bound: 60,
    reference: "child_process",
    libraries: peers,
    memory: false
  },
  {
    id: "spawn-plain",
    title: "spawn+wait `true`, Tether's exec helper off (median of 300 × rounds)",
    kind: "spawn",
    size: 300,
    rounds: 3,
    bound: 60,
    reference: "child_process",
    libraries: ["Tether", "child_process"],
    memory: false,
    env: { TETHER_EXEC_HELPER: "0" }
  },
  {
    id: "helper",
    title: "spawn+wait `true` with a setting only the exec helper applies (median of 300 × rounds)",
    kind: "helper",
    size: 300,
    rounds: 3,
    bound: 60,
    reference: "child_process",
    libraries: ["Tether", "child_process"],
    memory: false
  },
  {
    id: "helper-spawned",
    title: "as above, the fork server off: a helper spawned per command (median of 300 × rounds)",
    kind: "helper",
    size: 300,
    rounds: 3,
    bound: 60,
    reference: "child_process",
    libraries: ["Tether", "child_process"],
    memory: false,
    env: { TETHER_FORK_SERVER: "0" }
  },
  {
    id: "concurrent",
    title: "2000 × `true`, 16 at a time",
    kind: "concurrent",
    size: 2000,
    rounds: 2,
    bound: 90,
    reference: "child_process",
    libraries: peers,
    memory: false
  },
  {
    id: "capture-1M",
    title: "capture 1 MB",
    kind: "capture",
    size: MiB,
    rounds: 5,
    bound: 30,
    reference: "child_process",
    libraries: peers,
    memory: true
  },
  {
    id: "capture-50M",
    title: "capture 50 MB",
    kind: "capture",
    size: 50 * MiB,
    rounds: 3,
    bound: 60,
    reference: "child_process",
    libraries: peers,
    memory: true
  },
  {
    id: "capture-200M",
    title: "capture 200 MB",
    kind: "capture",
    size: 200 * MiB,
    rounds: 3,
    bound: 120,
    reference: "child_process",
    libraries: peers,
    memory: true
  },
  {
    id: "lines",
    title: "streamLines, 10 M lines of `seq`",
    kind: "lines",
    size: 10_000_000,
    rounds: 3,
    bound: 120,
    reference: "child_process",
    libraries: peers,
    memory: true
  },
  {
    id: "stream",
    title: "stream 1 GiB of bytes",
    kind: "bytes",
    size: 1024 * MiB,
    rounds: 3,
    bound: 120,
    reference: "child_process",
    libraries: peers,
    memory: true
  },
  {
    id: "pipeline",
    title: "pipeline `head -c 1G | cat | wc -c`",
    kind: "pipeline",
    size: 1024 * MiB,
    // Three processes on two cores swing from run to run more than anything else here: more rounds.
    rounds: 5,
    bound: 120,
    reference: "sh -c",
    libraries: [...peers, "sh -c"],
    memory: true
  },
  {
    id: "kill",
    title: "start + SIGTERM + reap `sleep` (median of 100 × rounds)",
    kind: "kill",
    size: 100,
    rounds: 3,
    bound: 60,
    reference: "child_process",
    libraries: peers,
    memory: false
  }
]

/**
 * `--quick`: one round each, smaller sizes and tighter bounds, for a look in about two minutes.
 *
 * @since 0.1.0
 * @category scenarios
 */
export const quick: ReadonlyArray<Scenario> = full.map((scenario) => {
  const smaller: Partial<Record<string, { size: number; title: string }>> = {
    spawn: { size: 100, title: "spawn+wait `true` (median of 100)" },
    "spawn-plain": { size: 100, title: "spawn+wait `true`, Tether's exec helper off (median of 100)" },
    helper: { size: 100, title: "spawn+wait `true` with a setting only the exec helper applies (median of 100)" },
    "helper-spawned": {
      size: 100,
      title: "as above, the fork server off: a helper spawned per command (median of 100)"
    },
    concurrent: { size: 500, title: "500 × `true`, 16 at a time" },
    lines: { size: 1_000_000, title: "streamLines, 1 M lines of `seq`" },
    stream: { size: 256 * MiB, title: "stream 256 MB of bytes" },
    pipeline: { size: 256 * MiB, title: "pipeline `head -c 256M | cat | wc -c`" },
    kill: { size: 30, title: "start + SIGTERM + reap `sleep` (median of 30)" }
  }
  return { ...scenario, ...smaller[scenario.id], rounds: 1, bound: Math.min(scenario.bound, 30) }
})
