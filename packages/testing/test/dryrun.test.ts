import { Command } from "@tether/command"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import { DryRunCommandExecutor } from "../src/index.js"

/** A logger that keeps every message at info level or above, as text. */
const capture = (lines: Array<string>) =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message }) => {
      if (LogLevel.greaterThanEqual(logLevel, LogLevel.Info)) {
        lines.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
      }
    })
  )

describe("DryRunCommandExecutor", () => {
  it.effect("logs each command as a shell line and answers success with empty output", () => {
    const lines: Array<string> = []
    return Effect.gen(function* () {
      yield* Command.run(Command.make("rm", "-rf", "/var/lib/app/cache dir"))
      const out = yield* Command.string(
        Command.make("mysql", "-p", Redacted.make("hunter2")).pipe(Command.setEnv("TZ", "UTC"), Command.envPass("PATH"))
      )
      expect(out).toBe("")
      expect(lines).toEqual(["rm -rf '/var/lib/app/cache dir'", "TZ=UTC mysql -p <redacted>"])
    }).pipe(Effect.provide(Layer.merge(DryRunCommandExecutor.layer, capture(lines))))
  })

  it.effect("answers with what the callback computes from the command", () => {
    const lines: Array<string> = []
    return Effect.gen(function* () {
      expect(yield* Command.string(Command.make("uname", "-r"))).toBe("6.1.0-dry\n")
      const error = yield* Effect.flip(Command.run(Command.make("systemctl", "restart", "db")))
      expect(error.message).toBe("Child process (systemctl restart db) unexpected exit status 1: dry run: refused")
      expect(lines).toEqual(["uname -r", "systemctl restart db"])
    }).pipe(
      Effect.provide(
        Layer.merge(
          DryRunCommandExecutor.layerWith((command) =>
            Effect.succeed(
              command.program === "uname" ? { stdout: "6.1.0-dry\n" } : { stderr: "dry run: refused\n", exitCode: 1 }
            )
          ),
          capture(lines)
        )
      )
    )
  })

  it.effect("a fed stdin is accepted and the command still succeeds", () =>
    Effect.gen(function* () {
      expect(yield* Command.exitCode(Command.make("psql").pipe(Command.feed("SELECT 1;")))).toBe(0)
    }).pipe(Effect.provide(DryRunCommandExecutor.layer))
  )
})
