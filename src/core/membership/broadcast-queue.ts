import type { Update } from './messages.js'

interface Item { update: Update, transmits: number, order: number }

/** memberlist's retransmitLimit: RetransmitMult x ceil(log10(n + 1)). */
export function retransmitLimit (retransmitMult: number, n: number): number {
  return retransmitMult * Math.ceil(Math.log10(n + 1))
}

/**
 * Updates waiting to be disseminated (memberlist's TransmitLimitedQueue). A
 * newer update about a member replaces an older one; the least transmitted go
 * first; each is dropped after the retransmit limit.
 */
export class BroadcastQueue {
  private readonly items = new Map<string, Item>()
  private counter = 0

  get size (): number { return this.items.size }

  queue (update: Update): void {
    this.items.set(update.node, { update, transmits: 0, order: this.counter++ })
  }

  /** Up to `max` updates for one message, counting a transmission for each. */
  take (max: number, limit: number): Update[] {
    const chosen = [...this.items.values()]
      .sort((a, b) => a.transmits - b.transmits || b.order - a.order)
      .slice(0, max)
    for (const item of chosen) {
      item.transmits++
      if (item.transmits >= limit) this.items.delete(item.update.node)
    }
    return chosen.map(i => i.update)
  }
}
