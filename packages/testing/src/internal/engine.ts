import type * as Command from "@tether/command/Command"
import type * as CommandError from "@tether/command/CommandError"
import type * as CommandExecutor from "@tether/command/CommandExecutor"
import type * as Process from "@tether/command/Process"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Expectation from "../Expectation.js"
import { type StdinMismatch, UnexpectedCommand, VerificationError } from "../ExpectationError.js"
import type * as TestCommandExecutor from "../TestCommandExecutor.js"
import { describe, describeUse, distance, matches } from "./expectation.js"
import * as fake from "./fake.js"

interface Entry {
  readonly expectation: Expectation.Expectation
  uses: number
}

const CLOSEST = 3

/**
 * The bookkeeping behind a strict fake executor: which expectation each command uses, what ran, and
 * what went wrong. Everything runs synchronously inside `Effect.sync`, so concurrent starts never see a
 * half-updated state.
 */
class Engine {
  readonly entries: ReadonlyArray<Entry>
  readonly records: Array<fake.RunRecord> = []
  readonly unexpected: Array<UnexpectedCommand> = []
  readonly mismatches: Array<StdinMismatch> = []
  /** In order, the index of the expectation last used: earlier ones can no longer be. */
  cursor = 0
  /** How many events had happened when `verify` last ran; the close check skips when nothing happened since. */
  verifiedAt: number | undefined = undefined

  constructor(
    expectations: ReadonlyArray<Expectation.Expectation>,
    readonly ordered: boolean
  ) {
    this.entries = expectations.map((expectation) => ({ expectation, uses: 0 }))
  }

  get events(): number {
    return this.records.length + this.unexpected.length + this.mismatches.length
  }

  select(command: Command.Command): Entry | UnexpectedCommand {
    if (this.ordered) {
      for (let i = this.cursor; i < this.entries.length; i++) {
        const entry = this.entries[i]!
        if (entry.uses < entry.expectation.times.max && matches(entry.expectation, command)) {
          this.cursor = i
          return entry
        }
        if (entry.uses < entry.expectation.times.min) break
      }
    } else {
      const entry = this.entries.find((e) => e.uses < e.expectation.times.max && matches(e.expectation, command))
      if (entry !== undefined) return entry
    }
    return this.refuse(command)
  }

  refuse(command: Command.Command): UnexpectedCommand {
    const closest = this.entries
      .map((entry, index) => ({ entry, index, distance: distance(entry.expectation, command) }))
      .sort((a, b) => a.distance - b.distance || a.index - b.index)
      .slice(0, CLOSEST)
      .map(({ entry }) => describeUse(entry.expectation, entry.uses))
    return new UnexpectedCommand({ command: command.toString(), closest, next: this.next(), ordered: this.ordered })
  }

  /** In order, the expectation due next: the first one not yet satisfied, else the first with uses left. */
  next(): string | undefined {
    const rest = this.entries.slice(this.cursor)
    const due = rest.find((e) => e.uses < e.expectation.times.min) ?? rest.find((e) => e.uses < e.expectation.times.max)
    return due === undefined ? undefined : describeUse(due.expectation, due.uses)
  }

  check(): Effect.Effect<void, VerificationError> {
    const unmet = this.entries
      .filter((e) => e.uses < e.expectation.times.min)
      .map((e) => describeUse(e.expectation, e.uses))
    return unmet.length === 0 && this.unexpected.length === 0 && this.mismatches.length === 0
      ? Effect.void
      : Effect.fail(
          new VerificationError({ unmet, unexpected: [...this.unexpected], mismatches: [...this.mismatches] })
        )
  }
}

const snapshot = (record: fake.RunRecord): TestCommandExecutor.Run =>
  Data.struct({
    command: record.command,
    pid: record.pid,
    expectation: record.expectation,
    stdin: fake.decode(record.stdin),
    signals: Data.array([...record.signals]),
    status: Option.fromNullable(record.status)
  })

/** The two services a strict fake layer provides: the executor, and the test's view of it. */
export const make = (
  expectations: ReadonlyArray<Expectation.Expectation>,
  options: TestCommandExecutor.Options | undefined
): Effect.Effect<
  { readonly executor: CommandExecutor.Service; readonly test: TestCommandExecutor.Service },
  never,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const engine = new Engine(expectations, options?.ordered ?? false)

    const start = (command: Command.Command): Effect.Effect<Process.Process, CommandError.CommandError, Scope.Scope> =>
      Effect.suspend(() => {
        const selected = engine.select(command)
        if (selected instanceof UnexpectedCommand) {
          engine.unexpected.push(selected)
          return Effect.die(selected)
        }
        selected.uses++
        const record: fake.RunRecord = {
          command,
          pid: fake.allocatePid(),
          expectation: describe(selected.expectation),
          stdin: [],
          signals: [],
          status: undefined
        }
        engine.records.push(record)
        return fake.start(command, selected.expectation, record, (mismatch) => engine.mismatches.push(mismatch))
      })

    const verify = Effect.suspend(() => {
      engine.verifiedAt = engine.events
      return engine.check()
    })

    if (options?.verifyOnClose ?? true) {
      yield* Effect.addFinalizer(() =>
        Effect.suspend(() => (engine.verifiedAt === engine.events ? Effect.void : Effect.orDie(engine.check())))
      )
    }

    const test: TestCommandExecutor.Service = {
      calls: Effect.sync(() => Data.array(engine.records.map((record) => record.command))),
      runs: Effect.sync(() => Data.array(engine.records.map(snapshot))),
      verify
    }
    return { executor: { start }, test }
  })
