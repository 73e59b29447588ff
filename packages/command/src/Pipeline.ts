/**
 * A pipeline connects commands stdout-to-stdin, as `a | b | c` does in a shell. It is a value like
 * `Command`, and every runner accepts it. The Node executor connects the stages with OS pipes, so their
 * bytes never pass through JavaScript. A pipeline fails if any stage fails (pipefail), naming the stage; a
 * stage that dies of SIGPIPE because a later stage finished early (`yes | head -n 1`) is not a failure.
 *
 * stdin settings apply to the first stage and stdout settings to the last; each stage keeps its own
 * stderr setting, its own stderr tail for errors, and its own stop policy. The pipeline's timeout is its
 * stages' shortest.
 *
 * @since 0.1.0
 */
import type * as Equal from "effect/Equal"
import type { Inspectable } from "effect/Inspectable"
import type { Pipeable } from "effect/Pipeable"
import type { Command } from "./Command.js"
import * as internal from "./internal/pipeline.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId as any

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * @since 0.1.0
 * @category models
 */
export interface Pipeline extends Pipeable, Inspectable, Equal.Equal {
  readonly [TypeId]: TypeId
  /** The commands in order; nested pipelines are flattened. */
  readonly stages: ReadonlyArray<Command>
}

/**
 * Connects commands (or pipelines) in order.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  first: Command | Pipeline,
  second: Command | Pipeline,
  ...rest: ReadonlyArray<Command | Pipeline>
) => Pipeline = internal.make

/**
 * @since 0.1.0
 * @category guards
 */
export const isPipeline: (u: unknown) => u is Pipeline = internal.isPipeline

/**
 * The stages' `Command.toString`, joined with ` | `.
 *
 * @since 0.1.0
 * @category formatting
 */
export const toString: (self: Pipeline) => string = internal.toString

/**
 * Every fault of the pipeline, each prefixed with its stage; empty when it may run.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate: (self: Pipeline) => ReadonlyArray<string> = internal.validate
