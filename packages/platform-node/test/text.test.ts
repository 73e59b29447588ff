import { join } from "node:path"
import { Command, CommandError } from "@tether/command"
import { it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { describe, expect } from "vitest"
import { isAlive, layer, readPid, sh, tempDir } from "./support.js"

const streamLines = (command: Command.Command) =>
  Stream.runCollect(Command.streamLines(command)).pipe(Effect.map(Chunk.toArray))

describe("multi-byte characters split across reads", () => {
  // `a`, the first two bytes of `€` (E2 82 AC), a pause, then the last byte and `b`.
  const euro = sh("printf 'a\\342\\202'; sleep 0.05; printf '\\254b'")

  it.live("string decodes a character split across two writes", () =>
    Effect.gen(function* () {
      expect(yield* Command.string(euro)).toBe("a€b")
    }).pipe(Effect.provide(layer))
  )

  it.live("streamLines decodes a character split across two writes", () =>
    Effect.gen(function* () {
      expect(yield* streamLines(euro)).toEqual(["a€b"])
    }).pipe(Effect.provide(layer))
  )

  it.live("lines decodes a four-byte character split after its first byte", () =>
    Effect.gen(function* () {
      // U+1F600 is F0 9F 98 80.
      const smile = sh("printf 'x\\360'; sleep 0.05; printf '\\237\\230\\200y\\n'")
      expect(yield* Command.lines(smile)).toEqual(["x😀y"])
      expect(yield* streamLines(smile)).toEqual(["x😀y"])
    }).pipe(Effect.provide(layer))
  )

  it.live("output decodes a character split across two writes to stderr", () =>
    Effect.gen(function* () {
      const result = yield* Command.output(sh("printf 'a\\342\\202' >&2; sleep 0.05; printf '\\254b' >&2"))
      expect(result.stderr).toBe("a€b")
    }).pipe(Effect.provide(layer))
  )
})

describe("splitting lines", () => {
  it.live("lines splits on CRLF and keeps a last line without a break", () =>
    Effect.gen(function* () {
      expect(yield* Command.lines(Command.make("printf", "a\\r\\nb\\r\\nc"))).toEqual(["a", "b", "c"])
    }).pipe(Effect.provide(layer))
  )

  it.live("lines makes no empty last line from a final line break", () =>
    Effect.gen(function* () {
      expect(yield* Command.lines(Command.make("printf", "a\\nb\\n"))).toEqual(["a", "b"])
    }).pipe(Effect.provide(layer))
  )

  it.live("streamLines splits on CRLF and keeps a last line without a break", () =>
    Effect.gen(function* () {
      expect(yield* streamLines(Command.make("printf", "a\\r\\nb\\r\\nc"))).toEqual(["a", "b", "c"])
    }).pipe(Effect.provide(layer))
  )

  it.live("streamLines makes no empty last line from a final line break", () =>
    Effect.gen(function* () {
      expect(yield* streamLines(Command.make("printf", "a\\nb\\n"))).toEqual(["a", "b"])
    }).pipe(Effect.provide(layer))
  )

  it.live("empty lines in the middle are kept", () =>
    Effect.gen(function* () {
      expect(yield* Command.lines(Command.make("printf", "a\\n\\nb\\n"))).toEqual(["a", "", "b"])
      expect(yield* streamLines(Command.make("printf", "a\\n\\nb\\n"))).toEqual(["a", "", "b"])
    }).pipe(Effect.provide(layer))
  )

  it.live("streamLines joins a CRLF split across two writes", () =>
    Effect.gen(function* () {
      expect(yield* streamLines(sh("printf 'a\\r'; sleep 0.05; printf '\\nb\\r\\n'"))).toEqual(["a", "b"])
    }).pipe(Effect.provide(layer))
  )

  it.live("no output gives no lines", () =>
    Effect.gen(function* () {
      expect(yield* Command.lines(Command.make("true"))).toEqual([])
      expect(yield* streamLines(Command.make("true"))).toEqual([])
    }).pipe(Effect.provide(layer))
  )
})

describe("output limits", () => {
  it.scopedLive("600 MB on stdout under a 100 MB limit fails with OutputLimitError and kills the child", () =>
    Effect.gen(function* () {
      const pidFile = join(yield* tempDir, "pid")
      const error = yield* Effect.flip(
        Command.bytes(sh('echo $$ > "$1"; exec head -c 600M /dev/zero', pidFile).pipe(Command.maxOutput(100_000_000)))
      )
      expect(error).toBeInstanceOf(CommandError.OutputLimitError)
      const limit = error as CommandError.OutputLimitError
      expect(limit.stream).toBe("stdout")
      expect(limit.message).toContain("stdout")
      expect(limit.output.length).toBe(100_000_000)
      expect(limit.output[99_999_999]).toBe(0)
      expect(isAlive(yield* readPid(pidFile))).toBe(false)
    }).pipe(Effect.provide(layer))
  )

  it.live("the output kept under the limit is the start of what the child wrote", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Command.string(sh("seq 1 100000").pipe(Command.maxOutput(20))))
      expect(error).toBeInstanceOf(CommandError.OutputLimitError)
      const kept = new TextDecoder().decode((error as CommandError.OutputLimitError).output)
      expect(kept).toBe("1\n2\n3\n4\n5\n6\n7\n8\n9\n10")
    }).pipe(Effect.provide(layer))
  )

  it.live("output fails with OutputLimitError naming stderr when stderr passes the limit", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Command.output(sh("echo small; head -c 10000000 /dev/zero >&2").pipe(Command.maxOutput(1_000_000)))
      )
      expect(error).toMatchObject({ _tag: "OutputLimitError", stream: "stderr", limit: 1_000_000 })
      expect((error as CommandError.OutputLimitError).output.length).toBe(1_000_000)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("stream fails with OutputLimitError once the limit is passed and kills the child", () =>
    Effect.gen(function* () {
      const pidFile = join(yield* tempDir, "pid")
      const result = yield* Command.stream(
        sh('echo $$ > "$1"; exec cat /dev/zero', pidFile).pipe(Command.maxOutput(1_000_000))
      ).pipe(
        Stream.runFold(0, (n, chunk) => n + chunk.length),
        Effect.either
      )
      expect(result._tag === "Left" && result.left._tag).toBe("OutputLimitError")
      expect(isAlive(yield* readPid(pidFile))).toBe(false)
    }).pipe(Effect.provide(layer))
  )

  it.live("output exactly at the limit is not an error", () =>
    Effect.gen(function* () {
      const bytes = yield* Command.bytes(Command.make("head", "-c", "1000", "/dev/zero").pipe(Command.maxOutput(1000)))
      expect(bytes.length).toBe(1000)
    }).pipe(Effect.provide(layer))
  )
})
