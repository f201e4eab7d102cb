import { plannedChecksum } from '../core/checksums.js'
import type { Hashes } from '../core/hashes.js'
import { randomId } from '../core/ids.js'
import type { KeyedLock } from '../core/keyed-lock.js'
import { completedMetadata, multipartEtag, selectParts } from '../core/multipart.js'
import { lockOfRecord, lockRecord } from '../core/object-lock.js'
import { checkWriteCondition, type CompleteOptions, type CompletedPart, type ObjectInfo, type PartInfo, type PartOptions, type UploadInfo, type UploadOptions } from '../core/object-store.js'
import type { DiskBuckets } from './disk-buckets.js'
import { removeQuietly, storageError } from './disk-files.js'
import type { DiskLayout } from './disk-layout.js'
import type { DiskUploads } from './disk-uploads.js'
import type { DiskWriter } from './disk-writer.js'
import type { MetaDb } from './meta-db.js'

/** What DiskMultipart works with: DiskStore's own parts. */
export interface DiskMultipartDeps {
  layout: DiskLayout
  hashes: Hashes
  /** The store's per-key locks: an upload's changes hold `upload/<id>`. */
  keyLocks: KeyedLock
  /** Current objects' rows (a completion's condition is checked against the key's). */
  db: MetaDb
  buckets: DiskBuckets
  /** Each part's temp file, and the completed object's commit. */
  writer: DiskWriter
  /** The uploads' folders, records and part files. */
  uploads: DiskUploads
  /** Smallest part but the last (S3: 5 MiB; undefined: S3's). */
  minPartSize?: number
}

/**
 * DiskStore's multipart uploads: a part is written like an object's body (a
 * temp file, hashed on the way) and kept in its upload's folder (DiskUploads);
 * completing joins the chosen parts into one temp file and commits it as an
 * object is. One change of an upload at a time.
 */
export class DiskMultipart {
  constructor (private readonly d: DiskMultipartDeps) {}

  async create (bucket: string, key: string, options: UploadOptions): Promise<string> {
    const b = this.d.buckets.get(bucket)
    const uploadId = randomId()
    if (options.lockAside !== true) this.d.buckets.lockFor(bucket, options.lock, Date.now())
    const lock = lockRecord(options.lock)
    const aside = options.lockAside === true && lock !== undefined ? { lockAside: true as const } : {}
    const acl = options.acl === undefined ? {} : { acl: options.acl }
    // Counted as a write under way: a DeleteBucket meanwhile is refused (BucketNotEmpty) rather than remove the
    // bucket's uploads folder before this makes the upload's in it.
    b.pending++
    try {
      await this.d.uploads.create(bucket, uploadId, { key, initiated: Date.now(), metadata: options.metadata, tags: options.tags ?? {}, ...(lock === undefined ? {} : { lock }), ...aside, ...acl }, this.d.layout.tmpPath(randomId(), '.upload'))
        .catch(err => { throw storageError(err, 'start the upload') })
    } finally {
      b.pending--
    }
    return uploadId
  }

  async uploadPart (bucket: string, key: string, uploadId: string, partNumber: number, body: ReadableStream<Uint8Array>, options: PartOptions = {}): Promise<PartInfo> {
    this.d.buckets.get(bucket)
    const planned = plannedChecksum(this.d.hashes, (await this.d.uploads.get(bucket, key, uploadId)).metadata.checksumPlan, body, options)
    // A part is named by its MD5 (its ETag); the object's SHA-256 is computed when the parts are put together.
    const written = await this.d.writer.writeTemp(planned.body, { size: options.size, signal: options.signal, verified: options.verified, algorithms: ['md5'] })
    const checksum = planned.checksum?.()
    try {
      await this.d.keyLocks.run(`upload/${uploadId}`, async () => {
        await this.d.uploads.get(bucket, key, uploadId)
        await this.d.uploads.putPart(bucket, uploadId, partNumber, written.md5!, checksum, written.tmp)
      })
    } catch (err) {
      await removeQuietly(written.tmp)
      throw storageError(err, 'store the part')
    }
    return { partNumber, etag: written.md5!, size: written.size, lastModified: new Date(), ...(checksum === undefined ? {} : { checksum }) }
  }

  async listParts (bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    this.d.buckets.get(bucket)
    await this.d.uploads.get(bucket, key, uploadId)
    return [...(await this.d.uploads.parts(bucket, uploadId)).values()]
      .sort((a, b) => a.partNumber - b.partNumber)
      .map(({ path: _path, ...part }) => part)
  }

  async list (bucket: string, options: { prefix?: string } = {}): Promise<UploadInfo[]> {
    this.d.buckets.get(bucket)
    return await this.d.uploads.list(bucket, options.prefix ?? '')
  }

  async complete (bucket: string, key: string, uploadId: string, parts: CompletedPart[], options: CompleteOptions = {}): Promise<ObjectInfo> {
    this.d.buckets.get(bucket)
    return await this.d.keyLocks.run(`upload/${uploadId}`, async () => {
      const upload = await this.d.uploads.get(bucket, key, uploadId)
      // Checked before the parts are joined (a failed condition costs no copy), and again as the object commits.
      checkWriteCondition(options.condition, this.d.db.get(bucket, key), key)
      const stored = await this.d.uploads.parts(bucket, uploadId)
      const chosen = selectParts(parts, stored, this.d.minPartSize)
      const metadata = await completedMetadata(this.d.hashes, upload.metadata, chosen, options.checksum)
      const tmp = this.d.layout.tmpPath(randomId())
      let joined: { sha256: string, ino: number, mtimeMs: number }
      try {
        joined = await this.d.uploads.join(chosen.map(p => stored.get(p.partNumber)!), tmp, this.d.hashes, options.signal)
      } catch (err) {
        await removeQuietly(tmp)
        throw storageError(err, 'assemble the parts')
      }
      const { sha256 } = joined
      const lastModified = Date.now()
      const lock = upload.lockAside === true ? undefined : this.d.buckets.lockFor(bucket, lockOfRecord(upload.lock), lastModified)
      const info = await this.d.writer.commit(bucket, key, { tmp, ...joined }, {
        size: chosen.reduce((n, p) => n + p.size, 0), etag: multipartEtag(this.d.hashes, chosen), sha256,
        lastModified, metadata, tags: upload.tags, parts: chosen.length, ...(lock === undefined ? {} : { lock }),
      }, options.condition, options.beforeCommit, options.versionAs, this.d.layout.uploadDir(bucket, uploadId))
      const aside = upload.lockAside === true ? lockOfRecord(upload.lock) : undefined
      return { ...info, ...(aside === undefined ? {} : { lock: aside }), ...(upload.acl === undefined ? {} : { uploadAcl: upload.acl }) }
    })
  }

  async abort (bucket: string, key: string, uploadId: string): Promise<void> {
    this.d.buckets.get(bucket)
    await this.d.keyLocks.run(`upload/${uploadId}`, async () => {
      await this.d.uploads.get(bucket, key, uploadId)
      // Answered once gone for good: an upload left (a removal that failed) or back after a power cut is not aborted.
      await this.d.uploads.remove(bucket, uploadId).catch(err => { throw storageError(err, 'abort the upload') })
    })
  }
}
