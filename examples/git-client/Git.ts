/**
 * A small git client as a service. Callers see `init`, `commit`, `log` and `currentBranch` with a typed
 * error; the implementation runs `git` through Tether, so tests can run it against real git or against
 * `@tether/testing`'s fake executor without changing a line of it.
 */
import { Command, type CommandError, type CommandExecutor } from "@tether/command"
import { Context, Data, Effect, Layer } from "effect"

/** A failed git operation, keeping the command's own error (exit code, git's message) as the cause. */
export class GitError extends Data.TaggedError("GitError")<{
  readonly operation: "init" | "commit" | "log" | "currentBranch"
  readonly cause: CommandError.CommandError
}> {
  override get message(): string {
    return `git ${this.operation} failed: ${this.cause.message}`
  }
}

export interface Commit {
  readonly hash: string
  readonly subject: string
}

export class Git extends Context.Tag("examples/Git")<
  Git,
  {
    /** Creates the repository (and its directory), on branch `main`. */
    readonly init: Effect.Effect<void, GitError>
    /** Commits the index (empty commits allowed) with this message. */
    readonly commit: (message: string) => Effect.Effect<void, GitError>
    /** The commits reachable from HEAD, newest first. */
    readonly log: Effect.Effect<ReadonlyArray<Commit>, GitError>
    /** The branch HEAD points to. */
    readonly currentBranch: Effect.Effect<string, GitError>
  }
>() {}

export interface Options {
  readonly repository: string
  readonly author: { readonly name: string; readonly email: string }
}

/**
 * Every command: git with a clean environment (`LC_ALL=C` so that messages are not translated) and no
 * system or user configuration, so that nothing on the machine changes its behaviour.
 */
export const gitCommand = (options: Options, ...args: ReadonlyArray<string>): Command.Command =>
  Command.make("git", ...args).pipe(
    Command.envPassCommon,
    Command.env({
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_AUTHOR_NAME: options.author.name,
      GIT_AUTHOR_EMAIL: options.author.email,
      GIT_COMMITTER_NAME: options.author.name,
      GIT_COMMITTER_EMAIL: options.author.email
    }),
    Command.timeout("30 seconds")
  )

/** The implementation on `git`, needing only a `CommandExecutor`. */
export const layer = (options: Options): Layer.Layer<Git, never, CommandExecutor.CommandExecutor> =>
  Layer.effect(
    Git,
    Effect.gen(function* () {
      const executor = yield* Effect.context<CommandExecutor.CommandExecutor>()
      const git = (...args: ReadonlyArray<string>) => gitCommand(options, "-C", options.repository, ...args)
      const use = <A>(
        operation: GitError["operation"],
        effect: Effect.Effect<A, CommandError.CommandError, CommandExecutor.CommandExecutor>
      ) =>
        effect.pipe(
          Effect.mapError((cause) => new GitError({ operation, cause })),
          Effect.provide(executor)
        )
      return {
        init: use(
          "init",
          Command.run(gitCommand(options, "init", "--quiet", "--initial-branch=main", options.repository))
        ),
        commit: (message) =>
          use("commit", Command.run(git("commit", "--quiet", "--allow-empty", "--file=-").pipe(Command.feed(message)))),
        log: use(
          "log",
          Effect.map(Command.lines(git("log", "--format=%H%x09%s")), (lines) =>
            lines.map((line) => {
              const tab = line.indexOf("\t")
              return { hash: line.slice(0, tab), subject: line.slice(tab + 1) }
            })
          )
        ),
        currentBranch: use(
          "currentBranch",
          Effect.map(Command.string(git("symbolic-ref", "--short", "HEAD")), (s) => s.trim())
        )
      }
    })
  )
