import type { Membership } from '../membership/membership.js'
import { decodeNodeMeta } from '../membership/node-meta.js'
import { Placement } from './placement.js'

/**
 * The durable members alive or suspected (a suspect may still answer), this
 * one included, and placement over them. Every PUT, fetch and repair pass
 * needs these: they are worked out once per member event (`update`), not per use.
 */
export class DurableMembers {
  private durable: string[] = []
  private placement = new Placement([])

  constructor (private readonly membership: Membership) {}

  update (): void {
    this.durable = this.membership.list().filter(m => (m.state === 'alive' || m.state === 'suspect') && decodeNodeMeta(m.meta)?.role === 'durable').map(m => m.id)
    this.placement = new Placement(this.durable)
  }

  list (): string[] {
    return this.durable
  }

  get size (): number {
    return this.durable.length
  }

  /** The first `n` members placement picks for (bucket, key), best first. */
  replicas (bucket: string, key: string, n: number): string[] {
    return this.placement.replicas(bucket, key, n)
  }

  /**
   * The members that keep a bucket's part of the catalog (its objects'
   * entries), best first: `n` of the durable members, by rendezvous on the
   * bucket's name. The others keep only the entries of what they hold or
   * placement gives them, and ask an owner for the rest.
   */
  owners (bucket: string, n: number): string[] {
    return this.placement.owners(bucket, n)
  }

  /** Every durable member, in placement order for (bucket, key). */
  ranking (bucket: string, key: string): string[] {
    return this.placement.replicas(bucket, key, this.placement.size)
  }

  /** Whether `id` may be asked for bytes now: a durable member alive or suspected, or any member (a tab) alive. */
  reachable (id: string): boolean {
    return this.durable.includes(id) || this.membership.get(id)?.state === 'alive'
  }
}
