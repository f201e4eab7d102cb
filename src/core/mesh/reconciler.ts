import type { CatalogEntry } from './catalog-entry.js'
import type { Catalog } from './catalog.js'
import { ClockDriftError, type HybridClock } from './hlc.js'
import type { LocalCopies } from './local-copies.js'

export interface ReconcilerOptions {
  copies: LocalCopies
  catalog: Catalog
  clock: HybridClock
  /** Tombstones older than this are forgotten everywhere; one arriving late is not taken back in. */
  tombstoneTtlMs: number
  /** An entry refused because its clock was too far ahead. */
  onDriftRefused: () => void
  stopping: AbortSignal
  /** Whether this member keeps an entry it does not have yet (a partitioned catalog); else every entry is kept. */
  keeps?: (e: CatalogEntry) => boolean
  /** Hears of every entry heard and not kept (a guest following a bucket this member does not own is told of it). */
  passedOn?: (e: CatalogEntry) => void
}

/**
 * Takes in what other members say (announcements, anti-entropy): merges
 * each entry into the catalog, then brings this member's own copies in line
 * with what changed. A delete or a newer version removes a stale local copy;
 * a version whose bytes are already here (an earlier copy, an adopted
 * hand-placed file) is claimed; a deleted bucket's empty folder goes.
 */
export class Reconciler {
  /** Local copies being dropped, by bucket (see dropPredated), settled once all have gone: a deleted bucket's folder goes after them. */
  private readonly dropping = new Map<string, Promise<void>>()

  constructor (private readonly o: ReconcilerOptions) {
    const onPredated = (evt: CustomEvent<CatalogEntry>): void => {
      const { bucket } = evt.detail
      const dropping = this.dropPredated(evt.detail).catch(() => {})
      const all = (this.dropping.get(bucket) ?? Promise.resolve()).then(async () => { await dropping })
      this.dropping.set(bucket, all)
      void all.then(() => { if (this.dropping.get(bucket) === all) this.dropping.delete(bucket) })
    }
    o.catalog.addEventListener('predated', onPredated)
    o.stopping.addEventListener('abort', () => { o.catalog.removeEventListener('predated', onPredated) }, { once: true })
  }

  receive (entries: CatalogEntry[]): void {
    for (const e of entries) {
      try {
        this.o.clock.observe(e.version)
      } catch (err) {
        if (!(err instanceof ClockDriftError)) throw err
        this.o.onDriftRefused()
        continue
      }
      // A tombstone past its time, from a member that has not dropped it yet: already dropped here.
      if (e.deleted && e.key !== undefined && e.version.ms < Date.now() - this.o.tombstoneTtlMs) continue
      // Not this member's business (a bucket it does not own, a key it neither holds nor should): passed on, not kept.
      if (this.o.keeps?.(e) === false && this.o.catalog.get(e.bucket, e.key) === undefined) { this.o.passedOn?.(e); continue }
      const merged = this.o.catalog.apply(e)
      if (merged === undefined) continue
      if (merged.key !== undefined) void this.react(merged).catch(() => {})
      // A bucket deleted elsewhere: its (empty) folder goes here too, after any copies written into it here while cut off
      // from the delete (dropPredated); one still holding uploads stays.
      else if (merged.deleted) {
        const bucket = merged.bucket
        void (this.dropping.get(bucket) ?? Promise.resolve()).then(async () => { await this.o.copies.store.deleteBucket(bucket, { signal: this.o.stopping }) }).catch(() => {})
      }
    }
  }

  /**
   * The local copy of a slot the catalog took out because the bucket it was
   * made in was deleted (Catalog's `predated`): it goes, unless the key's
   * slot has since been written here again, in the bucket as it is now.
   */
  async dropPredated (e: CatalogEntry): Promise<void> {
    const { bucket, key, object } = e
    const copies = this.o.copies
    if (object === undefined) return
    await copies.locks.run(`${bucket}\n${key!}`, async () => {
      if (copies.slotNow(bucket, key!, e.versionId)?.holders.includes(copies.self) === true) return
      const id = copies.localId(e)
      const handle = await copies.openLocal(bucket, key!, object.sha256, this.o.stopping, id)
      if (handle === undefined) return
      await handle.close()
      await copies.deleteLocal(bucket, key!, this.o.stopping, id)
    })
  }

  /** Brings the local copy of one slot of a key (its version; in a bucket never versioned, its one object) in line with the catalog's entry for it. */
  async react (entry: CatalogEntry): Promise<void> {
    const { bucket, key } = entry
    const copies = this.o.copies
    await copies.locks.run(`${bucket}\n${key!}`, async () => {
      const now = copies.slotNow(bucket, key!, entry.versionId)
      if (now === undefined || now.holders.includes(copies.self)) return
      // A delete marker in a slot of its own never had bytes: nothing here to claim or drop. (One in the null
      // slot, a suspended bucket's delete, replaced the null version: that copy goes.)
      if (now.marker === true && now.versionId !== undefined) return
      // A new version elsewhere of a key nothing is kept under here (nearly every write): no copy to claim or
      // drop. A delete still looks for one to remove.
      const gone = now.deleted || now.marker === true
      if (!gone && copies.surelyLacks(now)) return
      const id = copies.localId(now)
      const handle = gone ? undefined : await copies.openLocal(bucket, key!, now.object!.sha256, this.o.stopping, id)
      if (handle !== undefined) {
        // We already have these bytes (an earlier copy, or a hand-placed file the store had adopted): say so.
        await handle.close()
        copies.publish({ ...now, holders: [...now.holders, copies.self].sort() })
        return
      }
      // A delete, or a version we do not hold: our copy of this slot (if any) is stale. Other versions stay.
      await copies.deleteLocal(bucket, key!, this.o.stopping, id)
    })
  }
}
