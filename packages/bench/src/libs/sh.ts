/**
 * `sh -c`: the reference for pipelines, where the shell connects the stages itself.
 *
 * @since 0.1.0
 */
import { execFile } from "node:child_process"
import type { Adapter } from "../adapter.js"

/** @since 0.1.0 */
export const adapter: Adapter = {
  pipeline: (bytes) =>
    new Promise((resolve, reject) =>
      execFile("sh", ["-c", `head -c ${bytes} /dev/zero | cat | wc -c`], { encoding: "utf8" }, (error, stdout) =>
        error ? reject(error) : resolve(stdout.trim())
      )
    )
}
