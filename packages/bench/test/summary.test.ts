import { describe, expect, it } from "vitest"
import type { Scenario } from "../src/scenarios.js"
import { cpuCell, medians, memoryCell, timeCell, type Cell } from "../src/summary.js"

const scenario: Scenario = {
  id: "capture-1M",
  title: "capture 1 MB",
  kind: "capture",
  size: 1024 * 1024,
  rounds: 3,
  bound: 30,
  reference: "child_process",
  libraries: ["Tether", "child_process"],
  memory: true
}

const ok = (ms: number, maxRss = 100 * 2 ** 20, rssBefore = 80 * 2 ** 20, cpu = ms / 2) =>
  ({ status: "ok", ms, samples: [], maxRss, rssBefore, cpu }) as const

const cell = (...outcomes: Cell["outcomes"]): Cell => ({ outcomes, stopped: false })

describe("medians", () => {
  it("takes the median of the runs, and of every sample for per-call kinds", () => {
    expect(medians("capture", cell(ok(3), ok(1), ok(2)))?.ms).toBe(2)
    const sampled = (samples: Array<number>) => ({ ...ok(0), samples })
    expect(medians("spawn", cell(sampled([1, 2]), sampled([9, 8, 7])))?.ms).toBe(7)
  })

  it("reports the growth of RSS during the work", () => {
    expect(medians("capture", cell(ok(1, 300, 100)))?.growth).toBe(200)
  })
})

describe("cells", () => {
  const reference = cell(ok(10))

  it("shows a time with its ratio to the reference", () => {
    expect(timeCell(scenario, cell(ok(15)), reference)).toBe("15.0 ms (1.50x)")
  })

  it("shows a library that timed out, crashed or cannot, instead of dropping it", () => {
    expect(timeCell(scenario, cell({ status: "timed out", reason: ">30 s" }), reference)).toBe("timed out (>30 s)")
    expect(timeCell(scenario, cell({ status: "crashed", reason: "SIGILL" }), reference)).toBe("crashed (SIGILL)")
    expect(timeCell(scenario, cell({ status: "cannot", reason: "iterates lines only" }), reference)).toBe(
      "cannot (iterates lines only)"
    )
    expect(memoryCell(scenario, cell({ status: "cannot", reason: "not yet" }))).toBe("not yet")
  })

  it("keeps the good runs and names the failure that stopped the rest", () => {
    expect(timeCell(scenario, cell(ok(20), { status: "crashed", reason: "exit 1" }), reference)).toBe(
      "20.0 ms (2.00x); then crashed (exit 1)"
    )
  })

  it("shows CPU time with its ratio to the reference's", () => {
    expect(cpuCell(scenario, cell(ok(30, undefined, undefined, 12)), cell(ok(10, undefined, undefined, 4)))).toBe(
      "12.0 ms (3.00x)"
    )
  })

  it("shows peak RSS with the growth in brackets", () => {
    expect(memoryCell(scenario, cell(ok(1, 300 * 2 ** 20, 100 * 2 ** 20)))).toBe("300 MB (+200)")
  })
})
