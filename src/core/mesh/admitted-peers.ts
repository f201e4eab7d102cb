/** Peers remembered at most: a user with valid credentials can have any number of peer ids admitted. */
export const MAX_ADMITTED_PEERS = 16_384
/** Relay requests waiting at once for their peer's admission to be shown (waitFor). */
export const MAX_WAITERS = 1024
/** How long a relay request waits for its peer's admission, ms. */
export const ADMISSION_WAIT_MS = 3_000

/**
 * The peers a node knows to be admitted (tabs): those it issued an admission
 * to, and those that showed it one that checked out, each until that
 * admission expires. Its relay asks this before it gives a peer a
 * reservation or carries a circuit the peer opens: without it, anyone could
 * take every reservation (each peer id one) with keys made for the purpose.
 * At most `max` peers are kept; past that, the one whose admission was heard
 * of longest ago goes (a tab renews its admission at half its life, so a
 * live one is heard of again).
 */
export class AdmittedPeers {
  /** Peer id to its admission's expiry (ms since the epoch), in the order last heard of. */
  private readonly until = new Map<string, number>()
  /** Those waiting to hear of a peer's admission (waitFor), by peer. */
  private readonly waiting = new Map<string, Set<(admitted: boolean) => void>>()
  private waiters = 0

  constructor (private readonly max = MAX_ADMITTED_PEERS, private readonly maxWaiters = MAX_WAITERS) {}

  /** Notes an admission of `peer` that lasts until `expires`; an earlier expiry than one known (an older admission, still in use) changes nothing. */
  admit (peer: string, expires: number, now = Date.now()): void {
    if (expires <= now) return
    const known = this.until.get(peer)
    // Re-inserted: the Map's order is the order last heard of.
    this.until.delete(peer)
    if (this.until.size >= this.max) this.prune(now)
    this.until.set(peer, Math.max(expires, known ?? 0))
    const waiting = this.waiting.get(peer)
    if (waiting !== undefined) for (const tell of waiting) tell(true)
  }

  /** Whether `peer` holds an admission this node knows of that has not expired. */
  has (peer: string, now = Date.now()): boolean {
    const expires = this.until.get(peer)
    if (expires === undefined) return false
    if (expires > now) return true
    this.until.delete(peer)
    return false
  }

  /**
   * Whether `peer` is admitted, or is within `ms`: a tab that reconnects to a
   * node that restarted, or fails over to one that did not admit it, asks
   * for its relay reservation as it connects, a moment before its first
   * request shows its admission. At most MAX_WAITERS wait at once; past
   * that, the answer is what is known now.
   */
  async waitFor (peer: string, ms: number): Promise<boolean> {
    if (this.has(peer) || this.waiters >= this.maxWaiters) return this.has(peer)
    this.waiters++
    let tell!: (admitted: boolean) => void
    const heard = new Promise<boolean>(resolve => { tell = resolve })
    const set = this.waiting.get(peer) ?? new Set()
    this.waiting.set(peer, set)
    set.add(tell)
    const timer = setTimeout(() => { tell(false) }, ms)
    try {
      return await heard
    } finally {
      clearTimeout(timer)
      this.waiters--
      set.delete(tell)
      if (set.size === 0 && this.waiting.get(peer) === set) this.waiting.delete(peer)
    }
  }

  get size (): number {
    return this.until.size
  }

  /** Drops the expired, then, if still full, the peers heard of longest ago until one more fits. */
  private prune (now: number): void {
    for (const [peer, expires] of this.until) if (expires <= now) this.until.delete(peer)
    for (const peer of this.until.keys()) {
      if (this.until.size < this.max) break
      this.until.delete(peer)
    }
  }
}
