/**
 * What the console reads from this tab's own catalog: the entries of what it
 * holds and of the buckets its pages watch, as the node it follows sends
 * them (never the whole mesh's). Which nodes and tabs hold an object, and
 * what this tab holds.
 */
import type { Session } from './session.js'

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

/** What this tab holds: the objects whose copies are in its own store. */
export function tabHoldings (s: Session): Held {
  const guest = s.tab.node?.guest
  const held = { objects: 0, bytes: 0 }
  if (guest === undefined) return held
  for (const e of guest.catalog.all()) {
    if (e.key === undefined || e.deleted || !e.holders.includes(guest.self)) continue
    held.objects++
    held.bytes += e.object?.size ?? 0
  }
  return held
}
