/**
 * What each library under test implements. A scenario a library has no way to run is left out, with
 * the reason in `cannot`, and shows as such in the table.
 *
 * @since 0.1.0
 */

/**
 * The scenarios a runner process can measure.
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = "spawn" | "helper" | "concurrent" | "capture" | "lines" | "bytes" | "pipeline" | "kill"

/**
 * @since 0.1.0
 * @category models
 */
export interface Adapter {
  /** `n` sequential spawn+wait of `true`; the duration of each in milliseconds. */
  readonly spawn?: (n: number) => Promise<ReadonlyArray<number>>
  /**
   * Like `spawn`, through Tether's exec helper (a setting only the helper can apply forces it). A library
   * without one runs `spawn` instead, as the reference.
   */
  readonly helper?: (n: number) => Promise<ReadonlyArray<number>>
  /** `n` runs of `true`, `width` at a time. */
  readonly concurrent?: (n: number, width: number) => Promise<void>
  /** Captures `head -c bytes /dev/zero` as a string; its length. */
  readonly capture?: (bytes: number) => Promise<number>
  /** Streams the lines of `seq n`; how many there were. */
  readonly lines?: (n: number) => Promise<number>
  /** Streams the bytes of `head -c bytes /dev/zero` without keeping them; how many there were. */
  readonly bytes?: (bytes: number) => Promise<number>
  /** Runs `head -c bytes /dev/zero | cat | wc -c`; what `wc` printed. */
  readonly pipeline?: (bytes: number) => Promise<string>
  /** `n` times: start `sleep 1000`, send SIGTERM, wait until reaped; the duration of each. */
  readonly kill?: (n: number) => Promise<ReadonlyArray<number>>
  /** Why a scenario is missing, by kind. */
  readonly cannot?: Partial<Record<Kind, string>>
}

/**
 * Thrown by an adapter when the library does not offer a scenario yet (found out only by trying).
 *
 * @since 0.1.0
 * @category errors
 */
export class NotYet extends Error {
  override readonly name = "NotYet"
}

/**
 * Runs `task` `n` times, `width` at a time: the usual pool for promise-based libraries.
 *
 * @since 0.1.0
 * @category helpers
 */
export const pool = async (n: number, width: number, task: () => Promise<unknown>): Promise<void> => {
  let started = 0
  const worker = async () => {
    while (started < n) {
      started++
      await task()
    }
  }
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker))
}

/**
 * Times `n` sequential calls of `task`, in milliseconds each.
 *
 * @since 0.1.0
 * @category helpers
 */
export const timeEach = async (n: number, task: () => Promise<unknown>): Promise<ReadonlyArray<number>> => {
  const samples: Array<number> = []
  for (let i = 0; i < n; i++) {
    const begin = performance.now()
    await task()
    samples.push(performance.now() - begin)
  }
  return samples
}
