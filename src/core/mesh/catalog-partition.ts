import { S3Error } from '../errors.js'
import { NULL_VERSION } from '../versioning.js'
import type { CatalogEntry } from './catalog-entry.js'
import type { CatalogQuery, RemoteListing, RemotePage, VersionPage, VersionPageOptions } from './catalog-query.js'
import type { Catalog } from './catalog.js'
import type { DurableMembers } from './durable-members.js'
import { Placement } from './placement.js'

export interface CatalogPartitionOptions {
  self: string
  catalog: Catalog
  durable: DurableMembers
  /** Owners per bucket (MeshConfig.catalogReplicas). */
  owners: number
  /** Copies per object (placement's targets keep the entries they should hold). */
  replicas: number
  /** Set once the query service exists (it needs this to answer). */
  query?: CatalogQuery
}

/**
 * The catalog partitioned by bucket: which members own a bucket's part
 * (`owners` of the durable members, by rendezvous on its name), what this
 * member keeps of the rest (buckets' own entries, and the entries of what it
 * holds or placement gives it), and reads that go to an owner when the
 * answer is not kept here. With no more durable members than owners per
 * bucket, every member owns everything and nothing is asked.
 */
export class CatalogPartition {
  /** The durable members when ownership was last worked out. */
  private last: string[] = []
  /** Buckets this member became an owner of and has not yet compared whole with another owner: their reads go to the others. */
  private readonly unready = new Set<string>()

  constructor (private readonly o: CatalogPartitionOptions) {}

  /**
   * Works ownership out again (after a membership change): a bucket this
   * member now owns and did not (another owner left) is not read here until
   * it has been compared whole with another owner (`synced`); a bucket it no
   * longer owns is read from its owners at once. Returns the buckets waiting
   * for that comparison.
   */
  update (): string[] {
    const before = new Placement(this.last)
    const owned = (b: string): boolean => before.size <= this.o.owners || before.owners(b, this.o.owners).includes(this.o.self)
    for (const b of this.o.catalog.bucketNames()) {
      if (!this.owns(b)) this.unready.delete(b)
      else if (!owned(b) && this.others(b).length > 0) this.unready.add(b)
    }
    this.last = this.o.durable.owning()
    return [...this.unready]
  }

  /** A whole comparison with `peer` finished: the buckets it owns too are read here from now on. */
  synced (peer: string): void {
    for (const b of [...this.unready]) if (this.owners(b).includes(peer)) this.unready.delete(b)
  }

  /** Whether reads of a bucket are answered here: it owns it, and has caught up with another owner since it became one. */
  answers (bucket: string): boolean {
    return this.owns(bucket) && !this.unready.has(bucket)
  }

  /** The service that asks owners (set after construction: it needs `owns` to answer). */
  set query (q: CatalogQuery) { this.o.query = q }

  /** The owners of a bucket's part of the catalog, best first. */
  owners (bucket: string): string[] {
    return this.o.durable.owners(bucket, this.o.owners)
  }

  /** Whether the durable members (with those gone within the grace) are more than a bucket's owners (else every member owns every bucket). */
  get partitioned (): boolean {
    return this.o.durable.owningSize > this.o.owners
  }

  owns (bucket: string): boolean {
    return !this.partitioned || this.owners(bucket).includes(this.o.self)
  }

  /** Whether this member is the first of a bucket's owners alive: the one that tells non-owners holding its keys of their changes. */
  leads (bucket: string): boolean {
    return this.owners(bucket).find(id => id === this.o.self || this.o.durable.has(id)) === this.o.self
  }

  /** The owners to ask, this member and owners gone (within the grace) left out. */
  others (bucket: string): string[] {
    return this.owners(bucket).filter(id => id !== this.o.self && this.o.durable.has(id))
  }

  /**
   * Whether this member keeps an entry: a bucket's own entry always; an
   * object's when it owns the bucket, holds that version, or placement
   * gives it a copy (so the repair loop finds what to fetch).
   */
  keeps (e: CatalogEntry): boolean {
    if (e.key === undefined || this.owns(e.bucket)) return true
    // By key, not DurableMembers.placed: a pick that a holder stands in for keeps the entry too, so that it has it
    // to fetch from once that holder is gone (told by an owner before its own view of the members has caught up).
    return e.holders.includes(this.o.self) || this.o.durable.replicas(e.bucket, e.key, this.o.replicas).includes(this.o.self)
  }

  /**
   * An object's entry, tombstones included: kept here when current, else an
   * owner's. With `holders`, the owners' even for a version held here: a
   * held version's replacement reaches this member (the leading owner's
   * notice), but not every change of its holders (a repair's new copy).
   */
  async entry (bucket: string, key: string, signal?: AbortSignal, options: { holders?: boolean, versionId?: string } = {}): Promise<CatalogEntry | undefined> {
    const { versionId } = options
    const catalog = this.o.catalog
    const local = versionId === undefined ? catalog.get(bucket, key) : catalog.slot(bucket, key, versionId === NULL_VERSION ? undefined : versionId)
    // A held entry answers without asking, but not for a key's head in a bucket keeping versions: a newer version
    // written elsewhere leaves the held slot as it was (only its owners hear of the new one).
    const held = options.holders !== true && local?.holders.includes(this.o.self) === true && (versionId !== undefined || catalog.get(bucket)?.versioning === undefined)
    if (this.answers(bucket) || held) return local
    return await this.remote(async q => await q.get(bucket, key, signal, versionId), local)
  }

  /** The entries of several keys of a bucket (those that exist, tombstones included). */
  async entries (bucket: string, keys: string[], signal?: AbortSignal): Promise<CatalogEntry[]> {
    const local = keys.flatMap(k => { const e = this.o.catalog.get(bucket, k); return e === undefined ? [] : [e] })
    if (this.answers(bucket)) return local
    // As entry(): a held slot is not a versioned key's head for sure.
    const held = this.o.catalog.get(bucket)?.versioning === undefined ? local.filter(e => e.holders.includes(this.o.self)) : []
    const heldKeys = new Set(held.map(e => e.key))
    const ask = keys.filter(k => !heldKeys.has(k))
    if (ask.length === 0) return held
    return [...held, ...await this.remote(async q => await q.getMany(bucket, ask, signal), local.filter(e => !held.includes(e)))]
  }

  /** A page of a bucket's live objects. */
  async page (bucket: string, options: { prefix?: string, startAfter?: string, limit: number }, signal?: AbortSignal): Promise<RemotePage> {
    if (this.answers(bucket)) return this.o.catalog.page(bucket, options)
    return await this.remote(async q => await q.page(bucket, options, signal), this.owns(bucket) ? this.o.catalog.page(bucket, options) : undefined)
  }

  /** A page of a bucket's live objects as ListObjects shows them (the owners send only that). */
  async listing (bucket: string, options: { prefix?: string, startAfter?: string, limit: number }, signal?: AbortSignal): Promise<RemoteListing> {
    const here = (): RemoteListing => summaries(this.o.catalog.page(bucket, options))
    if (this.answers(bucket)) return here()
    return await this.remote(async q => await q.listing(bucket, options, signal), this.owns(bucket) ? here() : undefined)
  }

  /** A page of a bucket's versions and delete markers (Catalog.versionPage). */
  async versionPage (bucket: string, options: VersionPageOptions, signal?: AbortSignal): Promise<VersionPage> {
    if (this.answers(bucket)) return this.o.catalog.versionPage(bucket, options)
    return await this.remote(async q => await q.versions(bucket, options, signal), this.owns(bucket) ? this.o.catalog.versionPage(bucket, options) : undefined)
  }

  /** A bucket's live objects and their bytes, and its versions and delete markers (a bucket with any is not empty; absent from an owner of an older release). */
  async totals (bucket: string, signal?: AbortSignal): Promise<{ objects: number, bytes: number, versions?: number }> {
    const here = (): { objects: number, bytes: number, versions?: number } => ({ ...this.o.catalog.bucketTotals(bucket), versions: this.o.catalog.versionTotals(bucket).versions })
    if (this.answers(bucket)) return here()
    return await this.remote(async q => await q.totals(bucket, signal), this.owns(bucket) ? here() : undefined)
  }

  /** Asks an owner; without an answer, what is kept here (if anything) stands in, else the request fails as S3 would. */
  private async remote<T> (ask: (q: CatalogQuery) => Promise<T>, fallback?: T): Promise<T> {
    const q = this.o.query
    if (q === undefined) throw new S3Error('ServiceUnavailable', 'The catalog is not partitioned here yet.')
    try {
      return await ask(q)
    } catch (err) {
      if (fallback !== undefined) return fallback
      throw new S3Error('ServiceUnavailable', `No member that keeps this bucket's catalog answered: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
}

/** A page of entries as ListObjects shows it. */
export function summaries (page: { entries: CatalogEntry[], isTruncated: boolean }): RemoteListing {
  return {
    objects: page.entries.map(e => ({ key: e.key!, size: e.object!.size, etag: e.object!.etag, lastModified: new Date(e.object!.lastModified) })),
    isTruncated: page.isTruncated,
  }
}
