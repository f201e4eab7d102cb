import { S3Error } from './errors.js'
import { hexDigests, toHex, webHashes, type Hashes } from './hashes.js'
import { randomId } from './ids.js'
import { plannedChecksum } from './checksums.js'
import { compareKeys } from './key-order.js'
import type { LifecycleRule } from './lifecycle.js'
import { completedMetadata, multipartEtag, selectParts } from './multipart.js'
import {
  checkWriteCondition, type BucketInfo, type CompleteOptions, type CompletedPart, type CorsRule, type ListOptions, type ListResult, type ObjectHandle, type ObjectInfo, type ObjectMetadata, type ObjectStore, type ObjectSummary, type PartInfo, type PartOptions, type PutOptions, type UploadInfo, type UploadOptions, type VersionAs, type VersionOptions, type DeleteOptions, type LockOptions,
  bytesHandle, putDigests, putIdentity,
} from './object-store.js'
import { changedLock, checkLockable, checkVersioningChange, lockForWrite, mayDeleteLocked, type BucketObjectLock, type LockChange, type VersionLock } from './object-lock.js'
import { SortedKeys } from './sorted-keys.js'
import { concatBytes, drainWithDigests } from './streams.js'
import {
  afterDelete, afterMarker, checkNamedVersion, placeVersion, STAMP_LENGTH, versionToRead, VersionIds, withVersion, writtenVersionId,
  type DeleteResult, type KeptVersion, type VersionListOptions, type VersionListResult, type VersioningStatus, type VersionSummary,
} from './versioning.js'

/** One version of a key: an object's (info and bytes) or a delete marker; `stamp` orders a key's versions (when each was made). */
interface StoredVersion extends KeptVersion { lastModified: Date, stamp: string, info?: ObjectInfo, bytes?: Uint8Array }
interface Upload { info: UploadInfo, metadata: ObjectMetadata, tags: Record<string, string>, lock?: VersionLock, lockAside?: boolean, acl?: string, parts: Map<number, PartInfo & { bytes: Uint8Array }> }
/** A bucket's keys, each with its versions newest first (one, the `null` version, while versioning was never enabled). */
interface Bucket { info: BucketInfo, objects: SortedKeys<StoredVersion[]>, uploads: Map<string, Upload> }


export interface MemoryStoreOptions {
  hashes?: Hashes
  /** Smallest part but the last; S3's 5 MiB unless a test wants smaller. */
  minPartSize?: number
}

/**
 * Everything in memory. The reference implementation of ObjectStore: tests,
 * the simulator and short-lived caches use it.
 */
export class MemoryStore implements ObjectStore {
  private readonly buckets = new Map<string, Bucket>()
  private readonly hashes: Hashes
  private readonly minPartSize?: number
  private readonly versionIds = new VersionIds(randomId(8))

  constructor (options: MemoryStoreOptions = {}) {
    this.hashes = options.hashes ?? webHashes
    this.minPartSize = options.minPartSize
  }

  private bucket (name: string): Bucket {
    const b = this.buckets.get(name)
    if (b === undefined) throw new S3Error('NoSuchBucket', undefined, { resource: name, detail: { BucketName: name } })
    return b
  }

  private upload (bucket: string, key: string, uploadId: string): Upload {
    const u = this.bucket(bucket).uploads.get(uploadId)
    if (u === undefined || u.info.key !== key) throw new S3Error('NoSuchUpload', undefined, { detail: { UploadId: uploadId } })
    return u
  }

  async createBucket (name: string): Promise<void> {
    if (this.buckets.has(name)) throw new S3Error('BucketAlreadyOwnedByYou', undefined, { resource: name, detail: { BucketName: name } })
    this.buckets.set(name, { info: { name, created: new Date() }, objects: new SortedKeys(), uploads: new Map() })
  }

  async headBucket (name: string): Promise<BucketInfo> {
    return { ...this.bucket(name).info }
  }

  async listBuckets (): Promise<BucketInfo[]> {
    return [...this.buckets.values()].map(b => ({ ...b.info })).sort((a, b) => compareKeys(a.name, b.name))
  }

  async deleteBucket (name: string): Promise<void> {
    const b = this.bucket(name)
    if (b.objects.size > 0 || b.uploads.size > 0) throw new S3Error('BucketNotEmpty', undefined, { resource: name, detail: { BucketName: name } })
    this.buckets.delete(name)
  }

  async setBucketCors (name: string, rules: CorsRule[] | undefined): Promise<void> {
    const { cors: _old, ...info } = this.bucket(name).info
    this.bucket(name).info = rules === undefined ? info : { ...info, cors: rules }
  }

  async setBucketLifecycle (name: string, rules: LifecycleRule[] | undefined): Promise<void> {
    const { lifecycle: _old, ...info } = this.bucket(name).info
    this.bucket(name).info = rules === undefined ? info : { ...info, lifecycle: rules }
  }

  lifecycleAtHand (bucket: string): LifecycleRule[] | undefined {
    return this.buckets.get(bucket)?.info.lifecycle
  }

  async setBucketVersioning (name: string, status: VersioningStatus): Promise<void> {
    checkVersioningChange(this.bucket(name).info.objectLock, status)
    this.bucket(name).info = { ...this.bucket(name).info, versioning: status }
  }

  async setBucketObjectLock (name: string, lock: BucketObjectLock): Promise<void> {
    checkLockable(this.bucket(name).info.versioning)
    this.bucket(name).info = { ...this.bucket(name).info, objectLock: lock }
  }

  async setObjectLock (bucket: string, key: string, change: LockChange, options?: LockOptions): Promise<VersionLock | undefined> {
    const v = this.version(bucket, key, options?.versionId)
    const { lock: _old, ...info } = v.info!
    const lock = changedLock(this.bucket(bucket).info.objectLock, v.info!.lock, change, new Date(), options?.bypassGovernance === true)
    v.info = lock === undefined ? info : { ...info, lock }
    return lock
  }

  /** The key's current object (none when its newest version is a delete marker). */
  private current (bucket: string, key: string): ObjectInfo | undefined {
    const v = this.bucket(bucket).objects.get(key)?.[0]
    return v === undefined || v.deleteMarker ? undefined : v.info
  }

  /**
   * Stores a written object as its key's newest version (replacing the
   * `null` one unless versioning is enabled), or as the version `named`
   * (in its place by its stamp); returns its info as shown.
   */
  private commit (bucket: string, key: string, written: ObjectInfo, bytes: Uint8Array, named?: VersionAs, asked?: VersionLock): ObjectInfo {
    const b = this.bucket(bucket)
    // The lock asked for, or the bucket's default from when the version is made.
    const lock = lockForWrite(asked, b.info.objectLock, written.lastModified)
    const info = lock === undefined ? written : { ...written, lock }
    if (named !== undefined) {
      checkNamedVersion(b.info.versioning, named.versionId)
      const version: StoredVersion = { versionId: named.versionId, stamp: named.stamp, deleteMarker: false, lastModified: info.lastModified, info, bytes }
      b.objects.set(key, placeVersion(b.objects.get(key) ?? [], version, v => v.stamp))
      return this.shown(bucket, version)
    }
    const id = this.versionIds.next()
    const version: StoredVersion = { versionId: writtenVersionId(b.info.versioning, () => id), stamp: id.slice(0, STAMP_LENGTH), deleteMarker: false, lastModified: info.lastModified, info, bytes }
    b.objects.set(key, withVersion(b.objects.get(key) ?? [], version))
    return this.shown(bucket, version)
  }

  /** A version as the store shows it: with its id once the bucket has had versioning set. */
  private shown (bucket: string, v: StoredVersion): ObjectInfo {
    return this.bucket(bucket).info.versioning === undefined ? v.info! : { ...v.info!, versionId: v.versionId }
  }

  async putObject (bucket: string, key: string, body: ReadableStream<Uint8Array>, options: PutOptions): Promise<ObjectInfo> {
    this.bucket(bucket)
    const chunks: Uint8Array[] = []
    const { size, digests } = await drainWithDigests(body, putDigests(options), options.verified, {
      hashes: this.hashes,
      expectedSize: options.size,
      signal: options.signal,
      sink: c => { chunks.push(c.slice()) },
    })
    const { versionAs, ...id } = await putIdentity(options, hexDigests(digests))
    const info: ObjectInfo = { key, size, ...id, tags: options.tags ?? {} }
    // Looked up again: the bucket may have been deleted while the body streamed.
    // Checked with the commit, in one turn of the event loop: nothing else writes in between.
    await options.beforeCommit?.()
    checkWriteCondition(options.condition, this.current(bucket, key), key)
    return this.commit(bucket, key, info, concatBytes(chunks, size), versionAs, options.lock)
  }

  /** The version a read names, or the key's current one (core/versioning.ts's versionToRead says what else). */
  private version (bucket: string, key: string, versionId?: string): StoredVersion {
    return versionToRead(this.bucket(bucket).objects.get(key) ?? [], key, versionId)
  }

  async openObject (bucket: string, key: string, options?: VersionOptions): Promise<ObjectHandle> {
    const v = this.version(bucket, key, options?.versionId)
    return bytesHandle(this.shown(bucket, v), v.bytes!)
  }

  async headObject (bucket: string, key: string, options?: VersionOptions): Promise<ObjectInfo> {
    return this.shown(bucket, this.version(bucket, key, options?.versionId))
  }

  async deleteObject (bucket: string, key: string, options?: DeleteOptions): Promise<DeleteResult> {
    const b = this.bucket(bucket)
    if (options?.ifMatch !== undefined) checkWriteCondition({ ifMatch: options.ifMatch }, this.current(bucket, key), key)
    if (options?.versionId !== undefined) {
      const target = b.objects.get(key)?.find(v => v.versionId === options.versionId)
      if (target !== undefined && !mayDeleteLocked(target.info?.lock, new Date(), options)) return { versionId: options.versionId, kept: true }
    }
    const marker = (versionId: string): StoredVersion => ({ versionId, stamp: (versionId === 'null' ? this.versionIds.next() : versionId).slice(0, STAMP_LENGTH), deleteMarker: true, lastModified: new Date() })
    const { versions, result } = afterDelete(b.objects.get(key) ?? [], b.info.versioning, options?.versionId, () => this.versionIds.next(), marker, options?.onlyIf)
    if (versions.length === 0) b.objects.delete(key)
    else b.objects.set(key, versions)
    return result
  }

  async listObjects (bucket: string, options: ListOptions): Promise<ListResult> {
    // A key whose newest version is a delete marker is not listed.
    const { entries, isTruncated } = this.bucket(bucket).objects.page({ ...options, where: versions => !versions[0]!.deleteMarker })
    return { objects: entries.map(([, versions]) => summaryOf(versions[0]!.info!)), isTruncated }
  }

  async listObjectVersions (bucket: string, options: VersionListOptions): Promise<VersionListResult> {
    const objects = this.bucket(bucket).objects
    const out: VersionSummary[] = []
    const add = (key: string, versions: StoredVersion[], from: number): boolean => {
      for (let i = from; i < versions.length; i++) {
        if (out.length === options.limit) return false
        const v = versions[i]!
        out.push({ key, versionId: v.versionId, isLatest: i === 0, deleteMarker: v.deleteMarker, lastModified: v.lastModified, ...(v.info === undefined ? {} : { size: v.info.size, etag: v.info.etag }) })
      }
      return true
    }
    // The marked key's versions older than the marked version first, then the keys after it.
    if (options.keyMarker !== undefined && options.versionIdMarker !== undefined && options.keyMarker.startsWith(options.prefix ?? '')) {
      const versions = objects.get(options.keyMarker) ?? []
      if (!add(options.keyMarker, versions, afterMarker(versions, options.versionIdMarker))) return { versions: out, isTruncated: true }
    }
    let startAfter = options.keyMarker
    for (;;) {
      const page = objects.page({ prefix: options.prefix, startAfter, limit: 1000 })
      for (const [key, versions] of page.entries) if (!add(key, versions, 0)) return { versions: out, isTruncated: true }
      if (!page.isTruncated) return { versions: out, isTruncated: false }
      startAfter = page.entries.at(-1)![0]
    }
  }

  async setObjectTags (bucket: string, key: string, tags: Record<string, string>, options?: VersionOptions): Promise<void> {
    const v = this.version(bucket, key, options?.versionId)
    v.info = { ...v.info!, tags }
  }

  async createMultipartUpload (bucket: string, key: string, options: UploadOptions): Promise<string> {
    const uploadId = randomId()
    // Refused now, not at completion, in a bucket without object lock.
    if (options.lockAside !== true) lockForWrite(options.lock, this.bucket(bucket).info.objectLock, new Date())
    this.bucket(bucket).uploads.set(uploadId, {
      info: { uploadId, key, initiated: new Date() }, metadata: options.metadata, tags: options.tags ?? {}, parts: new Map(),
      ...(options.lock === undefined ? {} : { lock: options.lock }), ...(options.lockAside === true ? { lockAside: true } : {}),
      ...(options.acl === undefined ? {} : { acl: options.acl }),
    })
    return uploadId
  }

  async uploadPart (bucket: string, key: string, uploadId: string, partNumber: number, body: ReadableStream<Uint8Array>, options: PartOptions = {}): Promise<PartInfo> {
    const planned = plannedChecksum(this.hashes, this.upload(bucket, key, uploadId).metadata.checksumPlan, body, options)
    const chunks: Uint8Array[] = []
    const { size, digests } = await drainWithDigests(planned.body, ['md5'], options.verified, {
      hashes: this.hashes, expectedSize: options.size, signal: options.signal, sink: c => { chunks.push(c.slice()) },
    })
    const checksum = planned.checksum?.()
    const part = { partNumber, etag: toHex(digests.md5!), size, lastModified: new Date(), ...(checksum === undefined ? {} : { checksum }), bytes: concatBytes(chunks, size) }
    this.upload(bucket, key, uploadId).parts.set(partNumber, part)
    const { bytes: _bytes, ...info } = part
    return info
  }

  async listParts (bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    return [...this.upload(bucket, key, uploadId).parts.values()]
      .sort((a, b) => a.partNumber - b.partNumber)
      .map(({ bytes: _bytes, ...part }) => part)
  }

  async listMultipartUploads (bucket: string, options: { prefix?: string } = {}): Promise<UploadInfo[]> {
    const prefix = options.prefix ?? ''
    return [...this.bucket(bucket).uploads.values()]
      .filter(u => u.info.key.startsWith(prefix))
      .map(u => ({ ...u.info }))
      .sort((a, b) => compareKeys(a.key, b.key) || a.initiated.getTime() - b.initiated.getTime())
  }

  async completeMultipartUpload (bucket: string, key: string, uploadId: string, parts: CompletedPart[], options: CompleteOptions = {}): Promise<ObjectInfo> {
    const first = this.upload(bucket, key, uploadId)
    const metadata = await completedMetadata(this.hashes, first.metadata, selectParts(parts, first.parts, this.minPartSize), options.checksum)
    await options.beforeCommit?.()
    // Looked up again after the wait (the upload may have been aborted), and checked with the commit in one turn of the event loop.
    const upload = this.upload(bucket, key, uploadId)
    checkWriteCondition(options.condition, this.current(bucket, key), key)
    const chosen = selectParts(parts, upload.parts, this.minPartSize)
    const bytes = concatBytes(chosen.map(p => upload.parts.get(p.partNumber)!.bytes))
    const sha = this.hashes.create('sha256')
    sha.update(bytes)
    const info: ObjectInfo = {
      key, size: bytes.byteLength, etag: multipartEtag(this.hashes, chosen), sha256: toHex(sha.digest()),
      lastModified: new Date(), metadata, tags: upload.tags, parts: chosen.length,
    }
    const kept = this.commit(bucket, key, info, bytes, options.versionAs, upload.lockAside === true ? undefined : upload.lock)
    this.bucket(bucket).uploads.delete(uploadId)
    return { ...kept, ...(upload.lockAside === true && upload.lock !== undefined ? { lock: upload.lock } : {}), ...(upload.acl === undefined ? {} : { uploadAcl: upload.acl }) }
  }

  async abortMultipartUpload (bucket: string, key: string, uploadId: string): Promise<void> {
    this.upload(bucket, key, uploadId)
    this.bucket(bucket).uploads.delete(uploadId)
  }
}

function summaryOf (info: ObjectInfo): ObjectSummary {
  return { key: info.key, size: info.size, etag: info.etag, lastModified: info.lastModified }
}
