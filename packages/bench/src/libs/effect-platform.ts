/**
 * `@effect/platform`'s `Command`, run by `@effect/platform-node`'s `NodeCommandExecutor`.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/platform/Command"
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type { Adapter } from "../adapter.js"

const layer = NodeCommandExecutor.layer.pipe(Layer.provide(NodeFileSystem.layer))

const run = <A, E>(effect: Effect.Effect<A, E, any>): Promise<A> =>
  Effect.runPromise(Effect.provide(effect, layer) as Effect.Effect<A, E>)

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

const zeros = (bytes: number) => Command.make("head", "-c", String(bytes), "/dev/zero")

/** @since 0.1.0 */
export const adapter: Adapter = {
  spawn: (n) => run(timed(n, Command.exitCode(Command.make("true")))),
  concurrent: (n, width) =>
    run(
      Effect.forEach(Array.from({ length: n }), () => Command.exitCode(Command.make("true")), {
        concurrency: width,
        discard: true
      })
    ),
  capture: (bytes) => run(Effect.map(Command.string(zeros(bytes)), (text) => text.length)),
  lines: (n) => run(Stream.runCount(Command.streamLines(Command.make("seq", String(n))))),
  bytes: (bytes) => run(Stream.runFold(Command.stream(zeros(bytes)), 0, (total, chunk) => total + chunk.length)),
  pipeline: (bytes) =>
    run(
      Effect.map(
        Command.string(
          zeros(bytes).pipe(Command.pipeTo(Command.make("cat")), Command.pipeTo(Command.make("wc", "-c")))
        ),
        (text) => text.trim()
      )
    ),
  kill: (n) =>
    run(
      timed(
        n,
        Effect.scoped(
          Effect.gen(function* () {
            const process = yield* Command.start(Command.make("sleep", "1000"))
            yield* process.kill("SIGTERM")
            yield* Effect.ignore(process.exitCode)
          })
        )
      )
    )
}
