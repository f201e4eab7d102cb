import { S3Error } from './errors.js'
import { hexDigests, toHex, webHashes, type Hashes } from './hashes.js'
import { randomId } from './ids.js'
import { plannedChecksum } from './checksums.js'
import { compareKeys } from './key-order.js'
import type { LifecycleRule } from './lifecycle.js'
import { completedMetadata, multipartEtag, selectParts } from './multipart.js'
import {
  checkWriteCondition, type BucketInfo, type CompleteOptions, type CompletedPart, type CorsRule, type ListOptions, type ListResult, type ObjectHandle, type ObjectInfo, type ObjectMetadata, type ObjectStore, type PartInfo, type PartOptions, type PutOptions, type UploadInfo,
  bytesHandle, putDigests, putIdentity,
} from './object-store.js'
import { SortedKeys } from './sorted-keys.js'
import { concatBytes, drainWithDigests } from './streams.js'

interface StoredObject { info: ObjectInfo, bytes: Uint8Array }
interface Upload { info: UploadInfo, metadata: ObjectMetadata, tags: Record<string, string>, parts: Map<number, PartInfo & { bytes: Uint8Array }> }
interface Bucket { info: BucketInfo, objects: SortedKeys<StoredObject>, uploads: Map<string, Upload> }

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

  async putObject (bucket: string, key: string, body: ReadableStream<Uint8Array>, options: PutOptions): Promise<ObjectInfo> {
    this.bucket(bucket)
    const chunks: Uint8Array[] = []
    const { size, digests } = await drainWithDigests(body, putDigests(options), options.verified, {
      hashes: this.hashes,
      expectedSize: options.size,
      signal: options.signal,
      sink: c => { chunks.push(c.slice()) },
    })
    const id = putIdentity(options, hexDigests(digests))
    const info: ObjectInfo = { key, size, ...id, tags: options.tags ?? {} }
    // Looked up again: the bucket may have been deleted while the body streamed.
    // Checked with the commit, in one turn of the event loop: nothing else writes in between.
    await options.beforeCommit?.()
    checkWriteCondition(options.condition, this.bucket(bucket).objects.get(key)?.info, key)
    this.bucket(bucket).objects.set(key, { info, bytes: concatBytes(chunks, size) })
    return info
  }

  private object (bucket: string, key: string): StoredObject {
    const o = this.bucket(bucket).objects.get(key)
    if (o === undefined) throw new S3Error('NoSuchKey', undefined, { resource: key, detail: { Key: key } })
    return o
  }

  async openObject (bucket: string, key: string): Promise<ObjectHandle> {
    const { info, bytes } = this.object(bucket, key)
    return bytesHandle(info, bytes)
  }

  async headObject (bucket: string, key: string): Promise<ObjectInfo> {
    return this.object(bucket, key).info
  }

  async deleteObject (bucket: string, key: string): Promise<void> {
    this.bucket(bucket).objects.delete(key)
  }

  async listObjects (bucket: string, options: ListOptions): Promise<ListResult> {
    const { entries, isTruncated } = this.bucket(bucket).objects.page(options)
    return {
      objects: entries.map(([, o]) => ({ key: o.info.key, size: o.info.size, etag: o.info.etag, lastModified: o.info.lastModified })),
      isTruncated,
    }
  }

  async setObjectTags (bucket: string, key: string, tags: Record<string, string>): Promise<void> {
    const o = this.object(bucket, key)
    o.info = { ...o.info, tags }
  }

  async createMultipartUpload (bucket: string, key: string, options: { metadata: ObjectMetadata, tags?: Record<string, string> }): Promise<string> {
    const uploadId = randomId()
    this.bucket(bucket).uploads.set(uploadId, {
      info: { uploadId, key, initiated: new Date() }, metadata: options.metadata, tags: options.tags ?? {}, parts: new Map(),
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
    checkWriteCondition(options.condition, this.bucket(bucket).objects.get(key)?.info, key)
    const chosen = selectParts(parts, upload.parts, this.minPartSize)
    const bytes = concatBytes(chosen.map(p => upload.parts.get(p.partNumber)!.bytes))
    const sha = this.hashes.create('sha256')
    sha.update(bytes)
    const info: ObjectInfo = {
      key, size: bytes.byteLength, etag: multipartEtag(this.hashes, chosen), sha256: toHex(sha.digest()),
      lastModified: new Date(), metadata, tags: upload.tags, parts: chosen.length,
    }
    const b = this.bucket(bucket)
    b.objects.set(key, { info, bytes })
    b.uploads.delete(uploadId)
    return info
  }

  async abortMultipartUpload (bucket: string, key: string, uploadId: string): Promise<void> {
    this.upload(bucket, key, uploadId)
    this.bucket(bucket).uploads.delete(uploadId)
  }
}
