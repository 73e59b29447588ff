/*
 * Without the exec helper (TETHER_EXEC_HELPER=0 here; elsewhere: not Linux, or no C compiler at install)
 * the executor runs commands as before, and every setting that needs the helper fails with Unsupported
 * naming it: none is ignored.
 */
import { Command, CommandError } from "@tether/command"
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { afterAll, beforeAll, describe, expect } from "vitest"
import { locate } from "../src/internal/helper.js"
import { layer, probe, report } from "./support.js"

const saved = process.env.TETHER_EXEC_HELPER
beforeAll(() => {
  process.env.TETHER_EXEC_HELPER = "0"
})
afterAll(() => {
  if (saved === undefined) delete process.env.TETHER_EXEC_HELPER
  else process.env.TETHER_EXEC_HELPER = saved
})

it("TETHER_EXEC_HELPER=0 turns the helper off, and says so", () => {
  expect(locate()).toEqual({ reason: expect.stringContaining("TETHER_EXEC_HELPER=0") })
})

it.live("commands without such settings run as before, stderr merged through sh", () =>
  Effect.gen(function* () {
    const r = yield* report(Command.make(probe).pipe(Command.mergeStderr))
    const target = (fd: number) => r.fds.find((entry) => entry.fd === fd)?.target
    expect(target(2)).toBe(target(1))
    // Node's own child: no supervisor in between.
    expect(r.ppid).toBe(process.pid)
  }).pipe(Effect.provide(layer))
)

describe("each setting that needs the helper is Unsupported, by name", () => {
  const cases: ReadonlyArray<readonly [string, (c: Command.Command) => Command.Command]> = [
    ["Command.umask", Command.umask(0o022)],
    ["Command.limit", Command.limit("nofile", 100)],
    ["Command.user", Command.user(65534)],
    ["Command.group", Command.group(65534)],
    ["Command.clearCaps", Command.clearCaps],
    ["Command.noNewPrivileges", Command.noNewPrivileges],
    ["Command.daemonize", Command.daemonize]
  ]
  for (const [setting, apply] of cases) {
    it.live(setting, () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Command.run(apply(Command.make("true"))))
        expect(error).toBeInstanceOf(CommandError.Unsupported)
        expect(error).toMatchObject({ setting: expect.stringContaining(setting) })
        expect(error.message).toContain("TETHER_EXEC_HELPER=0")
      }).pipe(Effect.provide(layer))
    )
  }

  it.live("every one of them at once, all named", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Command.run(Command.make("true").pipe(Command.umask(0o022), Command.clearCaps, Command.user(1)))
      )
      expect(error).toMatchObject({
        _tag: "Unsupported",
        setting: "Command.clearCaps, Command.user, Command.umask"
      })
    }).pipe(Effect.provide(layer))
  )

  it.live("Command.daemon, with its pid file", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Command.daemon(Command.make("sleep", "300").pipe(Command.daemonize, Command.pidFile("/tmp/never.pid")))
      )
      expect(error).toBeInstanceOf(CommandError.Unsupported)
      expect(error).toMatchObject({ setting: "Command.daemon, Command.pidFile" })
    }).pipe(Effect.provide(layer))
  )
})
