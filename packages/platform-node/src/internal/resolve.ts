import { accessSync, constants, statSync } from "node:fs"
import * as path from "node:path"
import * as CommandError from "@tether/command/CommandError"

/** Used when neither the child's nor the parent's environment has a `PATH`, as glibc's `execvp` does. */
const defaultPath = "/usr/local/bin:/usr/bin:/bin"

const executable = (file: string): "ok" | "missing" | "denied" => {
  // Most PATH entries do not hold the program: asking without an exception keeps the walk cheap.
  let stats
  try {
    stats = statSync(file, { throwIfNoEntry: false })
  } catch {
    return "missing"
  }
  if (stats === undefined) return "missing"
  if (!stats.isFile()) return "denied"
  try {
    accessSync(file, constants.X_OK)
    return "ok"
  } catch {
    return "denied"
  }
}

/**
 * Finds the file to execute. A name with a `/` is a path, resolved against the working directory and
 * never searched. A bare name is searched on the child's `PATH` (the parent's if the child has none),
 * skipping entries that are empty, missing or not directories. Empty entries mean "the current
 * directory" to `execvp`; Tether skips them, because running whatever lies in the working directory is
 * rarely what a caller meant.
 */
export const resolveProgram = (
  command: string,
  program: string,
  cwd: string,
  childPath: string | undefined
): CommandError.CommandNotFound | CommandError.PermissionDenied | string => {
  if (program.includes("/")) {
    const file = path.resolve(cwd, program)
    switch (executable(file)) {
      case "ok":
        return file
      case "missing":
        return new CommandError.CommandNotFound({ command, program: file, searched: [] })
      case "denied":
        return new CommandError.PermissionDenied({ command, path: file })
    }
  }
  const searched = (childPath ?? process.env.PATH ?? defaultPath).split(":")
  let denied: string | undefined
  for (const dir of searched) {
    if (dir.length === 0) continue
    const file = path.resolve(cwd, dir, program)
    const found = executable(file)
    if (found === "ok") return file
    if (found === "denied") denied ??= file
  }
  if (denied !== undefined) return new CommandError.PermissionDenied({ command, path: denied })
  return new CommandError.CommandNotFound({ command, program, searched })
}

/** Checks the working directory before spawning, so that its absence is not blamed on the program. */
export const checkDirectory = (command: string, directory: string): CommandError.WorkingDirectoryError | undefined => {
  try {
    if (statSync(directory).isDirectory()) {
      accessSync(directory, constants.X_OK)
      return undefined
    }
    return new CommandError.WorkingDirectoryError({ command, directory, reason: "not a directory" })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const reason =
      code === "ENOENT" ? "no such directory" : code === "EACCES" ? "permission denied" : String(code ?? error)
    return new CommandError.WorkingDirectoryError({ command, directory, reason })
  }
}
