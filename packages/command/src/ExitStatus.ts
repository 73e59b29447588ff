/**
 * How a process ended: it exited with a code, or a signal killed it.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * @since 0.1.0
 * @category models
 */
export type ExitStatus = Data.TaggedEnum<{
  /** The process called `exit(code)` or returned from `main`. */
  readonly Exited: { readonly code: number }
  /**
   * A signal ended the process. `coreDumped` is `false` where the backend cannot tell (Node's
   * `child_process` does not report `WCOREDUMP`).
   */
  readonly Signaled: { readonly signal: string; readonly coreDumped: boolean }
}>

const ctor = Data.taggedEnum<ExitStatus>()

/**
 * @since 0.1.0
 * @category constructors
 */
export const Exited: (args: { readonly code: number }) => ExitStatus = ctor.Exited

/**
 * @since 0.1.0
 * @category constructors
 */
export const Signaled: (args: { readonly signal: string; readonly coreDumped: boolean }) => ExitStatus = ctor.Signaled

/**
 * @since 0.1.0
 * @category guards
 */
export const isExited: (self: ExitStatus) => self is Extract<ExitStatus, { _tag: "Exited" }> = ctor.$is("Exited")

/**
 * @since 0.1.0
 * @category guards
 */
export const isSignaled: (self: ExitStatus) => self is Extract<ExitStatus, { _tag: "Signaled" }> = ctor.$is("Signaled")

/**
 * `true` for an exit with code 0.
 *
 * @since 0.1.0
 * @category guards
 */
export const isSuccess = (self: ExitStatus): boolean => self._tag === "Exited" && self.code === 0

/**
 * @since 0.1.0
 * @category pattern matching
 */
export const match = ctor.$match

/**
 * Describes the status the way a shell user reads it: `exit status 3`, `signal SIGKILL (core dumped)`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (self: ExitStatus): string =>
  self._tag === "Exited"
    ? `exit status ${self.code}`
    : `signal ${self.signal}${self.coreDumped ? " (core dumped)" : ""}`
