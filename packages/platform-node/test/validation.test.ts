import { existsSync } from "node:fs"
import { join } from "node:path"
import { Command, CommandError, Stdio } from "@tether/command"
import type { CommandExecutor } from "@tether/command/CommandExecutor"
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { describe, expect } from "vitest"
import { everyRunner, layer, liveChildren, sh, tempDir } from "./support.js"

const runners = everyRunner

describe("an invalid command is refused before anything is spawned", () => {
  for (const [name, runner] of runners) {
    it.scopedLive(`${name} fails with one InvalidCommand naming every problem, and no child appears`, () =>
      Effect.gen(function* () {
        const marker = join(yield* tempDir, "spawned")
        // Valid but for its faults: if it were spawned, it would leave the marker behind.
        const command = sh('touch "$1"; sleep 1', marker).pipe(
          Command.arg("a\0b"),
          Command.envString("no-equals-sign"),
          Command.inheritEnv,
          Command.killSignal("SIGNOPE"),
          Command.timeout(0),
          Command.fd(2, Stdio.pipe)
        )
        const before = liveChildren()
        const exit = yield* Effect.exit(
          runner(command) as Effect.Effect<unknown, CommandError.CommandError, CommandExecutor>
        )
        expect(liveChildren()).toEqual(before)
        expect(Exit.isFailure(exit) && exit.cause._tag).toBe("Fail")
        const error = yield* Effect.flip(exit)
        expect(error).toBeInstanceOf(CommandError.InvalidCommand)
        const problems = (error as CommandError.InvalidCommand).problems
        expect(problems.length).toBe(5)
        for (const pattern of [/NUL/, /envString/, /SIGNOPE/, /timeout/, /fd 3 and up/]) {
          expect(
            problems.some((p) => pattern.test(p)),
            String(pattern)
          ).toBe(true)
        }
        yield* Effect.sleep("50 millis")
        expect(existsSync(marker)).toBe(false)
      }).pipe(Effect.provide(layer))
    )
  }
})
