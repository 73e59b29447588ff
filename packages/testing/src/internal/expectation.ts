import * as Command from "@tether/command/Command"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import { NodeInspectSymbol } from "effect/Inspectable"
import { pipeArguments } from "effect/Pipeable"
import * as Redacted from "effect/Redacted"
import type * as Expectation from "../Expectation.js"

/** @internal */
export const TypeId: Expectation.TypeId = Symbol.for("@tether/testing/Expectation") as Expectation.TypeId

const encoder = new TextEncoder()

/** @internal */
export const toBytes = (data: string | Uint8Array): Uint8Array =>
  typeof data === "string" ? encoder.encode(data) : data

/** @internal */
export const reveal = (arg: Command.Arg): string => (Redacted.isRedacted(arg) ? Redacted.value(arg) : arg)

const Proto = {
  [TypeId]: TypeId,
  pipe() {
    // eslint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  },
  toString(this: Expectation.Expectation): string {
    return describe(this)
  },
  toJSON(this: Expectation.Expectation) {
    return { _id: "Expectation", expectation: describe(this) }
  },
  [NodeInspectSymbol](this: Expectation.Expectation) {
    return this.toJSON()
  }
}

type Fields = Pick<Expectation.Expectation, "matcher" | "steps" | "ending" | "ignoredSignals" | "times">

const make = (fields: Fields): Expectation.Expectation => Object.assign(Object.create(Proto), fields)

const update = (self: Expectation.Expectation, patch: Partial<Fields>): Expectation.Expectation =>
  make({
    matcher: self.matcher,
    steps: self.steps,
    ending: self.ending,
    ignoredSignals: self.ignoredSignals,
    times: self.times,
    ...patch
  })

/** @internal */
export const isExpectation = (u: unknown): u is Expectation.Expectation =>
  typeof u === "object" && u !== null && TypeId in u

/** @internal */
export const fromMatcher = (matcher: Expectation.Matcher): Expectation.Expectation =>
  make({ matcher, steps: [], ending: { _tag: "Exit", code: 0 }, ignoredSignals: [], times: { min: 1, max: 1 } })

/** @internal */
export const argv = (...words: ReadonlyArray<Command.Arg>): Expectation.Expectation =>
  fromMatcher({ _tag: "Argv", words })

/** @internal */
export const argvPrefix = (...words: ReadonlyArray<Command.Arg>): Expectation.Expectation =>
  fromMatcher({ _tag: "Prefix", words })

/** @internal */
export const where = (label: string, predicate: (command: Command.Command) => boolean): Expectation.Expectation =>
  fromMatcher({ _tag: "Where", description: `where: ${label}`, predicate, words: undefined })

const addSteps = (self: Expectation.Expectation, steps: ReadonlyArray<Expectation.Step>) =>
  update(self, { steps: [...self.steps, ...steps] })

type OutputOptions = { readonly delay?: Duration.DurationInput | undefined }

const write =
  (fd: 1 | 2) =>
  (self: Expectation.Expectation, data: string | Uint8Array, options?: OutputOptions): Expectation.Expectation =>
    addSteps(self, [
      ...(options?.delay === undefined ? [] : [{ _tag: "Sleep" as const, duration: Duration.decode(options.delay) }]),
      { _tag: "Write", fd, data: toBytes(data) }
    ])

/** @internal */
export const stdout = dual<
  (data: string | Uint8Array, options?: OutputOptions) => (self: Expectation.Expectation) => Expectation.Expectation,
  (self: Expectation.Expectation, data: string | Uint8Array, options?: OutputOptions) => Expectation.Expectation
>((args) => isExpectation(args[0]), write(1))

/** @internal */
export const stderr = dual<
  (data: string | Uint8Array, options?: OutputOptions) => (self: Expectation.Expectation) => Expectation.Expectation,
  (self: Expectation.Expectation, data: string | Uint8Array, options?: OutputOptions) => Expectation.Expectation
>((args) => isExpectation(args[0]), write(2))

/** @internal */
export const sleep = dual<
  (duration: Duration.DurationInput) => (self: Expectation.Expectation) => Expectation.Expectation,
  (self: Expectation.Expectation, duration: Duration.DurationInput) => Expectation.Expectation
>(2, (self, duration) => addSteps(self, [{ _tag: "Sleep", duration: Duration.decode(duration) }]))

const quote = (text: string): string => {
  const shown = JSON.stringify(text)
  return shown.length > 120 ? `${shown.slice(0, 100)}..." (${text.length} characters)` : shown
}

/** @internal */
export const expectStdin = dual<
  (expected: Expectation.StdinExpected) => (self: Expectation.Expectation) => Expectation.Expectation,
  (self: Expectation.Expectation, expected: Expectation.StdinExpected) => Expectation.Expectation
>(2, (self, expected) =>
  addSteps(self, [
    typeof expected === "string"
      ? { _tag: "ReadStdin", description: quote(expected), test: (received) => received === expected }
      : { _tag: "ReadStdin", description: expected.label, test: expected.test }
  ])
)

/** @internal */
export const respond = dual<
  (
    reply: (input: Expectation.ReplyInput) => Effect.Effect<Expectation.Reply>
  ) => (self: Expectation.Expectation) => Expectation.Expectation,
  (
    self: Expectation.Expectation,
    reply: (input: Expectation.ReplyInput) => Effect.Effect<Expectation.Reply>
  ) => Expectation.Expectation
>(2, (self, reply) => addSteps(self, [{ _tag: "Respond", reply }]))

/** @internal */
export const exit = dual<
  (code: number) => (self: Expectation.Expectation) => Expectation.Expectation,
  (self: Expectation.Expectation, code: number) => Expectation.Expectation
>(2, (self, code) => update(self, { ending: { _tag: "Exit", code } }))

/** @internal */
export const signal = dual<
  (signal: string) => (self: Expectation.Expectation) => Expectation.Expectation,
  (self: Expectation.Expectation, signal: string) => Expectation.Expectation
>(2, (self, signal) => update(self, { ending: { _tag: "Signal", signal } }))

/** @internal */
export const neverExits = (self: Expectation.Expectation): Expectation.Expectation =>
  update(self, { ending: { _tag: "Never" } })

/** @internal */
export const ignoreSignal = dual<
  (...signals: ReadonlyArray<string>) => (self: Expectation.Expectation) => Expectation.Expectation,
  (self: Expectation.Expectation, ...signals: ReadonlyArray<string>) => Expectation.Expectation
>(
  (args) => isExpectation(args[0]),
  (self: Expectation.Expectation, ...signals: ReadonlyArray<string>) =>
    update(self, { ignoredSignals: [...self.ignoredSignals, ...signals] })
)

/** @internal */
export const times = dual<
  (n: number) => (self: Expectation.Expectation) => Expectation.Expectation,
  (self: Expectation.Expectation, n: number) => Expectation.Expectation
>(2, (self, n) => update(self, { times: { min: n, max: n } }))

/** @internal */
export const anyTimes = (self: Expectation.Expectation): Expectation.Expectation =>
  update(self, { times: { min: 0, max: Infinity } })

/** @internal */
export const atLeastOnce = (self: Expectation.Expectation): Expectation.Expectation =>
  update(self, { times: { min: 1, max: Infinity } })

// -----------------------------------------------------------------------------
// matching and describing
// -----------------------------------------------------------------------------

/** @internal */
export const matches = (self: Expectation.Expectation, command: Command.Command): boolean => {
  const words = Command.argv(command).map(reveal)
  const matcher = self.matcher
  switch (matcher._tag) {
    case "Argv":
      return words.length === matcher.words.length && matcher.words.every((w, i) => reveal(w) === words[i])
    case "Prefix":
      return words.length >= matcher.words.length && matcher.words.every((w, i) => reveal(w) === words[i])
    case "Where":
      return matcher.predicate(command)
  }
}

const shell = (words: ReadonlyArray<Command.Arg>): string =>
  words.length === 0 ? "(empty)" : Command.toString(Command.fromArgv(words))

/** @internal */
export const describeMatcher = (matcher: Expectation.Matcher): string => {
  switch (matcher._tag) {
    case "Argv":
      return `argv: ${shell(matcher.words)}`
    case "Prefix":
      return `argv prefix: ${shell(matcher.words)}`
    case "Where":
      return matcher.description
  }
}

const count = (n: number): string => (n === 1 ? "1 time" : `${n} times`)

/** @internal */
export const describeTimes = (times: Expectation.Times): string => {
  if (times.min === times.max) return times.max === 1 ? "once" : count(times.max)
  if (times.max === Infinity) return times.min === 0 ? "any number of times" : `at least ${count(times.min)}`
  return `${times.min} to ${count(times.max)}`
}

/** @internal */
export const describe = (self: Expectation.Expectation): string =>
  `${describeMatcher(self.matcher)} (expected ${describeTimes(self.times)})`

/** @internal */
export const describeUse = (self: Expectation.Expectation, uses: number): string =>
  `${describeMatcher(self.matcher)} (expected ${describeTimes(self.times)}, used ${count(uses)})`

/** Levenshtein distance between two sequences, where substituting `x` for `y` costs `cost(x, y)`. */
const editDistance = <A>(a: ArrayLike<A>, b: ArrayLike<A>, cost: (x: A, y: A) => number): number => {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + cost(a[i - 1]!, b[j - 1]!))
      diagonal = above
    }
  }
  return row[b.length]!
}

/** Edit distance between two words, as a fraction of the longer one: 0 equal, 1 nothing in common. */
const wordDistance = (a: string, b: string): number =>
  a === b ? 0 : editDistance(a, b, (x, y) => (x === y ? 0 : 1)) / Math.max(a.length, b.length)

/** Edit distance between two argvs, word by word; a substituted word costs how different it is. */
const argvDistance = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): number => editDistance(a, b, wordDistance)

/**
 * How far a command is from matching: 0 when it matches, growing with the words that differ. A predicate
 * without words to compare against is as far as can be.
 *
 * @internal
 */
export const distance = (self: Expectation.Expectation, command: Command.Command): number => {
  if (matches(self, command)) return 0
  const words = Command.argv(command).map(reveal)
  const matcher = self.matcher
  switch (matcher._tag) {
    case "Argv":
      return argvDistance(words, matcher.words.map(reveal))
    case "Prefix":
      return argvDistance(words.slice(0, matcher.words.length), matcher.words.map(reveal))
    case "Where":
      return matcher.words === undefined ? Infinity : argvDistance(words, matcher.words)
  }
}
