/**
 * Hybrid logical clock (Kulkarni et al., 2014): timestamps that follow wall
 * time closely, never go backwards on one node, and order every event after
 * any event the node has heard of, even when clocks are skewed. Versions of
 * objects are (timestamp, node id): last writer wins, ties broken by node id.
 */

/** One point in hybrid logical time: wall ms, then a counter for events in the same ms. */
export interface Timestamp {
  /** Milliseconds since the epoch, at least the largest seen. */
  ms: number
  /** Events within the same `ms`. */
  counter: number
}

/** A version of an object: the writer's clock reading and its id. */
export interface Version extends Timestamp {
  node: string
}

/** How far ahead of our own clock a received timestamp may be before it is refused, ms. */
export const DEFAULT_MAX_DRIFT_MS = 60_000

export class ClockDriftError extends Error {
  override name = 'ClockDriftError'
}

export class HybridClock {
  private last: Timestamp = { ms: 0, counter: 0 }

  /**
   * @param now the wall clock (injected: virtual time in tests)
   * @param maxDriftMs remote timestamps further ahead than this are refused,
   *   so one peer with a clock years ahead cannot pin every version after it
   */
  constructor (private readonly now: () => number = Date.now, private readonly maxDriftMs = DEFAULT_MAX_DRIFT_MS) {}

  /** A timestamp for a local event (a write): after everything seen so far. */
  tick (): Timestamp {
    const wall = Math.floor(this.now())
    this.last = wall > this.last.ms ? { ms: wall, counter: 0 } : { ms: this.last.ms, counter: this.last.counter + 1 }
    return this.last
  }

  /** Takes in a timestamp heard from another node, so that later local events order after it. */
  observe (remote: Timestamp): void {
    const wall = Math.floor(this.now())
    if (remote.ms - wall > this.maxDriftMs) throw new ClockDriftError(`A peer's clock is ${remote.ms - wall} ms ahead of ours (at most ${this.maxDriftMs} allowed).`)
    if (compareTimestamps(remote, this.last) > 0) this.last = { ms: remote.ms, counter: remote.counter }
  }
}

export function compareTimestamps (a: Timestamp, b: Timestamp): number {
  return a.ms - b.ms || a.counter - b.counter
}

/** Total order of versions: later timestamp wins, then the larger node id. */
export function compareVersions (a: Version, b: Version): number {
  return compareTimestamps(a, b) || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)
}

/**
 * A version as a string that sorts like the version (fixed-width hex), for
 * keys and headers: `0000018c2a3b4c5d-0000-<node>`.
 */
export function formatVersion (v: Version): string {
  return `${v.ms.toString(16).padStart(12, '0')}-${v.counter.toString(16).padStart(4, '0')}-${v.node}`
}

export function parseVersion (s: string): Version | undefined {
  const m = /^([0-9a-f]{12})-([0-9a-f]{4,})-(.+)$/.exec(s)
  if (m === null) return undefined
  return { ms: parseInt(m[1]!, 16), counter: parseInt(m[2]!, 16), node: m[3]! }
}
