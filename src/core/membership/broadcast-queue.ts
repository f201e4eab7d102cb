import type { Update } from './messages.js'

/** memberlist's retransmitLimit: RetransmitMult x ceil(log10(n + 1)). */
export function retransmitLimit (retransmitMult: number, n: number): number {
  return retransmitMult * Math.ceil(Math.log10(n + 1))
}

/** Updates sent the same number of times: a stack (newest on top) and the live entry per member. */
interface Bucket { stack: Update[], live: Map<string, Update> }

/**
 * Updates waiting to be disseminated (memberlist's TransmitLimitedQueue). A
 * newer update about a member replaces an older one; the least transmitted go
 * first and, among those, the newest (fresh news such as a refutation beats
 * old news); each is dropped after the retransmit limit. Buckets by transmit
 * count keep taking a message's worth proportional to that message, not to
 * the length of the queue.
 */
export class BroadcastQueue {
  private readonly buckets: Bucket[] = []
  /** Which bucket holds the live update about each member. */
  private readonly where = new Map<string, number>()

  get size (): number { return this.where.size }

  queue (update: Update): void {
    const t = this.where.get(update.node)
    if (t !== undefined) this.buckets[t]!.live.delete(update.node)
    this.put(0, update)
  }

  /** Up to `max` updates for one message, counting a transmission for each. */
  take (max: number, limit: number): Update[] {
    const chosen: Array<[number, Update]> = []
    for (let t = 0; t < this.buckets.length && chosen.length < max; t++) {
      const b = this.buckets[t]!
      while (chosen.length < max && b.stack.length > 0) {
        const u = b.stack.pop()!
        // Entries replaced by newer news stay in the stack until they surface here.
        if (b.live.get(u.node) !== u) continue
        b.live.delete(u.node)
        chosen.push([t, u])
      }
    }
    for (const [t, u] of chosen) {
      if (t + 1 >= limit) this.where.delete(u.node)
      else this.put(t + 1, u)
    }
    return chosen.map(([, u]) => u)
  }

  private put (t: number, u: Update): void {
    const b = (this.buckets[t] ??= { stack: [], live: new Map() })
    b.live.set(u.node, u)
    b.stack.push(u)
    this.where.set(u.node, t)
    // Keep replaced entries from piling up in a stack that is rarely drained.
    if (b.stack.length > 2 * b.live.size + 64) b.stack = b.stack.filter(x => b.live.get(x.node) === x)
  }
}
