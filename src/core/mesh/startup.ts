import type { ObjectInfo } from '../object-store.js'
import { NULL_VERSION, stampTime, type VersionSummary } from '../versioning.js'
import type { CatalogEntry } from './catalog-entry.js'
import type { CatalogStore } from './catalog-store.js'
import type { Catalog } from './catalog.js'
import type { HybridClock, Version } from './hlc.js'
import { isNoCopy, recordOf, type LocalCopies } from './local-copies.js'
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
    // A copy in a bucket since deleted (its folder kept it: the node was down) is refused by the catalog (predated), so
    // not taken in; nor deleted: a catalog that lost its last commits (a power cut) may not know yet of a bucket made
    // again since and written into, whose entries the other members still have.
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
    const held = await local.headBucket(b.name)
    const settings = known !== undefined
      ? {}
      : { ...(held.cors === undefined ? {} : { cors: held.cors }), ...(held.lifecycle === undefined ? {} : { lifecycle: held.lifecycle }), ...(held.versioning === undefined ? {} : { versioning: held.versioning }) }
    if (known !== undefined && !known.deleted && known.versioning === undefined && held.versioning !== undefined && await keepsVersions(local, b.name)) {
      // Versions made in this folder by a run without the mesh, in a bucket the mesh keeps none for: the bucket
      // keeps them from now on (its other versions would otherwise be taken for its only object).
      take({ ...known, version: copies.version(), versioning: held.versioning })
    } else {
      // A folder of a bucket the mesh does not know (or deleted) is a bucket made here, when the folder was (born).
      const made: Version = { ms: b.created.getTime(), counter: 0, node: self }
      take(known !== undefined && !known.deleted ? known : { bucket: b.name, version: made, deleted: false, holders: [], ...settings, born: made, ...(known?.ended === undefined ? {} : { ended: known.ended }) })
    }
    if (held.versioning !== undefined && local.listObjectVersions !== undefined) {
      // A bucket keeping versions: each version (and a marker left by a run without the mesh) is a slot of its own.
      let markers: { keyMarker?: string, versionIdMarker?: string } = {}
      for (;;) {
        const page = await local.listObjectVersions(b.name, { ...markers, limit: 1000, signal: o.stopping })
        for (const v of page.versions) {
          try {
            const info = v.deleteMarker ? undefined : await local.headObject(b.name, v.key, { versionId: v.versionId })
            take(versionEntry(o, b.name, v, info))
          } catch {
            // Gone meanwhile: the next start takes what is there then.
          }
        }
        const last = page.versions.at(-1)
        if (!page.isTruncated || last === undefined || o.stopping.aborted) break
        markers = { keyMarker: last.key, versionIdMarker: last.versionId }
        await breathe()
      }
      continue
    }
    let startAfter: string | undefined
    for (;;) {
      const page = await local.listObjects(b.name, { startAfter, limit: 1000 })
      for (const obj of page.objects) {
        try {
          take(localEntry(o, b.name, await local.headObject(b.name, obj.key)))
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

/** Whether a local bucket holds a version other than the null one, or a delete marker. */
async function keepsVersions (local: LocalCopies['store'], bucket: string): Promise<boolean> {
  let markers: { keyMarker?: string, versionIdMarker?: string } = {}
  for (;;) {
    const page = await local.listObjectVersions!(bucket, { ...markers, limit: 1000 })
    if (page.versions.some(v => v.versionId !== NULL_VERSION || v.deleteMarker)) return true
    const last = page.versions.at(-1)
    if (!page.isTruncated || last === undefined) return false
    markers = { keyMarker: last.key, versionIdMarker: last.versionId }
  }
}

/**
 * With a catalog kept on disk, this member's claims survive a restart; a
 * claim whose copy is gone (a file deleted while the node was down, a data
 * folder lost) is dropped here, in the background. Returns how many.
 */
export async function dropLostClaims (o: { catalog: Catalog, copies: LocalCopies, stopping: AbortSignal, lost?: (e: CatalogEntry) => void }): Promise<number> {
  const { catalog, copies } = o
  let dropped = 0
  let seen = 0
  // What the store finds by itself (files placed by hand, a rebuilt index) is found first.
  await copies.store.firstScan
  // Only a copy the store says is missing or different counts as lost: a read error does not.
  for (const bucket of catalog.bucketNames()) {
    for (const e of catalog.entries(bucket)) {
      if (o.stopping.aborted) return dropped
      if (++seen % 1000 === 0) await breathe()
      if (e.key === undefined || e.deleted || e.object === undefined || !e.holders.includes(copies.self)) continue
      const versionId = copies.localId(e)
      const head = async (): Promise<ObjectInfo | undefined | null> => await copies.store.headObject(bucket, e.key!, versionId === undefined ? {} : { versionId }).catch((err: unknown) => isNoCopy(err) ? undefined : null)
      const info = await head()
      if (info === null || info?.sha256 === e.object.sha256) continue
      // Checked again under the key's lock: a write may have brought the copy meanwhile.
      await copies.locks.run(`${bucket}\n${e.key}`, async () => {
        const now = copies.slotNow(bucket, e.key!, e.versionId)
        if (now === undefined || now.deleted || now.object === undefined || !now.holders.includes(copies.self)) return
        const again = await head()
        if (again === null || again?.sha256 === now.object.sha256) return
        catalog.dropHolder(bucket, e.key!, copies.self, now.versionId)
        o.lost?.(now)
        dropped++
      })
    }
  }
  return dropped
}

/**
 * The entry for an object (or one version of it, `info.versionId`) this
 * member holds: a copy whose content the catalog already knows in that slot
 * keeps that version; anything else is a version dated by the file (or by
 * when its version was made).
 */
function localEntry (o: { copies: LocalCopies }, bucket: string, info: ObjectInfo, made?: Date): CatalogEntry {
  const self = o.copies.self
  const slot = info.versionId === undefined || info.versionId === NULL_VERSION ? undefined : info.versionId
  const known = o.copies.slotNow(bucket, info.key, slot)
  if (known !== undefined && !known.deleted && known.object?.sha256 === info.sha256) return { ...known, holders: [self] }
  const ms = (slot === undefined ? undefined : stampTime(slot)) ?? made?.getTime() ?? info.lastModified.getTime()
  // Found in the bucket as it is now: in that bucket, whatever the file's date.
  return o.copies.inBucket({ bucket, key: info.key, ...(slot === undefined ? {} : { versionId: slot }), version: madeVersion(slot, ms, self), deleted: false, object: recordOf(info), holders: [self] })
}

/**
 * The version an adopted slot's entry gets: for a version the mesh named
 * (meshVersionId: its stamp, then its writer's id), the very version its
 * writer made it at, so the writer's entry (with its lock, which the local
 * store does not keep) merges with it rather than losing to it; else its
 * time, from this member.
 */
function madeVersion (slot: string | undefined, ms: number, self: string): Version {
  const named = slot === undefined ? null : /^([0-9a-z]{9})([0-9a-z]{4})([A-Za-z0-9]+)$/.exec(slot)
  if (named === null) return { ms, counter: 0, node: self }
  return { ms: parseInt(named[1]!, 36), counter: parseInt(named[2]!, 36), node: named[3]! }
}

/** The entry for one version in a local bucket keeping versions: its object's (localEntry), or a delete marker's, a slot of its own. */
function versionEntry (o: { copies: LocalCopies }, bucket: string, v: VersionSummary, info: ObjectInfo | undefined): CatalogEntry {
  if (info !== undefined) return localEntry(o, bucket, { ...info, versionId: v.versionId }, v.made)
  const slot = v.versionId === NULL_VERSION ? undefined : v.versionId
  const known = o.copies.slotNow(bucket, v.key, slot)
  if (known?.marker === true) return known
  const ms = (slot === undefined ? undefined : stampTime(slot)) ?? v.made?.getTime() ?? v.lastModified.getTime()
  return o.copies.inBucket({ bucket, key: v.key, ...(slot === undefined ? {} : { versionId: slot }), version: madeVersion(slot, ms, o.copies.self), marker: true, deleted: false, holders: [] })
}

/** Applies a local entry; says whether that changed the catalog, and what it says afterwards of its slot (a newer version or a delete may win). */
function takeLocal (o: { catalog: Catalog, clock: HybridClock, copies: LocalCopies }, e: CatalogEntry): { changed: boolean, entry: CatalogEntry } | undefined {
  // A file dated in the future (a skewed clock, a hand-set mtime) is versioned now instead.
  try { o.clock.observe(e.version) } catch { e.version = o.copies.version(); if (e.born !== undefined) e.born = e.version }
  const changed = o.catalog.apply(e) !== undefined
  const entry = e.key === undefined ? o.catalog.get(e.bucket) : o.copies.slotNow(e.bucket, e.key, e.versionId)
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
  const e = localEntry(o, bucket, info)
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
export async function removedByHand (o: { catalog: Catalog, copies: LocalCopies, stopping: AbortSignal, lost?: (e: CatalogEntry) => void }, bucket: string, key: string): Promise<void> {
  const { catalog, copies } = o
  await copies.locks.run(`${bucket}\n${key}`, async () => {
    // Each slot this member holds of the key (in a bucket keeping versions, the file was one of them; which one, the store knows).
    for (const e of catalog.get(bucket)?.versioning === undefined ? [catalog.get(bucket, key)] : catalog.slots(bucket, key)) {
      if (e === undefined || e.deleted || e.object === undefined || !e.holders.includes(copies.self)) continue
      // Written again since (a PUT after the file went): still held.
      const handle = await copies.openLocal(bucket, key, e.object.sha256, o.stopping, copies.localId(e))
      if (handle !== undefined) { await handle.close(); continue }
      if (e.holders.some(h => h !== copies.self)) { catalog.dropHolder(bucket, key, copies.self, e.versionId); o.lost?.(e) } else copies.publish(copies.inBucket({ bucket, key, ...(e.versionId === undefined ? {} : { versionId: e.versionId }), version: copies.version(), deleted: true, holders: [] }))
    }
  })
}
