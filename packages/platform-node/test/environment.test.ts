import { Command } from "@tether/command"
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { describe, expect } from "vitest"
import { envOf, layer, probe, report, sh } from "./support.js"

/** Sets (or, with `undefined`, unsets) variables of this process until the scope closes. */
const parentEnv = (vars: Readonly<Record<string, string | undefined>>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]))
      for (const [name, value] of Object.entries(vars)) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
      return saved
    }),
    (saved) =>
      Effect.sync(() => {
        for (const [name, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[name]
          else process.env[name] = value
        }
      })
  )

const parentSnapshot = (): Record<string, string> =>
  Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined))

describe("the environment follows libvirt's rules", () => {
  it.scopedLive("by default the child inherits the parent's environment", () =>
    Effect.gen(function* () {
      yield* parentEnv({ TETHER_INHERITED: "from the parent" })
      const r = yield* report(Command.make(probe))
      expect(envOf(r)).toEqual(parentSnapshot())
      expect(envOf(r).TETHER_INHERITED).toBe("from the parent")
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("setEnv switches to a clean environment holding only what was set", () =>
    Effect.gen(function* () {
      yield* parentEnv({ TETHER_INHERITED: "from the parent" })
      const r = yield* report(Command.make(probe).pipe(Command.setEnv("FOO", "bar")))
      expect(envOf(r)).toEqual({ FOO: "bar" })
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("env switches to a clean environment holding only what was set", () =>
    Effect.gen(function* () {
      yield* parentEnv({ TETHER_INHERITED: "from the parent" })
      const r = yield* report(Command.make(probe).pipe(Command.env({ A: "1", B: "two words" })))
      expect(envOf(r)).toEqual({ A: "1", B: "two words" })
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("envString switches to a clean environment and splits at the first '='", () =>
    Effect.gen(function* () {
      yield* parentEnv({ TETHER_INHERITED: "from the parent" })
      const r = yield* report(Command.make(probe).pipe(Command.envString("A=b=c"), Command.envString("EMPTY=")))
      expect(envOf(r)).toEqual({ A: "b=c", EMPTY: "" })
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("envPass switches to a clean environment holding only the passed variables", () =>
    Effect.gen(function* () {
      yield* parentEnv({ TETHER_PASSED: "passed", TETHER_INHERITED: "from the parent" })
      const r = yield* report(Command.make(probe).pipe(Command.envPass("TETHER_PASSED")))
      expect(envOf(r)).toEqual({ TETHER_PASSED: "passed" })
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("envPass skips a name the parent does not have", () =>
    Effect.gen(function* () {
      yield* parentEnv({ TETHER_PASSED: "passed", TETHER_UNSET: undefined })
      const r = yield* report(Command.make(probe).pipe(Command.envPass("TETHER_UNSET", "TETHER_PASSED")))
      expect(envOf(r)).toEqual({ TETHER_PASSED: "passed" })
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("envPass reads the parent's value when the command starts, not when it was built", () =>
    Effect.gen(function* () {
      const command = Command.make(probe).pipe(Command.envPass("TETHER_LATE"))
      yield* parentEnv({ TETHER_LATE: "set after building" })
      expect(envOf(yield* report(command))).toEqual({ TETHER_LATE: "set after building" })
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("envPassCommon passes exactly the common variables that are set, and LC_ALL=C", () =>
    Effect.gen(function* () {
      const common = {
        PATH: process.env.PATH,
        LD_PRELOAD: "",
        LD_LIBRARY_PATH: "/tmp/tether-foundation-no-such-lib",
        HOME: "/tmp/tether-foundation-home",
        USER: "tether-user",
        LOGNAME: "tether-logname",
        TMPDIR: "/tmp"
      }
      yield* parentEnv({ ...common, LANG: "fr_FR.UTF-8", TETHER_INHERITED: "not common" })
      const r = yield* report(Command.make(probe).pipe(Command.envPassCommon))
      expect(envOf(r)).toEqual({ ...common, LC_ALL: "C" })
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("envPassCommon skips the common variables the parent does not have", () =>
    Effect.gen(function* () {
      yield* parentEnv({
        LD_PRELOAD: undefined,
        LD_LIBRARY_PATH: undefined,
        USER: undefined,
        LOGNAME: undefined,
        TMPDIR: undefined,
        HOME: "/tmp/tether-foundation-home"
      })
      const r = yield* report(Command.make(probe).pipe(Command.envPassCommon))
      expect(envOf(r)).toEqual({ PATH: process.env.PATH, HOME: "/tmp/tether-foundation-home", LC_ALL: "C" })
    }).pipe(Effect.provide(layer))
  )

  it.live("a later value for a name replaces the earlier one where it stood", () =>
    Effect.gen(function* () {
      // env(1) prints the environment in the order the child received it.
      const command = Command.make("env").pipe(
        Command.setEnv("A", "1"),
        Command.setEnv("B", "2"),
        Command.envString("A=3")
      )
      expect(yield* Command.lines(command)).toEqual(["A=3", "B=2"])
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a set value replaces a passed one where the passed one stood", () =>
    Effect.gen(function* () {
      yield* parentEnv({ TETHER_PASSED: "passed" })
      const command = Command.make("env").pipe(
        Command.envPass("TETHER_PASSED"),
        Command.setEnv("B", "2"),
        Command.setEnv("TETHER_PASSED", "replaced")
      )
      expect(yield* Command.lines(command)).toEqual(["TETHER_PASSED=replaced", "B=2"])
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("inheritEnv keeps the parent's environment under the customisations", () =>
    Effect.gen(function* () {
      yield* parentEnv({ TETHER_INHERITED: "from the parent", TETHER_REPLACED: "old" })
      const r = yield* report(
        Command.make(probe).pipe(
          Command.setEnv("FOO", "bar"),
          Command.setEnv("TETHER_REPLACED", "new"),
          Command.inheritEnv
        )
      )
      expect(envOf(r)).toEqual({ ...parentSnapshot(), FOO: "bar", TETHER_REPLACED: "new" })
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("inheritEnv given before the customisations works the same", () =>
    Effect.gen(function* () {
      yield* parentEnv({ TETHER_INHERITED: "from the parent" })
      const r = yield* report(Command.make(probe).pipe(Command.inheritEnv, Command.setEnv("FOO", "bar")))
      expect(envOf(r)).toEqual({ ...parentSnapshot(), FOO: "bar" })
    }).pipe(Effect.provide(layer))
  )

  it.live("a redacted value reaches the child as its value and shows as <redacted>", () =>
    Effect.gen(function* () {
      const command = Command.make(probe).pipe(Command.setEnv("SECRET", Redacted.make("s3cr3t")))
      expect(envOf(yield* report(command))).toEqual({ SECRET: "s3cr3t" })
      expect(Command.toString(command)).toBe(`SECRET=<redacted> ${probe}`)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("an environment with nothing in it is empty, and the program is still found on the parent's PATH", () =>
    Effect.gen(function* () {
      yield* parentEnv({ TETHER_UNSET: undefined })
      expect(yield* Command.string(Command.make("env").pipe(Command.envPass("TETHER_UNSET")))).toBe("")
    }).pipe(Effect.provide(layer))
  )
})

describe("environments of concurrent commands", () => {
  it.live("commands running at the same time each see their own value", () =>
    Effect.gen(function* () {
      const values = Array.from({ length: 12 }, (_, i) => `value-${i}`)
      const seen = yield* Effect.forEach(
        values,
        (value) =>
          Command.string(sh('sleep 0.1; printf %s "$FOO"').pipe(Command.inheritEnv, Command.setEnv("FOO", value))),
        { concurrency: "unbounded" }
      )
      expect(seen).toEqual(values)
    }).pipe(Effect.provide(layer))
  )

  it.live("concurrent commands do not change the parent's environment", () =>
    Effect.gen(function* () {
      const before = parentSnapshot()
      yield* Effect.forEach(
        ["a", "b", "c"],
        (value) => Command.run(Command.make("true").pipe(Command.setEnv("FOO", value))),
        { concurrency: "unbounded" }
      )
      expect(parentSnapshot()).toEqual(before)
    }).pipe(Effect.provide(layer))
  )
})
