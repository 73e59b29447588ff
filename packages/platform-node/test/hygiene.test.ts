import { join } from "node:path"
import { Command, Stdio } from "@tether/command"
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { describe, expect } from "vitest"
import {
  eventually,
  layer,
  forkServers,
  liveChildren,
  openFds,
  processesWith,
  sh,
  tempDir,
  uniqueSleep,
  zombieChildren
} from "./support.js"

/** One run of each kind the parent must survive without leaking: success, failures, timeouts, interruption. */
const kinds = (dir: string, sleep: string): ReadonlyArray<Effect.Effect<unknown, unknown, any>> => [
  Command.string(Command.make("echo", "ok")),
  Command.run(sh("echo err >&2; exit 3")),
  Command.run(Command.make("tether-no-such-program")),
  Command.run(Command.make("sleep", sleep).pipe(Command.timeout("20 millis"))),
  Command.string(sh('sleep "$1" & sleep "$1"; true', sleep)).pipe(Effect.timeout("20 millis")),
  Command.output(sh("echo out; echo err >&2")),
  Command.streamLines(sh("while :; do echo y; done")).pipe(Stream.take(2), Stream.runDrain),
  Effect.scoped(
    Effect.flatMap(
      Command.start(Command.make("cat").pipe(Command.stdin(Stdio.pipe), Command.stdout(Stdio.pipe))),
      (p) => Effect.zip(Stream.run(Stream.make("x"), p.stdin), Stream.runDrain(p.stdout), { concurrent: true })
    )
  ),
  Command.run(Command.make("true").pipe(Command.cwd(join(dir, "missing")))),
  Command.string(Command.make("cat").pipe(Command.feed(new Uint8Array(256 * 1024)))),
  Command.run(Command.make("true", "a\0b")),
  Command.json(Schema.Number)(Command.make("echo", "not json")),
  Command.run(sh("kill -KILL $$")),
  Command.run(Command.make("true").pipe(Command.fd(3, Stdio.feed("x")), Command.fd(4, Stdio.pipe)))
]

describe("the parent stays clean", () => {
  it.scopedLive(
    "after 500 runs of every kind the parent's fd count is back to its baseline and no zombie is left",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const sleep = uniqueSleep(5)
        const runs = kinds(dir, sleep)
        // One round first, so that what Node opens once and keeps (the /dev/null handle, say) is in the baseline.
        yield* Effect.forEach(runs, Effect.exit, { discard: true })
        yield* Effect.sleep("50 millis")
        const baseline = openFds()

        const exits = yield* Effect.forEach(
          Array.from({ length: 500 }, (_, i) => runs[i % runs.length]!),
          (run) => Effect.exit(run),
          { concurrency: 8 }
        )
        expect(exits.filter(Exit.isSuccess).length).toBeGreaterThan(100)
        expect(exits.filter(Exit.isFailure).length).toBeGreaterThan(100)

        const settled = yield* eventually(() => openFds() === baseline, 5000)
        expect({ settled, fds: openFds() }).toEqual({ settled: true, fds: baseline })
        expect(yield* eventually(() => zombieChildren().length === 0, 5000)).toBe(true)
        expect(liveChildren()).toEqual([])
        expect(forkServers().length).toBeLessThanOrEqual(1)
        expect(processesWith(sleep)).toEqual([])
      }).pipe(Effect.provide(layer)),
    60_000
  )

  it.live("interrupting runs at every moment of their start leaves no process behind", () =>
    Effect.gen(function* () {
      // A run first: the fork server and its channel stay for the life of the process.
      yield* Command.run(Command.make("true"))
      const baseline = openFds()
      const sleep = uniqueSleep(5)
      yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i),
        (i) =>
          Effect.exit(
            Command.string(sh('sleep "$1" & sleep "$1"; true', sleep)).pipe(Effect.timeout(`${(i % 20) * 250} micros`))
          ),
        { concurrency: 4, discard: true }
      )
      expect(yield* eventually(() => liveChildren().length === 0, 5000)).toBe(true)
      expect(yield* eventually(() => processesWith(sleep).length === 0, 5000)).toBe(true)
      expect(yield* eventually(() => openFds() === baseline, 5000)).toBe(true)
      expect(zombieChildren()).toEqual([])
    }).pipe(Effect.provide(layer))
  )
})

describe("interrupted the moment it starts", () => {
  it.live("a run interrupted right after it was forked leaves neither its child nor its pipes behind", () => {
    const sleep = uniqueSleep(30)
    return Effect.gen(function* () {
      yield* Command.run(Command.make("true"))
      const baseline = openFds()
      for (let i = 0; i < 100; i++) {
        const fiber = yield* Effect.fork(
          Command.run(Command.make("sleep", sleep).pipe(Command.stdout(Stdio.pipe), Command.stdin(Stdio.pipe)))
        )
        yield* Effect.yieldNow()
        yield* Fiber.interrupt(fiber)
      }
      expect(yield* eventually(() => processesWith(sleep).length === 0, 5000)).toBe(true)
      expect(yield* eventually(() => openFds() <= baseline, 5000)).toBe(true)
    }).pipe(
      Effect.ensuring(Effect.sync(() => processesWith(sleep).forEach((pid) => process.kill(pid, "SIGKILL")))),
      Effect.provide(layer)
    )
  })
})
