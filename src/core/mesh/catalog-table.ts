import { SortedKeys } from '../sorted-keys.js'
import { isLiveObject, slotOf, type CatalogEntry } from './catalog-entry.js'

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
  /** Keys whose current version is an object (not a tombstone or a delete marker), for listing and metrics without a scan. */
  live: number
  /** Bytes of those objects (one copy each). Absent in states saved before it was kept: recounted on load. */
  bytes?: number
  /** Slots that are not tombstones: every version and delete marker kept, current or not (a bucket is empty when none is left). Absent in states saved before slots: recounted on load. */
  versions?: number
  /** Bytes of every version kept (one copy each). */
  versionBytes?: number
  /** Per key range: the digest of its object entries. Index DIGEST_RANGES is the bucket entry. */
  ranges: Digest[]
}

/** One slot's entry and whether it is its key's head (current version). */
export interface SlotRow { entry: CatalogEntry, head: boolean }

/**
 * Where a Catalog keeps its object entries: one row per slot of a key (see
 * CatalogEntry), each flagged when it is the key's head. In memory for tabs
 * and tests; in SQLite on a Node node (node/catalog-db.ts), so that a
 * member's memory does not grow with the catalog and a restart reads nothing
 * per entry. Calls are synchronous (the catalog merges synchronously); a
 * disk table batches its writes into transactions itself. The Catalog
 * decides which slot is the head; the table keeps the flag.
 */
export interface CatalogTable {
  /** Every bucket's state as last saved (empty for a new table). */
  loadBuckets (): Map<string, BucketState>
  /** Saves a bucket's state (after the object writes that changed it). */
  saveBucket (bucket: string, state: BucketState): void
  /** A key's head entry. */
  get (bucket: string, key: string): CatalogEntry | undefined
  /** Every slot of a key, in slot order. */
  slots (bucket: string, key: string): SlotRow[]
  /** Writes a slot's entry (its slot is slotOf(entry)); `range` is its key's digest range (see rangeOf). */
  set (bucket: string, key: string, range: number, entry: CatalogEntry, head: boolean): void
  /** Flags a kept slot as its key's head, or not. */
  setHead (bucket: string, key: string, slot: string, head: boolean): void
  delete (bucket: string, key: string, slot: string): void
  /** Up to `limit` heads that are objects (see isLiveObject) under `prefix` after `startAfter`, in key order, and whether more follow. */
  livePage (bucket: string, options: { prefix?: string, startAfter?: string, limit: number }): { entries: CatalogEntry[], isTruncated: boolean }
  /** Up to `limit` keys with a slot that is not a tombstone, under `prefix`, from `from` (`inclusive`, or after it), in key order. */
  keys (bucket: string, options: { prefix?: string, from: string, inclusive: boolean, limit: number }): string[]
  /** Every object entry of a bucket in key then slot order, tombstones included. Safe to interleave with writes. */
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

/** A key's slots in memory: by slot id, and which is the head. */
interface KeySlots { slots: Map<string, CatalogEntry>, head?: string, range: number }

/** A CatalogTable in memory: a sorted map per bucket of each key's slots. */
export class MemoryCatalogTable implements CatalogTable {
  private readonly buckets = new Map<string, SortedKeys<KeySlots>>()

  loadBuckets (): Map<string, BucketState> { return new Map() }
  saveBucket (): void {}

  get (bucket: string, key: string): CatalogEntry | undefined {
    const k = this.buckets.get(bucket)?.get(key)
    return k?.head === undefined ? undefined : k.slots.get(k.head)
  }

  slots (bucket: string, key: string): SlotRow[] {
    const k = this.buckets.get(bucket)?.get(key)
    return k === undefined ? [] : ordered(k).map(([slot, entry]) => ({ entry, head: slot === k.head }))
  }

  set (bucket: string, key: string, range: number, entry: CatalogEntry, head: boolean): void {
    let b = this.buckets.get(bucket)
    if (b === undefined) {
      b = new SortedKeys()
      this.buckets.set(bucket, b)
    }
    let k = b.get(key)
    if (k === undefined) {
      k = { slots: new Map(), range }
      b.set(key, k)
    }
    const slot = slotOf(entry)
    k.slots.set(slot, entry)
    if (head) k.head = slot
    else if (k.head === slot) k.head = undefined
  }

  setHead (bucket: string, key: string, slot: string, head: boolean): void {
    const k = this.buckets.get(bucket)?.get(key)
    if (k === undefined || !k.slots.has(slot)) return
    if (head) k.head = slot
    else if (k.head === slot) k.head = undefined
  }

  delete (bucket: string, key: string, slot: string): void {
    const b = this.buckets.get(bucket)
    const k = b?.get(key)
    if (k === undefined) return
    k.slots.delete(slot)
    if (k.head === slot) k.head = undefined
    if (k.slots.size === 0) b!.delete(key)
  }

  livePage (bucket: string, options: { prefix?: string, startAfter?: string, limit: number }): { entries: CatalogEntry[], isTruncated: boolean } {
    const page = this.buckets.get(bucket)?.page({ ...options, where: k => isLiveObject(headEntry(k)) })
    return { entries: page?.entries.map(([, k]) => headEntry(k)!) ?? [], isTruncated: page?.isTruncated ?? false }
  }

  keys (bucket: string, options: { prefix?: string, from: string, inclusive: boolean, limit: number }): string[] {
    const b = this.buckets.get(bucket)
    if (b === undefined) return []
    const prefix = options.prefix ?? ''
    const out: string[] = []
    let pair = b.pairFrom(options.from, options.inclusive)
    while (pair !== undefined && out.length < options.limit && pair[0].startsWith(prefix)) {
      if ([...pair[1].slots.values()].some(e => !e.deleted)) out.push(pair[0])
      pair = b.pairFrom(pair[0], false)
    }
    return out
  }

  * values (bucket: string): IterableIterator<CatalogEntry> {
    // A page at a time from the last key seen, so writes between two steps (a feed's awaits) are safe.
    let startAfter: string | undefined
    for (;;) {
      const b = this.buckets.get(bucket)
      if (b === undefined) return
      const page = b.page({ startAfter, limit: 512 })
      for (const [, k] of page.entries) for (const [, e] of ordered(k)) yield e
      if (!page.isTruncated) return
      startAfter = page.entries.at(-1)![0]
    }
  }

  rangeValues (bucket: string, range: number): CatalogEntry[] {
    const b = this.buckets.get(bucket)
    if (b === undefined) return []
    return [...b.values()].filter(k => k.range === range).flatMap(k => ordered(k).map(([, e]) => e))
  }
}

function headEntry (k: KeySlots): CatalogEntry | undefined {
  return k.head === undefined ? undefined : k.slots.get(k.head)
}

/** A key's slots in slot order (as SQLite orders them: slot ids are ASCII). */
function ordered (k: KeySlots): Array<[string, CatalogEntry]> {
  return k.slots.size === 1 ? [...k.slots] : [...k.slots].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
}
