import { Command } from "@tether/command"
import { it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { describe, expect, vi } from "vitest"
import { everyRunner, layer, sh } from "./support.js"

interface Recorded {
  readonly name: string
  readonly attributes: Map<string, unknown>
  ended: boolean
}

/** A tracer that keeps every span it is asked for. */
const recordingTracer = () => {
  const spans: Array<Recorded> = []
  let next = 0
  const tracer = Tracer.make({
    span(name, parent, context, links, startTime, kind) {
      const recorded: Recorded = { name, attributes: new Map(), ended: false }
      spans.push(recorded)
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: `span-${++next}`,
        traceId: "trace",
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes: recorded.attributes,
        links,
        sampled: true,
        kind,
        end: () => {
          recorded.ended = true
        },
        attribute: (key, value) => {
          recorded.attributes.set(key, value)
        },
        event: () => {},
        addLinks: () => {}
      }
      return span
    },
    context: (f) => f()
  })
  return { spans, tracer }
}

interface Line {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
}

/** A logger that keeps every line, at every level, instead of printing it. */
const recordingLogger = () => {
  const lines: Array<Line> = []
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    lines.push({
      level: logLevel.label,
      message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })
  return {
    lines,
    provide: <A, E, R>(self: Effect.Effect<A, E, R>) =>
      self.pipe(
        Logger.withMinimumLogLevel(LogLevel.Debug),
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
  }
}

const secret = "s3cret-for-spans"

describe("spans", () => {
  // start has a span of its own, checked below.
  const runners = everyRunner.filter(([name]) => name !== "start")

  for (const [name, runner] of runners) {
    it.live(`${name} runs in one span carrying the redacted command and the pid`, () =>
      Effect.gen(function* () {
        const { spans, tracer } = recordingTracer()
        const command = sh('echo "$$" > /dev/null; echo 1', Redacted.make(secret))
        yield* runner(command).pipe(Effect.withTracer(tracer))
        // lines and json run through string, streamLines through stream: one span per run either way.
        const mine = spans.filter((span) => span.name.startsWith("Command."))
        expect(mine.length).toBe(1)
        const [span] = mine
        expect(span!.attributes.get("tether.command")).toBe(`sh -c 'echo "$$" > /dev/null; echo 1' sh <redacted>`)
        expect(typeof span!.attributes.get("tether.pid")).toBe("number")
        expect(span!.ended).toBe(true)
        for (const recorded of spans) {
          for (const value of recorded.attributes.values()) expect(String(value)).not.toContain(secret)
        }
      }).pipe(Effect.provide(layer))
    )
  }

  it.live("the pid on the span is the child's", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recordingTracer()
      const pid = Number(yield* Command.string(sh("echo $$")).pipe(Effect.withTracer(tracer)))
      expect(spans.find((span) => span.name === "Command.string")?.attributes.get("tether.pid")).toBe(pid)
    }).pipe(Effect.provide(layer))
  )

  it.live("a failed run's span still carries the command", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recordingTracer()
      yield* Effect.exit(Command.run(Command.make("tether-no-such-program")).pipe(Effect.withTracer(tracer)))
      const span = spans.find((s) => s.name === "Command.run")
      expect(span?.attributes.get("tether.command")).toBe("tether-no-such-program")
      expect(span?.ended).toBe(true)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("start has a span of its own, with the command and the pid", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recordingTracer()
      const process = yield* Command.start(Command.make("true")).pipe(
        Effect.withSpan("caller"),
        Effect.withTracer(tracer)
      )
      const start = spans.find((span) => span.name === "Command.start")
      expect(start?.attributes.get("tether.pid")).toBe(process.pid)
      expect(start?.attributes.get("tether.command")).toBe("true")
      expect(spans.map((span) => span.name)).toEqual(["caller", "Command.start"])
    }).pipe(Effect.provide(layer))
  )
})

describe("logs", () => {
  it.live("a debug line is logged when the child is spawned and when it exits, with pid and command", () =>
    Effect.gen(function* () {
      const { lines, provide } = recordingLogger()
      const command = sh("echo $$; exit 3", Redacted.make(secret))
      const output = yield* provide(Command.output(command))
      const pid = Number(output.stdout)
      yield* Effect.sleep("20 millis")
      const spawned = lines.find((line) => /spawn/i.test(line.message))
      const exited = lines.find((line) => /exit/i.test(line.message))
      expect(spawned).toMatchObject({ level: "DEBUG", annotations: { pid, command: Command.toString(command) } })
      expect(exited).toMatchObject({ level: "DEBUG", annotations: { pid, command: Command.toString(command) } })
      expect(JSON.stringify(exited!.annotations)).toContain("3")
      expect(JSON.stringify(lines)).not.toContain(secret)
    }).pipe(Effect.provide(layer))
  )

  it.live("nothing is logged above debug level for runs that succeed or fail", () =>
    Effect.gen(function* () {
      const { lines, provide } = recordingLogger()
      yield* provide(
        Effect.all([
          Effect.exit(Command.run(Command.make("true"))),
          Effect.exit(Command.run(sh("exit 1"))),
          Effect.exit(Command.run(Command.make("tether-no-such-program"))),
          Effect.exit(Command.run(Command.make("sleep", "5").pipe(Command.timeout("20 millis"))))
        ])
      )
      yield* Effect.sleep("20 millis")
      expect(lines.filter((line) => line.level !== "DEBUG")).toEqual([])
      expect(lines.length).toBeGreaterThan(0)
    }).pipe(Effect.provide(layer))
  )
})

describe("the console", () => {
  it.live("runs that succeed, fail, time out or are interrupted print nothing", () =>
    Effect.gen(function* () {
      const spies = [
        vi.spyOn(console, "log"),
        vi.spyOn(console, "info"),
        vi.spyOn(console, "warn"),
        vi.spyOn(console, "error"),
        vi.spyOn(console, "debug"),
        vi.spyOn(process.stdout, "write"),
        vi.spyOn(process.stderr, "write")
      ]
      try {
        yield* Effect.all([
          Effect.exit(Command.string(Command.make("echo", "ok"))),
          Effect.exit(Command.run(sh("echo err >&2; exit 1"))),
          Effect.exit(Command.run(sh("kill -KILL $$"))),
          Effect.exit(Command.run(Command.make("tether-no-such-program"))),
          Effect.exit(Command.run(Command.make("true", "a\0b"))),
          Effect.exit(Command.run(Command.make("sleep", "5").pipe(Command.timeout("20 millis")))),
          Effect.exit(Command.string(Command.make("sleep", "5")).pipe(Effect.timeout("20 millis"))),
          Effect.exit(Stream.runDrain(Command.stream(sh("echo x; exit 2")))),
          Effect.exit(Command.exitCode(Command.make("true").pipe(Command.feed(new Uint8Array(1024 * 1024)))))
        ])
        yield* Effect.sleep("50 millis")
        for (const spy of spies) expect(spy).not.toHaveBeenCalled()
      } finally {
        for (const spy of spies) spy.mockRestore()
      }
    }).pipe(Effect.provide(layer))
  )
})
