import { isS3Error } from '../errors.js'
import { toHex, type Hashes } from '../hashes.js'
import { KeyedLock } from '../keyed-lock.js'
import type { ObjectHandle, ObjectInfo, ObjectMetadata, ObjectStore, Signal, VersionAs } from '../object-store.js'
import { drain } from '../streams.js'
import { NULL_VERSION, stampAt } from '../versioning.js'
import { lockOfRecord } from '../object-lock.js'
import { compareSlotAge, createdOf, predated, type CatalogEntry, type ObjectRecord } from './catalog-entry.js'
import type { Catalog } from './catalog.js'
import { compareVersions, type HybridClock, type Version } from './hlc.js'
import { blobDigest, digestingStream, verifyingStream } from './verify-stream.js'

/** An object as the catalog records it. */
export function recordOf (info: ObjectInfo): ObjectRecord {
  return {
    size: info.size, etag: info.etag, sha256: info.sha256, lastModified: info.lastModified.getTime(),
    metadata: info.metadata, tags: info.tags, ...(info.parts === undefined ? {} : { parts: info.parts }),
  }
}

export function infoOf (key: string, r: ObjectRecord, replicas?: number): ObjectInfo {
  return {
    key, size: r.size, etag: r.etag, sha256: r.sha256, lastModified: new Date(r.lastModified),
    metadata: r.metadata, tags: r.tags, ...(r.parts === undefined ? {} : { parts: r.parts }), ...(replicas === undefined ? {} : { replicas }),
    ...(r.lock === undefined ? {} : { lock: lockOfRecord(r.lock) }),
  }
}

/** Whether a store's error says it has no such copy: no bucket, no key, no such version, or a delete marker there. */
export function isNoCopy (err: unknown): boolean {
  return isS3Error(err, 'NoSuchKey') || isS3Error(err, 'NoSuchBucket') || isS3Error(err, 'NoSuchVersion') || isS3Error(err, 'MethodNotAllowed')
}

/** What a write is before it has a version: where it goes and what it carries besides its bytes. */
export interface WriteHead {
  bucket: string
  key: string
  metadata: ObjectMetadata
  tags: Record<string, string>
  /** The declared size, when the writer knows it. */
  size?: number
}

/** A copy refused because the catalog already holds a newer version of its key. */
export class StaleVersionError extends Error {
  override name = 'StaleVersionError'
}

export interface LocalCopiesOptions {
  /** This member's id. */
  self: string
  catalog: Catalog
  clock: HybridClock
  hashes: Hashes
  /** Spreads entries this member made or changed (gossip). */
  announce: (entries: CatalogEntry[]) => void
}

/**
 * This member's own copies of objects, kept in line with the catalog: the
 * local store, the per-key lock that orders local writes with catalog
 * versions (a late entry cannot remove bytes just written), and the entries
 * this member publishes about what it holds. The S3-facing MeshStore, the
 * transfer protocol and the repair loop all build on it; it calls none of them.
 */
export class LocalCopies {
  readonly locks = new KeyedLock()
  readonly self: string

  constructor (readonly store: ObjectStore, private readonly o: LocalCopiesOptions) {
    this.self = o.self
  }

  /** A new version made by this member. */
  version (): Version {
    return { ...this.o.clock.tick(), node: this.self }
  }

  /** Applies an entry made here, without announcing it yet; returns what the catalog now says of its slot. */
  apply (entry: CatalogEntry): CatalogEntry {
    this.o.catalog.apply(entry)
    return (entry.key === undefined ? this.o.catalog.get(entry.bucket) : this.slotNow(entry.bucket, entry.key, entry.versionId)) ?? entry
  }

  /**
   * A new S3 version made here (a write, a delete marker, a delete), with
   * the bucket it was made in (the bucket's `born` as this member knows it),
   * unless it says already: a delete of that bucket then takes it out
   * everywhere (predated). Only where a version is made: an entry of one
   * made elsewhere, passed on or edited here, keeps what its maker said.
   */
  inBucket (e: CatalogEntry): CatalogEntry {
    if (e.key === undefined || e.incarnation !== undefined) return e
    const bucket = this.o.catalog.get(e.bucket)
    // Deleted by now (heard while the write was under way): the write was in the last bucket of the name. A bucket
    // brought back by a late change (its born among its ended) names none: what is written into it is kept whatever
    // comes after (a later change to a bucket made again meanwhile would end that born again).
    const born = bucket?.born
    const back = born !== undefined && bucket?.ended?.some(v => compareVersions(v, born) === 0) === true
    const incarnation = bucket?.deleted === true ? bucket.ended?.at(-1) : back ? undefined : born
    return incarnation === undefined ? e : { ...e, incarnation }
  }

  /** Whether an object entry was made in a bucket since deleted (see predated): the catalog does not keep it. */
  predated (e: CatalogEntry): boolean {
    return predated(this.o.catalog.get(e.bucket), e)
  }

  /** Whether a version sent here is older than what this member knows of its slot, or was made in a bucket since deleted. */
  private stale (e: CatalogEntry): boolean {
    const current = this.slotNow(e.bucket, e.key!, e.versionId)
    return (current !== undefined && compareSlotAge(current, e) > 0) || this.predated(e)
  }

  /** What the catalog says of one slot of a key: in a bucket never versioned, the key's head (its only slot), read as cheaply as always. */
  slotNow (bucket: string, key: string, versionId: string | undefined): CatalogEntry | undefined {
    const { catalog } = this.o
    return versionId === undefined && !this.versioned(bucket) ? catalog.get(bucket, key) : catalog.slot(bucket, key, versionId)
  }

  /** Applies an entry made here and announces it; returns what the catalog now says. */
  publish (entry: CatalogEntry): CatalogEntry {
    const now = this.apply(entry)
    this.o.announce([now])
    return now
  }

  /**
   * The id the local store keeps a slot's copy under: its version id, or
   * `null` for the null slot of a bucket with versioning set; undefined in a
   * bucket never versioned (the key's one object, read as it always was).
   */
  localId (e: CatalogEntry): string | undefined {
    if (e.versionId !== undefined) return e.versionId
    return this.versioned(e.bucket) ? NULL_VERSION : undefined
  }

  /** Whether the mesh's bucket has versioning set (its keys have slots besides the null one). */
  versioned (bucket: string): boolean {
    return this.o.catalog.get(bucket)?.versioning !== undefined
  }

  /** The version a slot's copy is stored as (its id, ordered by when it was made), in a bucket with versioning set. */
  versionAs (e: CatalogEntry): VersionAs | undefined {
    const versionId = this.localId(e)
    if (versionId === undefined) return undefined
    const created = createdOf(e)
    return { versionId, stamp: stampAt(created.ms, created.counter) }
  }

  /**
   * Whether this member surely has no copy of a version, known without I/O:
   * the entry does not list it as a holder and the store keeps nothing under
   * the key (ObjectStore.recorded). Opening it anyway costs a metadata
   * lookup, a look on disk for a file placed there by hand and an error;
   * such a file is the folder scan's to find.
   */
  surelyLacks (e: CatalogEntry): boolean {
    return !e.holders.includes(this.self) && this.store.recorded?.(e.bucket, e.key!) === false
  }

  /** The local copy of (bucket, key), or of its version `versionId` (see localId), if its content is `sha256`. */
  async openLocal (bucket: string, key: string, sha256: string, signal?: AbortSignal, versionId?: string): Promise<ObjectHandle | undefined> {
    let handle: ObjectHandle
    try {
      handle = await this.store.openObject(bucket, key, { signal, ...(versionId === undefined ? {} : { versionId }) })
    } catch (err) {
      if (isNoCopy(err)) return undefined
      throw err
    }
    if (handle.info.sha256 === sha256) return handle
    await handle.close()
    return undefined
  }

  /**
   * Whether a local copy's bytes still hash to `sha256`, read whole (the
   * handle is used up). A reader's word that they do not is not taken on
   * trust: a member that got it wrong, or lies, would otherwise have every
   * holder drop a good copy. A copy that ends short or hashes to other
   * content is damaged; one whose read failed with a system error (EIO,
   * EMFILE) is `unreadable`, which may pass.
   */
  async intact (handle: ObjectHandle, sha256: string, signal?: AbortSignal): Promise<'intact' | 'damaged' | 'unreadable'> {
    try {
      const { size, digests } = await drain(handle.stream(), { hashes: this.o.hashes, algorithms: ['sha256'], sink: () => {}, ...(signal === undefined ? {} : { signal }) })
      return size === handle.info.size && toHex(digests.sha256!) === sha256 ? 'intact' : 'damaged'
    } catch (err) {
      if (signal?.aborted === true) throw err
      return typeof (err as { code?: unknown } | undefined)?.code === 'string' ? 'unreadable' : 'damaged'
    }
  }

  /**
   * Stores a version received from another member: verified against its
   * entry, and only if no newer version of the key is known (a late copy
   * must not overwrite a newer write). Returns the entry with this member
   * added to its holders, already announced unless `quiet` (a replica of a
   * write in progress: the writer announces it with its replicas); undefined
   * if it was stale. `checked`: the body already errors instead of ending on
   * bad bytes (TransferService.get).
   */
  async storeVersion (entry: CatalogEntry, body: ReadableStream<Uint8Array>, options: { signal?: AbortSignal, checked?: boolean, quiet?: boolean } = {}): Promise<CatalogEntry | undefined> {
    const { bucket, key, object } = entry
    const { signal } = options
    if (key === undefined || object === undefined) throw new RangeError('Only object versions can be stored.')
    const verified = options.checked === true ? body : body.pipeThrough(verifyingStream(this.o.hashes, object))
    return await this.locks.run(`${bucket}\n${key}`, async () => {
      // Stale only if its own slot was overwritten or removed since (or its bucket deleted): a late copy of an old version is kept.
      if (this.stale(entry)) {
        await verified.cancel(new StaleVersionError('stale')).catch(() => {})
        return undefined
      }
      await this.ensureBucket(bucket, { signal })
      const versionAs = this.versionAs(entry)
      const info = await this.store.putObject(bucket, key, verified, {
        metadata: object.metadata, tags: object.tags, size: object.size, verified: { sha256: object.sha256 }, signal,
        copyOf: { etag: object.etag, lastModified: new Date(object.lastModified), ...(object.parts === undefined ? {} : { parts: object.parts }), ...(versionAs === undefined ? {} : { versionAs }) },
      })
      if (info.sha256 !== object.sha256) throw new Error(`Stored ${bucket}/${key} hashes to ${info.sha256}, not ${object.sha256}.`)
      return await this.held(entry, options.quiet === true, versionAs?.versionId)
    })
  }

  /**
   * Stores a write another member is making as its bytes arrive: the entry
   * (its version, SHA-256 and ETag) comes after the last byte. The bytes are
   * checked against it before the store commits, and the copy is refused
   * (nothing stored) if they differ or the catalog knows a newer version by
   * then. Quiet: the writer announces the version with its replicas.
   * `hashed`: the SHA-256 the caller already has of these same bytes (a
   * tab's write, hashed once as it is sent), taken instead of hashing them
   * again where they are still in memory.
   */
  async storeStreamed (head: WriteHead, body: ReadableStream<Uint8Array> | Blob, entry: () => Promise<CatalogEntry>, signal?: AbortSignal, hashed?: () => string | undefined): Promise<CatalogEntry> {
    const { bucket, key } = head
    return await this.locks.run(`${bucket}\n${key}`, async () => {
      await this.ensureBucket(bucket, { signal })
      let final: CatalogEntry | undefined
      const expected = async (): Promise<{ sha256: string, size: number }> => {
        final = await entry()
        if (final.bucket !== bucket || final.key !== key || final.object === undefined) throw new RangeError(`The version sent for ${bucket}/${key} is not one of it.`)
        this.o.clock.observe(final.version)
        // Not merged yet: it goes into the catalog once, with this member among its holders, when the copy has committed
        // (held). A copy of another version of the key waits for the key's lock meanwhile; a newer version or a delete
        // heard by gossip meanwhile wins that merge, and the reconciler then drops this copy.
        if (this.stale(final)) throw new StaleVersionError(`A newer version of ${bucket}/${key} exists, or the bucket it was written in was deleted.`)
        // A version of a bucket with versioning set: the store keeps it as one (the bucket's state may have come with it).
        if (this.localId(final) !== undefined) await this.ensureBucket(bucket, { signal })
        return final.object
      }
      // The bytes end before the version comes (the writer sends it once its own copy is committed): the store makes
      // them durable meanwhile, and the copy commits once they check out against it.
      // A Blob is given to the store as it is (it may keep it unread); its bytes are checked as a stream's would be.
      let storedAs: string | undefined
      let digest: { check: (want: { sha256: string, size: number }, known?: string) => Promise<void> }
      let bytes: ReadableStream<Uint8Array>
      if (body instanceof Blob) {
        digest = blobDigest(this.o.hashes, body)
        bytes = body.stream()
      } else {
        const digesting = digestingStream(this.o.hashes)
        digest = digesting
        bytes = body.pipeThrough(digesting.stream)
      }
      try {
        await this.store.putObject(bucket, key, bytes, {
          metadata: head.metadata, tags: head.tags, signal, ...(head.size === undefined ? {} : { size: head.size }), ...(body instanceof Blob ? { blob: body } : {}),
          copyOfAtEnd: async () => {
            await digest.check(await expected(), hashed?.())
            const o = final!.object!
            const versionAs = this.versionAs(final!)
            storedAs = versionAs?.versionId
            return { etag: o.etag, sha256: o.sha256, lastModified: new Date(o.lastModified), ...(o.parts === undefined ? {} : { parts: o.parts }), ...(o.metadata.checksum === undefined ? {} : { checksum: o.metadata.checksum }), ...(versionAs === undefined ? {} : { versionAs }) }
          },
        })
      } catch (err) {
        // Refused because its bucket was deleted: the folder made for it goes too (a start would take it for a bucket made after the delete).
        if (err instanceof StaleVersionError && this.o.catalog.get(bucket)?.deleted === true) await this.store.deleteBucket(bucket).catch(() => {})
        throw err
      }
      const held = await this.held(final!, true, storedAs)
      if (held === undefined) throw new StaleVersionError(`The bucket ${bucket}/${key} was written in was deleted.`)
      return held
    })
  }

  /**
   * Removes the local copy of a key (a newer delete arrived, or the copy is
   * stale), or of its version `versionId` (see localId). Without one, in a
   * store whose bucket keeps versions, the null version goes: a delete there
   * would leave a marker instead.
   */
  async deleteLocal (bucket: string, key: string, signal?: AbortSignal, versionId?: string): Promise<void> {
    try {
      const id = versionId ?? ((await this.store.headBucket(bucket, { signal })).versioning === undefined ? undefined : NULL_VERSION)
      await this.store.deleteObject(bucket, key, { signal, ...(id === undefined ? {} : { versionId: id }) })
    } catch (err) {
      if (!isS3Error(err, 'NoSuchBucket')) throw err
    }
  }

  /**
   * Makes sure the local store has the bucket, and keeps versions in it when
   * the mesh's bucket has versioning set (the mesh names them: every copy is
   * stored under its own id, whether the bucket is enabled or suspended).
   */
  async ensureBucket (name: string, options?: Signal): Promise<void> {
    // There already, nearly always: asked without an error (an S3Error records a stack) on every copy stored.
    let info = await this.store.headBucket(name, options).catch(() => undefined)
    if (info === undefined) {
      try {
        await this.store.createBucket(name, options)
      } catch (err) {
        if (!isS3Error(err, 'BucketAlreadyOwnedByYou')) throw err
      }
      info = { name, created: new Date() }
    }
    const meshVersioning = this.o.catalog.get(name)?.versioning
    if (info.versioning === undefined && meshVersioning !== undefined && this.store.setBucketVersioning !== undefined) {
      await this.store.setBucketVersioning(name, 'Enabled', options)
    } else if (info.versioning !== undefined && meshVersioning === undefined && this.o.catalog.get(name) !== undefined) {
      // Left keeping versions by a bucket of this name deleted from the mesh before (its folder went only once its
      // versions had): made again as the mesh's bucket is, if nothing is in it. (One with versions of its own, made
      // without the mesh, is adopted at start: its versioning comes with it.)
      const left = await this.store.listObjectVersions?.(name, { limit: 1, ...options })
      if (left?.versions.length === 0) {
        await this.store.deleteBucket(name, options).catch(() => {})
        await this.store.createBucket(name, options).catch(err => { if (!isS3Error(err, 'BucketAlreadyOwnedByYou')) throw err })
      }
    }
  }

  /** The entry with this member among its holders: announced, or only merged when quiet. */
  private async held (entry: CatalogEntry, quiet: boolean, storedAs: string | undefined): Promise<CatalogEntry | undefined> {
    // Its bucket deleted while the copy was made (heard meanwhile): the catalog keeps none of it, so the copy goes too.
    if (this.predated(entry)) {
      // Not abortable by the copy's caller: aborted, it would leave the copy for the next start to find. Nor is the
      // bucket's folder this copy may have made: a start would take it for a bucket made after the delete.
      await this.deleteLocal(entry.bucket, entry.key!, undefined, storedAs)
      if (this.o.catalog.get(entry.bucket)?.deleted === true) await this.store.deleteBucket(entry.bucket).catch(() => {})
      return undefined
    }
    const held = { ...entry, holders: [...new Set([...entry.holders, this.self])].sort() }
    if (!quiet) return this.publish(held)
    this.o.catalog.apply(held)
    return this.slotNow(entry.bucket, entry.key!, entry.versionId) ?? held
  }

}
