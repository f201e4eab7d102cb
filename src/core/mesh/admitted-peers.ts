/** Peers remembered at most: a user with valid credentials can have any number of peer ids admitted. */
export const MAX_ADMITTED_PEERS = 16_384

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

  constructor (private readonly max = MAX_ADMITTED_PEERS) {}

  /** Notes an admission of `peer` that lasts until `expires`; a later one of the same peer replaces it. */
  admit (peer: string, expires: number, now = Date.now()): void {
    if (expires <= now) return
    // Re-inserted: the Map's order is the order last heard of.
    this.until.delete(peer)
    if (this.until.size >= this.max) this.prune(now)
    this.until.set(peer, expires)
  }

  /** Whether `peer` holds an admission this node knows of that has not expired. */
  has (peer: string, now = Date.now()): boolean {
    const expires = this.until.get(peer)
    if (expires === undefined) return false
    if (expires > now) return true
    this.until.delete(peer)
    return false
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
