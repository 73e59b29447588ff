import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Command from "../src/Command.js"
import * as CommandError from "../src/CommandError.js"
import { CommandExecutor } from "../src/CommandExecutor.js"
import * as Stdio from "../src/Stdio.js"

/** An executor that counts the commands it is asked to start and starts none. */
const recording = () => {
  const started: Array<unknown> = []
  const layer = Layer.succeed(CommandExecutor, {
    start: (command) =>
      Effect.suspend(() => {
        started.push(command)
        return Effect.die("the executor must not be reached for an invalid command")
      })
  })
  return { started, layer }
}

/** Every builder given a bad value: none of them may throw. */
const faulty = () =>
  Command.make("prog", "a\0b").pipe(
    Command.envString("no-equals-sign"),
    Command.setEnv("", "x"),
    Command.setEnv("A=B", "x"),
    Command.cwd(""),
    Command.stdout(Stdio.feed("x")),
    Command.stdin(Stdio.fd(-1)),
    Command.fd(1, Stdio.pipe),
    Command.passFd(2),
    Command.timeout(0),
    Command.killSignal("SIGNOPE"),
    Command.maxOutput(-5),
    Command.pidFile("/run/x.pid"),
    Command.user(-1),
    Command.group(1.5),
    Command.umask(0o1000),
    Command.limit("nofile", 10, 5),
    Command.limit("bogus" as Command.Resource, 1)
  )

describe("builders never throw", () => {
  it("every builder accepts a bad value and returns a command", () => {
    expect(() => faulty()).not.toThrow()
    expect(Command.isCommand(faulty())).toBe(true)
  })

  it("an empty argv and an empty program name build without throwing", () => {
    expect(() => Command.fromArgv([])).not.toThrow()
    expect(() => Command.make("")).not.toThrow()
    expect(() => Command.cmd``).not.toThrow()
  })

  it("validate lists every fault of a faulty command", () => {
    const problems = Command.validate(faulty())
    const expected = [
      /envString no-equals-sign is not/,
      /argument 1 .* NUL/,
      /empty name/,
      /name A=B contains '='/,
      /working directory is empty/,
      /stdout is an output and cannot be fed/,
      /stdin is redirected to -1/,
      /Command.fd takes fd 3 and up, not 1/,
      /passFd takes fd 3 and up/,
      /timeout must be longer than zero/,
      /SIGNOPE is not a signal name/,
      /maxOutput must be a positive/,
      /pid file needs daemonize/,
      /user -1 is not an id/,
      /group 1.5 is not an id/,
      /umask 512 is not between/,
      /soft 10 is above hard 5/,
      /bogus is not a resource limit/
    ]
    for (const pattern of expected)
      expect(
        problems.some((p) => pattern.test(p)),
        String(pattern)
      ).toBe(true)
    expect(problems.length).toBe(expected.length)
  })

  it("a valid command has no problems", () => {
    expect(Command.validate(Command.make("prog", "x").pipe(Command.setEnv("A", "1"), Command.timeout(5)))).toEqual([])
  })

  it("an empty argv and an empty program name are problems", () => {
    expect(Command.validate(Command.fromArgv([]))).toContain("the argv is empty")
    expect(Command.validate(Command.make(""))).toContain("the program name is empty")
  })
})

describe("running an invalid command fails with one InvalidCommand, and starts nothing", () => {
  const runners: ReadonlyArray<
    [string, (c: Command.Command) => Effect.Effect<unknown, CommandError.CommandError, any>]
  > = [
    ["run", Command.run],
    ["exitCode", Command.exitCode],
    ["status", Command.status],
    ["string", Command.string],
    ["bytes", Command.bytes],
    ["lines", Command.lines],
    ["output", Command.output],
    ["json", Command.json(Schema.Unknown)],
    ["stream", (c) => Stream.runDrain(Command.stream(c))],
    ["streamLines", (c) => Stream.runDrain(Command.streamLines(c))],
    ["start", (c) => Effect.scoped(Command.start(c))]
  ]

  for (const [name, runner] of runners) {
    it.effect(`${name} fails with InvalidCommand listing every problem, without reaching the executor`, () =>
      Effect.gen(function* () {
        const { started, layer } = recording()
        const command = faulty()
        const exit = yield* Effect.exit(runner(command).pipe(Effect.provide(layer)))
        expect(Exit.isFailure(exit) && exit.cause._tag).toBe("Fail")
        const error = yield* Effect.flip(exit)
        expect(error).toBeInstanceOf(CommandError.InvalidCommand)
        // A runner that captures stdout adds that the command sends it elsewhere (here: a feed).
        const problems = (error as CommandError.InvalidCommand).problems
        expect(problems.slice(0, Command.validate(command).length)).toEqual(Command.validate(command))
        expect(problems.length - Command.validate(command).length).toBeLessThanOrEqual(1)
        expect(error.message).toContain(Command.toString(command))
        expect(started).toEqual([])
      })
    )
  }

  it.effect("the message names every problem", () =>
    Effect.gen(function* () {
      const { layer } = recording()
      const command = Command.make("prog", "a\0b").pipe(Command.envString("nope"), Command.killSignal("SIGNOPE"))
      const error = yield* Effect.flip(Command.run(command).pipe(Effect.provide(layer)))
      expect(error.message).toContain("envString nope")
      expect(error.message).toContain("NUL")
      expect(error.message).toContain("SIGNOPE")
    })
  )
})
