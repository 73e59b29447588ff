/**
 * `pnpm bench`: runs every scenario for every library, one fresh runner process per run, the libraries
 * alternating within each round, and prints Markdown tables of medians and ratios.
 *
 * Flags: `--quick` (one short round), `--only id,id` (scenario ids), `--libs name,name`,
 * `--json file` (the raw results as well).
 *
 * @since 0.1.0
 */
import { execFileSync, spawn } from "node:child_process"
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { Report, Library } from "./runner.js"
import { full, quick, type Scenario } from "./scenarios.js"
import { rotation } from "./stats.js"
import { summarize, type Cell, type Outcome } from "./summary.js"

const here = dirname(fileURLToPath(import.meta.url))
const packageDir = join(here, "..")
const runnerPath = join(here, "runner.ts")

/** A run slower than this is not repeated in later rounds: one is enough to show it, and time is short. */
const repeatLimitMs = 15_000

const options = (argv: ReadonlyArray<string>) => {
  const value = (flag: string) => {
    const i = argv.indexOf(flag)
    return i >= 0 ? argv[i + 1] : undefined
  }
  const list = (flag: string) =>
    value(flag)
      ?.split(",")
      .filter((s) => s.length > 0)
  return { quick: argv.includes("--quick"), only: list("--only"), libs: list("--libs"), json: value("--json") }
}

/** The live members of a process group, from /proc (zombies are dead: init here never reaps them). */
const groupHasLiveMembers = (pgid: number): boolean => {
  for (const name of readdirSync("/proc")) {
    if (name.charCodeAt(0) > 57) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") return true
    } catch {
      // The process ended while we looked.
    }
  }
  return false
}

const signalGroup = (pgid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(-pgid, signal)
  } catch {
    // The group is already gone.
  }
}

const crashReason = (stderr: string, code: number | null, signal: NodeJS.Signals | null): string => {
  const lines = stderr.split("\n").map((line) => line.trim())
  const found =
    lines.find((line) => /^Fatal|^FATAL ERROR|Fatal JavaScript/.test(line)) ??
    lines.find((line) => /^\w*(Error|Exception)\b.*:/.test(line))
  const how = signal !== null ? signal : `exit ${code}`
  return found !== undefined ? `${found.replace(/^#\s*/, "").slice(0, 80)} (${how})` : how
}

/**
 * One run in a fresh runner process, in a process group of its own. Past the bound the group gets
 * SIGTERM (the runner exits through `process.exit`, so libraries' exit hooks reap their children),
 * then SIGKILL.
 */
const runOnce = (scenario: Scenario, library: Library): Promise<Outcome> =>
  new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", runnerPath, scenario.kind, library, String(scenario.size)],
      { cwd: packageDir, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...scenario.env } }
    )
    const pgid = child.pid!
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text))
    child.stderr.setEncoding("utf8").on("data", (text: string) => {
      stderr = (stderr + text).slice(-16_384)
    })
    let timedOut = false
    let hardKill: NodeJS.Timeout | undefined
    const bound = setTimeout(() => {
      timedOut = true
      signalGroup(pgid, "SIGTERM")
      hardKill = setTimeout(() => signalGroup(pgid, "SIGKILL"), 3000)
    }, scenario.bound * 1000)
    child.on("close", (code, signal) => {
      clearTimeout(bound)
      if (hardKill !== undefined) clearTimeout(hardKill)
      const line = stdout.trim().split("\n").pop() ?? ""
      let report: Report | undefined
      try {
        report = JSON.parse(line) as Report
      } catch {
        report = undefined
      }
      if (report === undefined || timedOut) {
        // What a crashed or stopped runner left in its group (a `sleep 1000`, a blocked `cat`) goes too.
        if (groupHasLiveMembers(pgid)) signalGroup(pgid, "SIGKILL")
      }
      if (timedOut) return resolve({ status: "timed out", reason: `>${scenario.bound} s` })
      if (report === undefined) return resolve({ status: "crashed", reason: crashReason(stderr, code, signal) })
      resolve(report)
    })
  })

const versionOf = (name: string): string => {
  try {
    const json = JSON.parse(readFileSync(join(packageDir, "node_modules", name, "package.json"), "utf8"))
    return String(json.version)
  } catch {
    return "?"
  }
}

/** The commit measured, and whether Tether's sources differed from it. */
const tetherRevision = (): string => {
  const git = (...args: Array<string>) =>
    execFileSync("git", args, { cwd: packageDir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
  try {
    const commit = git("rev-parse", "--short", "HEAD")
    const dirty = git(
      "status",
      "--porcelain",
      "--",
      "../command/src",
      "../platform-node/src",
      "../platform-node/native"
    )
    return dirty.length > 0 ? `${commit} with uncommitted changes to Tether's sources` : commit
  } catch {
    return "unknown"
  }
}

const describeOutcome = (outcome: Outcome): string => {
  if (outcome.status !== "ok") return `${outcome.status}: ${outcome.reason}`
  const ms = outcome.ms
  return ms < 1000 ? `${ms.toFixed(2)} ms` : `${(ms / 1000).toFixed(2)} s`
}

const main = async () => {
  const flags = options(process.argv.slice(2))
  const chosen = (flags.quick ? quick : full)
    .filter((s) => flags.only === undefined || flags.only.some((id) => s.id.startsWith(id)))
    .map((s) =>
      flags.libs === undefined
        ? s
        : { ...s, libraries: s.libraries.filter((l) => flags.libs!.includes(l) || l === s.reference) }
    )

  const began = new Date()
  const revisionBefore = tetherRevision()
  const loadBefore = os.loadavg()
  const cells = new Map<string, Map<Library, Cell>>()
  for (const scenario of chosen) {
    const row = new Map<Library, Cell>(scenario.libraries.map((l) => [l, { outcomes: [], stopped: false }]))
    cells.set(scenario.id, row)
    for (let round = 0; round < scenario.rounds; round++) {
      for (const library of rotation(scenario.libraries, round)) {
        const cell = row.get(library)!
        if (cell.stopped) continue
        const startedAt = performance.now()
        const outcome = await runOnce(scenario, library)
        cell.outcomes.push(outcome)
        // A library that cannot, crashes, is wrong or runs out of time is not tried again.
        if (outcome.status !== "ok" || performance.now() - startedAt > repeatLimitMs) cell.stopped = true
        process.stderr.write(
          `[${scenario.id}] round ${round + 1}/${scenario.rounds} ${library}: ${describeOutcome(outcome)}\n`
        )
      }
    }
  }
  const ended = new Date()
  const revisionAfter = tetherRevision()

  const versions: Record<string, string> = {
    effect: versionOf("effect"),
    "@effect/platform": versionOf("@effect/platform"),
    "@effect/platform-node": versionOf("@effect/platform-node"),
    execa: versionOf("execa"),
    "nano-spawn": versionOf("nano-spawn"),
    tinyexec: versionOf("tinyexec")
  }
  const machine = {
    tether: revisionAfter === revisionBefore ? revisionBefore : `${revisionBefore}, then ${revisionAfter} by the end`,
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? "?",
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    loadBefore,
    loadAfter: os.loadavg(),
    began: began.toISOString(),
    minutes: (ended.getTime() - began.getTime()) / 60_000
  }
  process.stdout.write(summarize({ scenarios: chosen, cells, machine, versions, quick: flags.quick }))
  if (flags.json !== undefined) {
    const raw = chosen.map((s) => ({ scenario: s, results: Object.fromEntries(cells.get(s.id)!) }))
    writeFileSync(flags.json, JSON.stringify({ machine, versions, raw }, null, 2))
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`)
  process.exit(1)
})
