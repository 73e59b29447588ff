/**
 * The `Git` service's tests. Each scenario is one test body, run twice: against the fake executor of
 * `@tether/testing` (under `TestClock`, no process started) and, where git is installed, against real
 * git in a fresh repository under /tmp.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { join } from "node:path"
import { Command } from "@tether/command"
import { NodeCommandExecutor } from "@tether/platform-node"
import { Expectation, TestCommandExecutor } from "@tether/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Equal, Layer } from "effect"
import { Git, gitCommand, layer, type Options } from "./Git.js"

const author = { name: "Tether Test", email: "test@tether.invalid" }

/** Whether git runs here, asked through Tether itself. */
const hasGit = await Effect.runPromise(
  Command.exitCode(Command.make("git", "--version")).pipe(
    Effect.map((code) => code === 0),
    Effect.orElseSucceed(() => false),
    Effect.provide(NodeCommandExecutor.layer)
  )
)

interface Scenario {
  readonly body: Effect.Effect<void, unknown, Git>
  /** What the fake answers, given the repository path the service is configured with. */
  readonly fake: (options: Options) => ReadonlyArray<Expectation.Expectation>
}

/** The argv the service runs for `git -C <repository> ...args`, as the fake expects it. */
const inRepo = (options: Options, ...args: ReadonlyArray<string>) =>
  Expectation.argv("git", "-C", options.repository, ...args)

const scenarios: Record<string, Scenario> = {
  "commits show up in the log, newest first, on branch main": {
    body: Effect.gen(function* () {
      const git = yield* Git
      yield* git.init
      yield* git.commit("Start the notes")
      yield* git.commit("Add December\n\nOne line per day.")
      const commits = yield* git.log
      expect(commits.map((commit) => commit.subject)).toEqual(["Add December", "Start the notes"])
      for (const commit of commits) expect(commit.hash).toMatch(/^[0-9a-f]{40}$/)
      expect(commits[0]!.hash).not.toBe(commits[1]!.hash)
      expect(yield* git.currentBranch).toBe("main")
    }),
    fake: (options) => [
      Expectation.argv("git", "init", "--quiet", "--initial-branch=main", options.repository),
      inRepo(options, "commit", "--quiet", "--allow-empty", "--file=-").pipe(
        Expectation.expectStdin("Start the notes")
      ),
      inRepo(options, "commit", "--quiet", "--allow-empty", "--file=-").pipe(
        Expectation.expectStdin("Add December\n\nOne line per day.")
      ),
      inRepo(options, "log", "--format=%H%x09%s").pipe(
        Expectation.stdout("2b9e7c1d0a4f5e6b7c8d9e0f1a2b3c4d5e6f7a8b\tAdd December\n"),
        Expectation.stdout("9f8e7d6c5b4a39281706f5e4d3c2b1a098f7e6d5\tStart the notes\n")
      ),
      inRepo(options, "symbolic-ref", "--short", "HEAD").pipe(Expectation.stdout("main\n"))
    ]
  },
  "committing outside a repository fails with git's own message, typed": {
    body: Effect.gen(function* () {
      const git = yield* Git
      const error = yield* Effect.flip(git.commit("lost"))
      expect(error.operation).toBe("commit")
      expect(error.cause._tag).toBe("ExitCodeError")
      expect(error.cause._tag === "ExitCodeError" && error.cause.exitCode).toBe(128)
      expect(error.message).toMatch(
        /^git commit failed: Child process \(.* git -C \S+ commit --quiet --allow-empty --file=-\) unexpected exit status 128: fatal: not a git repository \(or any of the parent directories\): \.git$/
      )
    }),
    fake: (options) => [
      inRepo(options, "commit", "--quiet", "--allow-empty", "--file=-").pipe(
        Expectation.stderr("fatal: not a git repository (or any of the parent directories): .git\n"),
        Expectation.exit(128)
      )
    ]
  }
}

/** A directory of its own for each real run, removed when the test ends. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync("/tmp/testing-helper-git-")),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

describe("Git", () => {
  for (const [name, scenario] of Object.entries(scenarios)) {
    it.effect(`${name} (fake git)`, () => {
      const options = { repository: "/srv/notes", author }
      const fake = TestCommandExecutor.layer(scenario.fake(options), { ordered: true })
      return scenario.body.pipe(Effect.provide(layer(options).pipe(Layer.provide(fake))))
    })

    it.scopedLive.skipIf(!hasGit)(`${name} (real git)`, () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        // The first scenario creates `repo`; the second needs a directory that is no repository.
        const options = { repository: name.startsWith("commits") ? join(dir, "repo") : dir, author }
        yield* scenario.body.pipe(Effect.provide(layer(options).pipe(Layer.provide(NodeCommandExecutor.layer))))
      })
    )
  }

  it.effect("every command runs without the machine's git configuration, as the fake records", () =>
    Effect.gen(function* () {
      const git = yield* Git
      yield* git.init
      yield* git.commit("x")
      const calls = yield* TestCommandExecutor.calls
      const options = { repository: "/srv/notes", author }
      expect(
        Equal.equals(
          calls[1],
          gitCommand(options, "-C", "/srv/notes", "commit", "--quiet", "--allow-empty", "--file=-").pipe(
            Command.feed("x")
          )
        )
      ).toBe(true)
      for (const call of calls) {
        expect(Command.environment(call, { PATH: "/usr/bin", HOME: "/root", GIT_DIR: "/elsewhere" })).toEqual({
          PATH: "/usr/bin",
          HOME: "/root",
          LC_ALL: "C",
          GIT_CONFIG_NOSYSTEM: "1",
          GIT_CONFIG_GLOBAL: "/dev/null",
          GIT_AUTHOR_NAME: "Tether Test",
          GIT_AUTHOR_EMAIL: "test@tether.invalid",
          GIT_COMMITTER_NAME: "Tether Test",
          GIT_COMMITTER_EMAIL: "test@tether.invalid"
        })
      }
    }).pipe(
      Effect.provide(
        layer({ repository: "/srv/notes", author }).pipe(
          Layer.provideMerge(
            TestCommandExecutor.layer([Expectation.argvPrefix("git").pipe(Expectation.anyTimes)], { ordered: true })
          )
        )
      )
    )
  )
})
