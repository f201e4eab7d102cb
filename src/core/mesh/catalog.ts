import { TypedEventEmitter } from 'main-event'
import { mergeEntries, sameEntry, type CatalogEntry } from './catalog-entry.js'
import { MemoryCatalogTable, type BucketState, type CatalogTable, type Digest } from './catalog-table.js'
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

/** 64 bits that change with anything an entry says (version, tombstone, content, holders): the digests' parts, and what a hand-over compares before it sends entries whole. */
export function fingerprint (e: CatalogEntry): readonly [number, number] {
  return hash64(`${e.bucket}\n${e.key ?? ''}\n${formatVersion(e.version)}\n${e.deleted ? 1 : 0}\n${e.object?.sha256 ?? ''}\n${e.holders.join(',')}`)
}

function addTo (d: Digest, f: readonly [number, number], sign: 1 | -1): void {
  d.a = (d.a + sign * f[0]) >>> 0
  d.b = (d.b + sign * f[1]) >>> 0
}

export interface CatalogEvents {
  /** Fired with the merged entry whenever an apply changed what the catalog says. */
  change: CustomEvent<CatalogEntry>
  /** Fired after `change` when an apply replaced an object's version (newer, or a delete): the entry before and after. */
  replaced: CustomEvent<{ before: CatalogEntry, after: CatalogEntry }>
}

/**
 * The cluster-wide index: the newest known version of every bucket and
 * object, tombstones included, and who holds each version. It only merges
 * (see mergeEntries), so every member that has applied the same entries, in
 * whatever order and however often, says the same thing.
 */
export class Catalog extends TypedEventEmitter<CatalogEvents> {
  private readonly buckets: Map<string, BucketState>

  /** @param table where object entries live: memory unless given (a Node node's is on disk). */
  constructor (private readonly table: CatalogTable = new MemoryCatalogTable()) {
    super()
    this.buckets = table.loadBuckets()
    table.onRolledBack = buckets => { for (const b of buckets) this.recount(b) }
    // A state saved before its bytes were kept: counted once, from its rows.
    for (const [name, b] of this.buckets) if (b.bytes === undefined) this.recount(name)
  }

  /** A bucket's live count and digests, recounted from its rows (after the table lost writes). */
  private recount (bucket: string): void {
    const b = this.buckets.get(bucket)
    if (b === undefined) return
    b.ranges = emptyRanges()
    b.live = 0
    b.bytes = 0
    if (b.entry !== undefined) addTo(b.ranges[DIGEST_RANGES]!, fingerprint(b.entry), 1)
    for (const e of this.table.values(bucket)) {
      addTo(b.ranges[rangeOf(bucket, e.key!)]!, fingerprint(e), 1)
      if (!e.deleted) { b.live++; b.bytes += e.object?.size ?? 0 }
    }
    this.table.saveBucket(bucket, b)
  }

  /** Merges an entry in; returns the merged entry if that changed anything. */
  apply (entry: CatalogEntry): CatalogEntry | undefined {
    const b = this.record(entry.bucket)
    const current = entry.key === undefined ? b.entry : this.table.get(entry.bucket, entry.key)
    const merged = current === undefined ? entry : mergeEntries(current, entry)
    if (current !== undefined && (merged === current || sameEntry(merged, current))) return undefined
    this.replace(b, current, merged)
    this.safeDispatchEvent('change', { detail: merged })
    if (current !== undefined && entry.key !== undefined && this.listenerCount('replaced') > 0 && compareVersions(current.version, merged.version) !== 0) this.safeDispatchEvent('replaced', { detail: { before: current, after: merged } })
    return merged
  }

  /**
   * Sets what this member's own claim says, outside the merge: its claim to
   * hold `entry`'s version is dropped (its copy is gone, found at a restart).
   * Merging only ever adds holders, so this is the one way to take one away;
   * others learn it when they find the copy missing.
   */
  dropHolder (bucket: string, key: string, holder: string): void {
    const b = this.buckets.get(bucket)
    const current = this.table.get(bucket, key)
    if (b === undefined || current === undefined || !current.holders.includes(holder)) return
    this.replace(b, current, { ...current, holders: current.holders.filter(h => h !== holder) })
  }

  private replace (b: BucketState, current: CatalogEntry | undefined, merged: CatalogEntry): void {
    const { bucket, key } = merged
    const rangeIndex = key === undefined ? DIGEST_RANGES : rangeOf(bucket, key)
    const range = b.ranges[rangeIndex]!
    if (current !== undefined) addTo(range, fingerprint(current), -1)
    addTo(range, fingerprint(merged), 1)
    if (key === undefined) {
      b.entry = merged
    } else {
      this.table.set(bucket, key, rangeIndex, merged)
      b.live += (merged.deleted ? 0 : 1) - (current === undefined || current.deleted ? 0 : 1)
      b.bytes = (b.bytes ?? 0) + liveBytes(merged) - (current === undefined ? 0 : liveBytes(current))
    }
    this.table.saveBucket(bucket, b)
  }

  /** The entry for a bucket (key absent) or an object, tombstones included. */
  get (bucket: string, key?: string): CatalogEntry | undefined {
    if (key === undefined) return this.buckets.get(bucket)?.entry
    return this.buckets.has(bucket) ? this.table.get(bucket, key) : undefined
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

  /** Drops a tombstone for good (garbage collection, once every member has it). */
  forget (bucket: string, key: string): void {
    const b = this.buckets.get(bucket)
    const e = b === undefined ? undefined : this.table.get(bucket, key)
    if (e?.deleted !== true) return
    this.table.delete(bucket, key)
    addTo(b!.ranges[rangeOf(bucket, key)]!, fingerprint(e), -1)
    this.table.saveBucket(bucket, b!)
  }

  /**
   * Takes an object entry out whatever it says: for a catalog that keeps a
   * part of the mesh's (a tab's: what it holds and follows; a member's: the
   * buckets it owns and what it holds), once the entry is not its to keep.
   */
  evict (bucket: string, key: string): void {
    const b = this.buckets.get(bucket)
    const e = b === undefined ? undefined : this.table.get(bucket, key)
    if (e === undefined) return
    this.table.delete(bucket, key)
    addTo(b!.ranges[rangeOf(bucket, key)]!, fingerprint(e), -1)
    if (!e.deleted) { b!.live--; b!.bytes = (b!.bytes ?? 0) - liveBytes(e) }
    this.table.saveBucket(bucket, b!)
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
      b = { live: 0, bytes: 0, ranges: emptyRanges() }
      this.buckets.set(bucket, b)
    }
    return b
  }
}

function liveBytes (e: CatalogEntry): number {
  return e.deleted ? 0 : e.object?.size ?? 0
}

function emptyRanges (): Digest[] {
  return Array.from({ length: DIGEST_RANGES + 1 }, () => ({ a: 0, b: 0 }))
}
