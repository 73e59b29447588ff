/**
 * The fork server: one exec helper per Node process (`tether-exec -S`), started on first use, that forks
 * every command's supervisor on request. Node then never forks itself for a command, which is most of
 * what a spawn costs it: a fork copies Node's page tables, a fork of the small helper does not.
 *
 * The protocol (see `native/tether-exec.c`): each message is a 4-byte length, then NUL-terminated words.
 * The server makes the pipes a command needs and answers with the numbers of Node's ends in its own fd
 * table; Node opens them through `/proc/<server>/fd/<n>` (which, for a pipe, is the same pipe) and tells
 * the server to release its copies, so that the command's pipes reach end of file as they should.
 */
import * as ChildProcess from "node:child_process"
import { closeSync, constants, openSync } from "node:fs"
import type { Socket } from "node:net"
import { constants as os } from "node:os"

/** A pipe of the command: `writes` when the command writes it (Node reads), else Node writes it. */
export interface PipeSpec {
  readonly fd: number
  readonly writes: boolean
}

/** Node's ends of the requested pipes, open in this process, in the order asked. */
export type Reply =
  | { readonly _tag: "Started"; readonly fds: ReadonlyArray<number> }
  | { readonly _tag: "Failed"; readonly step: string; readonly code: string; readonly detail?: string | undefined }

/** Larger messages go to a helper of their own (the server's buffer holds 8 MiB). */
const maxMessageBytes = 4 * 1024 * 1024

interface Pending {
  readonly pipes: ReadonlyArray<PipeSpec>
  /** Unset once the caller no longer wants the reply: the fds are then released and closed at once. */
  done: ((reply: Reply) => void) | undefined
}

class ForkServer {
  private readonly queue: Array<Pending> = []
  private readonly channel: Socket
  private pendingText = ""
  dead = false

  constructor(
    child: ChildProcess.ChildProcess,
    readonly pid: number
  ) {
    this.channel = child.stdio[3] as Socket
    this.channel.setEncoding("latin1")
    this.channel.on("data", (chunk: string) => this.onData(chunk))
    this.channel.on("error", () => this.die("its channel failed"))
    this.channel.on("close", () => this.die("its channel closed"))
    child.on("error", () => this.die("it failed"))
    child.on("exit", (code, signal) =>
      this.die(code !== null ? `it exited with ${code}` : `it was killed by ${signal}`)
    )
    // An idle server must not keep Node running: the channel is referenced only while a reply is due.
    child.unref()
    this.channel.unref()
  }

  /** Asks for a command; `done` gets Node's pipe ends, opened, or why not. Returns a canceler. */
  start(
    pipes: ReadonlyArray<PipeSpec>,
    args: ReadonlyArray<string>,
    env: ReadonlyArray<string>,
    done: (reply: Reply) => void
  ) {
    const spec = pipes.length === 0 ? "-" : pipes.map((p) => `${p.fd}:${p.writes ? "w" : "r"}`).join(",")
    const body = Buffer.from(["run", spec, String(args.length), ...args, ...env].join("\0") + "\0")
    if (body.length > maxMessageBytes) return undefined
    const pending: Pending = { pipes, done }
    if (!this.send(body)) return undefined
    this.queue.push(pending)
    this.channel.ref()
    return () => {
      pending.done = undefined
    }
  }

  private send(body: Buffer): boolean {
    if (this.dead) return false
    const head = Buffer.alloc(4)
    head.writeUInt32LE(body.length)
    this.channel.write(Buffer.concat([head, body]))
    return true
  }

  private onData(chunk: string) {
    this.pendingText += chunk
    let nl: number
    while ((nl = this.pendingText.indexOf("\n")) >= 0) {
      const line = this.pendingText.slice(0, nl)
      this.pendingText = this.pendingText.slice(nl + 1)
      const pending = this.queue.shift()
      if (this.queue.length === 0) this.channel.unref()
      if (pending !== undefined) this.answer(pending, line.split(" "))
    }
  }

  private answer(pending: Pending, words: ReadonlyArray<string>) {
    if (words[0] !== "ok") {
      const errno = Number(words[2])
      return pending.done?.({ _tag: "Failed", step: words[1] ?? "server", code: errnoName(errno) })
    }
    const theirs = words.slice(2)
    const ours: Array<number> = []
    let failure: NodeJS.ErrnoException | undefined
    if (pending.done !== undefined) {
      for (let i = 0; i < theirs.length && failure === undefined; i++) {
        const flags = pending.pipes[i]!.writes ? constants.O_RDONLY : constants.O_WRONLY
        try {
          ours.push(openSync(`/proc/${this.pid}/fd/${theirs[i]}`, flags | constants.O_NONBLOCK))
        } catch (error) {
          failure = error as NodeJS.ErrnoException
        }
      }
    }
    // Released at once: from now on Node's ends are the only ones, and a command that is not wanted any
    // more (its start was interrupted) finds its hold pipe closed, which stops it.
    this.send(Buffer.from(["release", ...theirs].join("\0") + "\0"))
    if (pending.done === undefined || failure !== undefined) {
      for (const fd of ours) closeSync(fd)
      if (failure !== undefined) {
        pending.done?.({ _tag: "Failed", step: "open", code: failure.code ?? "UNKNOWN", detail: failure.message })
      }
      return
    }
    pending.done({ _tag: "Started", fds: ours })
  }

  private die(why: string) {
    if (this.dead) return
    this.dead = true
    if (current === this) current = undefined
    this.channel.destroy()
    for (const pending of this.queue.splice(0)) {
      pending.done?.({ _tag: "Failed", step: "helper", code: "EHELPER", detail: `the fork server ${why}` })
    }
  }
}

const errnoNames = new Map<number, string>()
for (const [name, n] of Object.entries(os.errno)) if (!errnoNames.has(n)) errnoNames.set(n, name)
const errnoName = (errno: number): string => errnoNames.get(errno) ?? `errno ${errno}`

let current: ForkServer | undefined
let broken = false

/**
 * The fork server of this process, started on first use; `undefined` when it cannot run (then each
 * command gets a helper of its own, as before). It is turned off with `TETHER_FORK_SERVER=0`.
 */
export const forkServer = (helper: string): ForkServer | undefined => {
  if (current !== undefined || broken || process.env.TETHER_FORK_SERVER === "0") return current
  try {
    // Its own session, so that a terminal's ^C reaches Node, which decides what stops; its fds 0-2 are
    // Node's, for commands that inherit them; its working directory is "/", so that it pins no directory.
    const child = ChildProcess.spawn(helper, ["-S", "3"], {
      argv0: "tether-exec",
      stdio: ["inherit", "inherit", "inherit", "pipe"],
      detached: true,
      cwd: "/"
    })
    if (child.pid === undefined) {
      child.on("error", () => {})
      broken = true
      return undefined
    }
    current = new ForkServer(child, child.pid)
  } catch {
    broken = true
  }
  return current
}

export type { ForkServer }
