import { lstat, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { hexDigests, type Hashes } from '../core/hashes.js'
import { uniqueIdSource } from '../core/ids.js'
import type { KeyedLock } from '../core/keyed-lock.js'
import { checkWriteCondition, type ObjectInfo, type VerifiedDigests, type VersionAs, type WriteCondition } from '../core/object-store.js'
import { checkNamedVersion, NULL_VERSION } from '../core/versioning.js'
import { drainWithDigests } from '../core/streams.js'
import { codeOf, pruneEmptyDirs, removeQuietly, renameInto, storageError, writeDurable } from './disk-files.js'
import type { DurableFolders, MadeFolders } from './durable-folders.js'
import type { DiskLayout } from './disk-layout.js'
import { toInfo, type BucketRecord, type MetaRecord } from './disk-records.js'
import { closeFd, fstatFd, fsyncFd, openFd, writevAll } from './fd.js'
import type { BlockedKeys } from './blocked-keys.js'
import type { DiskVersions } from './disk-versions.js'
import type { MetaDb, VersionPlan } from './meta-db.js'
import { removeUpload } from './disk-uploads.js'

/** A written, fsynced temp file waiting to be committed. */
export interface TempFile {
  tmp: string
  /** The file's fsync, when it was left running (writeTemp's syncLater): commit waits for it before the rename. */
  durable?: Promise<void>
  size: number
  /** Hex digests of what was computed (see writeTemp's algorithms). */
  md5?: string
  sha256?: string
  ino: number
  mtimeMs: number
}

export interface Bucket {
  record: BucketRecord
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
  /** Where the store's metadata rows and commit intents go. */
  db: MetaDb
  /** The live bucket, or NoSuchBucket. */
  bucket: (name: string) => Bucket
  /** Versions of keys in buckets with versioning set. */
  versions: DiskVersions
  /** Called under the key's lock before a write in a bucket with versioning set (the store brings its rows in line with the key's path). */
  beforeVersioned?: (bucket: string, key: string) => Promise<void>
  /** The folders files are renamed into, made and fsynced (shared with the store's versions and uploads). */
  folders: DurableFolders
  /** Keys whose change failed half-way, left alone until it is finished (shared with the store). */
  blocked: BlockedKeys
}

/**
 * Checks a write's or a delete's condition (core/object-store.ts) against the
 * key's current object: its row, else a file put at its path by hand and not
 * yet read, an object all the same (of an ETag not yet known). The key's
 * lock is held.
 */
export async function checkConditionOnDisk (condition: WriteCondition, current: { etag: string } | undefined, visible: string | undefined, key: string): Promise<void> {
  const byHand = current === undefined && visible !== undefined && (await lstat(visible).catch(() => undefined))?.isFile() === true
  checkWriteCondition(condition, current ?? (byHand ? { etag: '' } : undefined), key)
}

/**
 * The write path of DiskStore: a body streams into a temp file (hashed,
 * verified, fsynced), then a commit moves it into place and records its
 * metadata, with an intent in the metadata database that start-up finishes
 * or rolls back after a crash (disk-recovery.ts).
 */
export class DiskWriter {
  /** Temp files' and intents' names. */
  private readonly nextId = uniqueIdSource()
  private readonly layout: DiskLayout
  private readonly hashes: Hashes
  private readonly sync: boolean

  constructor (private readonly deps: DiskWriterDeps) {
    this.layout = deps.layout
    this.hashes = deps.hashes
    this.sync = deps.sync
  }

  /**
   * Streams a body into a new temp file, fsynced; returns its path, size,
   * digests, inode and mtime. With `syncLater` the fsync is left running
   * (`durable`), for a commit that makes its intent durable meanwhile.
   */
  async writeTemp (body: ReadableStream<Uint8Array>, options: { size?: number, signal?: AbortSignal, verified?: VerifiedDigests, algorithms: ReadonlyArray<'md5' | 'sha256'>, syncLater?: boolean }): Promise<TempFile> {
    const tmp = this.layout.tmpPath(this.nextId())
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
      if (this.sync && options.syncLater === true) {
        const s = await fstatFd(file)
        fd = undefined
        const durable = fsyncFd(file).finally(async () => { await closeFd(file) })
        // Awaited by the commit; a write given up before it (a failed identity or condition) does not wait for it.
        durable.catch(() => {})
        return { tmp, size, ...hexDigests(digests), ino: s.ino, mtimeMs: s.mtimeMs, durable }
      }
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
   * metadata, atomically: the commit's intent is made durable in the metadata
   * database first, then the data file is renamed into place, then the row is
   * written and the intent cleared. A crash between those steps is finished or
   * rolled back at the next start (recoverIntents, in disk-recovery.ts).
   * `named`: the version it is (ObjectStore's VersionAs); one older than the
   * key's newest goes straight to the noncurrent versions. `upload`: the
   * folder of the multipart upload the commit completes (CommitIntent.upload).
   */
  async commit (bucketName: string, key: string, temp: Pick<TempFile, 'tmp' | 'ino' | 'mtimeMs' | 'durable'>, record: Omit<MetaRecord, 'v' | 'key' | 'hidden' | 'ino' | 'mtimeMs'>, condition?: WriteCondition, beforeCommit?: () => Promise<void>, named?: VersionAs, upload?: string): Promise<ObjectInfo> {
    const dataTmp = temp.tmp
    let bucket: Bucket
    try {
      bucket = this.deps.bucket(bucketName)
    } catch (err) {
      await removeQuietly(dataTmp)
      throw err
    }
    bucket.pending++
    const id = this.nextId()
    const { db } = this.deps
    let intended = false
    let dataInPlace = false
    let shelved: { from: string, to: string } | undefined
    let settled = false
    // The folders this write made (for its bytes, and a hidden key's for its .key file): abandoned if it fails before their fsyncs.
    let madeFolder: MadeFolders | undefined
    let keyFolderMade: MadeFolders | undefined
    let shelveMade: MadeFolders | undefined
    const versions = this.deps.versions
    try {
      return await this.deps.keyLocks.run(`${bucketName}/${key}`, async () => {
        try {
          this.blocked.check(`${bucketName}/${key}`)
          if (bucket.record.versioning !== undefined) await this.deps.beforeVersioned?.(bucketName, key)
          const visible = this.layout.visiblePath(bucketName, key)
          const hidden = this.layout.hiddenPath(bucketName, key)
          const previous = db.get(bucketName, key)
          if (condition !== undefined) await checkConditionOnDisk(condition, previous, visible, key)
          await beforeCommit?.()
          const status = bucket.record.versioning
          if (named !== undefined) checkNamedVersion(status, named.versionId)
          const made = status === undefined ? {} : named === undefined ? versions.newVersion(status) : { ...(named.versionId === NULL_VERSION ? {} : { versionId: named.versionId }), stamp: named.stamp }
          const full: MetaRecord = { v: 1, key, ...record, hidden: visible === undefined, ino: temp.ino, mtimeMs: temp.mtimeMs, ...made }
          // In a bucket with versioning set, the current object is kept as a version (disk-versions.ts); a named
          // version older than the key's newest is kept as noncurrent, and the current one stays.
          const older = status !== undefined && named !== undefined ? versions.planOlder(bucketName, key, full) : undefined
          const { plan, inPlace } = older !== undefined ? { plan: older, inPlace: false } : status === undefined ? { plan: undefined, inPlace: previous !== undefined } : versions.planWrite(bucketName, key, full, previous)
          const intend = async (dataPath: string): Promise<void> => {
            if (full.hidden) keyFolderMade = await this.keepHiddenKey(bucketName, key)
            await db.intend({ id, bucket: bucketName, record: full, dataTmp, dataPath, ...(plan === undefined ? {} : { plan }), ...(upload === undefined ? {} : { upload }) })
            intended = true
          }
          let dataPath = older !== undefined ? versions.dataPath(bucketName, key, full) : visible ?? hidden
          if (older !== undefined) await versions.prepare(bucketName, key)
          // The data file's fsync (if still running) and the intent's go on together: both are needed before the rename.
          // Both are waited for even if one fails, so that an intent made durable is known (`intended`) and dropped below.
          const [intent, data] = await Promise.allSettled([intend(dataPath), temp.durable])
          if (intent.status === 'rejected') throw intent.reason
          if (data.status === 'rejected') throw data.reason
          if (plan?.shelve !== undefined) {
            await versions.prepare(bucketName, key)
            shelveMade = await this.deps.folders.rename(plan.shelve.from, plan.shelve.to)
            shelved = plan.shelve
          }
          const { folders } = this.deps
          try {
            madeFolder = await folders.rename(dataTmp, dataPath)
          } catch (err) {
            if (older !== undefined || visible === undefined || !PATH_TAKEN.has(codeOf(err) ?? '')) throw err
            // Another key's file or folder holds this path (as `a` does for `a/b`): keep the bytes hidden.
            full.hidden = true
            dataPath = hidden
            await intend(dataPath)
            madeFolder = await folders.rename(dataTmp, dataPath)
          }
          dataInPlace = true
          // The file's folder, and those the rename made (the first key under a new prefix) or another write is making.
          // (A hidden key's folders are made with its .key file, beside its bytes.)
          await folders.sync(dirname(dataPath), madeFolder, keyFolderMade)
          // (One whose record will not go stays, as an upload the client can still abort: the object is whole either way.)
          if (upload !== undefined) await removeUpload(folders, upload).catch(() => {})
          if (plan === undefined) {
            // The data is in place and durable, and so is the intent: the rows need not be fsynced before the answer.
            await db.settleCommitted(id, bucketName, full)
          } else {
            if (shelved !== undefined) await folders.sync(dirname(shelved.to), shelveMade)
            await this.finish(id, bucketName, key, plan, 'store the object')
          }
          settled = true
          if (inPlace && previous !== undefined && previous.hidden !== full.hidden) {
            const old = previous.hidden ? hidden : visible!
            await unlink(old).catch(() => {})
            if (previous.hidden) await removeQuietly(this.layout.hiddenKeyPath(bucketName, key))
            else await pruneEmptyDirs(dirname(old), this.layout.bucketDir(bucketName))
          }
          if (key.endsWith('/') && older === undefined) {
            // A folder marker (`photos/`): show the folder to people browsing the data folder.
            const folder = this.layout.visiblePath(bucketName, key.slice(0, -1))
            const made = folder === undefined ? undefined : await folders.make(folder).catch(() => undefined)
            // Made durable like any folder: an object put in it next counts on it (see DurableFolders).
            if (made !== undefined && !made.settled) await folders.sync(made.dir, made).catch(() => {})
          }
          return { ...toInfo(full), ...(status === undefined ? {} : { versionId: full.versionId ?? 'null' }) }
        } catch (err) {
          // Undone (or left to a retry) under the key's lock: a write waiting for it must find the key as this leaves it.
          await removeQuietly(dataTmp)
          await this.deps.folders.abandon(madeFolder, keyFolderMade, shelveMade)
          // With the data in place the intent stays: a retry or the next start finishes this commit. Without, the
          // shelved current object goes back, and the intent is dropped (if that move fails, a retry moves it).
          if (intended && !dataInPlace) {
            // Back durably before the intent goes, or a power cut could leave it shelved with nothing to bring it back.
            const putBack = async ({ from, to }: { from: string, to: string }): Promise<void> => {
              await this.deps.folders.sync(dirname(from), await this.deps.folders.rename(to, from))
            }
            const back = shelved === undefined ? true : await putBack(shelved).then(() => true, () => false)
            const dropped = back && await db.settle(id, bucketName).then(() => true, () => false)
            // An intent left behind, shelving or not, waits with its key: a later change of the key could otherwise
            // put a file where the intent's undoing looks for it (a delete shelving the same version), and be undone.
            if (!dropped) this.blocked.add(`${bucketName}/${key}`)
          } else if (dataInPlace && !settled) {
            // In place, its rows not written (the new bytes beside the old record, or a version's rows half made): a
            // retry or the next start finishes it from the durable intent; until then the key is neither read nor changed.
            this.blocked.add(`${bucketName}/${key}`)
          }
          throw storageError(err, 'store the object')
        }
      })
    } finally {
      bucket.pending--
    }
  }

  /**
   * Carries out a versioned change that writes no new data (a delete that
   * leaves a marker, disk-versions.ts's planDelete) under an intent, as a
   * commit is: the current object shelved, a replaced null version's file
   * removed, the marker's file written, then the rows in one transaction. A
   * crash before the rows is finished at the next start once the shelving
   * happened, else rolled back (disk-recovery.ts). Call with the key's lock held.
   */
  async runPlan (bucketName: string, key: string, record: MetaRecord, plan: VersionPlan, what = 'delete the object'): Promise<void> {
    const { db, versions } = this.deps
    const id = this.nextId()
    const where = `${bucketName}/${key}`
    this.blocked.check(where)
    // The key beside its versions folder and a marker's file come first: after the shelving, only rows are left to write.
    if (plan.shelve !== undefined || plan.markerFile !== undefined) await versions.prepare(bucketName, key).catch(err => { throw storageError(err, what) })
    await db.intend({ id, bucket: bucketName, record, dataTmp: '', dataPath: '', plan }).catch(err => { throw storageError(err, what) })
    let shelved = false
    const { folders } = this.deps
    let markerMade: MadeFolders | undefined
    let shelveMade: MadeFolders | undefined
    try {
      if (plan.markerFile !== undefined) markerMade = await versions.writeMarker(plan.markerFile, record.stamp)
      if (plan.shelve !== undefined) {
        shelveMade = await folders.rename(plan.shelve.from, plan.shelve.to)
        shelved = true
      }
      // The marker's file and the shelved object are in the key's versions folder.
      const into = plan.shelve?.to ?? plan.markerFile
      if (into !== undefined) await folders.sync(dirname(into), markerMade, shelveMade)
      // And the folder it left: a power cut must not bring the file back there (a scan would take it as one put by hand).
      if (plan.shelve !== undefined && this.sync) await this.syncNearest(dirname(plan.shelve.from))
    } catch (err) {
      await folders.abandon(markerMade, shelveMade)
      if (!shelved) {
        // Nothing moved: the change is undone (its marker's file goes), or left to the next start if even that fails.
        try {
          if (plan.markerFile !== undefined && plan.markerReplaces !== true) {
            // Gone for good before the intent is: a rebuild would read a marker file left behind.
            if (await unlinkIfThere(plan.markerFile)) await folders.sync(dirname(plan.markerFile))
          }
          await db.settle(id, bucketName)
        } catch { this.blocked.add(where) }
        throw storageError(err, what)
      }
      // Shelved, not known durable: the next start finishes the change from its intent; until then the key is left alone.
      this.blocked.add(where)
      throw storageError(err, what)
    }
    await this.finish(id, bucketName, key, plan, what)
  }

  /**
   * Fsyncs folder `dir`, or, when it is gone (a delete of another key in it
   * removed it once it was empty), the nearest folder above it that is
   * there, up to the data folder: its removal is then what must be on disk.
   */
  async syncNearest (dir: string): Promise<void> {
    for (let d = dir; ; d = dirname(d)) {
      try {
        await this.deps.folders.sync(d)
        return
      } catch (err) {
        // (A folder pruned since, and maybe a file of another key in its place now: the one above holds the change.)
        if ((codeOf(err) !== 'ENOENT' && codeOf(err) !== 'ENOTDIR') || d.length <= this.layout.root.length) throw err
      }
    }
  }

  /** Keys whose change failed half-way and could not be finished or undone: left alone (503) until a retry or the next start finishes it. */
  private get blocked (): BlockedKeys { return this.deps.blocked }

  /** The last steps of a versioned change whose data is in place: the replaced file removed, then the rows. */
  private async finish (id: string, bucketName: string, key: string, plan: VersionPlan, what: string): Promise<void> {
    try {
      if (plan.drop !== undefined) {
        await unlinkIfThere(plan.drop)
        // The unlink on disk before the rows that forget the file can be: else a crash could bring the file back, and a scan adopt it.
        if (this.sync) await this.syncNearest(dirname(plan.drop))
      }
      // As a commit's settle: the intent, durable, finishes it after a crash (disk-recovery.ts).
      await this.deps.db.settleCommitted(id, bucketName, undefined, { key, rows: plan.rows })
    } catch (err) {
      // Half made: the next start finishes it (its intent says how); until then the key is left alone.
      this.blocked.add(`${bucketName}/${key}`)
      throw storageError(err, what)
    }
  }

  /**
   * Hidden bytes are named by the key's hash; the key itself is kept beside
   * them so that a rebuild of the metadata database can find it again.
   * Returns the folders it made, for DurableFolders.sync with the bytes'.
   */
  private async keepHiddenKey (bucket: string, key: string): Promise<MadeFolders> {
    const path = this.layout.hiddenKeyPath(bucket, key)
    return await this.deps.folders.fill(dirname(path), async () => {
      const tmp = this.layout.tmpPath(this.nextId(), '.key')
      await writeDurable(tmp, key, this.sync)
      await renameInto(tmp, path)
    })
  }
}

/** Removes a file; one already gone is fine. Returns whether it removed one. */
async function unlinkIfThere (path: string): Promise<boolean> {
  return await unlink(path).then(() => true, (err: unknown) => { if (codeOf(err) !== 'ENOENT') throw err; return false })
}
