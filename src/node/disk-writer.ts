import { mkdir, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { hexDigests, type Hashes } from '../core/hashes.js'
import { randomId } from '../core/ids.js'
import type { KeyedLock } from '../core/keyed-lock.js'
import type { ObjectInfo, VerifiedDigests } from '../core/object-store.js'
import type { SortedKeys } from '../core/sorted-keys.js'
import { drainWithDigests } from '../core/streams.js'
import { DirSyncer } from './dir-syncer.js'
import { codeOf, pruneEmptyDirs, removeQuietly, renameInto, storageError, writeDurable } from './disk-files.js'
import type { DiskLayout } from './disk-layout.js'
import { toInfo, type BucketRecord, type IndexEntry, type MetaRecord, type PendingMeta } from './disk-records.js'
import { closeFd, fstatFd, fsyncFd, openFd, writevAll } from './fd.js'
import type { MetaCache } from './meta-cache.js'

/** A written, fsynced temp file waiting to be committed. */
export interface TempFile {
  tmp: string
  size: number
  /** Hex digests of what was computed (see writeTemp's algorithms). */
  md5?: string
  sha256?: string
  ino: number
  mtimeMs: number
}

export interface Bucket {
  record: BucketRecord
  objects: SortedKeys<IndexEntry>
  /** Writes in flight: a bucket with any is not empty. */
  pending: number
  deleting: boolean
}

// Small network chunks are gathered up to this many bytes per write system call.
const WRITE_BATCH = 1024 * 1024
/** Rename failures that mean "a file or folder of another key is in the way". */
const PATH_TAKEN = new Set(['EISDIR', 'ENOTDIR', 'EEXIST', 'ENOTEMPTY'])

export interface DiskWriterDeps {
  layout: DiskLayout
  hashes: Hashes
  sync: boolean
  /** The store's per-key locks: a commit holds its key's lock. */
  keyLocks: KeyedLock
  metaCache: MetaCache
  /** The live bucket, or NoSuchBucket. */
  bucket: (name: string) => Bucket
}

/**
 * The write path of DiskStore: a body streams into a temp file (hashed,
 * verified, fsynced), then a journaled commit moves it and its metadata into
 * place. See PendingMeta for the journal and disk-recovery.ts for what start-up
 * does with one a crash left behind.
 */
export class DiskWriter {
  private readonly dirSyncer = new DirSyncer()
  private readonly layout: DiskLayout
  private readonly hashes: Hashes
  private readonly sync: boolean

  constructor (private readonly deps: DiskWriterDeps) {
    this.layout = deps.layout
    this.hashes = deps.hashes
    this.sync = deps.sync
  }

  /** Streams a body into a new temp file, fsynced; returns its path, size, digests, inode and mtime. */
  async writeTemp (body: ReadableStream<Uint8Array>, options: { size?: number, signal?: AbortSignal, verified?: VerifiedDigests, algorithms: ReadonlyArray<'md5' | 'sha256'> }): Promise<TempFile> {
    const tmp = this.layout.tmpPath(randomId())
    let fd: number | undefined
    try {
      fd = await openFd(tmp, 'wx', 0o644)
      const file = fd
      // Chunks are gathered (not copied) and written together once they add up to WRITE_BATCH.
      let batch: Uint8Array[] = []
      let batched = 0
      const { size, digests } = await drainWithDigests(body, options.algorithms, options.verified, {
        hashes: this.hashes,
        expectedSize: options.size,
        signal: options.signal,
        sink: async chunk => {
          batch.push(chunk)
          batched += chunk.byteLength
          if (batched >= WRITE_BATCH) {
            const ready = batch
            batch = []
            batched = 0
            await writevAll(file, ready)
          }
        },
      })
      if (batch.length > 0) await writevAll(file, batch)
      if (this.sync) await fsyncFd(file)
      const s = await fstatFd(file)
      fd = undefined
      await closeFd(file)
      return { tmp, size, ...hexDigests(digests), ino: s.ino, mtimeMs: s.mtimeMs }
    } catch (err) {
      if (fd !== undefined) await closeFd(fd).catch(() => {})
      await removeQuietly(tmp)
      throw storageError(err, 'store the upload')
    }
  }

  /**
   * Moves a verified temp file into place as the object `key`, with its
   * metadata, atomically. See PendingMeta for how a crash between the two
   * renames is finished at start.
   */
  async commit (bucketName: string, key: string, temp: Pick<TempFile, 'tmp' | 'ino' | 'mtimeMs'>, record: Omit<MetaRecord, 'v' | 'key' | 'hidden' | 'ino' | 'mtimeMs'>): Promise<ObjectInfo> {
    const dataTmp = temp.tmp
    let bucket: Bucket
    try {
      bucket = this.deps.bucket(bucketName)
    } catch (err) {
      await removeQuietly(dataTmp)
      throw err
    }
    bucket.pending++
    const metaTmp = this.layout.tmpPath(randomId(), '.meta.json')
    let dataInPlace = false
    try {
      return await this.deps.keyLocks.run(`${bucketName}/${key}`, async () => {
        const metaPath = this.layout.metaPath(bucketName, key)
        const visible = this.layout.visiblePath(bucketName, key)
        const hidden = this.layout.hiddenPath(bucketName, key)
        const previous = bucket.objects.get(key)
        const full: MetaRecord = { v: 1, key, ...record, hidden: visible === undefined, ino: temp.ino, mtimeMs: temp.mtimeMs }
        const journal = async (dataPath: string): Promise<void> => {
          const pending: PendingMeta = { ...full, commit: { dataTmp, dataPath, metaPath } }
          await writeDurable(metaTmp, JSON.stringify(pending), this.sync)
        }
        // Everything that can fail for want of space happens before the data rename.
        await mkdir(dirname(metaPath), { recursive: true })
        let dataPath = visible ?? hidden
        await journal(dataPath)
        try {
          await renameInto(dataTmp, dataPath)
        } catch (err) {
          if (visible === undefined || !PATH_TAKEN.has(codeOf(err) ?? '')) throw err
          // Another key's file or folder holds this path (as `a` does for `a/b`): keep the bytes hidden.
          full.hidden = true
          dataPath = hidden
          await journal(dataPath)
          await renameInto(dataTmp, dataPath)
        }
        dataInPlace = true
        if (this.sync) await this.dirSyncer.sync(dirname(dataPath))
        // The journal copy becomes the metadata file as it is: its `commit` field is inert outside tmp/.
        await renameInto(metaTmp, metaPath)
        if (this.sync) await this.dirSyncer.sync(dirname(metaPath))
        if (previous !== undefined && previous.hidden !== full.hidden) {
          const old = previous.hidden ? hidden : visible!
          await unlink(old).catch(() => {})
          if (!previous.hidden) await pruneEmptyDirs(dirname(old), this.layout.bucketDir(bucketName))
        }
        if (key.endsWith('/')) {
          // A folder marker (`photos/`): show the folder to people browsing the data folder.
          const folder = this.layout.visiblePath(bucketName, key.slice(0, -1))
          if (folder !== undefined) await mkdir(folder, { recursive: true }).catch(() => {})
        }
        bucket.objects.set(key, { size: full.size, etag: full.etag, lastModified: full.lastModified, hidden: full.hidden })
        this.deps.metaCache.set(`${bucketName}/${key}`, full)
        return toInfo(full)
      })
    } catch (err) {
      await removeQuietly(dataTmp)
      if (dataInPlace) {
        // The new bytes replaced the old ones but the metadata did not follow: keep the
        // journal so the next start finishes this commit, and stop serving stale metadata.
        this.deps.metaCache.delete(`${bucketName}/${key}`)
      } else {
        await removeQuietly(metaTmp)
      }
      throw storageError(err, 'store the object')
    } finally {
      bucket.pending--
    }
  }
}
