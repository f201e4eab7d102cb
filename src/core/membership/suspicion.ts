/**
 * Lifeguard's dynamic suspicion timeout (memberlist suspicion.go). A suspected
 * member is declared failed after a timeout that starts at `max` and shrinks
 * towards `min` as independent members confirm the suspicion: with k expected
 * confirmations and n received, remaining = max - log(n+1)/log(k+1) x (max - min).
 */

/** memberlist's suspicionTimeout: SuspicionMult x max(1, log10(n)) x ProbeInterval. */
export function suspicionTimeout (suspicionMult: number, n: number, probeIntervalMs: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)))
  // Rounded to whole milliseconds, as memberlist rounds to the millisecond.
  return Math.floor(suspicionMult * nodeScale * probeIntervalMs)
}

/** Time left before the suspicion expires, after `elapsedMs`, with `n` of `k` confirmations. */
export function remainingSuspicionTime (n: number, k: number, elapsedMs: number, minMs: number, maxMs: number): number {
  const frac = k === 0 ? 1 : Math.log(n + 1) / Math.log(k + 1)
  const raw = maxMs - frac * (maxMs - minMs)
  const timeout = Math.max(Math.floor(raw), minMs)
  return timeout - elapsedMs
}

/** One member's suspicion: who confirmed it, and when it expires. */
export class Suspicion {
  private readonly confirmations = new Set<string>()

  /**
   * @param from the member whose suspicion started this (does not count as a confirmation)
   * @param k confirmations expected before the timeout reaches `minMs`
   */
  constructor (from: string, private readonly k: number, private readonly minMs: number, private readonly maxMs: number, private readonly startMs: number) {
    this.confirmations.add(from)
  }

  /** Records a confirmation; true when it came from a member not heard from before (worth re-gossiping). */
  confirm (from: string): boolean {
    if (this.confirmations.size - 1 >= this.k || this.confirmations.has(from)) return false
    this.confirmations.add(from)
    return true
  }

  /** When the member is to be declared failed. */
  deadline (): number {
    return this.startMs + remainingSuspicionTime(this.confirmations.size - 1, this.k, 0, this.minMs, this.maxMs)
  }
}
