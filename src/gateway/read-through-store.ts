import { isS3Error, S3Error, type S3ErrorCode } from '../core/errors.js'
import type { LifecycleRule } from '../core/lifecycle.js'
import type {
  BucketInfo, CompleteOptions, CompletedPart, CorsRule, DeleteOptions, ListOptions, ListResult, LockOptions, ObjectHandle, ObjectInfo,
  ObjectStore, PartInfo, PartOptions, PutOptions, Signal, UploadInfo, UploadOptions, VersionOptions, VersionTags,
} from '../core/object-store.js'
import { objectTags } from '../core/object-store.js'
import type { BucketObjectLock, LockChange, VersionLock } from '../core/object-lock.js'
import type { DeleteResult, VersioningStatus, VersionListOptions, VersionListResult } from '../core/versioning.js'

export interface ReadThroughOptions {
  /** The store that holds what is here. */
  local: ObjectStore
  /** Where to read what `local` lacks, when there is such a place now (it may change between requests). */
  remote: () => Promise<{ store: ObjectStore, name: string } | undefined>
}

/** The answers that send a read to the remote store, from the least said of what is missing to the most. */
const NOT_FOUND: readonly S3ErrorCode[] = ['NoSuchBucket', 'NoSuchKey', 'NoSuchVersion']

/**
 * Answers from a local store and, for a read it cannot answer (no such
 * bucket or key there), from a remote one: a browser's service worker with no
 * page node open, over IndexedDB and a GatewayStore towards the node that
 * served the page. Writes, uploads and the bucket list are the local
 * store's; what is read through is not kept. It keeps versions as the local
 * store does; a version it lacks (by id) is read through as well.
 */
export class ReadThroughStore implements ObjectStore {
  private readonly local: ObjectStore

  /** The local store's (a store that keeps versions), as its writes are. */
  readonly setBucketVersioning?: (name: string, status: VersioningStatus, options?: Signal) => Promise<void>
  /** The local store's listing; of a bucket it lacks, the remote one's. */
  readonly listObjectVersions?: (bucket: string, options: VersionListOptions) => Promise<VersionListResult>
  /** The local store's object lock (a store that keeps it), as its writes are: a lock is kept and enforced where the version is. */
  readonly setBucketObjectLock?: (name: string, lock: BucketObjectLock, options?: Signal) => Promise<void>
  readonly setObjectLock?: (bucket: string, key: string, change: LockChange, options?: LockOptions) => Promise<VersionLock | undefined>

  constructor (private readonly o: ReadThroughOptions) {
    this.local = o.local
    const { setBucketVersioning: set, listObjectVersions: list } = o.local
    if (set !== undefined && list !== undefined) {
      this.setBucketVersioning = async (name, status, options) => { await set.call(this.local, name, status, options) }
      this.listObjectVersions = async (bucket, options) => await this.read(bucket, async s => {
        // A remote store that keeps no versions lists none of a bucket this one lacks: the bucket is not here.
        if (s.listObjectVersions === undefined) throw new S3Error('NoSuchBucket', undefined, { resource: bucket, detail: { BucketName: bucket } })
        return await s.listObjectVersions(bucket, options)
      })
    }
    const { setBucketObjectLock: lockBucket, setObjectLock: lockVersion } = o.local
    if (lockBucket !== undefined && lockVersion !== undefined) {
      this.setBucketObjectLock = async (name, lock, options) => { await lockBucket.call(this.local, name, lock, options) }
      this.setObjectLock = async (bucket, key, change, options) => await lockVersion.call(this.local, bucket, key, change, options)
    }
  }

  /** `op` on the local store; on NoSuchBucket, NoSuchKey (but a delete marker) or NoSuchVersion there, on the remote one. */
  private async read<T> (what: string, op: (store: ObjectStore) => Promise<T>): Promise<T> {
    try {
      return await op(this.local)
    } catch (err) {
      if (!isS3Error(err) || !NOT_FOUND.includes(err.code)) throw err
      // A delete marker here says the key was deleted here: what the remote store still has is older.
      if (err.headers?.['x-amz-delete-marker'] === 'true') throw err
      const remote = await this.o.remote()
      if (remote === undefined) throw err
      try {
        return await op(remote.store)
      } catch (e) {
        if (isS3Error(e, 'ServiceUnavailable')) throw new S3Error('ServiceUnavailable', `This store does not hold ${what}, and ${remote.name} did not answer: ${e.message}`)
        // Missing there too: the answer that says more of what is missing (this store has the bucket, or the key) is this store's.
        if (isS3Error(e) && NOT_FOUND.includes(e.code) && e.headers?.['x-amz-delete-marker'] === undefined && NOT_FOUND.indexOf(e.code) < NOT_FOUND.indexOf(err.code)) throw err
        throw e
      }
    }
  }

  async headBucket (name: string, options?: Signal): Promise<BucketInfo> { return await this.read(name, async s => await s.headBucket(name, options)) }
  async listObjects (bucket: string, options: ListOptions): Promise<ListResult> { return await this.read(bucket, async s => await s.listObjects(bucket, options)) }
  async openObject (bucket: string, key: string, options?: VersionOptions): Promise<ObjectHandle> { return await this.read(`${bucket}/${key}`, async s => await s.openObject(bucket, key, options)) }
  async headObject (bucket: string, key: string, options?: VersionOptions): Promise<ObjectInfo> { return await this.read(`${bucket}/${key}`, async s => await s.headObject(bucket, key, options)) }
  async objectTags (bucket: string, key: string, options?: VersionOptions): Promise<VersionTags> { return await this.read(`${bucket}/${key}`, async s => await objectTags(s, bucket, key, options)) }

  async createBucket (name: string, options?: Signal): Promise<void> { await this.local.createBucket(name, options) }
  async listBuckets (options?: Signal): Promise<BucketInfo[]> { return await this.local.listBuckets(options) }
  async deleteBucket (name: string, options?: Signal): Promise<void> { await this.local.deleteBucket(name, options) }
  async setBucketCors (name: string, rules: CorsRule[] | undefined, options?: Signal): Promise<void> { await this.local.setBucketCors(name, rules, options) }
  async setBucketLifecycle (name: string, rules: LifecycleRule[] | undefined, options?: Signal): Promise<void> { await this.local.setBucketLifecycle(name, rules, options) }
  async putObject (bucket: string, key: string, body: ReadableStream<Uint8Array>, options: PutOptions): Promise<ObjectInfo> { return await this.local.putObject(bucket, key, body, await this.unconditional(options)) }
  async deleteObject (bucket: string, key: string, options?: DeleteOptions): Promise<DeleteResult | void> {
    // A conditional delete is a conditional write's kind: checked against the local store alone, it could pass on a key a read finds elsewhere.
    if (options?.ifMatch !== undefined) await this.unconditional({ condition: options.ifMatch })
    return await this.local.deleteObject(bucket, key, options)
  }
  async setObjectTags (bucket: string, key: string, tags: Record<string, string>, options?: VersionOptions): Promise<void> { await this.local.setObjectTags(bucket, key, tags, options) }
  async createMultipartUpload (bucket: string, key: string, options: UploadOptions): Promise<string> { return await this.local.createMultipartUpload(bucket, key, options) }
  async uploadPart (bucket: string, key: string, uploadId: string, partNumber: number, body: ReadableStream<Uint8Array>, options?: PartOptions): Promise<PartInfo> { return await this.local.uploadPart(bucket, key, uploadId, partNumber, body, options) }
  async listParts (bucket: string, key: string, uploadId: string, options?: Signal): Promise<PartInfo[]> { return await this.local.listParts(bucket, key, uploadId, options) }
  async listMultipartUploads (bucket: string, options?: { prefix?: string } & Signal): Promise<UploadInfo[]> { return await this.local.listMultipartUploads(bucket, options) }
  async completeMultipartUpload (bucket: string, key: string, uploadId: string, parts: CompletedPart[], options: CompleteOptions = {}): Promise<ObjectInfo> { return await this.local.completeMultipartUpload(bucket, key, uploadId, parts, await this.unconditional(options)) }
  async abortMultipartUpload (bucket: string, key: string, uploadId: string, options?: Signal): Promise<void> { await this.local.abortMultipartUpload(bucket, key, uploadId, options) }

  /**
   * Writes here are the local store's while reads also fall through to the
   * remote one: a condition checked against the local store alone would pass
   * on a key a read finds elsewhere. Refused until the write can be the node's;
   * with no remote store (none configured), the local store is all there is,
   * and checks it itself.
   */
  private async unconditional<T extends { condition?: unknown }> (options: T): Promise<T> {
    if (options.condition !== undefined && await this.o.remote() !== undefined) throw new S3Error('NotImplemented', 'Conditional writes need a node of the mesh: this store writes locally and reads through to another.')
    return options
  }
}
