/** The V8 flags a long-running node runs with on this Node.js (`major`: its major version); see v8-flags.js. */
export function nodeV8Flags (major?: number): string[]
/** Those of `flags` not already given on node's command line or in NODE_OPTIONS. */
export function missingV8Flags (flags?: string[]): string[]
/** Those of `flags` this process was started with on its command line. */
export function givenV8Flags (flags?: string[]): string[]
/** Replaces this process with one started with the flags it lacks; returns only if it has them all (or cannot). */
export function restartWithV8Flags (flags?: string[]): void
