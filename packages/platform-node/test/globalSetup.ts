import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, renameSync, statSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))

/**
 * Builds the probe program the tests run (see fixtures/probe.c). It is compiled under a private name and
 * renamed into place, because another test run may be executing the probe at this very moment: writing
 * over it in place makes that run's exec fail with EACCES or ETXTBSY.
 */
export default function setup() {
  const out = join(here, "..", "build", "test")
  const source = join(here, "fixtures", "probe.c")
  const target = join(out, "probe")
  mkdirSync(out, { recursive: true })
  if (existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs) return
  const scratch = `${target}.${process.pid}`
  execFileSync("cc", ["-O2", "-Wall", "-o", scratch, source], { stdio: "inherit" })
  renameSync(scratch, target)
}
