import * as Duration from "effect/Duration"
import * as Redacted from "effect/Redacted"
import type * as Command from "../Command.js"
import type * as Stdio from "../Stdio.js"
import { quoteWord } from "./quote.js"

/** Signal names every POSIX system knows; `killSignal` must be one of them. */
export const signals: ReadonlySet<string> = new Set([
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGILL",
  "SIGTRAP",
  "SIGABRT",
  "SIGBUS",
  "SIGFPE",
  "SIGKILL",
  "SIGUSR1",
  "SIGSEGV",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGTERM",
  "SIGCHLD",
  "SIGCONT",
  "SIGSTOP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGURG",
  "SIGXCPU",
  "SIGXFSZ",
  "SIGVTALRM",
  "SIGPROF",
  "SIGWINCH",
  "SIGIO",
  "SIGSYS"
])

const resources: ReadonlySet<string> = new Set([
  "as",
  "core",
  "cpu",
  "data",
  "fsize",
  "locks",
  "memlock",
  "msgqueue",
  "nice",
  "nofile",
  "nproc",
  "rss",
  "rtprio",
  "rttime",
  "sigpending",
  "stack"
])

const text = (value: string | Redacted.Redacted<string>): string =>
  Redacted.isRedacted(value) ? Redacted.value(value) : value

const hasNul = (value: string | Redacted.Redacted<string>) => text(value).includes("\0")

const show = (value: string | Redacted.Redacted<string>) =>
  Redacted.isRedacted(value) ? "<redacted>" : quoteWord(value.replace(/\0/g, "\\0"))

/**
 * Every fault of a command value, in one pass, so that a user fixes them all at once. An empty list means
 * the value may be run.
 */
export const validate = (self: Command.Command): ReadonlyArray<string> => {
  const problems: Array<string> = [...self.problems]
  const nul = (what: string, value: string | Redacted.Redacted<string>) => {
    if (hasNul(value)) problems.push(`${what} ${show(value)} contains a NUL byte`)
  }

  if (text(self.program).length === 0) problems.push("the program name is empty")
  nul("the program", self.program)
  self.args.forEach((arg, i) => nul(`argument ${i + 1}`, arg))
  self.prefix.forEach((arg, i) => nul(`prefix word ${i + 1}`, arg))

  for (const entry of self.env) {
    if (entry.name.length === 0) problems.push("an environment variable has an empty name")
    if (entry.name.includes("=")) problems.push(`environment variable name ${quoteWord(entry.name)} contains '='`)
    nul("environment variable name", entry.name)
    if (entry._tag === "Set") nul(`the value of ${entry.name}`, entry.value)
  }

  if (self.cwd !== undefined) {
    if (self.cwd.length === 0) problems.push("the working directory is empty")
    nul("the working directory", self.cwd)
  }

  const stdio = (what: string, value: Stdio.Stdio | undefined, output: boolean) => {
    if (value === undefined) return
    if (output && (value._tag === "Feed" || value._tag === "FromStream")) {
      problems.push(`${what} is an output and cannot be fed`)
    }
    if (value._tag === "File") {
      if (value.path.length === 0) problems.push(`${what} is redirected to an empty file name`)
      nul(`the ${what} file`, value.path)
    }
    if (value._tag === "Fd" && !(Number.isInteger(value.fd) && value.fd >= 0)) {
      problems.push(`${what} is redirected to ${value.fd}, which is not a file descriptor`)
    }
  }
  stdio("stdin", self.stdin, false)
  stdio("stdout", self.stdout, true)
  stdio("stderr", self.stderr, true)
  if (self.mergeStderr && self.stderr !== undefined) {
    problems.push("mergeStderr conflicts with a stderr setting: stderr cannot go to two places")
  }

  for (const entry of self.fds) {
    if (!Number.isInteger(entry.fd) || entry.fd < 3) problems.push(`Command.fd takes fd 3 and up, not ${entry.fd}`)
    stdio(
      `fd ${entry.fd}`,
      entry.stdio._tag === "Feed" || entry.stdio._tag === "FromStream" ? undefined : entry.stdio,
      false
    )
    if (self.passFds.some((p) => p.fd === entry.fd)) problems.push(`fd ${entry.fd} is both passed and set`)
  }
  for (const passed of self.passFds) {
    if (!Number.isInteger(passed.fd) || passed.fd < 3) {
      problems.push(`passFd takes fd 3 and up (use stdin/stdout/stderr for 0-2), not ${passed.fd}`)
    }
  }

  if (self.timeout !== undefined && !Duration.greaterThan(self.timeout, Duration.zero)) {
    problems.push("the timeout must be longer than zero")
  }
  if (!signals.has(self.killSignal)) problems.push(`the kill signal ${quoteWord(self.killSignal)} is not a signal name`)
  if (self.maxOutput !== undefined && !(Number.isSafeInteger(self.maxOutput) && self.maxOutput > 0)) {
    problems.push(`maxOutput must be a positive whole number of bytes, not ${self.maxOutput}`)
  }

  if (self.pidFile !== undefined) {
    if (!self.daemonize) problems.push("a pid file needs daemonize")
    nul("the pid file", self.pidFile)
  }
  const id = (what: string, value: number | undefined) => {
    if (value !== undefined && !(Number.isInteger(value) && value >= 0)) problems.push(`${what} ${value} is not an id`)
  }
  id("user", self.user)
  id("group", self.group)
  if (self.umask !== undefined && !(Number.isInteger(self.umask) && self.umask >= 0 && self.umask <= 0o777)) {
    problems.push(`umask ${self.umask} is not between 0 and 0o777`)
  }
  for (const l of self.limits) {
    if (!resources.has(l.resource)) problems.push(`${quoteWord(l.resource)} is not a resource limit`)
    const ok = (n: number) => n === Infinity || (Number.isSafeInteger(n) && n >= 0)
    if (!ok(l.soft) || !ok(l.hard)) problems.push(`limit ${l.resource} needs whole numbers or Infinity`)
    else if (l.soft > l.hard) problems.push(`limit ${l.resource}: soft ${l.soft} is above hard ${l.hard}`)
  }
  return problems
}
