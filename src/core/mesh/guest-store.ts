import { S3Error } from '../errors.js'
import type {
  BucketInfo, CompleteOptions, CompletedPart, CorsRule, DeleteOptions, ListOptions, ListResult, LockOptions, ObjectHandle, ObjectInfo,
  ObjectStore, PartInfo, PartOptions, PutOptions, Signal, UploadInfo, UploadOptions, VersionOptions, VersionTags,
} from '../object-store.js'
import { objectTags } from '../object-store.js'
import type { BucketObjectLock, LockChange, VersionLock } from '../object-lock.js'
import { fanOut } from '../fan-out.js'
import type { DeleteResult, VersioningStatus, VersionListOptions, VersionListResult } from '../versioning.js'
import type { LifecycleRule } from '../lifecycle.js'
import type { CatalogEntry } from './catalog-entry.js'
import type { GuestMember } from './guest-member.js'
import { MeshStore } from './mesh-store.js'

/** Bytes the tab's own copy may run ahead of (or behind) the write to the node. */
const LOCAL_LEAD_BYTES = 1024 * 1024

/**
 * The ObjectStore a guest's S3 handler uses (a tab's): listings come from
 * the node a page at a time; a key's entry from the tab's catalog when the
 * feed keeps it current (a key the tab holds, a bucket it watches), else from
 * the node; bytes from the guest's own copies or fetched from holders,
 * verified, and kept; writes
 * are S3 requests to a node (`writer`, signed with the tab's credentials),
 * which decides them by the user's policies, versions them and replicates
 * them before it answers; the new entry is then taken from the node, so the
 * tab reads its own write at once. A bucket's versions are the node's too:
 * the feed carries each key's current version only, so older ones are
 * listed and read (by id) through the node.
 */
export class GuestStore extends MeshStore {
  /** Through the node, which keeps the bucket's versioning in its catalog entry; the tab then takes the new entry. */
  override readonly setBucketVersioning = async (name: string, status: VersioningStatus, options?: Signal): Promise<void> => {
    if (this.writer.setBucketVersioning === undefined) throw new S3Error('NotImplemented', 'The node this tab writes through keeps no versions.')
    await this.writer.setBucketVersioning(name, status, options)
    await this.refresh(name, undefined, true)
  }

  /** The node's listing: the tab's catalog holds no noncurrent version. */
  override readonly listObjectVersions = async (bucket: string, options: VersionListOptions): Promise<VersionListResult> => {
    if (this.writer.listObjectVersions === undefined) throw new S3Error('NotImplemented', 'The node this tab writes through keeps no versions.')
    return await this.writer.listObjectVersions(bucket, options)
  }

  /** Through the node, whose catalog keeps and enforces object lock; the tab then takes the new entry. */
  override readonly setBucketObjectLock = async (name: string, lock: BucketObjectLock, options?: Signal): Promise<void> => {
    if (this.writer.setBucketObjectLock === undefined) throw new S3Error('NotImplemented', 'The node this tab writes through keeps no object lock.')
    await this.writer.setBucketObjectLock(name, lock, options)
    await this.refresh(name, undefined, true)
  }

  /** A version's retention or legal hold, changed (and checked) by the node. */
  override readonly setObjectLock = async (bucket: string, key: string, change: LockChange, options?: LockOptions): Promise<VersionLock | undefined> => {
    if (this.writer.setObjectLock === undefined) throw new S3Error('NotImplemented', 'The node this tab writes through keeps no object lock.')
    const lock = await this.writer.setObjectLock(bucket, key, change, options)
    await this.refresh(bucket, key, true)
    return lock
  }

  constructor (private readonly guest: GuestMember, private readonly writer: ObjectStore) {
    super({
      copies: guest.copies,
      catalog: guest.catalog,
      hashes: guest.hashes,
      replicator: {
        begin: () => { throw new S3Error('NotImplemented', 'A guest writes through a node.') },
        replicate: async () => { throw new S3Error('NotImplemented', 'A guest writes through a node.') },
      },
      fetch: async (entry, signal) => await guest.fetch(entry, signal),
      onCorrupt: () => {},
      announced: async () => {},
      persist: async () => {},
    })
  }

  /** Asks the node for an entry this guest's catalog lacks (or after a write, for the new one). */
  private async refresh (bucket: string, key?: string, always = false): Promise<void> {
    if (!always && this.guest.catalog.get(bucket, key) !== undefined) return
    await this.guest.lookup(bucket, key).catch(() => undefined)
  }

  // ---- reads: the member's, once the entry is known ----

  override async headBucket (name: string, options?: Signal): Promise<BucketInfo> {
    await this.refresh(name)
    return await super.headBucket(name, options)
  }

  /** A page of the listing from the node: a tab keeps no bucket whole. */
  override async listObjects (bucket: string, options: ListOptions): Promise<ListResult> {
    await this.refresh(bucket)
    const b = this.guest.catalog.get(bucket)
    if (b === undefined || b.deleted) throw new S3Error('NoSuchBucket', undefined, { resource: bucket, detail: { BucketName: bucket } })
    const page = await this.guest.list(bucket, options, options.signal)
    return {
      objects: page.entries.map(e => ({ key: e.key!, size: e.object!.size, etag: e.object!.etag, lastModified: new Date(e.object!.lastModified) })),
      isTruncated: page.isTruncated,
      ...(page.after === undefined ? {} : { resumeAfter: page.after }),
    }
  }

  /** A key's current version from the mesh's holders (kept here); one named by id from the node. */
  override async openObject (bucket: string, key: string, options?: VersionOptions): Promise<ObjectHandle> {
    if (options?.versionId !== undefined) return await this.writer.openObject(bucket, key, options)
    await this.refresh(bucket)
    await this.refresh(bucket, key, !this.guest.trusts(bucket, key))
    return await super.openObject(bucket, key, options)
  }

  override async headObject (bucket: string, key: string, options?: VersionOptions): Promise<ObjectInfo> {
    if (options?.versionId !== undefined) return await this.writer.headObject(bucket, key, options)
    await this.refresh(bucket)
    await this.refresh(bucket, key, !this.guest.trusts(bucket, key))
    return await super.headObject(bucket, key, options)
  }

  /** Its entries lack the tags of objects its user may not read (the node holds them back). */
  readonly holdsTagsBack = true

  /**
   * A version's tags, from the node, which decides them with s3:GetObjectTagging:
   * an entry here lacks the tags of an object its user may not read (the node
   * held them back), and answering those as none would let a change of one
   * tag wipe the rest.
   */
  async objectTags (bucket: string, key: string, options?: VersionOptions): Promise<VersionTags> {
    return await objectTags(this.writer, bucket, key, options)
  }

  // ---- writes: through a node ----

  override async createBucket (name: string, options?: Signal): Promise<void> {
    await this.writer.createBucket(name, options)
    await this.refresh(name, undefined, true)
  }

  override async deleteBucket (name: string, options?: Signal): Promise<void> {
    await this.writer.deleteBucket(name, options)
    await this.refresh(name, undefined, true)
  }

  override async setBucketLifecycle (name: string, rules: LifecycleRule[] | undefined, options?: Signal): Promise<void> {
    await this.writer.setBucketLifecycle(name, rules, options)
  }

  override async setBucketCors (name: string, rules: CorsRule[] | undefined, options?: Signal): Promise<void> {
    await this.writer.setBucketCors(name, rules, options)
    await this.refresh(name, undefined, true)
  }

  override async putObject (bucket: string, key: string, body: ReadableStream<Uint8Array>, options: PutOptions): Promise<ObjectInfo> {
    // The tab keeps what it writes (it reads it cut off from its node, and serves it to other tabs): the bytes go to
    // its own store as they go to the node, and are committed there with the version the node gave them.
    // A body the tab has as a Blob goes whole to both, unread here: the writer reads it once to hash it (one too large
    // to send again it streams to the node unhashed), and the tab's copy is checked by that hash (or hashed by itself).
    const blob = options.blob
    const [toNode, toLocal] = blob !== undefined ? [body, blob] : fanOut(body, 2, { highWaterMark: LOCAL_LEAD_BYTES, size: chunk => chunk.byteLength })
    let written: ((entry: CatalogEntry) => void) | undefined
    let failed: ((err: Error) => void) | undefined
    const version = new Promise<CatalogEntry>((resolve, reject) => { written = resolve; failed = reject })
    const head = { bucket, key, metadata: options.metadata, tags: options.tags ?? {}, ...(options.size === undefined ? {} : { size: options.size }) }
    // One hashing pass: the writer hashes the bytes it sends (the node checks them against it), and the tab's copy,
    // the same bytes, is checked against the version by that hash rather than hashed again.
    let hashed: string | undefined
    const kept = this.guest.copies.storeStreamed(head, toLocal!, async () => await version, options.signal, () => hashed)
      .then(held => { this.guest.copies.publish(held) }, () => { /* not kept here: the node holds it */ })
    try {
      const info = await this.writer.putObject(bucket, key, toNode!, { ...options, returnEntry: true, onHashed: sha256 => { hashed = sha256; options.onHashed?.(sha256) } })
      // The node's answer carries the new entry; one without it (an older node, a header CORS hides) is asked for it.
      let entry = info.entry === undefined ? undefined : this.guest.written(bucket, key, info.entry)
      if (entry === undefined) {
        await this.refresh(bucket, key, true)
        entry = this.guest.catalog.get(bucket, key)
      }
      if (entry?.object?.sha256 === info.sha256 || entry?.object?.etag === info.etag) written!(entry)
      else failed!(new Error('the node\'s version of the write is not known here'))
      await kept
      return info
    } catch (err) {
      failed!(err instanceof Error ? err : new Error(String(err)))
      await kept
      throw err
    }
  }

  override async deleteObject (bucket: string, key: string, options?: DeleteOptions): Promise<DeleteResult | undefined> {
    const result = await this.writer.deleteObject(bucket, key, options)
    await this.refresh(bucket, key, true)
    return result ?? undefined
  }

  override async setObjectTags (bucket: string, key: string, tags: Record<string, string>, options?: VersionOptions): Promise<void> {
    await this.writer.setObjectTags(bucket, key, tags, options)
    await this.refresh(bucket, key, true)
  }

  override async createMultipartUpload (bucket: string, key: string, options: UploadOptions): Promise<string> {
    return await this.writer.createMultipartUpload(bucket, key, options)
  }

  override async uploadPart (bucket: string, key: string, uploadId: string, partNumber: number, body: ReadableStream<Uint8Array>, options?: PartOptions): Promise<PartInfo> {
    return await this.writer.uploadPart(bucket, key, uploadId, partNumber, body, options)
  }

  override async listParts (bucket: string, key: string, uploadId: string, options?: Signal): Promise<PartInfo[]> {
    return await this.writer.listParts(bucket, key, uploadId, options)
  }

  override async listMultipartUploads (bucket: string, options?: { prefix?: string } & Signal): Promise<UploadInfo[]> {
    return await this.writer.listMultipartUploads(bucket, options)
  }

  override async completeMultipartUpload (bucket: string, key: string, uploadId: string, parts: CompletedPart[], options?: CompleteOptions): Promise<ObjectInfo> {
    const info = await this.writer.completeMultipartUpload(bucket, key, uploadId, parts, options)
    await this.refresh(bucket, key, true)
    return info
  }

  override async abortMultipartUpload (bucket: string, key: string, uploadId: string, options?: Signal): Promise<void> {
    await this.writer.abortMultipartUpload(bucket, key, uploadId, options)
  }
}
