import { TypedEventEmitter } from 'main-event'
import { SortedKeys } from '../sorted-keys.js'
import { mergeEntries, sameEntry, type CatalogEntry } from './catalog-entry.js'
import { formatVersion } from './hlc.js'
import { hash64, objectHash } from './placement.js'

/**
 * Anti-entropy splits each bucket's entries into this many ranges (by a hash
 * of the key), each with its own digest, so that two members whose buckets
 * differ exchange only the ranges that differ.
 */
export const DIGEST_RANGES = 64

/**
 * An order-independent digest of a set of entries: the sums, modulo 2^32, of
 * two 32-bit halves of each entry's fingerprint. Adding and removing an entry
 * are O(1), so digests are kept up to date on every apply.
 */
export interface Digest { a: number, b: number }

interface BucketRecord {
  /** The bucket's own entry; objects may be heard of before it. */
  entry?: CatalogEntry
  objects: SortedKeys<CatalogEntry>
  /** Objects that are not tombstones, for listing and metrics without a scan. */
  live: number
  /** Per key range: the digest of its object entries. Index DIGEST_RANGES is the bucket entry. */
  ranges: Digest[]
}

/** Which digest range a key falls in. */
export function rangeOf (bucket: string, key: string): number {
  return objectHash(bucket, key)[0] % DIGEST_RANGES
}

function fingerprint (e: CatalogEntry): readonly [number, number] {
  return hash64(`${e.bucket}\n${e.key ?? ''}\n${formatVersion(e.version)}\n${e.deleted ? 1 : 0}\n${e.object?.sha256 ?? ''}\n${e.holders.join(',')}`)
}

function addTo (d: Digest, f: readonly [number, number], sign: 1 | -1): void {
  d.a = (d.a + sign * f[0]) >>> 0
  d.b = (d.b + sign * f[1]) >>> 0
}

export interface CatalogEvents {
  /** Fired with the merged entry whenever an apply changed what the catalog says. */
  change: CustomEvent<CatalogEntry>
}

/**
 * The cluster-wide index: the newest known version of every bucket and
 * object, tombstones included, and who holds each version. It only merges
 * (see mergeEntries), so every member that has applied the same entries, in
 * whatever order and however often, says the same thing.
 */
export class Catalog extends TypedEventEmitter<CatalogEvents> {
  private readonly buckets = new Map<string, BucketRecord>()

  /** Merges an entry in; returns the merged entry if that changed anything. */
  apply (entry: CatalogEntry): CatalogEntry | undefined {
    const b = this.record(entry.bucket)
    const current = entry.key === undefined ? b.entry : b.objects.get(entry.key)
    const merged = current === undefined ? entry : mergeEntries(current, entry)
    if (current !== undefined && (merged === current || sameEntry(merged, current))) return undefined
    const range = b.ranges[entry.key === undefined ? DIGEST_RANGES : rangeOf(entry.bucket, entry.key)]!
    if (current !== undefined) addTo(range, fingerprint(current), -1)
    addTo(range, fingerprint(merged), 1)
    if (entry.key === undefined) {
      b.entry = merged
    } else {
      b.objects.set(entry.key, merged)
      b.live += (merged.deleted ? 0 : 1) - (current === undefined || current.deleted ? 0 : 1)
    }
    this.safeDispatchEvent('change', { detail: merged })
    return merged
  }

  /** The entry for a bucket (key absent) or an object, tombstones included. */
  get (bucket: string, key?: string): CatalogEntry | undefined {
    const b = this.buckets.get(bucket)
    return key === undefined ? b?.entry : b?.objects.get(key)
  }

  /** Buckets that exist (newest entry not a tombstone), sorted by name. */
  listBuckets (): CatalogEntry[] {
    return [...this.buckets.values()].flatMap(b => b.entry !== undefined && !b.entry.deleted ? [b.entry] : [])
      .sort((x, y) => x.bucket < y.bucket ? -1 : x.bucket > y.bucket ? 1 : 0)
  }

  /** Live objects in a bucket, in S3 key order, after `startAfter` and under `prefix`. */
  page (bucket: string, options: { prefix?: string, startAfter?: string, limit: number }): { entries: CatalogEntry[], isTruncated: boolean } {
    const b = this.buckets.get(bucket)
    const entries: CatalogEntry[] = []
    if (b === undefined) return { entries, isTruncated: false }
    let startAfter = options.startAfter
    // Tombstones are skipped, so read pages until enough live entries are found.
    for (;;) {
      const page = b.objects.page({ prefix: options.prefix, startAfter, limit: options.limit - entries.length })
      for (const [, e] of page.entries) if (!e.deleted) entries.push(e)
      if (!page.isTruncated) return { entries, isTruncated: false }
      if (entries.length >= options.limit) return { entries, isTruncated: true }
      startAfter = page.entries.at(-1)![0]
    }
  }

  /** Number of live objects in a bucket. */
  objectCount (bucket: string): number {
    return this.buckets.get(bucket)?.live ?? 0
  }

  /** Every entry of a bucket (its own first, then objects in key order, tombstones included). */
  * entries (bucket: string): IterableIterator<CatalogEntry> {
    const b = this.buckets.get(bucket)
    if (b === undefined) return
    if (b.entry !== undefined) yield b.entry
    yield * b.objects.values()
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
    const e = b?.objects.get(key)
    if (e?.deleted !== true) return
    b!.objects.delete(key)
    addTo(b!.ranges[rangeOf(bucket, key)]!, fingerprint(e), -1)
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
    return [...b.objects.values()].filter(e => rangeOf(bucket, e.key!) === range)
  }

  private record (bucket: string): BucketRecord {
    let b = this.buckets.get(bucket)
    if (b === undefined) {
      b = { objects: new SortedKeys<CatalogEntry>(), live: 0, ranges: emptyRanges() }
      this.buckets.set(bucket, b)
    }
    return b
  }
}

function emptyRanges (): Digest[] {
  return Array.from({ length: DIGEST_RANGES + 1 }, () => ({ a: 0, b: 0 }))
}
