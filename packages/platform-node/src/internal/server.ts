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
import { isMainThread } from "node:worker_threads"

/**
 * A pipe of the command: `writes` when the command writes it (Node reads), else Node writes it. One pipe,
 * the control pipe the supervisor reports on, is marked `control`.
 */
export interface PipeSpec {
  readonly fd: number
  readonly writes: boolean
  readonly control?: boolean
}

/**
 * Node's ends of the requested pipes, open in this process, in the order asked, and the supervisor's pid;
 * or why not. `EHELPER`: the server is gone, and the request may be sent elsewhere.
 */
export type Reply =
  | { readonly _tag: "Started"; readonly supervisor: number; readonly fds: ReadonlyArray<number> }
  | { readonly _tag: "Failed"; readonly step: string; readonly code: string; readonly detail?: string | undefined }

/** Larger messages go to a helper of their own (the server's buffer holds 8 MiB). */
const maxMessageBytes = 4 * 1024 * 1024

interface Pending {
  /** How Node opens each fd of the answer: read-only or write-only. */
  readonly reads: ReadonlyArray<boolean>
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
    this.channel.on("error", () => this.die("lost its channel"))
    this.channel.on("close", () => this.die("closed its channel"))
    child.on("error", () => this.die("failed"))
    child.on("exit", (code, signal) => this.die(code !== null ? `exited with ${code}` : `was killed by ${signal}`))
    // An idle server must not keep Node running: the channel is referenced only while a reply is due.
    child.unref()
    this.channel.unref()
  }

  /**
   * Asks for a command; `done` gets Node's pipe ends, opened, or why not, always (a caller that no longer
   * wants the command must still stop it). Returns `false` when the request cannot be sent here.
   */
  start(
    pipes: ReadonlyArray<PipeSpec>,
    args: ReadonlyArray<string>,
    env: ReadonlyArray<string>,
    done: (reply: Reply) => void
  ): boolean {
    const kind = (p: PipeSpec) => (p.control ? "c" : p.writes ? "w" : "r")
    const spec = pipes.map((p) => `${p.fd}:${kind(p)}`).join(",")
    const body = Buffer.from(["run", spec, String(args.length), ...args, ...env].join("\0") + "\0")
    if (body.length > maxMessageBytes || !this.send(body)) return false
    this.queue.push({ reads: pipes.map((p) => p.writes), done })
    this.channel.ref()
    return true
  }

  /** Asks for `count` pipes for Node itself: `done` gets read and write ends, alternately. */
  pipes(count: number, done: (reply: Reply) => void): (() => void) | undefined {
    const pending: Pending = { reads: Array.from({ length: 2 * count }, (_, i) => i % 2 === 0), done }
    if (!this.send(Buffer.from(`pipes\0${count}\0`))) return undefined
    this.queue.push(pending)
    this.channel.ref()
    return () => {
      pending.done = undefined
    }
  }

  /**
   * After Node killed `supervisor` outright: `done` is called once the server has reaped it and killed
   * and reaped every orphan it left (the server adopts them), or at once if the server is gone.
   */
  sweep(supervisor: number, done: () => void): void {
    if (!this.send(Buffer.from(`sweep\0${supervisor}\0`))) return done()
    this.queue.push({ reads: [], done: () => done() })
    this.channel.ref()
  }

  private send(body: Buffer): boolean {
    if (this.dead || !this.sameCredentials()) return false
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

  /**
   * Whether Node still runs as the user and group it started the server as. After a setuid, Node may no
   * longer open the server's fds, and the server would start commands with the old credentials: such a
   * server is retired, and the next one is started as Node is now.
   */
  private sameCredentials(): boolean {
    if (process.getuid?.() === this.uid && process.getgid?.() === this.gid) return true
    this.die("was started by another user")
    return false
  }

  private readonly uid = process.getuid?.()
  private readonly gid = process.getgid?.()

  private answer(pending: Pending, words: ReadonlyArray<string>) {
    if (words[0] !== "ok") {
      const errno = Number(words[2])
      return pending.done?.({ _tag: "Failed", step: words[1] ?? "server", code: errnoName(errno) })
    }
    const supervisor = Number(words[1])
    const theirs = words.slice(2)
    const ours: Array<number> = []
    let failure: NodeJS.ErrnoException | undefined
    if (pending.done !== undefined) {
      for (let i = 0; i < theirs.length && failure === undefined; i++) {
        const flags = pending.reads[i] ? constants.O_RDONLY : constants.O_WRONLY
        try {
          // Never blocks: opening a pipe (not a FIFO) through /proc waits for no other side.
          ours.push(openSync(`/proc/${this.pid}/fd/${theirs[i]}`, flags))
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
      if (failure === undefined) return
      // Out of fds: this command fails, with its hold pipe closed the command forked for it stops, and the
      // server serves the next one.
      if (failure.code === "EMFILE" || failure.code === "ENFILE") {
        return pending.done?.({ _tag: "Failed", step: "open", code: failure.code, detail: failure.message })
      }
      // Node cannot reach this server's fds at all: none of its answers will do.
      this.die(`cannot be reached (${failure.code ?? "UNKNOWN"})`)
      return pending.done?.({ _tag: "Failed", step: "helper", code: "EHELPER", detail: failure.message })
    }
    pending.done({ _tag: "Started", supervisor, fds: ours })
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
  // Not from a worker thread: Node closes every fd a worker opened with `fs` when the worker ends, those
  // a socket has closed and the number reused included; and a server a worker started would be left a
  // zombie once the worker's event loop is gone. Workers use a helper per command.
  if (process.env.TETHER_FORK_SERVER === "0" || !isMainThread) return undefined
  if (current !== undefined || broken) return current
  try {
    // Its own session, so that a terminal's ^C reaches Node, which decides what stops; its fds 0-2 are
    // Node's, for commands that inherit them; its working directory is "/", so that it pins no directory.
    const child = ChildProcess.spawn(helper, ["-S", "3"], {
      argv0: "tether-exec",
      stdio: ["inherit", "inherit", "inherit", "pipe"],
      detached: true,
      cwd: "/"
    })
    // Not started (no fd left for its channel, say): this command goes another way, the next one tries
    // again.
    if (child.pid === undefined || child.stdio == null) {
      child.on("error", () => {})
      return undefined
    }
    current = new ForkServer(child, child.pid)
  } catch {
    broken = true
  }
  return current
}

export type { ForkServer }
