/**
 * What the console reads from this tab's copy of the catalog (the entries its
 * user may list, as the node it follows sends them): the objects and bytes of
 * a bucket, which nodes and tabs hold an object, and what each member holds.
 */
import type { Session } from './session.js'

export interface BucketTotals { objects: number, bytes: number }

export function bucketTotals (s: Session, bucket: string): BucketTotals {
  const catalog = s.tab.node?.guest.catalog
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
  holders: Array<{ id: string, state: string }>
}

/** An object's copies as the catalog knows them; undefined when this tab has not heard of it. */
export function copiesOf (s: Session, bucket: string, key: string): Copies | undefined {
  const guest = s.tab.node?.guest
  if (guest === undefined) return undefined
  const entry = guest.catalog.get(bucket, key)
  if (entry === undefined || entry.deleted) return undefined
  // The followed node tells of the durable members alive or suspected and of the tabs that follow it; others are unknown.
  const peer = (id: string): { role: string, state: string } | undefined => id === guest.self ? { role: 'guest', state: 'alive' } : guest.peers.get(id)
  const holders = entry.holders.map(id => ({ id, state: peer(id)?.state ?? 'unknown' }))
  const live = entry.holders.filter(id => peer(id)?.role === 'durable' && peer(id)?.state === 'alive').length
  const inTabs = entry.holders.filter(id => peer(id)?.role === 'guest').length
  return { live, inTabs, holders }
}

export interface Held { objects: number, bytes: number }

/** Objects and bytes each member holds, among the entries this tab's user may list. */
export function holdings (s: Session): Map<string, Held> {
  const byMember = new Map<string, Held>()
  for (const e of s.tab.node?.guest.catalog.all() ?? []) {
    if (e.key === undefined || e.deleted) continue
    for (const h of e.holders) {
      const held = byMember.get(h) ?? { objects: 0, bytes: 0 }
      held.objects++
      held.bytes += e.object?.size ?? 0
      byMember.set(h, held)
    }
  }
  return byMember
}
