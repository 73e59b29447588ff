/**
 * A small service whose implementation runs `tar`: callers see a typed interface and typed errors, and
 * tests can provide another implementation (or Tether's fake executor) without touching callers.
 */
import { Command, type CommandError, type CommandExecutor } from "@tether/command"
import { Context, Data, Effect, Layer } from "effect"

/** A failure of the archiver, naming the operation and keeping the command's own error as the cause. */
export class ArchiveError extends Data.TaggedError("ArchiveError")<{
  readonly operation: "pack" | "list" | "extract"
  readonly archive: string
  readonly cause: CommandError.CommandError
}> {
  override get message(): string {
    return `Cannot ${this.operation} ${this.archive}: ${this.cause.message}`
  }
}

export interface Entry {
  readonly path: string
  readonly bytes: number
}

export class Archive extends Context.Tag("examples/Archive")<
  Archive,
  {
    /** Packs the contents of `directory` into a gzip-compressed tar file. */
    readonly pack: (directory: string, archive: string) => Effect.Effect<void, ArchiveError>
    /** Lists the regular files in an archive with their sizes. */
    readonly list: (archive: string) => Effect.Effect<ReadonlyArray<Entry>, ArchiveError>
    /** Extracts an archive into an existing directory. */
    readonly extract: (archive: string, directory: string) => Effect.Effect<void, ArchiveError>
  }
>() {}

const tar = Command.make("tar").pipe(Command.envPassCommon, Command.timeout("60 seconds"))

/** `tar -tv` prints `-rw-r--r-- user/group 1234 2026-12-04 16:20 ./path`; we keep files only. */
const parseListing = (lines: ReadonlyArray<string>): ReadonlyArray<Entry> =>
  lines.flatMap((line) => {
    const fields = line.split(/\s+/)
    if (!line.startsWith("-") || fields.length < 6) return []
    return [{ bytes: Number(fields[2]), path: fields.slice(5).join(" ").replace(/^\.\//, "") }]
  })

/** The implementation on real `tar`, needing only a `CommandExecutor`. */
export const layer: Layer.Layer<Archive, never, CommandExecutor.CommandExecutor> = Layer.effect(
  Archive,
  Effect.gen(function* () {
    const executor = yield* Effect.context<CommandExecutor.CommandExecutor>()
    const use = <A>(
      operation: ArchiveError["operation"],
      archive: string,
      effect: Effect.Effect<A, CommandError.CommandError, CommandExecutor.CommandExecutor>
    ) =>
      effect.pipe(
        Effect.mapError((cause) => new ArchiveError({ operation, archive, cause })),
        Effect.provide(executor)
      )
    return {
      pack: (directory, archive) =>
        use("pack", archive, tar.pipe(Command.args("-czf", archive, "-C", directory, "."), Command.run)),
      list: (archive) =>
        use("list", archive, tar.pipe(Command.args("-tzvf", archive), Command.lines, Effect.map(parseListing))),
      extract: (archive, directory) =>
        use("extract", archive, tar.pipe(Command.args("-xzf", archive, "-C", directory), Command.run))
    }
  })
)
