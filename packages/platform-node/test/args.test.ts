import { Command } from "@tether/command"
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import fc from "fast-check"
import { describe, expect } from "vitest"
import { envOf, layer, probe, report } from "./support.js"

const awkward: ReadonlyArray<[string, string]> = [
  ["spaces", "a b  c"],
  ["single quotes", "it's 'quoted'"],
  ["double quotes", 'say "hi"'],
  ["a newline", "line one\nline two"],
  ["a dollar variable", "$HOME"],
  ["a command substitution", "$(echo pwned)`echo pwned`"],
  ["a semicolon", "a; rm -rf /nonexistent-tether"],
  ["a glob", "*"],
  ["unicode", "naïve 日本語 😀"],
  ["nothing", ""],
  ["a backslash", "a\\b\\"],
  ["a leading dash", "--flag=value"],
  ["a tab and a carriage return", "a\tb\rc"]
]

describe("arguments reach the child verbatim", () => {
  for (const [what, arg] of awkward) {
    it.live(`an argument with ${what} reaches the child as one word, unchanged`, () =>
      Effect.gen(function* () {
        const r = yield* report(Command.make(probe, "before", arg, "after"))
        expect(r.argv).toEqual([probe, "before", arg, "after"])
      }).pipe(Effect.provide(layer))
    )
  }

  it.live("all the awkward arguments together reach the child in order", () =>
    Effect.gen(function* () {
      const args = awkward.map(([, arg]) => arg)
      const r = yield* report(Command.fromArgv([probe, ...args]))
      expect(r.argv.slice(1)).toEqual(args)
    }).pipe(Effect.provide(layer))
  )

  it.live("a redacted argument reaches the child as its value", () =>
    Effect.gen(function* () {
      const r = yield* report(Command.make(probe, Redacted.make("s3cret value")))
      expect(r.argv[1]).toBe("s3cret value")
    }).pipe(Effect.provide(layer))
  )

  it.live("each template value is exactly one argument", () =>
    Effect.gen(function* () {
      const file = "my notes; $HOME.txt"
      const r = yield* report(Command.cmd`${probe} --max=${10} ${file} ${["x y", ""]}`)
      expect(r.argv.slice(1)).toEqual(["--max=10", file, "x y", ""])
    }).pipe(Effect.provide(layer))
  )

  it.live("argPair passes name=value as one argument", () =>
    Effect.gen(function* () {
      const r = yield* report(Command.make(probe).pipe(Command.argPair("--conf-file", "/etc/a b.conf")))
      expect(r.argv.slice(1)).toEqual(["--conf-file=/etc/a b.conf"])
    }).pipe(Effect.provide(layer))
  )

  it.live("prefix words come first in the child's argv", () =>
    Effect.gen(function* () {
      const r = yield* report(Command.make(probe, "x").pipe(Command.prefix(["env", "--"])))
      expect(r.argv).toEqual([probe, "x"])
      expect(Command.toString(Command.make(probe, "x").pipe(Command.prefix(["env", "--"])))).toBe(`env -- ${probe} x`)
    }).pipe(Effect.provide(layer))
  )
})

/** Words mixing what a shell treats specially; NUL is left out, since it can never reach a child. */
const word = fc.string({
  unit: fc.oneof(
    fc.constantFrom(" ", "'", '"', "\n", "\t", "$", "*", "?", ";", "&", "|", "\\", "`", "(", ")", "#", "~", "=", "!"),
    fc.constantFrom("{", "}", "[", "]", "<", ">", "-", "%"),
    fc.constantFrom("é", "日", "😀", "\u00a0"),
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }).filter((c) => !c.includes("\0"))
  ),
  maxLength: 12
})

const argvOf = (text: string) => JSON.parse(text) as { argv: Array<string>; env: Array<string> }

describe("toString is a faithful shell line", () => {
  it.live('sh -c "exec <probe> $(toString)" gives the probe the same argv, for any words', () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(word, { minLength: 1, maxLength: 6 }), (argv) =>
          Effect.runPromise(
            Effect.gen(function* () {
              const line = `exec ${probe} ${Command.toString(Command.fromArgv(argv))}`
              const out = yield* Command.string(Command.make("sh", "-c", line))
              expect(argvOf(out).argv.slice(1)).toEqual(argv)
            }).pipe(Effect.provide(layer))
          )
        ),
        { numRuns: 60 }
      )
    )
  )

  it.live("sh -c toString runs the same program with the same argv and assignments", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(word, { maxLength: 4 }), word, (args, value) =>
          Effect.runPromise(
            Effect.gen(function* () {
              const command = Command.make(probe, ...args).pipe(Command.setEnv("TETHER_VALUE", value))
              const out = yield* Command.string(Command.make("sh", "-c", Command.toString(command)))
              const seen = argvOf(out)
              expect(seen.argv).toEqual([probe, ...args])
              expect(envOf({ env: seen.env } as any).TETHER_VALUE).toBe(value)
            }).pipe(Effect.provide(layer))
          )
        ),
        { numRuns: 30 }
      )
    )
  )
})
