/**
 * Where a child's standard stream (or an extra fd) comes from or goes to.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Stream from "effect/Stream"

/**
 * @since 0.1.0
 * @category models
 */
export type Stdio = Data.TaggedEnum<{
  /** `/dev/null`: reads see end of file, writes are discarded. The default for every stream. */
  readonly Null: {}
  /** The parent's own stream (for fd 0-2) is shared with the child. */
  readonly Inherit: {}
  /** A pipe to the parent: `Process.stdin` writes to it, `Process.stdout`/`stderr`/`fd(n)` read it. */
  readonly Pipe: {}
  /** A file opened by the executor: read for input; for output truncated, or appended to with `append`. */
  readonly File: { readonly path: string; readonly append: boolean }
  /** A file descriptor of the parent, duplicated into the child. The parent keeps its own copy. */
  readonly Fd: { readonly fd: number }
  /** Bytes written to the child by the executor, then end of file. Input only. */
  readonly Feed: { readonly data: string | Uint8Array }
  /** A stream of bytes written to the child by the executor, then end of file. Input only. */
  readonly FromStream: { readonly stream: Stream.Stream<Uint8Array | string, unknown> }
}>

const ctor = Data.taggedEnum<Stdio>()

/**
 * @since 0.1.0
 * @category constructors
 */
export const Null: Stdio = ctor.Null()
export {
  /**
   * `/dev/null`, the default for stdin, stdout and stderr.
   *
   * @since 0.1.0
   * @category constructors
   */
  Null as null
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const inherit: Stdio = ctor.Inherit()

/**
 * @since 0.1.0
 * @category constructors
 */
export const pipe: Stdio = ctor.Pipe()

/**
 * @since 0.1.0
 * @category constructors
 */
export const file = (path: string, options?: { readonly append?: boolean | undefined }): Stdio =>
  ctor.File({ path, append: options?.append ?? false })

/**
 * @since 0.1.0
 * @category constructors
 */
export const fd = (fd: number): Stdio => ctor.Fd({ fd })

/**
 * @since 0.1.0
 * @category constructors
 */
export const feed = (data: string | Uint8Array): Stdio => ctor.Feed({ data })

/**
 * @since 0.1.0
 * @category constructors
 */
export const fromStream = (stream: Stream.Stream<Uint8Array | string, unknown>): Stdio => ctor.FromStream({ stream })

/**
 * `true` for the settings that only make sense as input (`Feed`, `FromStream`).
 *
 * @since 0.1.0
 * @category guards
 */
export const isInputOnly = (self: Stdio): boolean => self._tag === "Feed" || self._tag === "FromStream"

/**
 * @since 0.1.0
 * @category formatting
 */
export const format = (self: Stdio): string => {
  switch (self._tag) {
    case "Null":
      return "/dev/null"
    case "Inherit":
      return "the parent's stream"
    case "Pipe":
      return "a pipe"
    case "File":
      return `file ${self.path}${self.append ? " (append)" : ""}`
    case "Fd":
      return `fd ${self.fd}`
    case "Feed":
      return "fed bytes"
    case "FromStream":
      return "a stream"
  }
}
