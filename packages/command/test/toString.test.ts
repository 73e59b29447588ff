import { describe, expect, it } from "@effect/vitest"
import * as Redacted from "effect/Redacted"
import * as Command from "../src/Command.js"

const show = (...argv: ReadonlyArray<Command.Arg>) => Command.toString(Command.fromArgv(argv))

describe("toString quotes only where sh needs it", () => {
  it("leaves plain words as they are", () => {
    expect(show("ls", "-la", "/tmp/a_b.c", "--key=value", "user@host:1", "50%", "a+b,c")).toBe(
      "ls -la /tmp/a_b.c --key=value user@host:1 50% a+b,c"
    )
  })

  it("shows the empty word as ''", () => {
    expect(show("echo", "")).toBe("echo ''")
  })

  it("single-quotes words with spaces, tabs and newlines", () => {
    expect(show("echo", "a b", "c\td", "e\nf")).toBe("echo 'a b' 'c\td' 'e\nf'")
  })

  it("closes, escapes and reopens around a single quote", () => {
    expect(show("echo", "it's")).toBe("echo 'it'\\''s'")
    expect(show("echo", "'")).toBe("echo ''\\'''")
  })

  it("quotes what sh would expand or treat as syntax", () => {
    for (const word of [
      "$HOME",
      "*",
      "?",
      ";",
      "&",
      "|",
      "`x`",
      "$(x)",
      "a>b",
      "<",
      "~",
      "#",
      "!",
      "(",
      "{a,b}",
      '"'
    ]) {
      expect(show("echo", word)).toBe(`echo '${word}'`)
    }
  })

  it("quotes a backslash", () => {
    expect(show("echo", "a\\b")).toBe("echo 'a\\b'")
  })

  it("quotes unicode, which is not in the plain set", () => {
    expect(show("echo", "naïve")).toBe("echo 'naïve'")
  })

  it("quotes a program word that sh would read as an assignment", () => {
    expect(show("A=b", "x")).toBe("'A=b' x")
    expect(show("echo", "A=b")).toBe("echo A=b")
  })

  it("quotes a program word that sh would read as a keyword", () => {
    expect(show("if", "then")).toBe("'if' then")
    expect(show("{", "}")).toBe("'{' '}'")
  })

  it("shows a template command's words", () => {
    expect(Command.toString(Command.cmd`grep -n ${"two words"} ${["a", "b c"]} --max=${3}`)).toBe(
      "grep -n 'two words' a 'b c' --max=3"
    )
  })
})

describe("toString shows the environment and the prefix", () => {
  it("puts assignments before the argv", () => {
    const command = Command.make("prog", "x").pipe(Command.setEnv("A", "1"), Command.setEnv("B", "two words"))
    expect(Command.toString(command)).toBe("A=1 B='two words' prog x")
  })

  it("shows a later value for a name where the first one stood", () => {
    const command = Command.make("prog").pipe(
      Command.setEnv("A", "1"),
      Command.setEnv("B", "2"),
      Command.envString("A=3")
    )
    expect(Command.toString(command)).toBe("A=3 B=2 prog")
  })

  it("does not show passed variables, whose values are read only at start", () => {
    expect(Command.toString(Command.make("prog").pipe(Command.envPass("HOME"), Command.envPassCommon))).toBe(
      "LC_ALL=C prog"
    )
  })

  it("puts prefix words first, the later wrapper outermost", () => {
    const command = Command.make("prog", "x").pipe(
      Command.prefix(["nice", "-n", "5"]),
      Command.prefix(["timeout", "9"])
    )
    expect(Command.toString(command)).toBe("timeout 9 nice -n 5 prog x")
    expect(Command.argv(command)).toEqual(["timeout", "9", "nice", "-n", "5", "prog", "x"])
  })

  it("is what String() and the command's toString method give", () => {
    const command = Command.make("prog", "a b")
    expect(String(command)).toBe("prog 'a b'")
    expect(command.toString()).toBe("prog 'a b'")
  })
})

describe("secrets show as <redacted>", () => {
  const secret = "hunter2-do-not-show"

  it("a redacted argument", () => {
    expect(show("login", "--password", Redacted.make(secret))).toBe("login --password <redacted>")
  })

  it("a redacted environment value", () => {
    expect(Command.toString(Command.make("prog").pipe(Command.setEnv("TOKEN", Redacted.make(secret))))).toBe(
      "TOKEN=<redacted> prog"
    )
  })

  it("an argPair with a redacted value hides the whole argument", () => {
    expect(Command.toString(Command.make("prog").pipe(Command.argPair("--token", Redacted.make(secret))))).toBe(
      "prog <redacted>"
    )
  })

  it("a redacted program and template value", () => {
    expect(show(Redacted.make(secret), "x")).toBe("<redacted> x")
    expect(Command.toString(Command.cmd`prog --key ${Redacted.make(secret)}`)).toBe("prog --key <redacted>")
  })

  it("nothing the command shows of itself holds the secret", () => {
    const command = Command.make("prog", Redacted.make(secret)).pipe(
      Command.setEnv("TOKEN", Redacted.make(secret)),
      Command.argPair("--t", Redacted.make(secret))
    )
    expect(String(command)).not.toContain(secret)
    expect(JSON.stringify(command)).not.toContain(secret)
    expect(JSON.stringify(command.toJSON())).not.toContain(secret)
    expect(Command.validate(command)).toEqual([])
  })

  it("a NUL byte inside a secret is reported without showing the secret", () => {
    const problems = Command.validate(
      Command.make("prog", Redacted.make(`${secret}\0`)).pipe(Command.setEnv("T", Redacted.make(`${secret}\0`)))
    )
    expect(problems.length).toBe(2)
    for (const problem of problems) {
      expect(problem).toContain("<redacted>")
      expect(problem).not.toContain(secret)
    }
  })
})
