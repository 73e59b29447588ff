// Builds the exec helper with the system C compiler. A missing compiler is not an install failure:
// Tether then runs without the helper and reports `Unsupported` for the settings that need it.
//
// Each program is tried first without a C library (x86_64 only: the C library's start-up costs a VM
// more than the rest of a spawn), then linked statically, then dynamically; the first build that
// succeeds is kept.
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const out = join(here, "..", "build")
mkdirSync(out, { recursive: true })

const compiler = process.env.CC || "cc"
const common = ["-O2", "-Wall", "-Wextra"]
const variants = [
  [
    "-DTETHER_NOLIBC",
    "-nostdlib",
    "-static",
    "-ffreestanding",
    "-fno-stack-protector",
    "-fno-pie",
    "-no-pie",
    "-fno-asynchronous-unwind-tables"
  ],
  ["-static"],
  []
]

let failed = false
for (const source of readdirSync(here).filter((name) => name.endsWith(".c"))) {
  const target = join(out, source.slice(0, -2))
  // Built under a private name and renamed into place: a running test may be executing the old one.
  const scratch = `${target}.${process.pid}`
  const errors = []
  for (const flags of variants) {
    const result = spawnSync(compiler, [...common, ...flags, "-o", scratch, join(here, source)], { encoding: "utf8" })
    if (result.status === 0 && existsSync(scratch)) {
      errors.length = 0
      if (result.stderr) process.stderr.write(result.stderr)
      renameSync(scratch, target)
      console.log(`tether: built ${target}${flags.length === 0 ? "" : ` (${flags[0]})`}`)
      break
    }
    errors.push(result.error ? `${String(result.error)}\n` : result.stderr)
  }
  rmSync(scratch, { force: true })
  if (errors.length > 0) {
    // An older build would not match this version's protocol: without a new one, none.
    rmSync(target, { force: true })
    failed = true
    process.stderr.write(errors[errors.length - 1] ?? "")
    console.warn(`tether: could not build ${source} with ${compiler}; settings that need it will be Unsupported`)
  }
}
process.exitCode = 0
if (failed && process.env.TETHER_REQUIRE_HELPER === "1") process.exitCode = 1
