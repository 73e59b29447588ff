import { describe, expect, it } from "@effect/vitest"
import * as Equal from "effect/Equal"
import * as Hash from "effect/Hash"
import * as HashSet from "effect/HashSet"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Command from "../src/Command.js"
import * as Stdio from "../src/Stdio.js"

const base = Command.make("prog", "a")

const expectSame = (a: Command.Command, b: Command.Command) => {
  expect(Equal.equals(a, b)).toBe(true)
  expect(Equal.equals(b, a)).toBe(true)
  expect(Hash.hash(a)).toBe(Hash.hash(b))
}

const expectDifferent = (a: Command.Command, b: Command.Command) => {
  expect(Equal.equals(a, b)).toBe(false)
  expect(Equal.equals(b, a)).toBe(false)
}

describe("structural equality", () => {
  it("commands built the same way are Equal and hash alike", () => {
    expectSame(Command.make("prog", "a", "b"), Command.make("prog", "a", "b"))
  })

  it("make, fromArgv and the template tag build equal commands", () => {
    expectSame(Command.make("prog", "a b", "c"), Command.fromArgv(["prog", "a b", "c"]))
    expectSame(Command.make("prog", "a b", "c"), Command.cmd`prog ${"a b"} c`)
  })

  it("redacted arguments with the same value are equal, and differ from plain ones", () => {
    expectSame(Command.make("prog", Redacted.make("s")), Command.make("prog", Redacted.make("s")))
    expectDifferent(Command.make("prog", Redacted.make("s")), Command.make("prog", "s"))
  })

  it("durations given in different forms are equal", () => {
    expectSame(Command.timeout(base, "1 second"), Command.timeout(base, 1000))
    expectSame(Command.gracePeriod(base, "500 millis"), Command.gracePeriod(base, 500))
  })

  it("extra fds, passed fds and limits compare by content", () => {
    expectSame(Command.fd(base, 3, Stdio.pipe), Command.fd(base, 3, Stdio.pipe))
    expectSame(Command.passFd(base, 4, { closeParent: true }), Command.passFd(base, 4, { closeParent: true }))
    expectSame(Command.limit(base, "nofile", 64, 128), Command.limit(base, "nofile", 64, 128))
    expectDifferent(Command.fd(base, 3, Stdio.pipe), Command.fd(base, 4, Stdio.pipe))
    expectDifferent(Command.passFd(base, 4), Command.passFd(base, 4, { closeParent: true }))
    expectDifferent(Command.limit(base, "nofile", 64), Command.limit(base, "nofile", 65))
  })

  it("fed bytes compare by content", () => {
    expectSame(Command.feed(base, new Uint8Array([1, 2, 3])), Command.feed(base, new Uint8Array([1, 2, 3])))
    expectDifferent(Command.feed(base, new Uint8Array([1, 2, 3])), Command.feed(base, new Uint8Array([1, 2, 4])))
    expectDifferent(Command.feed(base, new Uint8Array([1, 2])), Command.feed(base, new Uint8Array([1, 2, 3])))
    expectSame(
      Command.fd(base, 3, Stdio.feed(new Uint8Array([9]))),
      Command.fd(base, 3, Stdio.feed(new Uint8Array([9])))
    )
  })

  it("fed text is not equal to the same text as bytes", () => {
    expectDifferent(Command.feed(base, "ab"), Command.feed(base, new TextEncoder().encode("ab")))
  })

  it("equal commands collapse in a HashSet", () => {
    const set = HashSet.make(
      Command.fd(base, 3, Stdio.file("/x")),
      Command.fd(base, 3, Stdio.file("/x")),
      Command.fd(base, 3, Stdio.file("/y"))
    )
    expect(HashSet.size(set)).toBe(2)
  })

  it("a fed stream is equal only to itself", () => {
    const stream = Stream.make("x")
    expectSame(Command.feed(base, stream), Command.feed(base, stream))
    expectDifferent(Command.feed(base, stream), Command.feed(base, Stream.make("x")))
  })
})

describe("commands that differ are not Equal", () => {
  const variants: ReadonlyArray<[string, Command.Command]> = [
    ["another program", Command.make("other", "a")],
    ["another argument", Command.make("prog", "b")],
    ["one more argument", Command.make("prog", "a", "b")],
    ["an environment value", Command.setEnv(base, "A", "1")],
    ["a passed variable", Command.envPass(base, "A")],
    ["inheritEnv", Command.inheritEnv(base)],
    ["a working directory", Command.cwd(base, "/tmp")],
    ["a stdin", Command.stdin(base, Stdio.inherit)],
    ["a stdout", Command.stdout(base, Stdio.file("/tmp/x"))],
    ["a stdout appending", Command.stdout(base, Stdio.file("/tmp/x", { append: true }))],
    ["a stderr", Command.stderr(base, Stdio.null)],
    ["mergeStderr", Command.mergeStderr(base)],
    ["an extra fd", Command.fd(base, 3, Stdio.pipe)],
    ["a passed fd", Command.passFd(base, 3)],
    ["a timeout", Command.timeout(base, "1 second")],
    ["a kill signal", Command.killSignal(base, "SIGINT")],
    ["a grace period", Command.gracePeriod(base, "1 second")],
    ["an output limit", Command.maxOutput(base, 10)],
    ["a prefix", Command.prefix(base, ["nice"])],
    ["daemonize", Command.daemonize(base)],
    ["clearCaps", Command.clearCaps(base)],
    ["noNewPrivileges", Command.noNewPrivileges(base)],
    ["a user", Command.user(base, 1000)],
    ["a group", Command.group(base, 1000)],
    ["a umask", Command.umask(base, 0o077)],
    ["a limit", Command.limit(base, "nofile", 10)],
    ["a problem", Command.envString(base, "no-equals")]
  ]
  for (const [what, variant] of variants) {
    it(`a command with ${what} differs from one without`, () => {
      expectDifferent(base, variant)
    })
  }

  it("every variant differs from every other", () => {
    for (const [, a] of variants) for (const [, b] of variants) if (a !== b) expect(Equal.equals(a, b)).toBe(false)
  })
})

describe("data-first and pipeable forms give equal values", () => {
  const forms: ReadonlyArray<[string, Command.Command, Command.Command]> = [
    ["arg", Command.arg(base, "x"), base.pipe(Command.arg("x"))],
    ["args", Command.args(base, "x", "y"), base.pipe(Command.args("x", "y"))],
    ["argPair", Command.argPair(base, "--k", "v"), base.pipe(Command.argPair("--k", "v"))],
    ["setEnv", Command.setEnv(base, "A", "1"), base.pipe(Command.setEnv("A", "1"))],
    ["env", Command.env(base, { A: "1", B: "2" }), base.pipe(Command.env({ A: "1", B: "2" }))],
    ["envString", Command.envString(base, "A=1"), base.pipe(Command.envString("A=1"))],
    ["envPass", Command.envPass(base, "A", "B"), base.pipe(Command.envPass("A", "B"))],
    ["cwd", Command.cwd(base, "/tmp"), base.pipe(Command.cwd("/tmp"))],
    ["stdin", Command.stdin(base, Stdio.pipe), base.pipe(Command.stdin(Stdio.pipe))],
    ["stdout", Command.stdout(base, Stdio.fd(7)), base.pipe(Command.stdout(Stdio.fd(7)))],
    ["stderr", Command.stderr(base, Stdio.inherit), base.pipe(Command.stderr(Stdio.inherit))],
    ["feed", Command.feed(base, "text"), base.pipe(Command.feed("text"))],
    ["fd", Command.fd(base, 3, Stdio.feed("x")), base.pipe(Command.fd(3, Stdio.feed("x")))],
    ["passFd", Command.passFd(base, 3, { closeParent: true }), base.pipe(Command.passFd(3, { closeParent: true }))],
    ["passFd without options", Command.passFd(base, 3), base.pipe(Command.passFd(3))],
    ["timeout", Command.timeout(base, "2 seconds"), base.pipe(Command.timeout("2 seconds"))],
    ["killSignal", Command.killSignal(base, "SIGINT"), base.pipe(Command.killSignal("SIGINT"))],
    ["gracePeriod", Command.gracePeriod(base, 10), base.pipe(Command.gracePeriod(10))],
    ["maxOutput", Command.maxOutput(base, 5), base.pipe(Command.maxOutput(5))],
    ["prefix", Command.prefix(base, ["nice", "-n", "5"]), base.pipe(Command.prefix(["nice", "-n", "5"]))],
    ["pidFile", Command.pidFile(base, "/run/x.pid"), base.pipe(Command.pidFile("/run/x.pid"))],
    ["user", Command.user(base, 1), base.pipe(Command.user(1))],
    ["group", Command.group(base, 1), base.pipe(Command.group(1))],
    ["umask", Command.umask(base, 0o22), base.pipe(Command.umask(0o22))],
    ["limit", Command.limit(base, "core", 0), base.pipe(Command.limit("core", 0))],
    ["limit with a hard value", Command.limit(base, "nofile", 1, 2), base.pipe(Command.limit("nofile", 1, 2))]
  ]
  for (const [name, dataFirst, pipeable] of forms) {
    it(`${name}(self, ...) equals self.pipe(${name}(...))`, () => {
      expectSame(dataFirst, pipeable)
      expectDifferent(dataFirst, base)
    })
  }
})
