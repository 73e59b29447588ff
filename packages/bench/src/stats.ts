/**
 * Small pure helpers for the benchmark: statistics, units and the Markdown table.
 *
 * @since 0.1.0
 */

/**
 * The median of some numbers; `NaN` for none.
 *
 * @since 0.1.0
 * @category statistics
 */
export const median = (values: ReadonlyArray<number>): number => {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/**
 * A duration in milliseconds, with three significant digits and a unit that keeps it short.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatMillis = (ms: number): string => {
  if (!Number.isFinite(ms)) return "-"
  if (ms < 1) return `${(ms * 1000).toPrecision(3)} µs`
  if (ms < 1000) return `${ms.toPrecision(3)} ms`
  return `${(ms / 1000).toPrecision(3)} s`
}

/**
 * A size in bytes, in binary megabytes (MiB shown as "MB", as `head -c 1M` counts them).
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatMegabytes = (bytes: number): string => {
  if (!Number.isFinite(bytes)) return "-"
  const mb = bytes / (1024 * 1024)
  return mb >= 100 ? `${Math.round(mb)} MB` : `${mb.toPrecision(3)} MB`
}

/**
 * A ratio to a reference value, as `1.23x`; empty when either side is missing.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatRatio = (value: number, reference: number): string => {
  if (!Number.isFinite(value) || !Number.isFinite(reference) || reference <= 0) return ""
  const ratio = value / reference
  return ratio >= 10 ? `${ratio.toFixed(1)}x` : `${ratio.toFixed(2)}x`
}

/**
 * A Markdown table with its columns padded to a common width, so that it reads as well in a terminal
 * as it renders in a document. Pipes inside cells are escaped.
 *
 * @since 0.1.0
 * @category formatting
 */
export const markdownTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const escape = (cell: string) => cell.replaceAll("|", "\\|")
  const all = [header, ...rows].map((row) => header.map((_, i) => escape(row[i] ?? "")))
  const widths = header.map((_, i) => Math.max(3, ...all.map((row) => row[i]!.length)))
  const line = (row: ReadonlyArray<string>) => `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")} |`
  const rule = `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`
  return [line(all[0]!), rule, ...all.slice(1).map(line)].join("\n")
}

/**
 * The order in which `names` run in round `round`: rotated by one each round, so that no library is
 * always first (cold caches) or always last (a heap warmed by the others' children).
 *
 * @since 0.1.0
 * @category scheduling
 */
export const rotation = <A>(names: ReadonlyArray<A>, round: number): ReadonlyArray<A> => {
  if (names.length === 0) return []
  const shift = round % names.length
  return [...names.slice(shift), ...names.slice(0, shift)]
}
