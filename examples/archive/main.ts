/**
 * Uses the `Archive` service: packs a folder, lists it, extracts it elsewhere, and shows the typed error
 * of a broken archive.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeCommandExecutor } from "@tether/platform-node"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { Archive, layer } from "./Archive.js"

const program = Effect.gen(function* () {
  const archive = yield* Archive
  const work = mkdtempSync(join(tmpdir(), "tether-archive-"))
  const source = join(work, "notes")
  mkdirSync(join(source, "2026"), { recursive: true })
  writeFileSync(join(source, "readme.txt"), "Notes kept by the archive example.\n")
  writeFileSync(join(source, "2026", "december.txt"), "4: wrote the archive example\n".repeat(50))

  const file = join(work, "notes.tar.gz")
  yield* archive.pack(source, file)
  const entries = yield* archive.list(file)
  yield* Console.log(`packed ${entries.length} files into ${file}:`)
  for (const entry of entries) yield* Console.log(`  ${String(entry.bytes).padStart(6)}  ${entry.path}`)

  const copy = join(work, "restored")
  mkdirSync(copy)
  yield* archive.extract(file, copy)
  const same =
    readFileSync(join(copy, "2026", "december.txt"), "utf8") ===
    readFileSync(join(source, "2026", "december.txt"), "utf8")
  yield* Console.log(`extracted into ${copy}: ${same ? "contents match" : "contents differ"}`)

  writeFileSync(join(work, "broken.tar.gz"), "this is not gzip")
  const error = yield* Effect.flip(archive.list(join(work, "broken.tar.gz")))
  yield* Console.log(`a broken archive fails with ${error._tag} (${error.cause._tag}):\n  ${error.message}`)
})

program.pipe(Effect.provide(layer.pipe(Layer.provide(NodeCommandExecutor.layer))), NodeRuntime.runMain)
