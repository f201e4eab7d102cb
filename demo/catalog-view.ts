/**
 * What the console reads from this tab's copy of the cluster catalog: the
 * objects and bytes of a bucket, how many live copies an object has against
 * how many it should, and what each member holds.
 */
import { decodeNodeMeta } from '../src/core/membership/node-meta.js'
import type { Session } from './session.js'

export interface BucketTotals { objects: number, bytes: number }

export function bucketTotals (s: Session, bucket: string): BucketTotals {
  const catalog = s.tab.node?.node.catalog
  if (catalog === undefined) return { objects: NaN, bytes: NaN }
  let bytes = 0
  let objects = 0
  for (const e of catalog.entries(bucket)) {
    if (e.key === undefined || e.deleted) continue
    objects++
    bytes += e.object?.size ?? 0
  }
  return { objects, bytes }
}

export interface Copies {
  /** Durable holders (Node nodes) alive now: the copies that count. */
  live: number
  /** Browser tabs holding a copy too (a cache: a tab may close at any moment). */
  inTabs: number
  /** Copies the object should have (fewer when fewer durable members are alive). */
  wanted: number
  holders: Array<{ id: string, state: string }>
}

/** An object's copies as the catalog knows them; undefined when this tab has not heard of it. */
export function copiesOf (s: Session, bucket: string, key: string): Copies | undefined {
  const node = s.tab.node?.node
  if (node === undefined) return undefined
  const where = node.locate(bucket, key)
  if (where.entry === undefined || where.entry.deleted) return undefined
  const roles = new Map((s.tab.membership?.list() ?? []).map(m => [m.id, decodeNodeMeta(m.meta)?.role]))
  const alive = where.holders.filter(h => h.state === 'alive')
  const live = alive.filter(h => roles.get(h.id) === 'durable').length
  return { live, inTabs: alive.length - live, wanted: Math.max(1, where.placement.length), holders: where.holders }
}

export interface Held { objects: number, bytes: number }

/**
 * Objects and bytes each member holds, and the tab's own mesh member's count
 * of objects with fewer live copies than wanted (its upkeep pass counts them
 * every second, by the same rule the nodes report in their metrics).
 */
export function holdings (s: Session): { byMember: Map<string, Held>, under: number, total: number } {
  const node = s.tab.node?.node
  const byMember = new Map<string, Held>()
  if (node === undefined) return { byMember, under: 0, total: 0 }
  for (const e of node.catalog.all()) {
    if (e.key === undefined || e.deleted) continue
    for (const h of e.holders) {
      const held = byMember.get(h) ?? { objects: 0, bytes: 0 }
      held.objects++
      held.bytes += e.object?.size ?? 0
      byMember.set(h, held)
    }
  }
  return { byMember, under: node.stats.underReplicated, total: node.stats.objects }
}
