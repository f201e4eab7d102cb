import type { CatalogEntry } from './catalog-entry.js'
import type { CatalogStore } from './catalog-store.js'
import type { Catalog } from './catalog.js'
import type { DurableMembers } from './durable-members.js'
import type { HolderFetcher } from './holder-fetch.js'
import type { LocalCopies } from './local-copies.js'

/** Figures for /metrics. */
export interface MeshStats {
  objects: number
  bytes: number
  /** Live objects with fewer live holders than min(replicas, durable members alive). */
  underReplicated: number
  /** Fetches queued or running in the repair loop. */
  repairQueue: number
  repaired: number
  /** Holders that sent bytes that did not match the catalog. */
  badHolders: number
  /** Entries refused because their clock was too far ahead. */
  driftRefused: number
  /** Local copies found not to hash to their version (and replaced). */
  corruptCopies: number
}

export interface UpkeepOptions {
  copies: LocalCopies
  catalog: Catalog
  durable: DurableMembers
  fetcher: HolderFetcher
  /** Where the catalog is kept between runs, compacted from here when it has grown. */
  catalogStore?: CatalogStore
  replicas: number
  tombstoneTtlMs: number
  /** Fetches the repair loop runs at once. */
  repairConcurrency: number
  stats: MeshStats
  stopping: AbortSignal
}

/**
 * What keeps a member's share of the mesh healthy over time, one pass of
 * the repair loop at a time: counting what is under-replicated, fetching
 * what placement says this member should hold and does not (or holds a
 * rotten copy of), forgetting tombstones past their time on every member
 * alike, and compacting the catalog's journal when it has grown.
 */
export class Upkeep {
  /** Keys whose local copy was found not to match its version: listed as held, but to be fetched again. */
  private readonly damaged = new Set<string>()
  private compacting = false

  constructor (private readonly o: UpkeepOptions) {}

  /**
   * A local copy does not hash to its version: drop it and fetch the version
   * again from another holder (the repair loop retries until one answers).
   */
  corrupt (bucket: string, key: string, sha256: string): void {
    const id = `${bucket}\n${key}`
    if (this.damaged.has(id)) return
    this.damaged.add(id)
    this.o.stats.corruptCopies++
    const { copies, stopping } = this.o
    void copies.locks.run(id, async () => {
      const handle = await copies.openLocal(bucket, key, sha256, stopping)
      if (handle === undefined) return
      await handle.close()
      await copies.deleteLocal(bucket, key, stopping)
    }).then(() => { this.pass() }, () => {})
  }

  /** One pass: counts, expiry, compaction, and the fetches this member owes. */
  pass (): void {
    const { catalog, durable, stats } = this.o
    const self = this.o.copies.self
    const live = new Set(durable.list())
    const want = Math.min(this.o.replicas, Math.max(1, live.size))
    let objects = 0
    let bytes = 0
    let under = 0
    /** Every entry the catalog keeps (buckets and tombstones too): what a compacted journal holds. */
    let entries = 0
    const todo: CatalogEntry[] = []
    const expired: CatalogEntry[] = []
    const horizon = Date.now() - this.o.tombstoneTtlMs
    for (const e of catalog.all()) {
      entries++
      if (e.key !== undefined && e.deleted && e.version.ms < horizon) expired.push(e)
      if (e.key === undefined || e.deleted || e.object === undefined) continue
      objects++
      bytes += e.object.size
      const damaged = this.damaged.has(`${e.bucket}\n${e.key}`)
      const holds = e.holders.includes(self) && !damaged
      const holding = e.holders.filter(h => live.has(h)).length - (damaged ? 1 : 0)
      if (holding < want) under++
      // Placement members fetch what they lack, so copies end up where placement says even after
      // a write that fell back to a spare or a membership change; surplus copies stay (never fewer).
      if (damaged || (!holds && durable.replicas(e.bucket, e.key, this.o.replicas).includes(self))) todo.push(e)
    }
    // Every member drops the same tombstones (by their version's time), so digests agree again.
    for (const e of expired) catalog.forget(e.bucket, e.key!)
    const saved = this.o.catalogStore
    if (saved?.wantsCompaction(entries - expired.length) === true && !this.compacting) {
      this.compacting = true
      void saved.compact(catalog.all()).catch(() => {}).finally(() => { this.compacting = false })
    }
    Object.assign(stats, { objects, bytes, underReplicated: under })
    const running = this.o.fetcher.inFlight
    const free = this.o.repairConcurrency - running
    stats.repairQueue = running + Math.max(0, todo.length - free)
    for (const e of todo.slice(0, Math.max(0, free))) {
      const id = `${e.bucket}\n${e.key!}`
      void this.o.fetcher.fetch(e).then(() => { stats.repaired++; this.damaged.delete(id) }, () => {})
    }
  }
}
