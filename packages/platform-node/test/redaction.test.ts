import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { Command, type CommandError, Stdio } from "@tether/command"
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { describe, expect } from "vitest"
import { layer, sh, tempDir, writeFile } from "./support.js"

const secret = "s3cret-token-never-shown"
const hidden = Redacted.make(secret)

/** Fails unless the error, its message and every field it carries hide the secret and show `<redacted>`. */
const expectRedacted = (error: CommandError.CommandError, tag: CommandError.CommandError["_tag"]) => {
  expect(error._tag).toBe(tag)
  expect(error.message).toContain("<redacted>")
  expect(error.message).not.toContain(secret)
  expect(JSON.stringify(error)).not.toContain(secret)
  expect(String(error)).not.toContain(secret)
}

describe("a secret never shows in an error", () => {
  it.live("InvalidCommand", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.run(Command.make("true", hidden, "a\0b")))
      expectRedacted(error, "InvalidCommand")
    }).pipe(Effect.provide(layer))
  )

  it.live("InvalidCommand for a NUL inside the secret itself", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Command.run(Command.make("true").pipe(Command.setEnv("TOKEN", Redacted.make(`${secret}\0`))))
      )
      expectRedacted(error, "InvalidCommand")
    }).pipe(Effect.provide(layer))
  )

  it.live("CommandNotFound", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.run(Command.make("tether-no-such-program", hidden)))
      expectRedacted(error, "CommandNotFound")
    }).pipe(Effect.provide(layer))
  )

  it.live("CommandNotFound for a redacted program", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.run(Command.make(Redacted.make(`tether-${secret}`), "x")))
      expectRedacted(error, "CommandNotFound")
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("PermissionDenied", () =>
    Effect.gen(function* () {
      const script = writeFile(join(yield* tempDir, "script"), "#!/bin/sh\n", 0o644)
      const error = yield* Effect.flip(Command.run(Command.make(script, hidden)))
      expectRedacted(error, "PermissionDenied")
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("WorkingDirectoryError", () =>
    Effect.gen(function* () {
      const missing = join(yield* tempDir, "missing")
      const error = yield* Effect.flip(Command.run(Command.make("true", hidden).pipe(Command.cwd(missing))))
      expectRedacted(error, "WorkingDirectoryError")
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("SpawnError", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      mkdirSync(join(dir, "a-directory"))
      const error = yield* Effect.flip(
        Command.run(Command.make("true", hidden).pipe(Command.stdout(Stdio.file(join(dir, "a-directory")))))
      )
      expectRedacted(error, "SpawnError")
    }).pipe(Effect.provide(layer))
  )

  it.live("ExitCodeError", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.run(sh("exit 3", hidden)))
      expectRedacted(error, "ExitCodeError")
    }).pipe(Effect.provide(layer))
  )

  it.live("SignalError", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.run(sh("kill -KILL $$", hidden)))
      expectRedacted(error, "SignalError")
    }).pipe(Effect.provide(layer))
  )

  it.live("TimeoutError", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.run(sh("sleep 30", hidden).pipe(Command.timeout("50 millis"))))
      expectRedacted(error, "TimeoutError")
    }).pipe(Effect.provide(layer))
  )

  it.live("OutputLimitError", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Command.string(Command.make("head", "-c", "100000", "/dev/zero", hidden).pipe(Command.maxOutput(10)))
      )
      expectRedacted(error, "OutputLimitError")
    }).pipe(Effect.provide(layer))
  )

  it.live("OutputDecodeError", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.json(Schema.Number)(Command.make("echo", "x").pipe(Command.arg(hidden))))
      expectRedacted(error, "OutputDecodeError")
    }).pipe(Effect.provide(layer))
  )

  it.live("Unsupported, where the exec helper is missing", () =>
    Effect.gen(function* () {
      // With the exec helper built, umask is honoured and there is no error to look at.
      const result = yield* Effect.either(Command.run(Command.make("true", hidden).pipe(Command.umask(0o22))))
      if (result._tag === "Left") expectRedacted(result.left, "Unsupported")
    }).pipe(Effect.provide(layer))
  )

  it.live("a stream's error", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Stream.runDrain(Command.stream(sh("exit 4", hidden))))
      expectRedacted(error, "ExitCodeError")
    }).pipe(Effect.provide(layer))
  )
})
