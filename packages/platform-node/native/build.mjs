// Builds the exec helper with the system C compiler. A missing compiler is not an install failure:
// Tether then runs without the helper and reports `Unsupported` for the settings that need it.
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const out = join(here, "..", "build")
mkdirSync(out, { recursive: true })

const compiler = process.env.CC || "cc"
let failed = false
for (const source of readdirSync(here).filter((name) => name.endsWith(".c"))) {
  const target = join(out, source.slice(0, -2))
  const result = spawnSync(compiler, ["-O2", "-Wall", "-Wextra", "-o", target, join(here, source)], {
    stdio: ["ignore", "inherit", "inherit"]
  })
  if (result.status !== 0 || !existsSync(target)) {
    failed = true
    console.warn(`tether: could not build ${source} with ${compiler}; settings that need it will be Unsupported`)
  }
}
process.exitCode = 0
if (failed && process.env.TETHER_REQUIRE_HELPER === "1") process.exitCode = 1
