/**
 * `pnpm example [name] [args...]` runs examples/<name>/main.ts; without a name, the checksums example.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const [name = "checksums", ...rest] = process.argv.slice(2)
const main = join(here, name, "main.ts")
if (!existsSync(main)) {
  const names = readdirSync(here, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(here, d.name, "main.ts")))
    .map((d) => d.name)
  console.error(`no example named '${name}'; try one of: ${names.join(", ")}`)
  process.exit(2)
}
const result = spawnSync(process.execPath, ["--import", "tsx", main, ...rest], { stdio: "inherit" })
process.exit(result.status ?? 1)
