import { nodeV8Flags, restartWithV8Flags } from '../../bin/v8-flags.js'

/**
 * Restarts this process with the V8 flags a node runs with unless it has
 * them: a benchmark that runs a node's parts in its own process then
 * measures them as a node runs them. Returns the flags, for the processes
 * it spawns.
 */
export function runAsNode (): string[] {
  restartWithV8Flags()
  return nodeV8Flags()
}
