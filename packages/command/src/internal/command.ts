import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Equal from "effect/Equal"
import { dual } from "effect/Function"
import * as Hash from "effect/Hash"
import { NodeInspectSymbol } from "effect/Inspectable"
import { pipeArguments } from "effect/Pipeable"
import * as Redacted from "effect/Redacted"
import type * as Stream from "effect/Stream"
import type * as Command from "../Command.js"
import * as Stdio from "../Stdio.js"
import { quoteWord, showArg } from "./quote.js"

/** @internal */
export const TypeId: Command.TypeId = Symbol.for("@tether/command/Command") as Command.TypeId

/** @internal */
export type Arg = Command.Arg

/** @internal */
export const EnvSet = Data.tagged<Command.EnvEntry & { _tag: "Set" }>("Set")
/** @internal */
export const EnvPass = Data.tagged<Command.EnvEntry & { _tag: "Pass" }>("Pass")

/** The variables `envPassCommon` passes through, as libvirt's `virCommandAddEnvPassCommon` does. */
export const commonEnv: ReadonlyArray<string> = [
  "PATH",
  "LD_PRELOAD",
  "LD_LIBRARY_PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "TMPDIR"
]

const dataPrototype = Object.getPrototypeOf(Data.struct({}))

/**
 * The plain records of `fds`, `passFds` and `limits`, and `Data` values such as a `Stdio`: compared field
 * by field here, because `Equal.equals` compares plain objects, and the bytes of a feed, by reference.
 */
const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> => {
  if (typeof u !== "object" || u === null) return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === dataPrototype
}

const fieldEquals = (a: unknown, b: unknown): boolean => {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => fieldEquals(x, b[i]))
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && a.every((x, i) => x === b[i])
  if (isRecord(a) && isRecord(b)) {
    const names = Object.keys(a)
    return names.length === Object.keys(b).length && names.every((name) => name in b && fieldEquals(a[name], b[name]))
  }
  return Equal.equals(a, b)
}

const fieldHash = (value: unknown): number => {
  if (Array.isArray(value)) return Hash.array(value.map(fieldHash))
  // Equal bytes must hash alike; the length and the first bytes are enough for that.
  if (value instanceof Uint8Array)
    return Hash.combine(Hash.number(value.length))(Hash.array(Array.from(value.subarray(0, 64))))
  if (isRecord(value)) {
    return Hash.array(
      Object.keys(value)
        .sort()
        .map((name) => Hash.combine(Hash.string(name))(fieldHash(value[name])))
    )
  }
  if (value === undefined) return Hash.hash("undefined")
  return Hash.hash(value)
}

const keys = [
  "program",
  "args",
  "env",
  "customEnv",
  "inheritEnv",
  "cwd",
  "stdin",
  "stdout",
  "stderr",
  "mergeStderr",
  "fds",
  "passFds",
  "timeout",
  "killSignal",
  "gracePeriod",
  "maxOutput",
  "prefix",
  "daemonize",
  "pidFile",
  "clearCaps",
  "noNewPrivileges",
  "user",
  "group",
  "umask",
  "limits",
  "problems"
] as const satisfies ReadonlyArray<keyof Command.Command>

type Fields = { -readonly [K in (typeof keys)[number]]: Command.Command[K] }

const Proto = {
  [TypeId]: TypeId,
  pipe() {
    // eslint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  },
  [Equal.symbol](this: Command.Command, that: unknown): boolean {
    return isCommand(that) && keys.every((key) => fieldEquals(this[key], that[key]))
  },
  [Hash.symbol](this: Command.Command): number {
    return Hash.cached(this, Hash.array(keys.map((key) => fieldHash(this[key]))))
  },
  toString(this: Command.Command): string {
    return toString(this)
  },
  toJSON(this: Command.Command) {
    return {
      _id: "Command",
      command: toString(this),
      cwd: this.cwd,
      stdin: this.stdin?._tag,
      stdout: this.stdout?._tag,
      stderr: this.stderr?._tag
    }
  },
  [NodeInspectSymbol](this: Command.Command) {
    return this.toJSON()
  }
}

/** @internal */
export const isCommand = (u: unknown): u is Command.Command => typeof u === "object" && u !== null && TypeId in u

const make = (fields: Fields): Command.Command => Object.assign(Object.create(Proto), fields)

const update = (self: Command.Command, patch: Partial<Fields>): Command.Command => {
  const fields = {} as Fields
  for (const key of keys) (fields as any)[key] = self[key]
  return make(Object.assign(fields, patch))
}

const empty: Omit<Fields, "program" | "args"> = {
  env: [],
  customEnv: false,
  inheritEnv: false,
  cwd: undefined,
  stdin: undefined,
  stdout: undefined,
  stderr: undefined,
  mergeStderr: false,
  fds: [],
  passFds: [],
  timeout: undefined,
  killSignal: "SIGTERM",
  gracePeriod: Duration.seconds(2),
  maxOutput: undefined,
  prefix: [],
  daemonize: false,
  pidFile: undefined,
  clearCaps: false,
  noNewPrivileges: false,
  user: undefined,
  group: undefined,
  umask: undefined,
  limits: [],
  problems: []
}

/** @internal */
export const fromArgv = (argv: ReadonlyArray<Arg>): Command.Command => {
  const [program, ...args] = argv
  return make({
    ...empty,
    program: program ?? "",
    args,
    problems: program === undefined ? ["the argv is empty"] : []
  })
}

/** @internal */
export const makeCommand = (program: Arg, ...args: ReadonlyArray<Arg>): Command.Command => fromArgv([program, ...args])

/** @internal */
export const cmd = (strings: TemplateStringsArray, ...values: ReadonlyArray<Command.TemplateValue>) => {
  const argv: Array<Arg> = []
  let word: string | undefined = undefined
  const push = () => {
    if (word !== undefined) argv.push(word)
    word = undefined
  }
  const value = (v: Command.TemplateValue): ReadonlyArray<Arg> =>
    Array.isArray(v) ? v.map(toArg) : [toArg(v as Exclude<Command.TemplateValue, ReadonlyArray<unknown>>)]
  strings.forEach((text, i) => {
    for (const part of text.split(/(\s+)/)) {
      if (part.length === 0) continue
      if (/^\s+$/.test(part)) push()
      else word = (word ?? "") + part
    }
    if (i < values.length) {
      const args = value(values[i]!)
      // `--max=${n}`: a value glued to literal text joins that word (only a single plain value can).
      if (word !== undefined && args.length === 1 && typeof args[0] === "string") {
        word += args[0]
      } else {
        push()
        argv.push(...args)
      }
    }
  })
  push()
  return fromArgv(argv)
}

const toArg = (value: string | number | bigint | Redacted.Redacted<string>): Arg =>
  Redacted.isRedacted(value) ? value : String(value)

/** @internal */
export const args = dual<
  (...args: ReadonlyArray<Arg>) => (self: Command.Command) => Command.Command,
  (self: Command.Command, ...args: ReadonlyArray<Arg>) => Command.Command
>(
  (args) => isCommand(args[0]),
  (self: Command.Command, ...args: ReadonlyArray<Arg>) => update(self, { args: [...self.args, ...args] })
)

/** @internal */
export const argPair = dual<
  (name: string, value: Arg) => (self: Command.Command) => Command.Command,
  (self: Command.Command, name: string, value: Arg) => Command.Command
>(3, (self, name, value) =>
  update(self, {
    args: [
      ...self.args,
      Redacted.isRedacted(value) ? Redacted.make(`${name}=${Redacted.value(value)}`) : `${name}=${value}`
    ]
  })
)

const addEnv = (
  self: Command.Command,
  entries: ReadonlyArray<Command.EnvEntry>,
  problems: ReadonlyArray<string> = []
) => update(self, { env: [...self.env, ...entries], customEnv: true, problems: [...self.problems, ...problems] })

/** @internal */
export const setEnv = dual<
  (name: string, value: Arg) => (self: Command.Command) => Command.Command,
  (self: Command.Command, name: string, value: Arg) => Command.Command
>(3, (self, name, value) => addEnv(self, [EnvSet({ name, value })]))

/** @internal */
export const env = dual<
  (vars: Readonly<Record<string, Arg>>) => (self: Command.Command) => Command.Command,
  (self: Command.Command, vars: Readonly<Record<string, Arg>>) => Command.Command
>(2, (self, vars) =>
  addEnv(
    self,
    Object.entries(vars).map(([name, value]) => EnvSet({ name, value }))
  )
)

/** @internal */
export const envString = dual<
  (assignment: string) => (self: Command.Command) => Command.Command,
  (self: Command.Command, assignment: string) => Command.Command
>(2, (self, assignment) => {
  const eq = assignment.indexOf("=")
  if (eq <= 0) return addEnv(self, [], [`envString ${quoteWord(assignment)} is not of the form NAME=VALUE`])
  return addEnv(self, [EnvSet({ name: assignment.slice(0, eq), value: assignment.slice(eq + 1) })])
})

/** @internal */
export const envPass = dual<
  (...names: ReadonlyArray<string>) => (self: Command.Command) => Command.Command,
  (self: Command.Command, ...names: ReadonlyArray<string>) => Command.Command
>(
  (args) => isCommand(args[0]),
  (self: Command.Command, ...names: ReadonlyArray<string>) =>
    addEnv(
      self,
      names.map((name) => EnvPass({ name }))
    )
)

/** @internal */
export const envPassCommon = (self: Command.Command): Command.Command =>
  addEnv(self, [...commonEnv.map((name) => EnvPass({ name })), EnvSet({ name: "LC_ALL", value: "C" })])

/** @internal */
export const inheritEnv = (self: Command.Command): Command.Command => update(self, { inheritEnv: true })

/**
 * The child's environment, libvirt's way: the parent's when nothing was customised; otherwise only what
 * was set or passed (plus the parent's with `inheritEnv`). A later value for a name replaces the earlier
 * one where it stood; a passed name the parent does not have is skipped.
 *
 * @internal
 */
export const environment = (
  self: Command.Command,
  parent: Readonly<Record<string, string | undefined>>
): Record<string, string> => {
  const result = new Map<string, string>()
  if (!self.customEnv || self.inheritEnv) {
    for (const [name, value] of Object.entries(parent)) if (value !== undefined) result.set(name, value)
  }
  for (const entry of self.env) {
    if (entry._tag === "Set") {
      result.set(entry.name, Redacted.isRedacted(entry.value) ? Redacted.value(entry.value) : entry.value)
    } else {
      const value = parent[entry.name]
      if (value !== undefined) result.set(entry.name, value)
    }
  }
  return Object.fromEntries(result)
}

/** @internal */
export const cwd = dual<
  (path: string) => (self: Command.Command) => Command.Command,
  (self: Command.Command, path: string) => Command.Command
>(2, (self, path) => update(self, { cwd: path }))

/** @internal */
export const stdin = dual<
  (stdio: Stdio.Stdio) => (self: Command.Command) => Command.Command,
  (self: Command.Command, stdio: Stdio.Stdio) => Command.Command
>(2, (self, stdio) => update(self, { stdin: stdio }))

/** @internal */
export const stdout = dual<
  (stdio: Stdio.Stdio) => (self: Command.Command) => Command.Command,
  (self: Command.Command, stdio: Stdio.Stdio) => Command.Command
>(2, (self, stdio) => update(self, { stdout: stdio }))

/** @internal */
export const stderr = dual<
  (stdio: Stdio.Stdio) => (self: Command.Command) => Command.Command,
  (self: Command.Command, stdio: Stdio.Stdio) => Command.Command
>(2, (self, stdio) => update(self, { stderr: stdio }))

/** @internal */
export const feed = dual<
  (
    input: string | Uint8Array | Stream.Stream<Uint8Array | string, unknown>
  ) => (self: Command.Command) => Command.Command,
  (self: Command.Command, input: string | Uint8Array | Stream.Stream<Uint8Array | string, unknown>) => Command.Command
>(2, (self, input) =>
  update(self, {
    stdin: typeof input === "string" || input instanceof Uint8Array ? Stdio.feed(input) : Stdio.fromStream(input)
  })
)

/** @internal */
export const mergeStderr = (self: Command.Command): Command.Command => update(self, { mergeStderr: true })

/** @internal */
export const fd = dual<
  (fd: number, stdio: Stdio.Stdio) => (self: Command.Command) => Command.Command,
  (self: Command.Command, fd: number, stdio: Stdio.Stdio) => Command.Command
>(3, (self, n, stdio) => update(self, { fds: [...self.fds.filter((entry) => entry.fd !== n), { fd: n, stdio }] }))

/** @internal */
export const passFd = dual<
  (fd: number, options?: { readonly closeParent?: boolean }) => (self: Command.Command) => Command.Command,
  (self: Command.Command, fd: number, options?: { readonly closeParent?: boolean }) => Command.Command
>(
  (args) => isCommand(args[0]),
  (self: Command.Command, fd: number, options?: { readonly closeParent?: boolean }) =>
    update(self, {
      passFds: [...self.passFds.filter((p) => p.fd !== fd), { fd, closeParent: options?.closeParent ?? false }]
    })
)

/** @internal */
export const timeout = dual<
  (duration: Duration.DurationInput) => (self: Command.Command) => Command.Command,
  (self: Command.Command, duration: Duration.DurationInput) => Command.Command
>(2, (self, duration) => update(self, { timeout: Duration.decode(duration) }))

/** @internal */
export const killSignal = dual<
  (signal: string) => (self: Command.Command) => Command.Command,
  (self: Command.Command, signal: string) => Command.Command
>(2, (self, signal) => update(self, { killSignal: signal }))

/** @internal */
export const gracePeriod = dual<
  (duration: Duration.DurationInput) => (self: Command.Command) => Command.Command,
  (self: Command.Command, duration: Duration.DurationInput) => Command.Command
>(2, (self, duration) => update(self, { gracePeriod: Duration.decode(duration) }))

/** @internal */
export const maxOutput = dual<
  (bytes: number) => (self: Command.Command) => Command.Command,
  (self: Command.Command, bytes: number) => Command.Command
>(2, (self, bytes) => update(self, { maxOutput: bytes }))

/** @internal */
export const prefix = dual<
  (wrapper: ReadonlyArray<Arg>) => (self: Command.Command) => Command.Command,
  (self: Command.Command, wrapper: ReadonlyArray<Arg>) => Command.Command
>(2, (self, wrapper) => update(self, { prefix: [...wrapper, ...self.prefix] }))

/** @internal */
export const daemonize = (self: Command.Command): Command.Command => update(self, { daemonize: true })

/** @internal */
export const pidFile = dual<
  (path: string) => (self: Command.Command) => Command.Command,
  (self: Command.Command, path: string) => Command.Command
>(2, (self, path) => update(self, { pidFile: path }))

/** @internal */
export const clearCaps = (self: Command.Command): Command.Command => update(self, { clearCaps: true })

/** @internal */
export const noNewPrivileges = (self: Command.Command): Command.Command => update(self, { noNewPrivileges: true })

/** @internal */
export const user = dual<
  (uid: number) => (self: Command.Command) => Command.Command,
  (self: Command.Command, uid: number) => Command.Command
>(2, (self, uid) => update(self, { user: uid }))

/** @internal */
export const group = dual<
  (gid: number) => (self: Command.Command) => Command.Command,
  (self: Command.Command, gid: number) => Command.Command
>(2, (self, gid) => update(self, { group: gid }))

/** @internal */
export const umask = dual<
  (mask: number) => (self: Command.Command) => Command.Command,
  (self: Command.Command, mask: number) => Command.Command
>(2, (self, mask) => update(self, { umask: mask }))

/** @internal */
export const limit = dual<
  (resource: Command.Resource, soft: number, hard?: number) => (self: Command.Command) => Command.Command,
  (self: Command.Command, resource: Command.Resource, soft: number, hard?: number) => Command.Command
>(
  (args) => isCommand(args[0]),
  (self: Command.Command, resource: Command.Resource, soft: number, hard?: number) =>
    update(self, {
      limits: [...self.limits.filter((l) => l.resource !== resource), { resource, soft, hard: hard ?? soft }]
    })
)

/** @internal */
export const argv = (self: Command.Command): ReadonlyArray<Arg> => [...self.prefix, self.program, ...self.args]

/** @internal */
export const toString = (self: Command.Command): string => {
  // A later value for a name replaces the earlier one where it stood, as in the child's environment.
  const assignments = new Map<string, Arg>()
  for (const entry of self.env) if (entry._tag === "Set") assignments.set(entry.name, entry.value)
  const words = Array.from(assignments, ([name, value]) => `${name}=${showArg(value)}`)
  argv(self).forEach((arg, i) => words.push(showArg(arg, i === 0)))
  return words.join(" ")
}

/** @internal */
export const withDefaults = (self: Command.Command, patch: Partial<Fields>): Command.Command => update(self, patch)
