/**
 * Tether: `Command` from `@tether/command` run by `NodeCommandExecutor.layer`.
 *
 * @since 0.1.0
 */
import { Command } from "@tether/command"
import { NodeCommandExecutor } from "@tether/platform-node"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { NotYet, type Adapter } from "../adapter.js"

const run = <A, E>(effect: Effect.Effect<A, E, any>): Promise<A> =>
  Effect.runPromise(Effect.provide(effect, NodeCommandExecutor.layer) as Effect.Effect<A, E>)

const timed = <A, E, R>(n: number, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const samples: Array<number> = []
    for (let i = 0; i < n; i++) {
      const begin = performance.now()
      yield* effect
      samples.push(performance.now() - begin)
    }
    return samples
  })

// `umask` is a setting only the exec helper can apply, so this command always goes through it.
const throughHelper = Command.make("true").pipe(Command.umask(0o022))

const zeros = (bytes: number) => Command.make("head", "-c", String(bytes), "/dev/zero")

// Pipelines are detected at run time, so that this column fills in by itself once they exist.
const pipeTo = (Command as unknown as { pipeTo?: (a: unknown, b: unknown) => unknown }).pipeTo

/** @since 0.1.0 */
export const adapter: Adapter = {
  spawn: (n) => run(timed(n, Command.run(Command.make("true")))),
  helper: async (n) => {
    const probe = await Effect.runPromiseExit(Effect.provide(Command.run(throughHelper), NodeCommandExecutor.layer))
    if (
      probe._tag === "Failure" &&
      Cause.failureOption(probe.cause).pipe(Option.exists((e) => e._tag === "Unsupported"))
    ) {
      throw new NotYet("the exec helper is not available")
    }
    return run(timed(n, Command.run(throughHelper)))
  },
  concurrent: (n, width) =>
    run(
      Effect.forEach(Array.from({ length: n }), () => Command.run(Command.make("true")), {
        concurrency: width,
        discard: true
      })
    ),
  capture: (bytes) => run(Effect.map(Command.string(zeros(bytes)), (text) => text.length)),
  lines: (n) => run(Stream.runCount(Command.streamLines(Command.make("seq", String(n))))),
  bytes: (bytes) => run(Stream.runFold(Command.stream(zeros(bytes)), 0, (total, chunk) => total + chunk.length)),
  ...(pipeTo === undefined
    ? {}
    : {
        pipeline: (bytes: number) =>
          run(
            Command.string(
              pipeTo(pipeTo(zeros(bytes), Command.make("cat")), Command.make("wc", "-c")) as Command.Command
            )
          )
      }),
  kill: (n) =>
    run(
      timed(
        n,
        Effect.scoped(
          Effect.gen(function* () {
            const process = yield* Command.start(Command.make("sleep", "1000"))
            yield* process.kill("SIGTERM")
            yield* process.wait
          })
        )
      )
    ),
  cannot: pipeTo === undefined ? { pipeline: "not yet" } : {}
}
