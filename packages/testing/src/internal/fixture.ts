import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import * as Command from "@tether/command/Command"
import type * as ExitStatus from "@tether/command/ExitStatus"
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/** Bytes as text when they are valid UTF-8 (the common case, and readable in a diff), else as base64. */
const Bytes = Schema.Union(Schema.String, Schema.Struct({ base64: Schema.String }))

const Status = Schema.NullOr(
  Schema.Union(
    Schema.Struct({ _tag: Schema.Literal("Exited"), code: Schema.Number }),
    Schema.Struct({ _tag: Schema.Literal("Signaled"), signal: Schema.String, coreDumped: Schema.Boolean })
  )
)

/** @internal */
export const FixtureRun = Schema.Struct({
  command: Schema.String,
  argv: Schema.Array(Schema.NullOr(Schema.String)),
  stdin: Bytes,
  stdout: Bytes,
  stderr: Bytes,
  status: Status,
  stopped: Schema.Boolean
})

/** @internal */
export const Fixture = Schema.Struct({ version: Schema.Literal(1), runs: Schema.Array(FixtureRun) })

/** @internal */
export type FixtureRun = typeof FixtureRun.Type

/** @internal */
export type Fixture = typeof Fixture.Type

const fatal = new TextDecoder("utf-8", { fatal: true })

/** @internal */
export const encodeBytes = (bytes: Uint8Array): typeof Bytes.Type => {
  try {
    return fatal.decode(bytes)
  } catch {
    return { base64: Buffer.from(bytes).toString("base64") }
  }
}

/** @internal */
export const decodeBytes = (bytes: typeof Bytes.Type): Uint8Array =>
  typeof bytes === "string" ? new TextEncoder().encode(bytes) : new Uint8Array(Buffer.from(bytes.base64, "base64"))

/** A secret word is stored as `null`: the fixture never holds it, and replay accepts any value there. */
/** @internal */
export const storedArgv = (command: Command.Command): ReadonlyArray<string | null> =>
  Command.argv(command).map((word) => (Redacted.isRedacted(word) ? null : word))

/** @internal */
export const argvMatches = (command: Command.Command, stored: ReadonlyArray<string | null>): boolean => {
  const words = Command.argv(command)
  return (
    words.length === stored.length &&
    words.every((word, i) => (Redacted.isRedacted(word) ? stored[i] === null : stored[i] === word))
  )
}

/** @internal */
export const encodeStatus = (status: ExitStatus.ExitStatus | undefined): typeof Status.Type =>
  status === undefined
    ? null
    : status._tag === "Exited"
      ? { _tag: "Exited", code: status.code }
      : { _tag: "Signaled", signal: status.signal, coreDumped: status.coreDumped }

/** @internal */
export const write = (path: string, fixture: Fixture): Effect.Effect<void, string> =>
  Effect.try({
    try: () => {
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, `${JSON.stringify(fixture, null, 2)}\n`)
    },
    catch: (error) => String(error)
  })

/** @internal */
export const read = (path: string): Effect.Effect<Fixture, string> =>
  Effect.try({ try: () => JSON.parse(readFileSync(path, "utf-8")) as unknown, catch: (error) => String(error) }).pipe(
    Effect.flatMap((json) =>
      Schema.decodeUnknown(Fixture)(json).pipe(
        Effect.mapError((error) => ParseResult.TreeFormatter.formatErrorSync(error))
      )
    )
  )
