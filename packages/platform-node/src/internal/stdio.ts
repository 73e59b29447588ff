import type { Readable, Writable } from "node:stream"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as Stream from "effect/Stream"

/** How long a pipe may stay silent after the leader exited before Tether stops waiting for its end. */
export const drainIdleMillis = 100

/**
 * How long a pipe is still read after the leader exited, counting only the time spent waiting for data:
 * a descendant that holds the pipe and keeps writing to it must not hold the caller forever either. What
 * the leader itself wrote is never cut off, since it waits in the pipe for a consumer that is busy.
 */
export const drainMaxMillis = 1000

/**
 * How many bytes are still read after the leader exited. What the leader wrote and nobody has read yet
 * sits in the kernel's buffer (about 200 KiB for a socketpair) and Node's (64 KiB): anything past this
 * margin was written after the exit, by a descendant, and a fast one must not be read forever by a
 * consumer slower than it.
 */
export const drainMaxBytes = 4 * 1024 * 1024

/** How much is read ahead of a busy consumer before the socket is paused. */
const batchBytes = 256 * 1024

/**
 * Runs `f` after the event loop has polled for I/O once more. A timer that fires late, because the loop was
 * blocked, may find a pipe "silent" while data already waits in the kernel; one more poll reads it.
 */
const afterPendingInput = (f: () => void) => setImmediate(f)

/**
 * The parent's end of an output pipe, read as a `Stream` with backpressure (the socket is paused while
 * the consumer is busy, so the kernel pipe fills and the child waits, rather than Node buffering).
 *
 * The end of the stream is end of file, or, once the leader has exited, a silence of
 * `drainIdleMillis` while the consumer is waiting, or `drainMaxMillis` of waiting in all: a background
 * grandchild that inherited the pipe must not hold the caller forever.
 */
export class OutputPipe {
  private lastData = Date.now()
  private waiting = false
  private bytes = 0
  private bytesAtExit: number | undefined
  private finish: (() => void) | undefined
  private done = false
  private idleTimer: NodeJS.Timeout | undefined

  constructor(readonly socket: Readable) {
    // Errors after the child is gone (ECONNRESET, EPIPE) carry no information: the end is the end.
    socket.on("error", () => this.close())
  }

  readonly stream: Stream.Stream<Uint8Array> = Stream.async<Uint8Array>((emit) => {
    // Chunks read while the consumer is busy are handed over together, one offer per batch; the socket
    // is paused only when a batch grows past `batchBytes`, so the kernel pipe fills and the child waits.
    let pending: Array<Uint8Array> = []
    let pendingBytes = 0
    let offering = false
    let ending = false
    const offer = () => {
      if (pending.length === 0) {
        offering = false
        this.waiting = true
        if (ending) return void emit.end()
        if (this.bytesAtExit !== undefined && this.bytes - this.bytesAtExit >= drainMaxBytes) return this.close()
        if (!this.done && this.socket.isPaused()) this.socket.resume()
        return
      }
      offering = true
      const batch = pending
      pending = []
      pendingBytes = 0
      emit.chunk(Chunk.unsafeFromArray(batch)).then(offer, () => {})
    }
    const onData = (chunk: Buffer) => {
      this.lastData = Date.now()
      this.waiting = false
      this.bytes += chunk.length
      pending.push(chunk)
      pendingBytes += chunk.length
      if (pendingBytes >= batchBytes) this.socket.pause()
      if (!offering) offer()
    }
    const onEnd = () => {
      if (this.done) return
      this.done = true
      ending = true
      if (!offering) offer()
    }
    this.finish = onEnd
    this.socket.on("data", onData)
    this.socket.once("end", onEnd)
    this.socket.once("close", onEnd)
    this.waiting = true
    this.socket.resume()
    if (this.socket.readableEnded || this.socket.destroyed) onEnd()
    // A consumer that stops reading closes the pipe, as a reader that exits does in a shell: the child
    // gets EPIPE (or SIGPIPE) instead of blocking on a pipe nobody will drain.
    // The close waits a turn of the event loop so that an early-stopping consumer can first do what a
    // kernel pipe would (signal the writer with SIGPIPE): a closed socketpair tells the writer
    // ECONNRESET instead, which looks like a failure.
    return Effect.sync(() => {
      this.socket.off("data", onData)
      this.socket.pause()
      setImmediate(() => this.close())
    })
  }, 2)

  /**
   * Called when the leader exits: from now on a silence ends the stream, and so does `drainMaxMillis`
   * spent waiting, or, while `othersMayWrite` (a descendant that may hold the pipe still lives),
   * `drainMaxMillis` in all: a consumer slower than a chatty descendant would otherwise never see the end.
   * Without such a descendant the end of file is certain, and a slow consumer gets everything.
   */
  leaderExited(othersMayWrite: () => boolean): void {
    this.bytesAtExit = this.bytes
    const exitedAt = Date.now()
    let waited = 0
    const idle = () => this.waiting && Date.now() - this.lastData >= drainIdleMillis
    const check = () => {
      if (this.done || this.socket.destroyed) return
      if (idle()) return afterPendingInput(() => (idle() ? this.close() : check()))
      if (this.waiting) {
        waited += drainIdleMillis / 2
        if (waited >= drainMaxMillis) return this.close()
      } else if (Date.now() - exitedAt >= drainMaxMillis && othersMayWrite()) return this.close()
      this.idleTimer = setTimeout(check, drainIdleMillis / 2)
    }
    this.lastData = Math.max(this.lastData, Date.now())
    this.idleTimer = setTimeout(check, drainIdleMillis)
  }

  close(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer)
    this.socket.destroy()
    if (this.finish !== undefined) this.finish()
    else this.done = true
  }
}

/** Keeps the last `limit` bytes of a stream nobody asked for (stderr by default), for error messages. */
export class TailPipe {
  private chunks: Array<Buffer> = []
  private size = 0
  private idleTimer: NodeJS.Timeout | undefined
  private lastData = Date.now()
  readonly ended: Deferred.Deferred<void>

  constructor(
    readonly socket: Readable,
    readonly limit = 64 * 1024
  ) {
    this.ended = Deferred.unsafeMake<void>(FiberId.none)
    socket.on("data", (chunk: Buffer) => {
      this.lastData = Date.now()
      this.chunks.push(chunk)
      this.size += chunk.length
      while (this.size - this.chunks[0]!.length >= this.limit) this.size -= this.chunks.shift()!.length
    })
    const end = () => this.close()
    socket.once("end", end)
    socket.once("close", end)
    socket.on("error", end)
  }

  leaderExited(): void {
    const exitedAt = Date.now()
    const idle = () => Date.now() - this.lastData >= drainIdleMillis
    const check = () => {
      if (this.socket.destroyed) return
      if (Date.now() - exitedAt >= drainMaxMillis) return this.close()
      if (idle()) return afterPendingInput(() => (idle() ? this.close() : check()))
      this.idleTimer = setTimeout(check, drainIdleMillis / 2)
    }
    this.idleTimer = setTimeout(check, drainIdleMillis)
  }

  close(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer)
    this.socket.destroy()
    Deferred.unsafeDone(this.ended, Effect.void)
  }

  /** The kept bytes as text, once the pipe has ended. */
  readonly text: Effect.Effect<string> = Effect.suspend(() => {
    const all = Buffer.concat(this.chunks)
    return Effect.succeed(all.subarray(Math.max(0, all.length - this.limit)).toString("utf8"))
  })
}

/**
 * Writes one chunk, waiting while the socket's buffer is full. Returns `false` once the child has closed
 * its end (EPIPE): that is not an error, what it did not read is dropped, its exit status tells the story,
 * and the writer stops, so that a producer upstream learns of it too (as `yes` does in `yes | head`).
 */
export const write = (socket: Writable, chunk: Uint8Array | string): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const open = () => !socket.destroyed && !socket.writableEnded
    if (!open()) return resume(Effect.succeed(false))
    if (socket.write(chunk)) return resume(Effect.succeed(true))
    const done = () => {
      socket.off("drain", done)
      socket.off("close", done)
      socket.off("error", done)
      resume(Effect.sync(open))
    }
    socket.on("drain", done)
    socket.on("close", done)
    socket.on("error", done)
    return Effect.sync(() => {
      socket.off("drain", done)
      socket.off("close", done)
      socket.off("error", done)
    })
  })

/** Ends an input pipe: the child reads end of file. */
export const end = (socket: Writable): Effect.Effect<void> =>
  Effect.sync(() => {
    if (!socket.destroyed && !socket.writableEnded) socket.end()
  })

/** Writes a whole stream to the child, then end of file. */
export const pump = (socket: Writable, stream: Stream.Stream<Uint8Array | string, unknown>) =>
  Stream.runForEachWhile(stream, (chunk) => write(socket, chunk)).pipe(
    Effect.catchAllCause((cause) =>
      Effect.logWarning("tether: the stream feeding a child's input failed; its input was closed", cause)
    ),
    Effect.zipRight(end(socket))
  )
