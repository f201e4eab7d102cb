import { isS3Error } from '../errors.js'
import type { ObjectInfo } from '../object-store.js'
import type { CatalogEntry } from './catalog-entry.js'
import type { CatalogStore } from './catalog-store.js'
import type { Catalog } from './catalog.js'
import type { HybridClock } from './hlc.js'
import { recordOf, type LocalCopies } from './local-copies.js'
import type { Reconciler } from './reconciler.js'

/**
 * The catalog as this member last saw it, so a restart remembers versions
 * and deletes. Holder claims for this member are left out: what it holds is
 * whatever adoption finds in its store now.
 */
export async function loadSaved (o: { catalog: Catalog, clock: HybridClock, self: string, saved: CatalogStore, tombstoneTtlMs: number }): Promise<void> {
  const horizon = Date.now() - o.tombstoneTtlMs
  for (const e of await o.saved.load()) {
    if (e.deleted && e.key !== undefined && e.version.ms < horizon) continue
    try { o.clock.observe(e.version) } catch { continue }
    o.catalog.apply(e.holders.includes(o.self) ? { ...e, holders: e.holders.filter(h => h !== o.self) } : e)
  }
}

/**
 * The local store's buckets and objects become catalog entries: a restarted
 * member says what it holds, a new one adopts its folder. A file whose
 * content the catalog already knows keeps that version; one that a newer
 * version or a delete superseded while this member was away is removed.
 * Returns the entries to announce.
 */
export async function adoptLocal (o: { catalog: Catalog, clock: HybridClock, copies: LocalCopies, reconciler: Reconciler, stopping: AbortSignal }): Promise<CatalogEntry[]> {
  const { catalog, copies } = o
  const local = copies.store
  const self = copies.self
  const entries: CatalogEntry[] = []
  for (const b of await local.listBuckets()) {
    // A bucket the catalog knows keeps its version: a folder is not a newer creation.
    const known = catalog.get(b.name)
    const cors = known === undefined ? (await local.headBucket(b.name)).cors : undefined
    entries.push(known !== undefined && !known.deleted ? known : { bucket: b.name, version: { ms: b.created.getTime(), counter: 0, node: self }, deleted: false, holders: [], ...(cors === undefined ? {} : { cors }) })
    let startAfter: string | undefined
    for (;;) {
      const page = await local.listObjects(b.name, { startAfter, limit: 1000 })
      for (const obj of page.objects) {
        try {
          entries.push(localEntry(catalog, self, b.name, await local.headObject(b.name, obj.key)))
        } catch (err) {
          if (!isS3Error(err, 'NoSuchKey')) throw err
        }
      }
      if (!page.isTruncated || page.objects.length === 0) break
      startAfter = page.objects.at(-1)!.key
    }
  }
  const reactions: Array<Promise<void>> = []
  const deletedBuckets: string[] = []
  for (const e of entries) {
    const now = takeLocal(o, e)
    if (e.key === undefined) {
      if (now.deleted) deletedBuckets.push(e.bucket)
    } else if (now.deleted || !now.holders.includes(self)) {
      reactions.push(o.reconciler.react(now).catch(() => {}))
    }
  }
  // A deleted bucket's folder goes once the objects in it have.
  void Promise.all(reactions).then(async () => {
    for (const name of deletedBuckets) await local.deleteBucket(name, { signal: o.stopping }).catch(() => {})
  })
  return entries
}

/**
 * The entry for an object this member holds: a file whose content the
 * catalog already knows keeps that version; anything else is a version dated
 * by the file.
 */
function localEntry (catalog: Catalog, self: string, bucket: string, info: ObjectInfo): CatalogEntry {
  const known = catalog.get(bucket, info.key)
  return known !== undefined && !known.deleted && known.object?.sha256 === info.sha256
    ? { ...known, holders: [self] }
    : { bucket, key: info.key, version: { ms: info.lastModified.getTime(), counter: 0, node: self }, deleted: false, object: recordOf(info), holders: [self] }
}

/** Applies a local entry and returns what the catalog says afterwards (a newer version or a delete may win). */
function takeLocal (o: { catalog: Catalog, clock: HybridClock, copies: LocalCopies }, e: CatalogEntry): CatalogEntry {
  // A file dated in the future (a skewed clock, a hand-set mtime) is versioned now instead.
  try { o.clock.observe(e.version) } catch { e.version = o.copies.version() }
  o.catalog.apply(e)
  return o.catalog.get(e.bucket, e.key)!
}

/**
 * An object the local store adopted while running (a file placed by hand):
 * taken into the catalog as at start, and announced; superseded, it is
 * reconciled away as at start. Returns the entry to announce.
 */
export function adoptedLater (o: { catalog: Catalog, clock: HybridClock, copies: LocalCopies, reconciler: Reconciler }, bucket: string, info: ObjectInfo): CatalogEntry | undefined {
  const bucketEntry = o.catalog.get(bucket)
  if (bucketEntry === undefined || bucketEntry.deleted) return undefined
  const e = localEntry(o.catalog, o.copies.self, bucket, info)
  const now = takeLocal(o, e)
  if (now.deleted || !now.holders.includes(o.copies.self)) {
    void o.reconciler.react(now).catch(() => {})
    return undefined
  }
  return e
}
