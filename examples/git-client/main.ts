/**
 * Uses the `Git` service on a fresh repository: two commits, the log, the branch, and the typed error
 * of a commit outside any repository.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeCommandExecutor } from "@tether/platform-node"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { Git, layer } from "./Git.js"

const author = { name: "Tether Example", email: "example@tether.invalid" }

const program = Effect.gen(function* () {
  const work = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "tether-git-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
  const repository = join(work, "repo")
  const inRepo = layer({ repository, author }).pipe(Layer.provide(NodeCommandExecutor.layer))
  yield* Effect.gen(function* () {
    const git = yield* Git
    yield* git.init
    yield* git.commit("Start the notes")
    yield* git.commit("Add December\n\nOne line per day.")
    const commits = yield* git.log
    yield* Console.log(`on ${yield* git.currentBranch}, ${commits.length} commits:`)
    for (const commit of commits) yield* Console.log(`  ${commit.hash.slice(0, 12)} ${commit.subject}`)
  }).pipe(Effect.provide(inRepo))

  const outside = layer({ repository: work, author }).pipe(Layer.provide(NodeCommandExecutor.layer))
  const error = yield* Effect.flip(Effect.flatMap(Git, (git) => git.commit("lost")).pipe(Effect.provide(outside)))
  yield* Console.log(`outside a repository: ${error._tag} (${error.cause._tag})`)
})

program.pipe(Effect.scoped, NodeRuntime.runMain)
