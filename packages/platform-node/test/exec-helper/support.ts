/*
 * What the exec helper's tests share: reading the kernel's view of a process, running a child Node (a
 * fixture of this folder, or a script) as a plain child (not through Tether), killed by pid when the scope
 * closes, and finding this process's fork server.
 */
import { spawn, type StdioOptions } from "node:child_process"
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Command } from "@tether/command"
import * as Effect from "effect/Effect"
import { expect } from "vitest"
import { forkServers, isAlive, processesWith, repoRoot } from "../support.js"

const here = dirname(fileURLToPath(import.meta.url))

/** The fields of /proc/<pid>/status, by name. */
export const status = (pid: number): Record<string, string> =>
  Object.fromEntries(
    readFileSync(`/proc/${pid}/status`, "utf8")
      .split("\n")
      .filter((line) => line.includes(":"))
      .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trim()])
  )

/** A resource's soft and hard limits as /proc/<pid>/limits shows them ("unlimited" or a number). */
export const limitOf = (pid: number, title: string): { soft: string; hard: string } => {
  const line = readFileSync(`/proc/${pid}/limits`, "utf8")
    .split("\n")
    .find((l) => l.startsWith(title))
  if (line === undefined) throw new Error(`no limit named ${title}`)
  const [soft, hard] = line.slice(title.length).trim().split(/\s+/)
  return { soft: soft!, hard: hard! }
}

/** The fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, session, ... */
export const stat = (pid: number) => {
  const text = readFileSync(`/proc/${pid}/stat`, "latin1")
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ")
  return { state: fields[0]!, ppid: Number(fields[1]), pgrp: Number(fields[2]), session: Number(fields[3]) }
}

/** Kills a process by pid, ignoring one that is gone. */
export const killPid = (pid: number, signal: NodeJS.Signals = "SIGKILL") => {
  try {
    process.kill(pid, signal)
  } catch {
    // Already gone.
  }
}

/** Kills, when the scope closes, every listed pid still alive: what a failing test left behind. */
export const killAtEnd = (pids: () => ReadonlyArray<number>) =>
  Effect.addFinalizer(() =>
    Effect.sync(() => {
      for (const pid of pids()) if (isAlive(pid)) killPid(pid)
    })
  )

/**
 * Runs a child Node with `args` (through the `prefix` program, `prlimit` say, if given), with `env` added
 * to this process's environment. Its first stdout line is parsed as JSON. It is SIGKILLed when the scope
 * closes.
 */
export const runNode = (
  args: ReadonlyArray<string>,
  options: {
    readonly env?: Record<string, string>
    readonly stdio?: StdioOptions
    readonly cwd?: string
    readonly prefix?: ReadonlyArray<string>
  } = {}
) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const [file, ...rest] = [...(options.prefix ?? []), process.execPath, ...args]
      const child = spawn(file!, rest, {
        cwd: options.cwd ?? repoRoot,
        env: { ...process.env, ...options.env },
        stdio: options.stdio ?? ["ignore", "pipe", "pipe"]
      })
      let stderr = ""
      child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
      const firstLine = Effect.async<unknown, Error>((resume) => {
        let out = ""
        const onData = (chunk: Buffer) => {
          out += chunk.toString()
          if (out.includes("\n")) {
            child.stdout!.off("data", onData)
            resume(Effect.succeed(JSON.parse(out.slice(0, out.indexOf("\n")))))
          }
        }
        child.stdout!.on("data", onData)
        child.once("exit", () =>
          resume(Effect.fail(new Error(`node ${args.join(" ")} exited before printing: ${stderr}`)))
        )
      })
      const exited = Effect.async<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
      })
      return { child, firstLine, exited }
    }),
    ({ child }) =>
      Effect.sync(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      })
  )

/** Runs `name`, a fixture of this folder, under `node --import tsx` (see `runNode`). */
export const runFixture = (
  name: string,
  args: ReadonlyArray<string>,
  options: { readonly env?: Record<string, string>; readonly stdio?: StdioOptions } = {}
) => runNode(["--import", "tsx", join(here, name), ...args], options)

/** This process's fork server, started by a first command if need be. */
export const theServer = Effect.gen(function* () {
  yield* Command.exitCode(Command.make("true"))
  const servers = forkServers()
  expect(servers).toHaveLength(1)
  return servers[0]!
})

/** Kills, by pid, every live process whose argv holds `word` (they were started by this test). */
export const killAllWith = (word: string) =>
  Effect.sync(() => {
    for (const pid of processesWith(word)) killPid(pid)
  })
