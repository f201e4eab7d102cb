import type { Membership } from '../membership/membership.js'
import { decodeNodeMeta } from '../membership/node-meta.js'
import type { CatalogEntry } from './catalog-entry.js'
import { Placement } from './placement.js'

/**
 * The durable members alive or suspected (a suspect may still answer), this
 * one included, and placement over them. Every PUT, fetch and repair pass
 * needs these: they are worked out once per member event (`update`), not per use.
 *
 * The catalog's owners are chosen among these and the durable members gone
 * (failed, left) less than `ownerGraceMs` ago: a member restarted or briefly
 * cut off finds its buckets still its own, instead of every other member
 * moving whole buckets away and back (Dynamo and Cassandra keep ranges on a
 * member that is down, too). Meanwhile its buckets are read from their other
 * owners, and a bucket whose owners are all gone is owned by the members
 * alive (as without the grace).
 */
export class DurableMembers {
  private durable: string[] = []
  private live = new Set<string>()
  private placement = new Placement([])
  /** Durable members gone within the grace: since when (ms), and the start time their meta said then. */
  private readonly gone = new Map<string, { since: number, started?: number }>()
  private ownerPlacement = new Placement([])
  /**
   * Counts the durable members that came back without having restarted (the
   * same start time): cut off, not down, so what either side wrote meanwhile
   * may have missed the other (a partitioned catalog hands over whole then).
   */
  rejoins = 0

  constructor (private readonly membership: Membership, private readonly ownerGraceMs = 0, private readonly now: () => number = Date.now) {}

  update (): void {
    const before = this.durable
    this.durable = this.membership.list().filter(m => (m.state === 'alive' || m.state === 'suspect') && decodeNodeMeta(m.meta)?.role === 'durable').map(m => m.id)
    this.placement = new Placement(this.durable)
    const t = this.now()
    const now = this.live = new Set(this.durable)
    const started = (id: string): number | undefined => {
      const meta = this.membership.get(id)?.meta
      return meta === undefined ? undefined : decodeNodeMeta(meta)?.started
    }
    for (const id of before) if (!now.has(id) && !this.gone.has(id)) this.gone.set(id, { since: t, started: started(id) })
    for (const [id, g] of this.gone) {
      if (now.has(id)) {
        if (g.started === undefined || g.started === started(id)) this.rejoins++
        this.gone.delete(id)
      } else if (t - g.since >= this.ownerGraceMs) {
        this.gone.delete(id)
      }
    }
    this.ownerPlacement = new Placement([...this.durable, ...this.gone.keys()])
  }

  /** The durable members (alive or suspect) whose release does not announce `feature` (a bit of NodeMeta.caps). */
  lacking (feature: number): string[] {
    return this.durable.filter(id => {
      const meta = this.membership.get(id)?.meta
      return meta === undefined || ((decodeNodeMeta(meta)?.caps ?? 0) & feature) === 0
    })
  }

  /** Whether a gone member's grace has ended since the last update: ownership moves at the next one. */
  get graceEnded (): boolean {
    const t = this.now()
    for (const g of this.gone.values()) if (t - g.since >= this.ownerGraceMs) return true
    return false
  }

  /** The members the catalog's owners are chosen among: the durable members and those gone within the grace. */
  owning (): string[] {
    return [...this.durable, ...this.gone.keys()]
  }

  /** How many members the catalog's owners are chosen among. */
  get owningSize (): number {
    return this.ownerPlacement.size
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
   * The `n` members that should hold a version: placement's picks for its
   * key, except that a durable member alive or suspected that holds it
   * outside them stands in for the lowest-ranked pick that lacks it. A
   * writer placement leaves out keeps the copy it made and pushes one fewer
   * (Replicator): a write makes R copies, not R + 1, and none is fetched
   * again where the writer's copy stands in. Once a holder is gone, the
   * pick it stood in for is one again and fetches the version.
   */
  placed (e: Pick<CatalogEntry, 'bucket' | 'key' | 'holders'>, n: number): string[] {
    const top = this.placement.replicas(e.bucket, e.key!, n)
    let outside: string[] | undefined
    for (const h of e.holders) if (this.live.has(h) && !top.includes(h)) (outside ??= []).push(h)
    if (outside === undefined) return top
    const lacking = top.filter(id => !e.holders.includes(id))
    const k = Math.min(outside.length, lacking.length)
    if (k === 0) return top
    // The holders list is sorted: every member picks the same stand-ins.
    const replaced = new Set(lacking.slice(lacking.length - k))
    return [...top.filter(id => !replaced.has(id)), ...outside.slice(0, k)]
  }

  /**
   * The members that keep a bucket's part of the catalog (its objects'
   * entries), best first: `n` of the durable members, by rendezvous on the
   * bucket's name. The others keep only the entries of what they hold or
   * placement gives them, and ask an owner for the rest.
   */
  owners (bucket: string, n: number): string[] {
    const chosen = this.ownerPlacement.owners(bucket, n)
    // Every owner gone (within the grace): the bucket is not left without an answer; the members alive own it meanwhile.
    return chosen.some(id => this.live.has(id)) ? chosen : this.placement.owners(bucket, n)
  }

  /** Whether `id` is a durable member alive or suspected (not one gone within the grace). */
  has (id: string): boolean {
    return this.live.has(id)
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
