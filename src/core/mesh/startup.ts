import { isS3Error } from '../errors.js'
import type { ObjectInfo } from '../object-store.js'
import { isVersionedSlot, type CatalogEntry } from './catalog-entry.js'
import type { CatalogStore } from './catalog-store.js'
import type { Catalog } from './catalog.js'
import type { HybridClock } from './hlc.js'
import { recordOf, type LocalCopies } from './local-copies.js'
import type { Reconciler } from './reconciler.js'

/**
 * The catalog as this member last saw it, so a restart remembers versions
 * and deletes. Holder claims for this member are left out: what it holds is
 * whatever adoption finds in its store now. Returns how many entries were loaded.
 */
export async function loadSaved (o: { catalog: Catalog, clock: HybridClock, self: string, saved: CatalogStore, tombstoneTtlMs: number }): Promise<number> {
  const horizon = Date.now() - o.tombstoneTtlMs
  const entries = await o.saved.load()
  for (const e of entries) {
    if (e.deleted && e.key !== undefined && e.version.ms < horizon) continue
    try { o.clock.observe(e.version) } catch { continue }
    o.catalog.apply(e.holders.includes(o.self) ? { ...e, holders: e.holders.filter(h => h !== o.self) } : e)
  }
  return entries.length
}

/** Lets the event loop run (timers, I/O) between pages of a long walk; platform-neutral. */
async function breathe (): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, 0))
}

/**
 * The local store's buckets and objects become catalog entries: a restarted
 * member says what it holds, a new one adopts its folder. A file whose
 * content the catalog already knows keeps that version; one that a newer
 * version or a delete superseded while this member was away is removed.
 * Walks a page at a time, yielding between pages, so it can run in the
 * background of a member that is already serving. Returns the entries that
 * changed the catalog, to announce.
 */
export async function adoptLocal (o: { catalog: Catalog, clock: HybridClock, copies: LocalCopies, reconciler: Reconciler, stopping: AbortSignal }): Promise<CatalogEntry[]> {
  const { catalog, copies } = o
  const local = copies.store
  const self = copies.self
  const announce: CatalogEntry[] = []
  const reactions: Array<Promise<void>> = []
  const deletedBuckets: string[] = []
  const take = (e: CatalogEntry): void => {
    const now = takeLocal(o, e)
    if (now === undefined) return
    if (now.changed) announce.push(e)
    const after = now.entry
    // Superseded while this member was away (a newer version, a delete): the catalog's entry decides.
    if (e.key === undefined) {
      if (after.deleted) deletedBuckets.push(e.bucket)
    } else if (after.deleted || !after.holders.includes(self)) {
      reactions.push(o.reconciler.react(after).catch(() => {}))
    }
  }
  for (const b of await local.listBuckets()) {
    if (o.stopping.aborted) break
    // A bucket the catalog knows keeps its version: a folder is not a newer creation.
    const known = catalog.get(b.name)
    const held = known === undefined ? await local.headBucket(b.name) : undefined
    const settings = { ...(held?.cors === undefined ? {} : { cors: held.cors }), ...(held?.lifecycle === undefined ? {} : { lifecycle: held.lifecycle }) }
    take(known !== undefined && !known.deleted ? known : { bucket: b.name, version: { ms: b.created.getTime(), counter: 0, node: self }, deleted: false, holders: [], ...settings })
    let startAfter: string | undefined
    for (;;) {
      const page = await local.listObjects(b.name, { startAfter, limit: 1000 })
      for (const obj of page.objects) {
        try {
          take(localEntry(catalog, self, b.name, await local.headObject(b.name, obj.key)))
        } catch {
          // Gone meanwhile, or changing on disk: the next start or the store's next adoption takes it.
        }
      }
      if (!page.isTruncated || page.objects.length === 0 || o.stopping.aborted) break
      startAfter = page.objects.at(-1)!.key
      await breathe()
    }
  }
  // A deleted bucket's folder goes once the objects in it have.
  void Promise.all(reactions).then(async () => {
    for (const name of deletedBuckets) await local.deleteBucket(name, { signal: o.stopping }).catch(() => {})
  })
  return announce
}

/**
 * With a catalog kept on disk, this member's claims survive a restart; a
 * claim whose copy is gone (a file deleted while the node was down, a data
 * folder lost) is dropped here, in the background. Returns how many.
 */
export async function dropLostClaims (o: { catalog: Catalog, copies: LocalCopies, stopping: AbortSignal }): Promise<number> {
  const { catalog, copies } = o
  let dropped = 0
  let seen = 0
  // What the store finds by itself (files placed by hand, a rebuilt index) is found first.
  await copies.store.firstScan
  // Only a copy the store says is missing or different counts as lost: a read error does not.
  const gone = (err: unknown): boolean => isS3Error(err, 'NoSuchKey') || isS3Error(err, 'NoSuchBucket')
  for (const bucket of catalog.bucketNames()) {
    for (const e of catalog.entries(bucket)) {
      if (o.stopping.aborted) return dropped
      if (++seen % 1000 === 0) await breathe()
      if (e.key === undefined || e.deleted || e.object === undefined || !e.holders.includes(copies.self)) continue
      const info = await copies.store.headObject(bucket, e.key).catch((err: unknown) => gone(err) ? undefined : null)
      if (info === null || info?.sha256 === e.object.sha256) continue
      // Checked again under the key's lock: a write may have brought the copy meanwhile.
      await copies.locks.run(`${bucket}\n${e.key}`, async () => {
        const now = catalog.get(bucket, e.key)
        if (now === undefined || now.deleted || now.object === undefined || !now.holders.includes(copies.self)) return
        const again = await copies.store.headObject(bucket, e.key!).catch((err: unknown) => gone(err) ? undefined : null)
        if (again === null || again?.sha256 === now.object.sha256) return
        catalog.dropHolder(bucket, e.key!, copies.self, now.versionId)
        dropped++
      })
    }
  }
  return dropped
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

/** Applies a local entry; says whether that changed the catalog, and what it says afterwards (a newer version or a delete may win). */
function takeLocal (o: { catalog: Catalog, clock: HybridClock, copies: LocalCopies }, e: CatalogEntry): { changed: boolean, entry: CatalogEntry } | undefined {
  // A file dated in the future (a skewed clock, a hand-set mtime) is versioned now instead.
  try { o.clock.observe(e.version) } catch { e.version = o.copies.version() }
  const changed = o.catalog.apply(e) !== undefined
  const entry = o.catalog.get(e.bucket, e.key)
  return entry === undefined ? undefined : { changed, entry }
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
  if (now === undefined) return undefined
  if (now.entry.deleted || !now.entry.holders.includes(o.copies.self)) {
    void o.reconciler.react(now.entry).catch(() => {})
    return undefined
  }
  return now.changed ? e : undefined
}

/**
 * This member's copy of an object was deleted by hand (its file removed from
 * a bucket folder), checked again under the key's lock. Its claim goes. If no
 * other member holds that version, the object is gone: a delete is made and
 * announced, as an `rm` of the only copy means. Otherwise repair brings the
 * copies placement wants back (a member's folder is not where a replicated
 * object is deleted: S3 is).
 */
export async function removedByHand (o: { catalog: Catalog, copies: LocalCopies, stopping: AbortSignal }, bucket: string, key: string): Promise<void> {
  const { catalog, copies } = o
  await copies.locks.run(`${bucket}\n${key}`, async () => {
    const e = catalog.get(bucket, key)
    // A head that is a version or a marker is not this release's to drop or replace (docs/plans/versioning.md, increment 5).
    if (e === undefined || e.deleted || e.object === undefined || !e.holders.includes(copies.self) || isVersionedSlot(e)) return
    // Written again since (a PUT after the file went): still held.
    const handle = await copies.openLocal(bucket, key, e.object.sha256, o.stopping)
    if (handle !== undefined) { await handle.close(); return }
    if (e.holders.some(h => h !== copies.self)) catalog.dropHolder(bucket, key, copies.self, e.versionId)
    else copies.publish({ bucket, key, version: copies.version(), deleted: true, holders: [] })
  })
}
