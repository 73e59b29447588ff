import { execFileSync } from "node:child_process"
import { mkdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))

/** Builds the probe program the tests run (see fixtures/probe.c). */
export default function setup() {
  const out = join(here, "..", "build", "test")
  mkdirSync(out, { recursive: true })
  execFileSync("cc", ["-O2", "-Wall", "-o", join(out, "probe"), join(here, "fixtures", "probe.c")], {
    stdio: "inherit"
  })
}
