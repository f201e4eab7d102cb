import { lstat, mkdir, readdir, readFile, rmdir, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { S3Error } from '../core/errors.js'
import type { Hashes } from '../core/hashes.js'
import { randomId } from '../core/ids.js'
import { compareKeys } from '../core/key-order.js'
import { KeyedLock } from '../core/keyed-lock.js'
import { multipartEtag, selectParts } from '../core/multipart.js'
import {
  type BucketInfo, type ByteRange, type CompletedPart, type CorsRule, type ListOptions, type ListResult, type ObjectHandle, type ObjectInfo, type ObjectMetadata, type ObjectStore, type PartInfo, type PutOptions, type Signal, type UploadInfo, type VerifiedDigests,
  putDigests, putIdentity,
} from '../core/object-store.js'
import { SortedKeys } from '../core/sorted-keys.js'
import { codeOf, fileStream, pruneEmptyDirs, removeQuietly, renameInto, storageError, syncDir, writeDurable } from './disk-files.js'
import { describeFile, filesBelow } from './disk-adopt.js'
import { DiskLayout } from './disk-layout.js'
import { toInfo, type BucketRecord, type MetaRecord } from './disk-records.js'
import { loadIndex, recoverCommits } from './disk-recovery.js'
import { DiskUploads } from './disk-uploads.js'
import { DiskWriter, type Bucket } from './disk-writer.js'
import { closeFd, fstatFd, openFd } from './fd.js'
import { MetaCache } from './meta-cache.js'
import { nodeHashes } from './node-hashes.js'

export interface DiskStoreOptions {
  /** Hash implementations; node:crypto by default. */
  hashes?: Hashes
  /** fsync files and folders before acknowledging a write (default true). Off only for throwaway data. */
  fsync?: boolean
  /** Smallest part but the last (S3: 5 MiB). */
  minPartSize?: number
}

/**
 * Objects as plain files under a data folder, with metadata beside them in
 * `.s3mesh/` (see DiskLayout). Every write lands in a temp file, is fsynced
 * and renamed into place, so readers see the old object or the new one,
 * never a part. Listing is served from an in-memory sorted index rebuilt at
 * start. One process owns a data folder at a time (lockDataDir, in data-dir-lock.ts, taken by the server).
 */
export class DiskStore implements ObjectStore {
  private readonly keyLocks = new KeyedLock()
  private readonly metaCache = new MetaCache()
  private readonly writer: DiskWriter
  private readonly uploads: DiskUploads
  private readonly hashes: Hashes
  private readonly sync: boolean
  private readonly minPartSize?: number

  private constructor (readonly layout: DiskLayout, private readonly buckets: Map<string, Bucket>, options: DiskStoreOptions) {
    this.hashes = options.hashes ?? nodeHashes
    this.sync = options.fsync ?? true
    this.minPartSize = options.minPartSize
    this.uploads = new DiskUploads(layout, this.sync)
    this.writer = new DiskWriter({
      layout, hashes: this.hashes, sync: this.sync, keyLocks: this.keyLocks, metaCache: this.metaCache, bucket: name => this.bucket(name),
    })
  }

  /** Opens (creating if needed) the store in `root`: finishes interrupted commits, cleans temp files, loads the index. */
  static async open (root: string, options: DiskStoreOptions = {}): Promise<DiskStore> {
    const layout = new DiskLayout(root)
    await mkdir(layout.tmp, { recursive: true })
    await mkdir(layout.bucketsMeta, { recursive: true })
    await recoverCommits(layout)
    const sync = options.fsync ?? true
    const loaded = await loadIndex(layout, async (name, created) => {
      const record = { name, created }
      await DiskStore.writeBucketRecord(layout, record, sync)
      return record
    })
    const buckets = new Map<string, Bucket>()
    for (const [name, b] of loaded) buckets.set(name, { ...b, pending: 0, deleting: false })
    const store = new DiskStore(layout, buckets, options)
    // Files put into bucket folders by hand, while the server was down, become listed objects.
    for (const name of buckets.keys()) {
      for await (const f of filesBelow(layout.bucketDir(name))) {
        if (!buckets.get(name)!.objects.has(f.key)) await store.adopt(name, f.key, f.path)
      }
    }
    return store
  }

  /**
   * Makes the file at a key's path the object: hashes it, writes its metadata,
   * indexes it. `previous` keeps an edited object's content type, user metadata
   * and tags. Undefined when there is no regular file.
   */
  private async adopt (bucket: string, key: string, path: string, previous?: MetaRecord): Promise<MetaRecord | undefined> {
    const described = await describeFile(path, key, this.hashes)
    if (described === undefined) return undefined
    const meta: MetaRecord = previous === undefined
      ? described
      : { ...described, metadata: previous.metadata, tags: previous.tags, hidden: previous.hidden }
    await this.saveMeta(bucket, key, meta)
    this.buckets.get(bucket)?.objects.set(key, { size: meta.size, etag: meta.etag, lastModified: meta.lastModified, hidden: meta.hidden })
    return meta
  }

  /** Replaces an object's metadata file (data unchanged) and its cache entry; call with the key's lock held. */
  private async saveMeta (bucket: string, key: string, meta: MetaRecord): Promise<void> {
    const tmp = this.layout.tmpPath(randomId(), '.meta')
    await writeDurable(tmp, JSON.stringify(meta), this.sync)
    await renameInto(tmp, this.layout.metaPath(bucket, key))
    this.metaCache.set(`${bucket}/${key}`, meta)
  }

  private static async writeBucketRecord (layout: DiskLayout, record: BucketRecord, sync: boolean): Promise<void> {
    const tmp = layout.tmpPath(randomId(), '.bucket')
    await writeDurable(tmp, JSON.stringify(record), sync)
    await renameInto(tmp, layout.bucketMeta(record.name))
    if (sync) await syncDir(layout.bucketsMeta)
  }

  private bucket (name: string): Bucket {
    const b = this.buckets.get(name)
    if (b === undefined || b.deleting) throw new S3Error('NoSuchBucket', undefined, { resource: name, detail: { BucketName: name } })
    return b
  }

  // ---- buckets ----

  async createBucket (name: string): Promise<void> {
    if (this.buckets.has(name)) throw new S3Error('BucketAlreadyOwnedByYou', undefined, { resource: name, detail: { BucketName: name } })
    const bucket: Bucket = { record: { name, created: Date.now() }, objects: new SortedKeys(), pending: 1, deleting: false }
    this.buckets.set(name, bucket)
    try {
      await mkdir(this.layout.bucketDir(name), { recursive: true })
      await DiskStore.writeBucketRecord(this.layout, bucket.record, this.sync)
    } catch (err) {
      this.buckets.delete(name)
      throw storageError(err, 'create the bucket')
    } finally {
      bucket.pending--
    }
  }

  async headBucket (name: string): Promise<BucketInfo> {
    const { record } = this.bucket(name)
    return { name, created: new Date(record.created), ...(record.cors !== undefined ? { cors: record.cors } : {}) }
  }

  async listBuckets (): Promise<BucketInfo[]> {
    return [...this.buckets.values()].filter(b => !b.deleting)
      .map(b => ({ name: b.record.name, created: new Date(b.record.created) }))
      .sort((a, b) => compareKeys(a.name, b.name))
  }

  async deleteBucket (name: string): Promise<void> {
    const b = this.bucket(name)
    const notEmpty = (why?: string): S3Error => new S3Error('BucketNotEmpty', why, { resource: name, detail: { BucketName: name } })
    if (b.objects.size > 0 || b.pending > 0) throw notEmpty()
    b.deleting = true
    try {
      if (await this.uploads.hasAny(name)) throw notEmpty('The bucket has multipart uploads in progress: complete or abort them first.')
      if (!(await removeEmptyTree(this.layout.bucketDir(name)))) {
        throw notEmpty('The bucket folder holds files that s3mesh does not manage: move or delete them first.')
      }
      await unlink(this.layout.bucketMeta(name))
      for (const dir of [this.layout.metaDir(name), this.layout.hiddenDir(name), this.layout.uploadsDir(name)]) await removeQuietly(dir)
      this.metaCache.deleteBucket(name)
      this.buckets.delete(name)
    } catch (err) {
      b.deleting = false
      throw storageError(err, 'delete the bucket')
    }
  }

  async setBucketCors (name: string, rules: CorsRule[] | undefined): Promise<void> {
    const b = this.bucket(name)
    const record: BucketRecord = { name, created: b.record.created, ...(rules !== undefined ? { cors: rules } : {}) }
    await DiskStore.writeBucketRecord(this.layout, record, this.sync).catch(err => { throw storageError(err, 'save the CORS rules') })
    b.record = record
  }

  // ---- objects ----

  async putObject (bucket: string, key: string, body: ReadableStream<Uint8Array>, options: PutOptions): Promise<ObjectInfo> {
    this.bucket(bucket)
    const written = await this.writer.writeTemp(body, { size: options.size, signal: options.signal, verified: options.verified, algorithms: putDigests(options) })
    const { lastModified, ...id } = putIdentity(options, written)
    return await this.writer.commit(bucket, key, written, { size: written.size, ...id, lastModified: lastModified.getTime(), metadata: options.metadata, tags: options.tags ?? {} })
  }

  private dataPathOf (bucket: string, key: string, hidden: boolean): string {
    return hidden ? this.layout.hiddenPath(bucket, key) : this.layout.visiblePath(bucket, key)!
  }

  /** An object's metadata; call with the key's lock held (a file found at the key's path is adopted). */
  private async readMeta (bucket: string, key: string): Promise<MetaRecord> {
    const b = this.bucket(bucket)
    const missing = (): S3Error => new S3Error('NoSuchKey', undefined, { resource: key, detail: { Key: key } })
    if (!b.objects.has(key)) {
      // A file copied into the bucket folder while the server runs is readable at once.
      const path = this.layout.visiblePath(bucket, key)
      const adopted = path === undefined ? undefined : await this.adopt(bucket, key, path).catch(() => undefined)
      if (adopted === undefined) throw missing()
      return adopted
    }
    const cached = this.metaCache.get(`${bucket}/${key}`)
    if (cached !== undefined) return cached
    try {
      const meta = JSON.parse(await readFile(this.layout.metaPath(bucket, key), 'utf8')) as MetaRecord
      this.metaCache.set(`${bucket}/${key}`, meta)
      return meta
    } catch (err) {
      if (codeOf(err) === 'ENOENT') throw missing()
      throw err
    }
  }

  async openObject (bucket: string, key: string): Promise<ObjectHandle> {
    const { meta, fd } = await this.keyLocks.run(`${bucket}/${key}`, async () => {
      let meta = await this.readMeta(bucket, key)
      for (let attempt = 0; ; attempt++) {
        const path = this.dataPathOf(bucket, key, meta.hidden)
        let fd: number
        try {
          fd = await openFd(path, 'r')
        } catch (err) {
          if (codeOf(err) !== 'ENOENT') throw err
          // The file was deleted by hand: the object is gone.
          await this.forget(bucket, key)
          throw new S3Error('NoSuchKey', undefined, { resource: key, detail: { Key: key } })
        }
        const s = await fstatFd(fd)
        if (s.ino === meta.ino && s.size === meta.size && s.mtimeMs === meta.mtimeMs) return { meta, fd }
        await closeFd(fd)
        // The file was replaced or edited outside s3mesh: it is the object now, with a new ETag.
        const again = attempt === 0 ? await this.adopt(bucket, key, path, meta) : undefined
        if (again === undefined) throw new S3Error('ServiceUnavailable', `The file behind ${bucket}/${key} is changing on disk; retry.`)
        meta = again
      }
    })
    let closed = false
    const close = async (): Promise<void> => {
      if (closed) return
      closed = true
      await closeFd(fd).catch(() => {})
    }
    return {
      info: toInfo(meta),
      stream: (range?: ByteRange) => fileStream(fd, range?.start ?? 0, range?.end ?? meta.size - 1, close),
      close,
    }
  }

  async headObject (bucket: string, key: string): Promise<ObjectInfo> {
    return toInfo(await this.keyLocks.run(`${bucket}/${key}`, async () => await this.readMeta(bucket, key)))
  }

  /** Drops an object's metadata and index entry. */
  private async forget (bucket: string, key: string): Promise<void> {
    this.metaCache.delete(`${bucket}/${key}`)
    await unlink(this.layout.metaPath(bucket, key)).catch(err => { if (codeOf(err) !== 'ENOENT') throw storageError(err, 'delete the object') })
    this.buckets.get(bucket)?.objects.delete(key)
  }

  async deleteObject (bucket: string, key: string): Promise<void> {
    const b = this.bucket(bucket)
    await this.keyLocks.run(`${bucket}/${key}`, async () => {
      const entry = b.objects.get(key)
      if (entry === undefined) {
        // A file put there by hand and never read is the object all the same: delete it too.
        const path = this.layout.visiblePath(bucket, key)
        const found = path === undefined ? undefined : await lstat(path).catch(() => undefined)
        if (found?.isFile() === true) {
          await unlink(path!).catch(err => { if (codeOf(err) !== 'ENOENT') throw storageError(err, 'delete the object') })
          await pruneEmptyDirs(dirname(path!), this.layout.bucketDir(bucket))
        }
        return
      }
      // Metadata first: it is what makes the object exist. A crash before the data
      // is unlinked leaves an unlisted file behind, never a listed key that cannot be read.
      const dataPath = this.dataPathOf(bucket, key, entry.hidden)
      await this.forget(bucket, key)
      await unlink(dataPath).catch(err => { if (codeOf(err) !== 'ENOENT') throw storageError(err, 'delete the object') })
      if (!entry.hidden) await pruneEmptyDirs(dirname(dataPath), this.layout.bucketDir(bucket))
      if (key.endsWith('/')) {
        const folder = this.layout.visiblePath(bucket, key.slice(0, -1))
        if (folder !== undefined) await pruneEmptyDirs(folder, this.layout.bucketDir(bucket))
      }
    })
  }

  async listObjects (bucket: string, options: ListOptions): Promise<ListResult> {
    const { entries, isTruncated } = this.bucket(bucket).objects.page(options)
    return {
      objects: entries.map(([key, e]) => ({ key, size: e.size, etag: e.etag, lastModified: new Date(e.lastModified) })),
      isTruncated,
    }
  }

  async setObjectTags (bucket: string, key: string, tags: Record<string, string>): Promise<void> {
    await this.keyLocks.run(`${bucket}/${key}`, async () => {
      const meta = await this.readMeta(bucket, key)
      await this.saveMeta(bucket, key, { ...meta, tags })
    }).catch(err => { throw storageError(err, 'save the tags') })
  }

  // ---- multipart ----

  async createMultipartUpload (bucket: string, key: string, options: { metadata: ObjectMetadata, tags?: Record<string, string> } & Signal): Promise<string> {
    this.bucket(bucket)
    const uploadId = randomId()
    await this.uploads.create(bucket, uploadId, { key, initiated: Date.now(), metadata: options.metadata, tags: options.tags ?? {} }, this.layout.tmpPath(randomId(), '.upload'))
      .catch(err => { throw storageError(err, 'start the upload') })
    return uploadId
  }

  async uploadPart (bucket: string, key: string, uploadId: string, partNumber: number, body: ReadableStream<Uint8Array>, options: { size?: number, verified?: VerifiedDigests } & Signal = {}): Promise<PartInfo> {
    this.bucket(bucket)
    await this.uploads.get(bucket, key, uploadId)
    // A part is named by its MD5 (its ETag); the object's SHA-256 is computed when the parts are put together.
    const written = await this.writer.writeTemp(body, { size: options.size, signal: options.signal, verified: options.verified, algorithms: ['md5'] })
    try {
      await this.keyLocks.run(`upload/${uploadId}`, async () => {
        await this.uploads.get(bucket, key, uploadId)
        await this.uploads.putPart(bucket, uploadId, partNumber, written.md5!, written.tmp)
      })
    } catch (err) {
      await removeQuietly(written.tmp)
      throw storageError(err, 'store the part')
    }
    return { partNumber, etag: written.md5!, size: written.size, lastModified: new Date() }
  }

  async listParts (bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    this.bucket(bucket)
    await this.uploads.get(bucket, key, uploadId)
    return [...(await this.uploads.parts(bucket, uploadId)).values()]
      .sort((a, b) => a.partNumber - b.partNumber)
      .map(({ partNumber, etag, size, lastModified }) => ({ partNumber, etag, size, lastModified }))
  }

  async listMultipartUploads (bucket: string, options: { prefix?: string } = {}): Promise<UploadInfo[]> {
    this.bucket(bucket)
    return await this.uploads.list(bucket, options.prefix ?? '')
  }

  async completeMultipartUpload (bucket: string, key: string, uploadId: string, parts: CompletedPart[], options: Signal = {}): Promise<ObjectInfo> {
    this.bucket(bucket)
    return await this.keyLocks.run(`upload/${uploadId}`, async () => {
      const upload = await this.uploads.get(bucket, key, uploadId)
      const stored = await this.uploads.parts(bucket, uploadId)
      const chosen = selectParts(parts, stored, this.minPartSize)
      const tmp = this.layout.tmpPath(randomId())
      let joined: { sha256: string, ino: number, mtimeMs: number }
      try {
        joined = await this.uploads.join(chosen.map(p => stored.get(p.partNumber)!), tmp, this.hashes, options.signal)
      } catch (err) {
        await removeQuietly(tmp)
        throw storageError(err, 'assemble the parts')
      }
      const { sha256 } = joined
      const info = await this.writer.commit(bucket, key, { tmp, ...joined }, {
        size: chosen.reduce((n, p) => n + p.size, 0), etag: multipartEtag(this.hashes, chosen), sha256,
        lastModified: Date.now(), metadata: upload.metadata, tags: upload.tags, parts: chosen.length,
      })
      await removeQuietly(this.layout.uploadDir(bucket, uploadId))
      return info
    })
  }

  async abortMultipartUpload (bucket: string, key: string, uploadId: string): Promise<void> {
    this.bucket(bucket)
    await this.keyLocks.run(`upload/${uploadId}`, async () => {
      await this.uploads.get(bucket, key, uploadId)
      await removeQuietly(this.layout.uploadDir(bucket, uploadId))
    })
  }
}

/** Removes a folder tree that holds only folders; false (leaving the files) when it holds any file. */
async function removeEmptyTree (dir: string): Promise<boolean> {
  let entries
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return true
    throw err
  }
  let empty = true
  for (const e of entries) {
    if (e.isDirectory()) empty = (await removeEmptyTree(`${dir}/${e.name}`)) && empty
    else empty = false
  }
  if (empty) await rmdir(dir)
  return empty
}
