import { TypedEventEmitter } from 'main-event'
import { compareKeys } from '../key-order.js'
import { afterMarker, NULL_VERSION } from '../versioning.js'
import { createdOf, endedNow, headOf, isLiveObject, isVersionedSlot, lockText, mergeEntries, predated, sameEntry, slotOf, type CatalogEntry } from './catalog-entry.js'
import { MemoryCatalogTable, type BucketState, type CatalogTable, type Digest, type SlotRow } from './catalog-table.js'
import { compareVersions, formatVersion } from './hlc.js'
import { hash64, objectHash } from './placement.js'

/**
 * Anti-entropy splits each bucket's entries into this many ranges (by a hash
 * of the key), each with its own digest, so that two members whose buckets
 * differ exchange only the ranges that differ.
 */
export const DIGEST_RANGES = 64

export type { Digest } from './catalog-table.js'

/** Which digest range a key falls in. */
export function rangeOf (bucket: string, key: string): number {
  return objectHash(bucket, key)[0] % DIGEST_RANGES
}

/**
 * 64 bits that change with anything an entry says (slot, version, tombstone,
 * marker, content, holders): the digests' parts, and what a hand-over
 * compares before it sends entries whole. A `null` slot's is what it was
 * before slots, so members of either release agree on unversioned buckets
 * (but for a tag edit's, which has a `created` of its own).
 */
export function fingerprint (e: CatalogEntry): readonly [number, number] {
  const slot = !isVersionedSlot(e) ? '' : `\n${e.versionId ?? ''}\n${formatVersion(createdOf(e))}\n${e.marker === true ? 1 : 0}`
  // A lock only where there is one: every other entry's fingerprint is what it was before object lock. So with a
  // bucket's deleted buckets (a member that missed a delete learns it from a digest).
  const lock = lockText(e)
  const ended = e.ended === undefined ? '' : `\nended ${e.ended.map(formatVersion).join(',')}`
  return hash64(`${e.bucket}\n${e.key ?? ''}\n${formatVersion(e.version)}\n${e.deleted ? 1 : 0}\n${e.object?.sha256 ?? ''}\n${e.holders.join(',')}${slot}${lock === '' ? '' : `\n${lock}`}${ended}`)
}

function addTo (d: Digest, f: readonly [number, number], sign: 1 | -1): void {
  d.a = (d.a + sign * f[0]) >>> 0
  d.b = (d.b + sign * f[1]) >>> 0
}

export interface CatalogEvents {
  /** Fired with the merged entry whenever an apply changed what the catalog says. */
  change: CustomEvent<CatalogEntry>
  /** Fired after `change` when an apply replaced the version in an object's slot (newer, or a delete): the slot's entry before and after. */
  replaced: CustomEvent<{ before: CatalogEntry, after: CatalogEntry }>
  /** Fired when a key's head (its current version) moved to another slot: the head before and after (absent: the key has no slot left). */
  head: CustomEvent<{ bucket: string, key: string, before: CatalogEntry, after?: CatalogEntry }>
  /** Fired when `evict` took a slot of a key out (it is no longer known here, which is not a delete). */
  evicted: CustomEvent<{ bucket: string, key: string }>
  /** Fired for each object slot taken out because the bucket it was made in was deleted (see predated): a local copy of it goes too. */
  predated: CustomEvent<CatalogEntry>
}

/** One version in a listing of versions (versionPage): a slot that is not a tombstone, and whether it is its key's head. */
export interface VersionRow { entry: CatalogEntry, latest: boolean }

/**
 * The cluster-wide index: the newest known version of every bucket and of
 * every slot of every object (see CatalogEntry), tombstones included, and
 * who holds each version. It only merges (see mergeEntries), so every member
 * that has applied the same entries, in whatever order and however often,
 * says the same thing, heads included.
 */
export class Catalog extends TypedEventEmitter<CatalogEvents> {
  private readonly buckets: Map<string, BucketState>

  /** @param table where object entries live: memory unless given (a Node node's is on disk). */
  constructor (private readonly table: CatalogTable = new MemoryCatalogTable()) {
    super()
    this.buckets = table.loadBuckets()
    table.onRolledBack = buckets => { for (const b of buckets) this.recount(b) }
    // A state saved before its bytes or versions were kept: counted once, from its rows.
    for (const [name, b] of this.buckets) if (b.bytes === undefined || b.versions === undefined) this.recount(name)
  }

  /** A bucket's live count and digests, recounted from its rows (after the table lost writes). */
  private recount (bucket: string): void {
    const b = this.buckets.get(bucket)
    if (b === undefined) return
    b.ranges = emptyRanges()
    b.live = 0
    b.bytes = 0
    b.versions = 0
    b.versionBytes = 0
    if (b.entry !== undefined) addTo(b.ranges[DIGEST_RANGES]!, fingerprint(b.entry), 1)
    // Slots come in key order: each key's head is worked out from its run.
    let run: CatalogEntry[] = []
    const endRun = (): void => {
      const head = headOf(run)
      if (isLiveObject(head)) { b.live++; b.bytes! += head!.object!.size }
      run = []
    }
    for (const e of this.table.values(bucket)) {
      if (run.length > 0 && run[0]!.key !== e.key) endRun()
      run.push(e)
      addTo(b.ranges[rangeOf(bucket, e.key!)]!, fingerprint(e), 1)
      b.versions += kept(e)
      b.versionBytes += keptBytes(e)
    }
    endRun()
    this.table.saveBucket(bucket, b)
  }

  /** Merges an entry in; returns the merged entry if that changed anything. */
  apply (given: CatalogEntry): CatalogEntry | undefined {
    // One form for a version made at its slot's last change (the codec drops such a `created` too), so fingerprints agree.
    const entry = given.created !== undefined && compareVersions(given.created, given.version) === 0 ? withoutCreated(given) : given
    const b = this.record(entry.bucket)
    const key = entry.key
    // Made in a bucket of this name since deleted: not kept.
    if (predated(b.entry, entry)) return undefined
    const rows = key === undefined ? undefined : this.table.slots(entry.bucket, key)
    const slot = slotOf(entry)
    const current = rows === undefined ? b.entry : rows.find(r => slotOf(r.entry) === slot)?.entry
    const merged = current === undefined ? entry : mergeEntries(current, entry)
    if (current !== undefined && (merged === current || sameEntry(merged, current))) return undefined
    if (rows === undefined) this.replaceBucket(b, current, merged)
    else this.rewrite(b, entry.bucket, key!, rows, slot, merged)
    this.safeDispatchEvent('change', { detail: merged })
    if (rows === undefined && endsMore(current, merged)) this.dropPredated(b, merged.bucket)
    if (current !== undefined && key !== undefined && this.listenerCount('replaced') > 0 && compareVersions(current.version, merged.version) !== 0) this.safeDispatchEvent('replaced', { detail: { before: current, after: merged } })
    return merged
  }

  /**
   * Sets what this member's own claim says, outside the merge: its claim to
   * hold `entry`'s version is dropped (its copy is gone, found at a restart).
   * Merging only ever adds holders, so this is the one way to take one away;
   * others learn it when they find the copy missing.
   */
  dropHolder (bucket: string, key: string, holder: string, versionId?: string): void {
    const b = this.buckets.get(bucket)
    if (b === undefined) return
    const rows = this.table.slots(bucket, key)
    const slot = versionId ?? ''
    const current = rows.find(r => slotOf(r.entry) === slot)?.entry
    if (current === undefined || !current.holders.includes(holder)) return
    this.rewrite(b, bucket, key, rows, slot, { ...current, holders: current.holders.filter(h => h !== holder) })
  }

  /**
   * Takes out every slot made in a bucket of this name since deleted (see
   * predated), counts and digests with them: once for each delete heard of.
   * Read whole before any goes, so the walk does not see its own removals.
   */
  private dropPredated (b: BucketState, bucket: string): void {
    const old: CatalogEntry[] = []
    for (const e of this.table.values(bucket)) if (predated(b.entry, e)) old.push(e)
    for (const e of old) {
      const rows = this.table.slots(bucket, e.key!)
      if (!rows.some(r => slotOf(r.entry) === slotOf(e))) continue
      this.rewrite(b, bucket, e.key!, rows, slotOf(e), undefined)
      this.safeDispatchEvent('predated', { detail: e })
    }
  }

  private replaceBucket (b: BucketState, current: CatalogEntry | undefined, merged: CatalogEntry): void {
    const range = b.ranges[DIGEST_RANGES]!
    if (current !== undefined) addTo(range, fingerprint(current), -1)
    addTo(range, fingerprint(merged), 1)
    b.entry = merged
    this.table.saveBucket(merged.bucket, b)
  }

  /**
   * Writes one slot of a key (`next`), or takes it out (`undefined`), given
   * the key's rows as they were: the digest, the counts and the key's head
   * follow, and `head` is told when the head moved to another slot.
   */
  private rewrite (b: BucketState, bucket: string, key: string, rows: SlotRow[], slot: string, next: CatalogEntry | undefined): void {
    const range = rangeOf(bucket, key)
    const current = rows.find(r => slotOf(r.entry) === slot)?.entry
    const before = rows.find(r => r.head)?.entry
    const others = rows.flatMap(r => slotOf(r.entry) === slot ? [] : [r.entry])
    const after = headOf(next === undefined ? others : [...others, next])
    const digest = b.ranges[range]!
    if (current !== undefined) addTo(digest, fingerprint(current), -1)
    if (next !== undefined) addTo(digest, fingerprint(next), 1)
    b.versions = (b.versions ?? 0) + kept(next) - kept(current)
    b.versionBytes = (b.versionBytes ?? 0) + keptBytes(next) - keptBytes(current)
    b.live += (isLiveObject(after) ? 1 : 0) - (isLiveObject(before) ? 1 : 0)
    b.bytes = (b.bytes ?? 0) + liveBytes(after) - liveBytes(before)
    const afterSlot = after === undefined ? undefined : slotOf(after)
    const beforeSlot = before === undefined ? undefined : slotOf(before)
    if (next === undefined) this.table.delete(bucket, key, slot)
    else this.table.set(bucket, key, range, next, afterSlot === slot)
    if (beforeSlot !== undefined && beforeSlot !== slot && beforeSlot !== afterSlot) this.table.setHead(bucket, key, beforeSlot, false)
    if (afterSlot !== undefined && afterSlot !== slot && afterSlot !== beforeSlot) this.table.setHead(bucket, key, afterSlot, true)
    this.table.saveBucket(bucket, b)
    if (before !== undefined && afterSlot !== beforeSlot && this.listenerCount('head') > 0) this.safeDispatchEvent('head', { detail: { bucket, key, before, ...(after === undefined ? {} : { after }) } })
  }

  /** The entry for a bucket (key absent) or an object's head (its current version, or the tombstone removed last), tombstones included. */
  get (bucket: string, key?: string): CatalogEntry | undefined {
    if (key === undefined) return this.buckets.get(bucket)?.entry
    return this.buckets.has(bucket) ? this.table.get(bucket, key) : undefined
  }

  /** One slot of an object (`versionId` absent: the `null` slot), tombstones included. */
  slot (bucket: string, key: string, versionId?: string): CatalogEntry | undefined {
    if (!this.buckets.has(bucket)) return undefined
    const slot = versionId ?? ''
    return this.table.slots(bucket, key).find(r => slotOf(r.entry) === slot)?.entry
  }

  /** Every slot of an object in slot order, tombstones included. */
  slots (bucket: string, key: string): CatalogEntry[] {
    return this.buckets.has(bucket) ? this.table.slots(bucket, key).map(r => r.entry) : []
  }

  /**
   * Versions and delete markers (slots that are not tombstones) as
   * ListObjectVersions lists them: in key order, each key's newest first,
   * under `prefix`; after `keyMarker`, or with `versionIdMarker` (`null` for
   * the null slot), that key's versions after the marker (see afterMarker:
   * a marker since deleted still places the page). At most `limit`.
   */
  versionPage (bucket: string, options: { prefix?: string, keyMarker?: string, versionIdMarker?: string, limit: number }): { versions: VersionRow[], isTruncated: boolean } {
    const out: VersionRow[] = []
    if (!this.buckets.has(bucket)) return { versions: out, isTruncated: false }
    const prefix = options.prefix ?? ''
    const marked = options.keyMarker !== undefined && compareKeys(options.keyMarker, prefix) >= 0
    let from = marked ? options.keyMarker! : prefix
    let inclusive = !marked || options.versionIdMarker !== undefined
    for (;;) {
      const keys = this.table.keys(bucket, { prefix, from, inclusive, limit: 64 })
      if (keys.length === 0) return { versions: out, isTruncated: false }
      for (const key of keys) {
        const rows = this.table.slots(bucket, key).filter(r => !r.entry.deleted).sort((x, y) => newestFirst(x.entry, y.entry))
        let i = 0
        if (marked && key === options.keyMarker && options.versionIdMarker !== undefined) {
          i = afterMarker(rows.map(r => ({ versionId: r.entry.versionId ?? NULL_VERSION, deleteMarker: r.entry.marker === true, lastModified: new Date(createdOf(r.entry).ms) })), options.versionIdMarker)
        }
        for (; i < rows.length; i++) {
          if (out.length === options.limit) return { versions: out, isTruncated: true }
          out.push({ entry: rows[i]!.entry, latest: rows[i]!.head })
        }
      }
      from = keys.at(-1)!
      inclusive = false
    }
  }

  /** Buckets that exist (newest entry not a tombstone), sorted by name. */
  listBuckets (): CatalogEntry[] {
    return [...this.buckets.values()].flatMap(b => b.entry !== undefined && !b.entry.deleted ? [b.entry] : [])
      .sort((x, y) => x.bucket < y.bucket ? -1 : x.bucket > y.bucket ? 1 : 0)
  }

  /** Live objects in a bucket, in S3 key order, after `startAfter` and under `prefix`. */
  page (bucket: string, options: { prefix?: string, startAfter?: string, limit: number }): { entries: CatalogEntry[], isTruncated: boolean } {
    if (!this.buckets.has(bucket)) return { entries: [], isTruncated: false }
    return this.table.livePage(bucket, options)
  }

  /** Number of live objects in a bucket. */
  objectCount (bucket: string): number {
    return this.buckets.get(bucket)?.live ?? 0
  }

  /** A bucket's live objects and their bytes (one copy each), kept as entries merge: no scan. */
  bucketTotals (bucket: string): { objects: number, bytes: number } {
    const b = this.buckets.get(bucket)
    return { objects: b?.live ?? 0, bytes: b?.bytes ?? 0 }
  }

  /** A bucket's versions and delete markers, current or not, and the versions' bytes (one copy each): a bucket with any is not empty. */
  versionTotals (bucket: string): { versions: number, bytes: number } {
    const b = this.buckets.get(bucket)
    return { versions: b?.versions ?? 0, bytes: b?.versionBytes ?? 0 }
  }

  /** Every entry of a bucket (its own first, then objects in key order, tombstones included). */
  * entries (bucket: string): IterableIterator<CatalogEntry> {
    const b = this.buckets.get(bucket)
    if (b === undefined) return
    if (b.entry !== undefined) yield b.entry
    yield * this.table.values(bucket)
  }

  /** Every entry of every bucket, tombstones included: what a compacted journal keeps. */
  * all (): IterableIterator<CatalogEntry> {
    for (const bucket of this.buckets.keys()) yield * this.entries(bucket)
  }

  /** Names of every bucket heard of, tombstoned or not. */
  bucketNames (): string[] {
    return [...this.buckets.keys()]
  }

  /** Drops a slot's tombstone for good (garbage collection, once every member has it). */
  forget (bucket: string, key: string, versionId?: string): void {
    const b = this.buckets.get(bucket)
    if (b === undefined) return
    const rows = this.table.slots(bucket, key)
    const slot = versionId ?? ''
    if (rows.find(r => slotOf(r.entry) === slot)?.entry.deleted !== true) return
    this.rewrite(b, bucket, key, rows, slot, undefined)
  }

  /**
   * Takes an object entry out whatever it says: for a catalog that keeps a
   * part of the mesh's (a tab's: what it holds and follows; a member's: the
   * buckets it owns and what it holds), once the entry is not its to keep.
   */
  evict (bucket: string, key: string, versionId?: string): void {
    const b = this.buckets.get(bucket)
    if (b === undefined) return
    const rows = this.table.slots(bucket, key)
    const slot = versionId ?? ''
    if (!rows.some(r => slotOf(r.entry) === slot)) return
    this.rewrite(b, bucket, key, rows, slot, undefined)
    if (this.listenerCount('evicted') > 0) this.safeDispatchEvent('evicted', { detail: { bucket, key } })
  }

  /** The digest of a whole bucket (its entry and every object entry). */
  digest (bucket: string): Digest {
    const d: Digest = { a: 0, b: 0 }
    for (const r of this.buckets.get(bucket)?.ranges ?? []) addTo(d, [r.a, r.b], 1)
    return d
  }

  /** The digests of a bucket's key ranges, then of its own entry (DIGEST_RANGES + 1 of them). */
  rangeDigests (bucket: string): Digest[] {
    return (this.buckets.get(bucket)?.ranges ?? emptyRanges()).map(r => ({ ...r }))
  }

  /** The entries of one digest range of a bucket (range DIGEST_RANGES: the bucket's own entry). */
  rangeEntries (bucket: string, range: number): CatalogEntry[] {
    const b = this.buckets.get(bucket)
    if (b === undefined) return []
    if (range === DIGEST_RANGES) return b.entry === undefined ? [] : [b.entry]
    return this.table.rangeValues(bucket, range)
  }

  private record (bucket: string): BucketState {
    let b = this.buckets.get(bucket)
    if (b === undefined) {
      b = { live: 0, bytes: 0, versions: 0, versionBytes: 0, ranges: emptyRanges() }
      this.buckets.set(bucket, b)
    }
    return b
  }
}

/**
 * Whether a bucket's entry ends a bucket of its name that the one before it
 * did not: one more deleted, or one brought back (see predated) no longer.
 */
function endsMore (before: CatalogEntry | undefined, after: CatalogEntry): boolean {
  const was = before === undefined ? [] : endedNow(before)
  return endedNow(after).some(v => !was.some(w => compareVersions(v, w) === 0))
}

function withoutCreated (e: CatalogEntry): CatalogEntry {
  const { created: _created, ...rest } = e
  return rest
}

/** Bytes of a head that is an object. */
function liveBytes (head: CatalogEntry | undefined): number {
  return isLiveObject(head) ? head!.object!.size : 0
}

/** 1 for a slot that is kept (a version or a marker), 0 for a tombstone or none. */
function kept (e: CatalogEntry | undefined): number {
  return e === undefined || e.deleted ? 0 : 1
}

function keptBytes (e: CatalogEntry | undefined): number {
  return e === undefined || e.deleted ? 0 : e.object?.size ?? 0
}

/** Newest `created` first, as ListObjectVersions lists a key's versions. */
function newestFirst (x: CatalogEntry, y: CatalogEntry): number {
  return compareVersions(createdOf(y), createdOf(x)) || (slotOf(x) < slotOf(y) ? 1 : slotOf(x) > slotOf(y) ? -1 : 0)
}

function emptyRanges (): Digest[] {
  return Array.from({ length: DIGEST_RANGES + 1 }, () => ({ a: 0, b: 0 }))
}
