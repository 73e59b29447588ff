/**
 * The real interpreter of `@tether/command` on Node.js: every command runs under `node:child_process`,
 * in a process group of its own, owned by the scope that started it.
 *
 * @since 0.1.0
 */
import { CommandExecutor, type Service } from "@tether/command/CommandExecutor"
import * as Layer from "effect/Layer"
import * as pipeline from "./internal/pipeline.js"
import * as internal from "./internal/spawn.js"

/**
 * The executor as a service value, for composing by hand.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Service = { start: internal.start, startPipeline: pipeline.startPipeline, daemon: internal.daemon }

/**
 * Provides `CommandExecutor` backed by real processes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<CommandExecutor> = Layer.succeed(CommandExecutor, make)
