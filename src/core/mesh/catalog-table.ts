import { SortedKeys } from '../sorted-keys.js'
import type { CatalogEntry } from './catalog-entry.js'

/**
 * An order-independent digest of a set of entries: the sums, modulo 2^32, of
 * two 32-bit halves of each entry's fingerprint. Adding and removing an entry
 * are O(1), so digests are kept up to date on every apply.
 */
export interface Digest { a: number, b: number }

/** What a catalog keeps per bucket besides its object entries: small, always in memory. */
export interface BucketState {
  /** The bucket's own entry; objects may be heard of before it. */
  entry?: CatalogEntry
  /** Objects that are not tombstones, for listing and metrics without a scan. */
  live: number
  /** Bytes of those objects (one copy each). Absent in states saved before it was kept: recounted on load. */
  bytes?: number
  /** Per key range: the digest of its object entries. Index DIGEST_RANGES is the bucket entry. */
  ranges: Digest[]
}

/**
 * Where a Catalog keeps its object entries. In memory for tabs and tests; in
 * SQLite on a Node node (node/catalog-db.ts), so that a member's memory does
 * not grow with the catalog and a restart reads nothing per entry. Calls are
 * synchronous (the catalog merges synchronously); a disk table batches its
 * writes into transactions itself.
 */
export interface CatalogTable {
  /** Every bucket's state as last saved (empty for a new table). */
  loadBuckets (): Map<string, BucketState>
  /** Saves a bucket's state (after the object writes that changed it). */
  saveBucket (bucket: string, state: BucketState): void
  get (bucket: string, key: string): CatalogEntry | undefined
  /** Writes an object entry; `range` is its digest range (see rangeOf). */
  set (bucket: string, key: string, range: number, entry: CatalogEntry): void
  delete (bucket: string, key: string): void
  /** Up to `limit` live (not deleted) entries under `prefix` after `startAfter`, in key order, and whether more follow. */
  livePage (bucket: string, options: { prefix?: string, startAfter?: string, limit: number }): { entries: CatalogEntry[], isTruncated: boolean }
  /** Every object entry of a bucket in key order, tombstones included. Safe to interleave with writes. */
  values (bucket: string): IterableIterator<CatalogEntry>
  /** The object entries of one digest range. */
  rangeValues (bucket: string, range: number): CatalogEntry[]
  /**
   * Set by the Catalog on a table that can lose writes (a disk table whose
   * commit failed): called with the buckets whose rows were rolled back, so
   * their state is recounted from what the table holds.
   */
  onRolledBack?: (buckets: string[]) => void
}

/** A CatalogTable in memory: a sorted map per bucket. */
export class MemoryCatalogTable implements CatalogTable {
  private readonly buckets = new Map<string, SortedKeys<CatalogEntry>>()
  private readonly ranges = new Map<string, Map<string, number>>()

  loadBuckets (): Map<string, BucketState> { return new Map() }
  saveBucket (): void {}

  get (bucket: string, key: string): CatalogEntry | undefined {
    return this.buckets.get(bucket)?.get(key)
  }

  set (bucket: string, key: string, range: number, entry: CatalogEntry): void {
    let b = this.buckets.get(bucket)
    if (b === undefined) {
      b = new SortedKeys()
      this.buckets.set(bucket, b)
      this.ranges.set(bucket, new Map())
    }
    b.set(key, entry)
    this.ranges.get(bucket)!.set(key, range)
  }

  delete (bucket: string, key: string): void {
    this.buckets.get(bucket)?.delete(key)
    this.ranges.get(bucket)?.delete(key)
  }

  livePage (bucket: string, options: { prefix?: string, startAfter?: string, limit: number }): { entries: CatalogEntry[], isTruncated: boolean } {
    const page = this.buckets.get(bucket)?.page({ ...options, where: e => !e.deleted })
    return { entries: page?.entries.map(([, e]) => e) ?? [], isTruncated: page?.isTruncated ?? false }
  }

  * values (bucket: string): IterableIterator<CatalogEntry> {
    // A page at a time from the last key seen, so writes between two steps (a feed's awaits) are safe.
    let startAfter: string | undefined
    for (;;) {
      const b = this.buckets.get(bucket)
      if (b === undefined) return
      const page = b.page({ startAfter, limit: 512 })
      for (const [, e] of page.entries) yield e
      if (!page.isTruncated) return
      startAfter = page.entries.at(-1)![0]
    }
  }

  rangeValues (bucket: string, range: number): CatalogEntry[] {
    const b = this.buckets.get(bucket)
    const ranges = this.ranges.get(bucket)
    if (b === undefined || ranges === undefined) return []
    return [...b.values()].filter(e => ranges.get(e.key!) === range)
  }
}
