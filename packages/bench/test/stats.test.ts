import { describe, expect, it } from "vitest"
import { formatMegabytes, formatMillis, formatRatio, markdownTable, median, rotation } from "../src/stats.js"

describe("median", () => {
  it("takes the middle of an odd count, whatever the order", () => {
    expect(median([9, 1, 5])).toBe(5)
  })

  it("averages the two middle values of an even count", () => {
    expect(median([4, 1, 3, 2])).toBe(2.5)
  })

  it("is NaN for no values", () => {
    expect(median([])).toBeNaN()
  })

  it("does not reorder its input", () => {
    const values = [3, 1, 2]
    median(values)
    expect(values).toEqual([3, 1, 2])
  })
})

describe("formatting", () => {
  it("picks a unit that keeps three significant digits", () => {
    expect(formatMillis(0.0421)).toBe("42.1 µs")
    expect(formatMillis(2.345)).toBe("2.35 ms")
    expect(formatMillis(1234)).toBe("1.23 s")
    expect(formatMillis(NaN)).toBe("-")
  })

  it("shows sizes in MB, rounded past 100", () => {
    expect(formatMegabytes(1.5 * 1024 * 1024)).toBe("1.50 MB")
    expect(formatMegabytes(612.4 * 1024 * 1024)).toBe("612 MB")
  })

  it("shows a ratio to the reference, empty without one", () => {
    expect(formatRatio(3, 2)).toBe("1.50x")
    expect(formatRatio(250, 2)).toBe("125.0x")
    expect(formatRatio(3, NaN)).toBe("")
    expect(formatRatio(3, 0)).toBe("")
  })
})

describe("markdownTable", () => {
  it("pads every column to its widest cell and escapes pipes", () => {
    const table = markdownTable(
      ["name", "value"],
      [
        ["a|b", "1"],
        ["c", "12345"]
      ]
    )
    expect(table.split("\n")).toEqual(["| name | value |", "| ---- | ----- |", "| a\\|b | 1     |", "| c    | 12345 |"])
  })

  it("leaves a missing cell empty", () => {
    expect(markdownTable(["a", "b"], [["x"]]).split("\n")[2]).toBe("| x   |     |")
  })
})

describe("rotation", () => {
  it("moves the first library to the end each round", () => {
    expect(rotation(["a", "b", "c"], 0)).toEqual(["a", "b", "c"])
    expect(rotation(["a", "b", "c"], 1)).toEqual(["b", "c", "a"])
    expect(rotation(["a", "b", "c"], 4)).toEqual(["b", "c", "a"])
  })
})
