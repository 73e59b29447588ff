import { Command } from "@tether/command"
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { expect } from "vitest"
import { envOf, layer, probe, report } from "./support.js"

it.effect("runs the probe and reads back argv and env", () =>
  Effect.gen(function* () {
    const r = yield* report(Command.make(probe, "a b", "").pipe(Command.setEnv("FOO", "bar")))
    expect(r.argv.slice(1)).toEqual(["a b", ""])
    expect(envOf(r)).toEqual({ FOO: "bar" })
  }).pipe(Effect.provide(layer))
)
