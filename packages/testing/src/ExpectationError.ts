/**
 * What a test learns when the code under test ran commands other than the ones expected.
 *
 * An unexpected command and a stdin mismatch are raised as defects where they happen, not as
 * `CommandError`s: code under test routinely recovers from `CommandError` (a fallback when a program is
 * missing), and must not be able to swallow a broken expectation that way. Each is also kept and reported
 * again by `VerificationError` at the end of the test.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * The code ran a command that no expectation accepts (or whose expectations are used up, or, in order,
 * not due yet). `closest` lists the nearest expectations, best first, as `Expectation.describe` shows
 * them with how often each was used.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnexpectedCommand extends Data.TaggedError("UnexpectedCommand")<{
  readonly command: string
  readonly closest: ReadonlyArray<string>
  /** In order, the expectation due next (`undefined` when every one is used up or none was set). */
  readonly next: string | undefined
  readonly ordered: boolean
}> {
  override get message(): string {
    const lines = [`Unexpected command: ${this.command}`]
    if (this.ordered) lines.push(`  next in order: ${this.next ?? "nothing (every expectation is used up)"}`)
    if (this.closest.length === 0) lines.push("  no expectations were set")
    else lines.push("  closest expectations:", ...this.closest.map((line, i) => `    ${i + 1}. ${line}`))
    return lines.join("\n")
  }
}

/**
 * A fake process received other bytes on stdin than its expectation asked for.
 *
 * @since 0.1.0
 * @category errors
 */
export class StdinMismatch extends Data.TaggedError("StdinMismatch")<{
  readonly command: string
  readonly expected: string
  readonly received: string
}> {
  override get message(): string {
    return `Command (${this.command}) expected on stdin ${this.expected}, received ${JSON.stringify(this.received)}`
  }
}

/**
 * The end-of-test check failed: expectations that ran fewer times than required, unexpected commands and
 * stdin mismatches, in the order they happened.
 *
 * @since 0.1.0
 * @category errors
 */
export class VerificationError extends Data.TaggedError("VerificationError")<{
  readonly unmet: ReadonlyArray<string>
  readonly unexpected: ReadonlyArray<UnexpectedCommand>
  readonly mismatches: ReadonlyArray<StdinMismatch>
}> {
  override get message(): string {
    return [
      "Command expectations were not met:",
      ...this.unmet.map((line) => `  unmet: ${line}`),
      ...this.unexpected.map((error) => `  unexpected: ${error.command}`),
      ...this.mismatches.map((error) => `  stdin: ${error.message}`)
    ].join("\n")
  }
}
