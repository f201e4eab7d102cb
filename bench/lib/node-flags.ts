import { givenV8Flags, nodeV8Flags, restartWithV8Flags } from '../../bin/v8-flags.js'

/**
 * Restarts this process with the V8 flags a node runs with unless it has
 * them (bin/v8-flags.js): a benchmark that runs a node's parts in its own
 * process then measures them as a node runs them. Returns the flags it runs
 * with on its command line (none where it could not restart), for the
 * processes it spawns; NODE_OPTIONS reaches those by itself.
 */
export function runAsNode (): string[] {
  // Worked out once: on a Node line other than 22 and 24 that asks `node --v8-options`.
  const flags = nodeV8Flags()
  restartWithV8Flags(flags)
  return givenV8Flags(flags)
}
