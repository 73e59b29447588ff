/**
 * Checksums of every file in a tree, computed by real programs with bounded concurrency, then verified
 * by feeding the manifest back to `sha256sum --check`.
 *
 *   pnpm example checksums [directory]     (default: this repository's packages/ folder)
 */
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { Command, Stdio } from "@tether/command"
import { NodeCommandExecutor } from "@tether/platform-node"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"

const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "..", "..", "packages"))

interface Entry {
  readonly path: string
  readonly sha256: string
  readonly bytes: number
}

/** Every regular file under `dir`, skipping dependency and build folders, listed by `find`. */
const listFiles = (dir: string) =>
  Command.make(
    "find",
    dir,
    "(",
    "-name",
    "node_modules",
    "-o",
    "-name",
    "build",
    ")",
    "-prune",
    "-o",
    "-type",
    "f",
    "-print"
  ).pipe(Command.lines)

/** One file's digest and size, each from its own program. */
const describe = (path: string) =>
  Effect.all(
    {
      sha256: Command.make("sha256sum", "--", path).pipe(
        Command.string,
        Effect.map((line) => line.slice(0, 64))
      ),
      bytes: Command.make("wc", "-c").pipe(
        Command.stdin(Stdio.file(path)),
        Command.string,
        Effect.map((text) => Number(text.trim()))
      )
    },
    { concurrency: 2 }
  ).pipe(Effect.map((fields): Entry => ({ path, ...fields })))

const human = (bytes: number) =>
  bytes >= 1 << 20
    ? `${(bytes / (1 << 20)).toFixed(1)} MiB`
    : bytes >= 1024
      ? `${(bytes / 1024).toFixed(1)} KiB`
      : `${bytes} B`

const program = Effect.gen(function* () {
  const started = Date.now()
  const files = yield* listFiles(root)
  const entries = yield* Effect.forEach(files, describe, { concurrency: 4 })

  // The manifest in sha256sum's own format, checked by sha256sum itself from stdin.
  const manifest = entries.map((e) => `${e.sha256}  ${e.path}\n`).join("")
  const verdict = yield* Command.make("sha256sum", "--check", "--quiet", "-").pipe(
    Command.feed(manifest),
    Command.exitCode
  )

  const total = entries.reduce((n, e) => n + e.bytes, 0)
  yield* Console.log(`${entries.length} files, ${human(total)} under ${root}`)
  yield* Console.log(`largest:`)
  for (const e of [...entries].sort((a, b) => b.bytes - a.bytes).slice(0, 5)) {
    yield* Console.log(`  ${human(e.bytes).padStart(10)}  ${e.sha256.slice(0, 16)}  ${relative(root, e.path)}`)
  }
  yield* Console.log(`manifest verified by sha256sum --check: ${verdict === 0 ? "all files match" : `exit ${verdict}`}`)
  yield* Console.log(`${entries.length * 2 + 2} processes in ${Date.now() - started} ms`)
})

program.pipe(Effect.provide(NodeCommandExecutor.layer), NodeRuntime.runMain)
