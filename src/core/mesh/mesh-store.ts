import { isS3Error, S3Error } from '../errors.js'
import type { Hashes } from '../hashes.js'
import { KeyedLock } from '../keyed-lock.js'
import type {
  BucketInfo, CompletedPart, CorsRule, ListOptions, ListResult, ObjectHandle, ObjectInfo, ObjectMetadata,
  ObjectStore, PartInfo, PutOptions, Signal, UploadInfo, VerifiedDigests,
} from '../object-store.js'
import type { CatalogEntry, ObjectRecord } from './catalog-entry.js'
import type { Catalog } from './catalog.js'
import type { HybridClock } from './hlc.js'
import { compareVersions } from './hlc.js'
import { verifyingStream } from './verify-stream.js'

/** What the mesh store needs from the mesh around it (see MeshNode). */
export interface MeshContext {
  /** This member's id. */
  self: string
  catalog: Catalog
  clock: HybridClock
  hashes: Hashes
  /** Spreads entries this member made or changed (gossip). */
  announce: (entries: CatalogEntry[]) => void
  /** Resolves once what was announced so far has been sent to the peers. */
  announced: () => Promise<void>
  /**
   * Copies a new version to the other replicas placement picks; resolves
   * once the write quorum has it, or as many as could be reached, with the
   * members that took a copy by then. Copies made later are announced by
   * whoever makes them.
   */
  replicate: (entry: CatalogEntry, signal?: AbortSignal) => Promise<string[]>
  /** Fetches the newest version of an object from its holders into the local store (verified); resolves to the entry now held. */
  fetch: (entry: CatalogEntry, signal?: AbortSignal) => Promise<CatalogEntry>
  /** The local copy of a version turned out not to hash to it (bit rot, a hand edit): replace it. */
  onCorrupt: (entry: CatalogEntry) => void
  /** Puts the catalog on stable storage (if it is kept), so a delete acknowledged is not forgotten by a restart. */
  persist: () => Promise<void>
}

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
  }
}

/**
 * The ObjectStore the S3 handler uses on a mesh member: the cluster's
 * catalog decides what exists (so any member lists, HEADs and GETs every
 * object), the local store holds the bytes this member has, and what it lacks
 * is fetched from holders and verified before it is served. Writes go to the
 * local store first, then get a new version (hybrid clock: last writer wins),
 * are announced, and are copied to the replicas placement picks before the
 * write is acknowledged.
 */
export class MeshStore implements ObjectStore {
  /** Orders local writes of one key with the catalog's versions. */
  readonly locks = new KeyedLock()

  constructor (private readonly local: ObjectStore, private readonly mesh: MeshContext) {}

  // ---- buckets ----

  async createBucket (name: string, options?: Signal): Promise<void> {
    const existing = this.mesh.catalog.get(name)
    if (existing !== undefined && !existing.deleted) throw new S3Error('BucketAlreadyOwnedByYou', undefined, { resource: name, detail: { BucketName: name } })
    await this.ensureLocalBucket(name, options)
    this.publish({ bucket: name, version: this.version(), deleted: false, holders: [] })
  }

  async headBucket (name: string, options?: Signal): Promise<BucketInfo> {
    const e = this.liveBucket(name)
    // CORS rules live in the bucket's catalog entry: every node answers preflights alike.
    const cors = e.cors === undefined ? {} : { cors: e.cors }
    try {
      return { ...await this.local.headBucket(name, options), ...cors }
    } catch (err) {
      if (!isS3Error(err, 'NoSuchBucket')) throw err
      return { name, created: new Date(e.version.ms), ...cors }
    }
  }

  async listBuckets (): Promise<BucketInfo[]> {
    return this.mesh.catalog.listBuckets().map(e => ({ name: e.bucket, created: new Date(e.version.ms) }))
  }

  async deleteBucket (name: string, options?: Signal): Promise<void> {
    this.liveBucket(name)
    if (this.mesh.catalog.objectCount(name) > 0) throw new S3Error('BucketNotEmpty', undefined, { resource: name, detail: { BucketName: name } })
    try {
      await this.local.deleteBucket(name, options)
    } catch (err) {
      if (!isS3Error(err, 'NoSuchBucket')) throw err
    }
    this.publish({ bucket: name, version: this.version(), deleted: true, holders: [] })
    await this.mesh.persist()
  }

  async setBucketCors (name: string, rules: CorsRule[] | undefined, options?: Signal): Promise<void> {
    this.liveBucket(name)
    await this.ensureLocalBucket(name, options)
    await this.local.setBucketCors(name, rules, options)
    // A new version of the bucket's entry carries the rules to every member.
    this.publish({ bucket: name, version: this.version(), deleted: false, holders: [], ...(rules === undefined ? {} : { cors: rules }) })
  }

  // ---- objects ----

  async putObject (bucket: string, key: string, body: ReadableStream<Uint8Array>, options: PutOptions): Promise<ObjectInfo> {
    this.liveBucket(bucket)
    await this.ensureLocalBucket(bucket, options)
    return await this.committed(bucket, key, async () => await this.local.putObject(bucket, key, body, options), options.signal)
  }

  async openObject (bucket: string, key: string, options?: Signal): Promise<ObjectHandle> {
    let e = this.liveObject(bucket, key)
    for (let attempt = 0; attempt < 3; attempt++) {
      const handle = await this.openLocal(bucket, key, e.object!.sha256, options?.signal)
      if (handle !== undefined) return this.verified(handle, e)
      e = await this.mesh.fetch(e, options?.signal)
    }
    throw new S3Error('ServiceUnavailable', `${bucket}/${key} changed while it was being fetched; try again.`)
  }

  async headObject (bucket: string, key: string): Promise<ObjectInfo> {
    return infoOf(key, this.liveObject(bucket, key).object!)
  }

  async deleteObject (bucket: string, key: string, options?: Signal): Promise<void> {
    this.liveBucket(bucket)
    await this.locks.run(`${bucket}\n${key}`, async () => {
      await this.deleteLocal(bucket, key, options?.signal)
      this.publish({ bucket, key, version: this.version(), deleted: true, holders: [] })
    })
    await this.mesh.persist()
  }

  async listObjects (bucket: string, options: ListOptions): Promise<ListResult> {
    this.liveBucket(bucket)
    const page = this.mesh.catalog.page(bucket, options)
    return {
      objects: page.entries.map(e => ({ key: e.key!, size: e.object!.size, etag: e.object!.etag, lastModified: new Date(e.object!.lastModified) })),
      isTruncated: page.isTruncated,
    }
  }

  async setObjectTags (bucket: string, key: string, tags: Record<string, string>, options?: Signal): Promise<void> {
    await this.locks.run(`${bucket}\n${key}`, async () => {
      const e = this.liveObject(bucket, key)
      // The bytes do not change: every holder of the old version holds the new one.
      const entry: CatalogEntry = { ...e, version: this.version(), object: { ...e.object!, tags } }
      try {
        const local = await this.local.headObject(bucket, key, options)
        if (local.sha256 === e.object!.sha256) await this.local.setObjectTags(bucket, key, tags, options)
      } catch (err) {
        if (!isS3Error(err, 'NoSuchKey') && !isS3Error(err, 'NoSuchBucket')) throw err
      }
      this.publish(entry)
    })
  }

  // ---- multipart: staged on the member that receives the upload ----

  async createMultipartUpload (bucket: string, key: string, options: { metadata: ObjectMetadata, tags?: Record<string, string> } & Signal): Promise<string> {
    this.liveBucket(bucket)
    await this.ensureLocalBucket(bucket, options)
    return await this.local.createMultipartUpload(bucket, key, options)
  }

  async uploadPart (bucket: string, key: string, uploadId: string, partNumber: number, body: ReadableStream<Uint8Array>, options?: { size?: number, verified?: VerifiedDigests } & Signal): Promise<PartInfo> {
    return await this.local.uploadPart(bucket, key, uploadId, partNumber, body, options)
  }

  async listParts (bucket: string, key: string, uploadId: string, options?: Signal): Promise<PartInfo[]> {
    return await this.local.listParts(bucket, key, uploadId, options)
  }

  async listMultipartUploads (bucket: string, options?: { prefix?: string } & Signal): Promise<UploadInfo[]> {
    this.liveBucket(bucket)
    try {
      return await this.local.listMultipartUploads(bucket, options)
    } catch (err) {
      if (isS3Error(err, 'NoSuchBucket')) return []
      throw err
    }
  }

  async completeMultipartUpload (bucket: string, key: string, uploadId: string, parts: CompletedPart[], options?: Signal): Promise<ObjectInfo> {
    return await this.committed(bucket, key, async () => await this.local.completeMultipartUpload(bucket, key, uploadId, parts, options), options?.signal)
  }

  async abortMultipartUpload (bucket: string, key: string, uploadId: string, options?: Signal): Promise<void> {
    await this.local.abortMultipartUpload(bucket, key, uploadId, options)
  }

  // ---- for the mesh node ----

  /** The local copy of (bucket, key) if its content is `sha256`. */
  async openLocal (bucket: string, key: string, sha256: string, signal?: AbortSignal): Promise<ObjectHandle | undefined> {
    let handle: ObjectHandle
    try {
      handle = await this.local.openObject(bucket, key, { signal })
    } catch (err) {
      if (isS3Error(err, 'NoSuchKey') || isS3Error(err, 'NoSuchBucket')) return undefined
      throw err
    }
    if (handle.info.sha256 === sha256) return handle
    await handle.close()
    return undefined
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
    const verified = options.checked === true ? body : body.pipeThrough(verifyingStream(this.mesh.hashes, object))
    return await this.locks.run(`${bucket}\n${key}`, async () => {
      const current = this.mesh.catalog.get(bucket, key)
      if (current !== undefined && compareVersions(current.version, entry.version) > 0) {
        await verified.cancel(new Error('stale')).catch(() => {})
        return undefined
      }
      await this.ensureLocalBucket(bucket, { signal })
      const info = await this.local.putObject(bucket, key, verified, {
        metadata: object.metadata, tags: object.tags, size: object.size, verified: { sha256: object.sha256 }, signal,
        copyOf: { etag: object.etag, lastModified: new Date(object.lastModified), ...(object.parts === undefined ? {} : { parts: object.parts }) },
      })
      if (info.sha256 !== object.sha256) throw new Error(`Stored ${bucket}/${key} hashes to ${info.sha256}, not ${object.sha256}.`)
      const held = { ...entry, holders: [...new Set([...entry.holders, this.mesh.self])].sort() }
      if (options.quiet !== true) return this.publish(held)
      this.mesh.catalog.apply(held)
      return this.mesh.catalog.get(bucket, key) ?? held
    })
  }

  /** Removes the local copy of a key (a newer delete arrived, or the copy is stale). */
  async deleteLocal (bucket: string, key: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.local.deleteObject(bucket, key, { signal })
    } catch (err) {
      if (!isS3Error(err, 'NoSuchBucket')) throw err
    }
  }

  async ensureLocalBucket (name: string, options?: Signal): Promise<void> {
    try {
      await this.local.createBucket(name, options)
    } catch (err) {
      if (!isS3Error(err, 'BucketAlreadyOwnedByYou')) throw err
    }
  }

  /** Applies an entry made here and announces it; returns what the catalog now says. */
  publish (entry: CatalogEntry): CatalogEntry {
    this.mesh.catalog.apply(entry)
    const now = this.mesh.catalog.get(entry.bucket, entry.key) ?? entry
    this.mesh.announce([now])
    return now
  }

  /**
   * Runs a local write and versions it, under the key's lock (so a late
   * catalog entry cannot remove the new bytes in between), then copies it to
   * the replicas.
   */
  private async committed (bucket: string, key: string, write: () => Promise<ObjectInfo>, signal?: AbortSignal): Promise<ObjectInfo> {
    const { info, entry } = await this.locks.run(`${bucket}\n${key}`, async () => {
      const info = await write()
      // Announced at once, so that by the time the replicas have it (and the client its answer)
      // every member lists it: a GET anywhere right after the PUT finds it.
      return { info, entry: this.publish({ bucket, key, version: this.version(), deleted: false, object: recordOf(info), holders: [this.mesh.self] }) }
    })
    const replicas = await this.mesh.replicate(entry, signal)
    // Then once more with the replicas (which store quietly): two messages a write, not one per copy.
    if (replicas.length > 0) this.publish({ ...entry, holders: [this.mesh.self, ...replicas].sort() })
    await this.mesh.announced()
    return { ...info, replicas: 1 + replicas.length }
  }

  /**
   * A local handle that reports what the catalog says (tags may have changed
   * since the bytes were stored) and checks whole reads against the version's
   * SHA-256: bad bytes end the response short and get the copy replaced.
   * Ranges cannot be checked without reading everything; they are served as stored.
   */
  private verified (handle: ObjectHandle, e: CatalogEntry): ObjectHandle {
    const object = e.object!
    return {
      info: infoOf(e.key!, object),
      stream: range => {
        const body = handle.stream(range)
        if (range !== undefined && (range.start > 0 || range.end < object.size - 1)) return body
        return body.pipeThrough(verifyingStream(this.mesh.hashes, object, () => { this.mesh.onCorrupt(e) }))
      },
      close: async () => { await handle.close() },
    }
  }

  private version (): CatalogEntry['version'] {
    return { ...this.mesh.clock.tick(), node: this.mesh.self }
  }

  private liveBucket (name: string): CatalogEntry {
    const e = this.mesh.catalog.get(name)
    if (e === undefined || e.deleted) throw new S3Error('NoSuchBucket', undefined, { resource: name, detail: { BucketName: name } })
    return e
  }

  private liveObject (bucket: string, key: string): CatalogEntry {
    this.liveBucket(bucket)
    const e = this.mesh.catalog.get(bucket, key)
    if (e === undefined || e.deleted || e.object === undefined) throw new S3Error('NoSuchKey', undefined, { resource: `/${bucket}/${key}`, detail: { Key: key } })
    return e
  }
}

