import { createHash } from "node:crypto"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { it } from "@effect/vitest"
import { Command } from "@tether/command"
import { NodeCommandExecutor } from "@tether/platform-node"
import { Effect } from "effect"
import { expect } from "vitest"

const here = dirname(fileURLToPath(import.meta.url))

/** Runs an example the way `pnpm example` does, through Tether itself. */
const example = (name: string, ...args: ReadonlyArray<string>) =>
  Command.make(process.execPath, "--import", "tsx", join(here, name, "main.ts"), ...args).pipe(
    Command.cwd(here),
    Command.timeout("60 seconds"),
    Command.string,
    Effect.provide(NodeCommandExecutor.layer)
  )

it.live("checksums lists every file with its digest and verifies the manifest", () =>
  Effect.gen(function* () {
    const dir = mkdtempSync(join(tmpdir(), "tether-example-"))
    const files = { "a.txt": "alpha\n", "b b.txt": "beta with a space in the name\n", "c.bin": "x".repeat(5000) }
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)

    const out = yield* example("checksums", dir)

    expect(out).toContain(`3 files, `)
    for (const [name, text] of Object.entries(files)) {
      const digest = createHash("sha256").update(text).digest("hex")
      expect(out).toContain(`${digest.slice(0, 16)}  ${name}`)
    }
    expect(out).toContain("manifest verified by sha256sum --check: all files match")
  })
)

it.live("hooks runs every hook with a common environment and reports the refusing one", () =>
  Effect.gen(function* () {
    const out = yield* example("hooks")
    expect(out).toContain("web01 start: 3 hooks ran")
    expect(out).toContain("notified: web01 start/begin (home=")
    expect(out).toContain("db01 start refused by a hook (exit 1): guest db01 has no <memory> element")
    expect(out).toMatch(/web01 start begin - LC_ALL=C bytes=\d+/)
  })
)

it.live("archive packs, lists and extracts through the service and types the broken-archive error", () =>
  Effect.gen(function* () {
    const out = yield* example("archive")
    expect(out).toMatch(/packed 2 files into .*notes\.tar\.gz/)
    expect(out).toContain("contents match")
    expect(out).toContain("a broken archive fails with ArchiveError (ExitCodeError)")
  })
)
