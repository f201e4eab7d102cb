import type { CatalogEntry } from './catalog-entry.js'

/** Guests named as holders of one entry, and holdings kept per guest. */
const MAX_GUEST_HOLDERS = 16
export const MAX_HOLDINGS_PER_GUEST = 10_000

/**
 * What the guests following a member hold, per object: guest id to the
 * SHA-256 of its copy. Kept on that member, not in the replicated catalog (a
 * tab's peer id is new each page load: the catalog's holder lists would only
 * grow), bounded per guest, and forgotten with the guest's feed.
 */
export class GuestHoldings {
  private readonly byObject = new Map<string, Map<string, string>>()
  private readonly byGuest = new Map<string, Set<string>>()

  /** The guest holds the version `e` names (an object entry). */
  hold (guest: string, e: CatalogEntry): void {
    const id = `${e.bucket}\n${e.key!}`
    let mine = this.byGuest.get(guest)
    if (mine === undefined) this.byGuest.set(guest, mine = new Set())
    if (!mine.has(id) && mine.size >= MAX_HOLDINGS_PER_GUEST) return
    mine.add(id)
    let held = this.byObject.get(id)
    if (held === undefined) this.byObject.set(id, held = new Map())
    held.set(guest, e.object!.sha256)
  }

  /** Whether the guest said it holds a version of `bucket`/`key` (any version: a newer one is news to it). */
  holds (guest: string, bucket: string, key: string): boolean {
    return this.byGuest.get(guest)?.has(`${bucket}\n${key}`) === true
  }

  /** The buckets the guest holds keys of. */
  bucketsOf (guest: string): Set<string> {
    const out = new Set<string>()
    for (const id of this.byGuest.get(guest) ?? []) out.add(id.slice(0, id.indexOf('\n')))
    return out
  }

  forget (guest: string): void {
    for (const id of this.byGuest.get(guest) ?? []) {
      const held = this.byObject.get(id)
      held?.delete(guest)
      if (held?.size === 0) this.byObject.delete(id)
    }
    this.byGuest.delete(guest)
  }

  /** An entry as guests see it: with the guests that hold its version (a few). */
  withGuests (e: CatalogEntry): CatalogEntry {
    const held = e.key === undefined || e.object === undefined ? undefined : this.byObject.get(`${e.bucket}\n${e.key}`)
    if (held === undefined) return e
    const guests = [...held].filter(([, sha]) => sha === e.object!.sha256).map(([id]) => id).slice(0, MAX_GUEST_HOLDERS)
    return guests.length === 0 ? e : { ...e, holders: [...new Set([...e.holders, ...guests])].sort() }
  }
}
