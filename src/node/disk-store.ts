import { lstat, mkdir } from 'node:fs/promises'
import { S3Error } from '../core/errors.js'
import type { Hashes } from '../core/hashes.js'
import { randomId } from '../core/ids.js'
import { compareKeys } from '../core/key-order.js'
import type { LifecycleRule } from '../core/lifecycle.js'
import { KeyedLock } from '../core/keyed-lock.js'
import { afterMarker, NULL_VERSION, stampTime, versionToRead, type DeleteResult, type VersioningStatus, type VersionListOptions, type VersionListResult, type VersionSummary } from '../core/versioning.js'
import { changedLock, lockOfRecord, lockRecord, type BucketObjectLock, type LockChange, type LockRecord, type VersionLock } from '../core/object-lock.js'
import {
  checkWriteCondition, type BucketInfo, type ByteRange, type CompleteOptions, type CompletedPart, type CorsRule, type ListOptions, type ListResult, type ObjectHandle, type ObjectInfo, type ObjectStore, type PartInfo, type PartOptions, type PutOptions, type UploadInfo, type UploadOptions, type VersionOptions, type DeleteOptions, type LockOptions,
  putDigests, putIdentity,
} from '../core/object-store.js'
import { codeOf, fileStream, removeQuietly, renameInto, storageError, writeDurable } from './disk-files.js'
import { Adopter, type AdoptedListener } from './disk-adopt.js'
import { DiskBuckets } from './disk-buckets.js'
import { DiskDeletes } from './disk-deletes.js'
import { DiskLayout, FORMAT_VERSION } from './disk-layout.js'
import { isRecordedFile, stampOf, toInfo, type MetaRecord } from './disk-records.js'
import { checkFormat, cleanTemp, hasAnyBucketFolder, importFormat1, loadBuckets, recoverIntents, recoverKey, type RecoveryParts } from './disk-recovery.js'
import { DiskMultipart } from './disk-multipart.js'
import { DiskUploads } from './disk-uploads.js'
import { DiskVersions, kept } from './disk-versions.js'
import { DiskWriter } from './disk-writer.js'
import { DurableFolders } from './durable-folders.js'
import { closeFd, fstatFd, openFd } from './fd.js'
import { FolderScan, type ScanCounters } from './folder-scan.js'
import { GroupFsync } from './group-fsync.js'
import { MetaDb } from './meta-db.js'
import { nodeHashes } from './node-hashes.js'
import { BlockedKeys } from './blocked-keys.js'

export interface DiskStoreOptions {
  /** Hash implementations; node:crypto by default. */
  hashes?: Hashes
  /** fsync files and folders before acknowledging a write (default true). Off only for throwaway data. */
  fsync?: boolean
  /** Smallest part but the last (S3: 5 MiB). */
  minPartSize?: number
  /** Time between scans of the bucket folders for files placed by hand (ms; default 60 s; 0: only the scan at start). */
  scanIntervalMs?: number
  /** Where progress lines go (adoption, an upgrade, a rebuild); stderr by default. */
  log?: (line: string) => void
  /** A file placed by hand is adopted by a scan once unchanged for this long (ms; default 2 s), so one still being copied in is not taken half-written. */
  settleMs?: number
  /** The fsync of a folder after a file is renamed into it or a folder made in it (default: a real one; tests count them). */
  fsyncFolder?: (dir: string) => Promise<void>
  /**
   * A change that failed half-way (a full disk, a failing fsync) leaves its key answering 503 until it is finished:
   * tried again after this long (ms; default 15 s), then twice as long each time up to ten minutes; 0: only at the next start.
   */
  retryBlockedMs?: number
}

/** Called with an object whose file was deleted by hand (see DiskStore.onRemoved). */
export type RemovedListener = (bucket: string, key: string) => void

/** Default time between folder scans. */
export const SCAN_INTERVAL_MS = 60_000
/** Default wait before a change that failed half-way is first tried again. */
export const RETRY_BLOCKED_MS = 15_000

/**
 * Objects as plain files under a data folder, with their metadata in
 * `.s3mesh/meta.db` (see DiskLayout, MetaDb). Every write lands in a temp
 * file, is fsynced and renamed into place, so readers see the old object or
 * the new one, never a part. Listing reads the database in key order; start-up
 * reads nothing per object, and files placed by hand are adopted in the
 * background (FolderScan, Adopter). Buckets' records are DiskBuckets',
 * multipart uploads DiskMultipart's, writes DiskWriter's, deletes
 * DiskDeletes', keys left waiting by a change that failed half-way
 * BlockedKeys'. One process owns
 * a data folder at a time (lockDataDir, in data-dir-lock.ts, taken by the
 * server).
 */
export class DiskStore implements ObjectStore {
  private readonly keyLocks = new KeyedLock()
  /** Keys whose change failed half-way: 503 until a retry or the next start finishes it. */
  readonly blocked: BlockedKeys
  readonly writer: DiskWriter
  private readonly deletes: DiskDeletes
  private readonly scan: FolderScan
  private readonly adopter: Adopter
  private readonly removedListeners = new Set<RemovedListener>()
  /** The first scan has finished (a rebuild is complete). */
  private scanned = false
  private readonly uploads: DiskUploads
  private readonly multipart: DiskMultipart
  private readonly hashes: Hashes
  private readonly sync: boolean

  private constructor (readonly layout: DiskLayout, private readonly db: MetaDb, private readonly versions: DiskVersions, private readonly buckets: DiskBuckets, recovery: RecoveryParts, options: DiskStoreOptions, readonly session: { current: string, previous?: string }, private readonly rebuilding = false) {
    const { folders } = recovery
    this.hashes = options.hashes ?? nodeHashes
    this.sync = options.fsync ?? true
    this.uploads = new DiskUploads(layout, this.sync, folders)
    const log = options.log ?? ((line: string) => { process.stderr.write(`s3mesh: ${line}\n`) })
    this.blocked = new BlockedKeys({
      retryMs: options.retryBlockedMs ?? RETRY_BLOCKED_MS,
      locks: this.keyLocks,
      log,
      heal: async (bucket, key) => {
        // A write in the bucket, as the change was: its bucket is not deleted meanwhile (NoSuchBucket while it is: tried again later).
        const b = this.buckets.get(bucket)
        b.pending++
        try {
          await recoverKey(recovery, bucket, key)
        } finally { b.pending-- }
      },
    })
    const beforeVersioned = async (bucket: string, key: string): Promise<void> => { this.notRebuilding(bucket); await this.reconcilePath(bucket, key) }
    this.writer = new DiskWriter({
      layout, hashes: this.hashes, sync: this.sync, keyLocks: this.keyLocks, db, bucket: name => this.buckets.get(name), versions,
      beforeVersioned, folders, blocked: this.blocked,
    })
    this.deletes = new DiskDeletes({ layout, db, buckets, versions, writer: this.writer, locked: async (bucket, key, fn) => await this.locked(bucket, key, fn), beforeVersioned })
    this.adopter = new Adopter({ layout, hashes: this.hashes, keyLocks: this.keyLocks, db, versions, buckets })
    this.multipart = new DiskMultipart({ layout, hashes: this.hashes, keyLocks: this.keyLocks, db, buckets, writer: this.writer, uploads: this.uploads, ...(options.minPartSize === undefined ? {} : { minPartSize: options.minPartSize }) })
    this.scan = new FolderScan({
      db,
      buckets: () => this.buckets.live().map(b => ({ name: b.record.name, dir: layout.bucketDir(b.record.name) })),
      adopt: async (bucket, key, path) => await this.keyLocks.run(`${bucket}/${key}`, async () => {
        // Written by the store meanwhile (the scan looked before taking the lock), or waiting for the next start: nothing to adopt.
        if (db.has(bucket, key) || !this.buckets.has(bucket) || this.blocked.has(`${bucket}/${key}`)) return false
        return await this.adopter.adopt(bucket, key, path) !== undefined
      }),
      removed: async (bucket, key) => await this.keyLocks.run(`${bucket}/${key}`, async () => {
        // Written again meanwhile, hidden or shelved (its bytes are not in the folder), or the file is back: nothing to drop.
        const meta = db.get(bucket, key)
        const path = this.layout.visiblePath(bucket, key)
        if (meta === undefined || meta.hidden || meta.shelved === true || path === undefined || this.blocked.has(`${bucket}/${key}`)) return false
        if (await lstat(path).then(() => true, (err: unknown) => { if (codeOf(err) === 'ENOENT' || codeOf(err) === 'ENOTDIR') return false; throw err })) return false
        await this.forget(bucket, key)
        return true
      }),
      intervalMs: options.scanIntervalMs ?? SCAN_INTERVAL_MS,
      settleMs: options.settleMs ?? 2000,
      log,
      // A new database (lost, damaged, first start) also gets the hidden objects back, from the keys kept beside them.
      ...(db.created ? { beforeFirst: async (signal: AbortSignal) => { await this.adopter.adoptHidden(signal); await this.adopter.adoptVersions(signal) } } : {}),
    })
  }

  /**
   * Opens (creating if needed) the store in `root`: finishes or rolls back
   * commits a crash interrupted, cleans temp files, reads the bucket records,
   * and starts adopting files placed by hand in the background. Nothing is
   * read per object. A lost or damaged metadata database is rebuilt from the
   * folder (in the background, like adoption).
   */
  static async open (root: string, options: DiskStoreOptions = {}): Promise<DiskStore> {
    const layout = new DiskLayout(root)
    const log = options.log ?? ((line: string) => { process.stderr.write(`s3mesh: ${line}\n`) })
    await mkdir(layout.tmp, { recursive: true })
    await mkdir(layout.bucketsMeta, { recursive: true })
    const format = await checkFormat(layout)
    const sync = options.fsync ?? true
    const db = await MetaDb.open(layout.metaDb, { sync })
    try {
      const imported = await importFormat1(layout, db, sync)
      if (imported > 0) log(`moved the metadata of ${imported} objects into ${layout.metaDb} (format ${FORMAT_VERSION})`)
      const rebuilding = imported === 0 && db.created && await hasAnyBucketFolder(layout)
      if (rebuilding) log(`${layout.metaDb} is new: rebuilding it from the bucket folders in the background`)
      const folders = new DurableFolders(layout.root, sync ? new GroupFsync(options.fsyncFolder) : undefined)
      const versions = new DiskVersions(layout, db, sync, folders)
      const recovery: RecoveryParts = { db, layout, folders, writeMarker: async (path, stamp) => await versions.writeMarker(path, stamp) }
      const { stuck } = await recoverIntents(recovery)
      for (const where of stuck) log(`the change to ${where} a crash interrupted could not be finished; the key is left alone until a retry or a later start can (see the error above)`)
      await cleanTemp(layout)
      // Written only when it says another format: a start on a full disk must not need room for it.
      if (format !== FORMAT_VERSION) {
        const formatTmp = layout.tmpPath(randomId(), '.format')
        await writeDurable(formatTmp, JSON.stringify({ version: FORMAT_VERSION }), sync)
        await renameInto(formatTmp, layout.formatFile)
      }
      const loaded = await loadBuckets(layout, async (name, created) => {
        const record = { name, created }
        await DiskBuckets.writeRecord(layout, record, sync)
        return record
      })
      const buckets = new DiskBuckets(layout, sync, new Map([...loaded].map(([name, record]) => [name, { record, pending: 0, deleting: false }])), folders)
      // Named before anything is written in this session: a later start can tell whether another run came between.
      const previous = db.info('session')
      const session = { current: randomId(), ...(previous === undefined ? {} : { previous }) }
      await db.setInfo('session', session.current).catch((err: unknown) => {
        if (codeOf(err) !== 'ENOSPC') throw err
        // A full disk: the node still starts, to serve reads and the deletes that make room. The note goes with the
        // first write that can be made, before anything it changes: a later start then knows that this run came between.
        log(`could not note this start in ${layout.metaDb} (${err instanceof Error ? err.message : String(err)}): starting all the same`)
        db.setInfoWithNextWrite('session', session.current)
      })
      const store = new DiskStore(layout, db, versions, buckets, recovery, { ...options, log }, session, rebuilding)
      for (const where of stuck) store.blocked.add(where)
      store.scan.start()
      void store.scan.firstScan.then(() => {
        store.scanned = true
        if (rebuilding) log(`${layout.metaDb} is rebuilt from the bucket folders`)
      })
      return store
    } catch (err) {
      db.close()
      throw err
    }
  }

  /** Stops the folder scans and closes the metadata database. */
  async close (): Promise<void> {
    await this.scan.stop()
    await this.blocked.stop()
    this.db.close()
  }

  /** What the folder scans did (for /metrics). */
  get scanCounters (): ScanCounters { return this.scan.counters }

  /** Settles once the first scan of the bucket folders (the one at start) has finished. */
  get firstScan (): Promise<void> { return this.scan.firstScan }

  /** Scans the bucket folders now for files placed by hand (and waits for it). */
  async scanFolders (): Promise<void> { await this.scan.scanNow() }

  /** Hears of every object whose file was deleted by hand, found by a scan or on a read. Returns the unsubscribe. */
  onRemoved (listener: RemovedListener): () => void {
    this.removedListeners.add(listener)
    return () => { this.removedListeners.delete(listener) }
  }

  /** Hears of every object that came from a file placed by hand, at a scan or on first read. Returns the unsubscribe. */
  onAdopted (listener: AdoptedListener): () => void {
    this.adopter.listeners.add(listener)
    return () => { this.adopter.listeners.delete(listener) }
  }

  /** Replaces an object's metadata (data unchanged); call with the key's lock held. */
  private async saveMeta (bucket: string, key: string, meta: MetaRecord): Promise<void> {
    await this.db.put(bucket, meta)
  }

  // ---- buckets ----

  async createBucket (name: string): Promise<void> { await this.buckets.create(name) }
  async headBucket (name: string): Promise<BucketInfo> { return this.buckets.head(name) }
  async listBuckets (): Promise<BucketInfo[]> { return this.buckets.list() }
  async setBucketCors (name: string, rules: CorsRule[] | undefined): Promise<void> { await this.buckets.setCors(name, rules) }
  async setBucketLifecycle (name: string, rules: LifecycleRule[] | undefined): Promise<void> { await this.buckets.setLifecycle(name, rules) }
  async setBucketVersioning (name: string, status: VersioningStatus): Promise<void> { await this.buckets.setVersioning(name, status) }
  async setBucketObjectLock (name: string, lock: BucketObjectLock): Promise<void> { await this.buckets.setObjectLock(name, lock) }
  lifecycleAtHand (bucket: string): LifecycleRule[] | undefined { return this.buckets.lifecycle(bucket) }

  async deleteBucket (name: string): Promise<void> {
    const b = this.buckets.get(name)
    const notEmpty = (why?: string): S3Error => new S3Error('BucketNotEmpty', why, { resource: name, detail: { BucketName: name } })
    // While the index is rebuilt, objects the database does not know yet may be in the bucket (hidden ones too).
    if (this.db.created && !this.scanned) throw new S3Error('ServiceUnavailable', 'The node is rebuilding its metadata index from the data folder; retry once its log says it is done.')
    if (this.db.hasAny(name) || this.db.hasAnyVersion(name) || b.pending > 0) throw notEmpty()
    // A change that failed half-way may have bytes in the bucket that no row lists yet.
    if (this.blocked.anyIn(name)) throw notEmpty('A change to an object in the bucket failed half-way and waits to be finished (see the log).')
    await this.buckets.delete(name,
      async () => { if (await this.uploads.hasAny(name)) throw notEmpty('The bucket has multipart uploads in progress: complete or abort them first.') },
      async () => { await this.db.removeBucket(name) })
  }

  // ---- objects ----

  async putObject (bucket: string, key: string, body: ReadableStream<Uint8Array>, options: PutOptions): Promise<ObjectInfo> {
    this.buckets.get(bucket)
    // Checked before the body is read (a failed condition is answered at once), and again as the object commits.
    checkWriteCondition(options.condition, this.db.get(bucket, key), key)
    // A lock a bucket without object lock cannot give is refused before the body is read (and the body let go).
    try {
      this.buckets.lockFor(bucket, options.lock, Date.now())
    } catch (err) {
      await body.cancel(err).catch(() => {})
      throw err
    }
    const written = await this.writer.writeTemp(body, { size: options.size, signal: options.signal, verified: options.verified, algorithms: putDigests(options), syncLater: true })
    let identity: Awaited<ReturnType<typeof putIdentity>>
    let lock: LockRecord | undefined
    try {
      identity = await putIdentity(options, written)
      lock = this.buckets.lockFor(bucket, options.lock, identity.lastModified.getTime())
    } catch (err) {
      // A copy whose identity failed (its bytes were not the writer's), or a bucket gone while it was awaited: the temp file goes.
      await removeQuietly(written.tmp)
      throw err
    }
    const { lastModified, versionAs, ...id } = identity
    return await this.writer.commit(bucket, key, written, { size: written.size, ...id, lastModified: lastModified.getTime(), tags: options.tags ?? {}, ...(lock === undefined ? {} : { lock }) }, options.condition, options.beforeCommit, versionAs)
  }

  recorded (bucket: string, key: string): boolean {
    // While the metadata database is rebuilt from the folders, a file not reached yet has no row: it may be there.
    return this.db.has(bucket, key) || (this.rebuilding && !this.scanned)
  }

  /** Runs `fn` under the key's lock, unless the key's last change is waiting for the next start (ServiceUnavailable). */
  private async locked<T> (bucket: string, key: string, fn: () => Promise<T>): Promise<T> {
    return await this.keyLocks.run(`${bucket}/${key}`, async () => {
      this.blocked.check(`${bucket}/${key}`)
      return await fn()
    })
  }

  /** Versions are not changed while the database is rebuilt: a key's versions may not be found yet (ServiceUnavailable). */
  private notRebuilding (bucket: string): void {
    if (this.rebuilding && !this.scanned && this.buckets.versioning(bucket) !== undefined) {
      throw new S3Error('ServiceUnavailable', 'The node is rebuilding its metadata index from the data folder; retry once its log says it is done.')
    }
  }

  /**
   * Before a versioned change (the key's lock held): what is at the key's
   * path is what the rows say. A file edited or replaced by hand is adopted
   * (a version of its own; the edited one's bytes are gone), one deleted by
   * hand is forgotten, and one placed where no row has its bytes (a key
   * behind a marker, or whose current version is kept apart) is adopted as
   * the current version, so that a marker or a write never buries it.
   */
  private async reconcilePath (bucket: string, key: string): Promise<void> {
    const path = this.layout.visiblePath(bucket, key)
    const current = this.db.get(bucket, key)
    // A hidden current object is not at the key's path (another key's folder holds it): a file there is not its.
    if (path === undefined || current?.hidden === true) return
    const s = await lstat(path).catch((err: unknown) => { if (codeOf(err) === 'ENOENT' || codeOf(err) === 'ENOTDIR') return undefined; throw storageError(err, 'read the object') })
    const file = s?.isFile() === true ? s : undefined
    if (current !== undefined && current.shelved !== true) {
      if (file === undefined) await this.forget(bucket, key)
      else if (!isRecordedFile(file, current)) await this.adopter.adopt(bucket, key, path, current)
      return
    }
    if (file !== undefined) await this.adopter.adopt(bucket, key, path)
  }

  /** An object as the store shows it: with its version id once the bucket has had versioning set. */
  private shown (bucket: string, meta: MetaRecord): ObjectInfo {
    return this.buckets.versioning(bucket) === undefined ? toInfo(meta) : { ...toInfo(meta), versionId: meta.versionId ?? NULL_VERSION }
  }

  /** An object's current metadata; call with the key's lock held (a file found at the key's path is adopted). */
  private async readMeta (bucket: string, key: string): Promise<MetaRecord> {
    this.buckets.get(bucket)
    const meta = this.db.get(bucket, key)
    if (meta !== undefined) return meta
    // A file copied into the bucket folder while the server runs is readable at once.
    const path = this.layout.visiblePath(bucket, key)
    const adopted = path === undefined ? undefined : await this.adopter.adopt(bucket, key, path).catch(() => undefined)
    if (adopted !== undefined) return adopted
    // No current object: a key whose newest version is a delete marker says so (core/versioning.ts).
    versionToRead(kept(this.db.versionsOf(bucket, key)), key)
    throw new S3Error('NoSuchKey', undefined, { resource: key, detail: { Key: key } })
  }

  /** The version a read names (or the current one); call with the key's lock held. */
  private async readVersion (bucket: string, key: string, versionId: string | undefined): Promise<MetaRecord> {
    if (versionId === undefined) return await this.readMeta(bucket, key)
    this.buckets.get(bucket)
    return versionToRead(kept(this.versions.list(bucket, key)), key, versionId).record
  }

  async openObject (bucket: string, key: string, options?: VersionOptions): Promise<ObjectHandle> {
    const { meta, fd } = await this.locked(bucket, key, async () => {
      let meta = await this.readVersion(bucket, key, options?.versionId)
      // Without a version id the row read is the current one: no second lookup on every GET.
      const current = options?.versionId === undefined ? meta : this.db.get(bucket, key)
      for (let attempt = 0; ; attempt++) {
        const path = this.versions.dataPath(bucket, key, meta)
        // Only the current object at the key's path may be edited or deleted by hand; other versions' bytes are the store's.
        const byHand = current !== undefined && current.versionId === meta.versionId && meta.shelved !== true
        let fd: number
        try {
          fd = await openFd(path, 'r')
        } catch (err) {
          if (codeOf(err) !== 'ENOENT' || !byHand) throw err
          // The file was deleted by hand: the object is gone.
          await this.forget(bucket, key)
          throw new S3Error('NoSuchKey', undefined, { resource: key, detail: { Key: key } })
        }
        const s = await fstatFd(fd)
        if (!byHand || isRecordedFile(s, meta)) return { meta, fd }
        await closeFd(fd)
        // The file was replaced or edited outside s3mesh: it is the object now, with a new ETag.
        const again = attempt === 0 ? await this.adopter.adopt(bucket, key, path, meta) : undefined
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
      info: this.shown(bucket, meta),
      stream: (range?: ByteRange) => fileStream(fd, range?.start ?? 0, range?.end ?? meta.size - 1, close),
      close,
    }
  }

  async headObject (bucket: string, key: string, options?: VersionOptions): Promise<ObjectInfo> {
    return this.shown(bucket, await this.locked(bucket, key, async () => await this.readVersion(bucket, key, options?.versionId)))
  }

  /**
   * Drops the metadata of an object whose file was deleted outside s3mesh
   * (listeners are told); in a bucket with versioning set, the version
   * before it is current where its bytes are.
   */
  private async forget (bucket: string, key: string): Promise<void> {
    const before = this.db.versionsOf(bucket, key)[0]
    const removed = before === undefined || before.marker === true
      ? this.db.remove(bucket, key)
      : this.db.changeVersions(bucket, key, { current: { ...before, shelved: true }, remove: [before.versionId ?? NULL_VERSION] })
    await removed.catch(err => { throw storageError(err, 'delete the object') })
    this.scan.counters.removed++
    for (const l of this.removedListeners) l(bucket, key)
  }

  async deleteObject (bucket: string, key: string, options?: DeleteOptions): Promise<DeleteResult> { return await this.deletes.delete(bucket, key, options) }

  async listObjects (bucket: string, options: ListOptions): Promise<ListResult> {
    this.buckets.get(bucket)
    const { rows, isTruncated } = this.db.page(bucket, options)
    return {
      objects: rows.map(r => ({ key: r.key, size: r.size, etag: r.etag, lastModified: new Date(r.lastModified) })),
      isTruncated,
    }
  }

  async listObjectVersions (bucket: string, options: VersionListOptions): Promise<VersionListResult> {
    this.buckets.get(bucket)
    const out: VersionSummary[] = []
    const prefix = options.prefix ?? ''
    const marked = options.keyMarker !== undefined && compareKeys(options.keyMarker, prefix) >= 0
    let from = marked ? options.keyMarker! : prefix
    let inclusive = !marked || options.versionIdMarker !== undefined
    for (;;) {
      const keys = this.db.keysWithVersions(bucket, from, inclusive, 64)
      for (const key of keys) {
        if (!key.startsWith(prefix)) return { versions: out, isTruncated: false }
        const versions = kept(this.versions.list(bucket, key))
        let i = marked && key === options.keyMarker && options.versionIdMarker !== undefined ? afterMarker(versions, options.versionIdMarker) : 0
        for (; i < versions.length; i++) {
          if (out.length === options.limit) return { versions: out, isTruncated: true }
          const v = versions[i]!
          const made = stampTime(stampOf(v.record))
          out.push({
            key, versionId: v.versionId, isLatest: i === 0, deleteMarker: v.deleteMarker, lastModified: v.lastModified, ...(v.deleteMarker ? {} : { size: v.record.size, etag: v.record.etag }),
            ...(made === undefined || made === v.record.lastModified ? {} : { made: new Date(made) }),
          })
        }
      }
      if (keys.length < 64) return { versions: out, isTruncated: false }
      from = keys.at(-1)!
      inclusive = false
    }
  }

  async setObjectTags (bucket: string, key: string, tags: Record<string, string>, options?: VersionOptions): Promise<void> {
    await this.locked(bucket, key, async () => {
      const meta = await this.readVersion(bucket, key, options?.versionId)
      await this.saveVersionRecord(bucket, key, { ...meta, tags })
    }).catch(err => { throw storageError(err, 'save the tags') })
  }

  /** Saves a changed record of one version (the key's lock held): the current object's row, or another version's (a null version behind a marker is not the current one). */
  private async saveVersionRecord (bucket: string, key: string, record: MetaRecord): Promise<void> {
    const current = this.db.get(bucket, key)
    if (current !== undefined && current.versionId === record.versionId) await this.saveMeta(bucket, key, record)
    else await this.db.putVersion(bucket, record)
  }

  async setObjectLock (bucket: string, key: string, change: LockChange, options?: LockOptions): Promise<VersionLock | undefined> {
    return await this.locked(bucket, key, async () => {
      const meta = await this.readVersion(bucket, key, options?.versionId)
      const lock = changedLock(this.buckets.get(bucket).record.objectLock, lockOfRecord(meta.lock), change, new Date(), options?.bypassGovernance === true)
      const { lock: _old, ...rest } = meta
      await this.saveVersionRecord(bucket, key, lock === undefined ? rest : { ...rest, lock: lockRecord(lock)! })
      return lock
    }).catch(err => { throw storageError(err, 'save the object\'s lock') })
  }

  // ---- multipart (disk-multipart.ts) ----

  async createMultipartUpload (bucket: string, key: string, options: UploadOptions): Promise<string> { return await this.multipart.create(bucket, key, options) }
  async uploadPart (bucket: string, key: string, uploadId: string, partNumber: number, body: ReadableStream<Uint8Array>, options: PartOptions = {}): Promise<PartInfo> { return await this.multipart.uploadPart(bucket, key, uploadId, partNumber, body, options) }
  async listParts (bucket: string, key: string, uploadId: string): Promise<PartInfo[]> { return await this.multipart.listParts(bucket, key, uploadId) }
  async listMultipartUploads (bucket: string, options: { prefix?: string } = {}): Promise<UploadInfo[]> { return await this.multipart.list(bucket, options) }
  async completeMultipartUpload (bucket: string, key: string, uploadId: string, parts: CompletedPart[], options: CompleteOptions = {}): Promise<ObjectInfo> { return await this.multipart.complete(bucket, key, uploadId, parts, options) }
  async abortMultipartUpload (bucket: string, key: string, uploadId: string): Promise<void> { await this.multipart.abort(bucket, key, uploadId) }
}
