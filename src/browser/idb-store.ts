import { createStore, promisifyRequest, type UseStore } from 'idb-keyval'
import { isS3Error, S3Error } from '../core/errors.js'
import { hexDigests, type Hashes } from '../core/hashes.js'
import { randomId } from '../core/ids.js'
import { compareKeys } from '../core/key-order.js'
import type { LifecycleRule } from '../core/lifecycle.js'
import {
  checkWriteCondition, type BucketInfo, type ByteRange, type CompleteOptions, type CompletedPart, type CorsRule, type ListOptions, type ListResult, type ObjectHandle, type ObjectInfo, type ObjectStore, type PartInfo, type PartOptions, type PutOptions, type UploadInfo, type VersionAs, type VersionOptions, type DeleteOptions, type WriteCondition,
  type LockOptions, type UploadOptions,
  putDigests, putIdentity,
} from '../core/object-store.js'
import { changedLock, checkLockable, checkVersioningChange, lockForWrite, mayDeleteLocked, type BucketObjectLock, type LockChange, type VersionLock } from '../core/object-lock.js'
import {
  afterDelete, afterMarker, checkNamedVersion, NULL_VERSION, placeVersion, STAMP_LENGTH, VersionIds, versionToRead, withVersion, writtenVersionId,
  type DeleteResult, type VersioningStatus, type VersionListOptions, type VersionListResult, type VersionSummary,
} from '../core/versioning.js'
import {
  abandon, AFTER, bucket, compareBytes, get, object, retire, startsWith, toInfo, utf8,
  type BucketRecord, type Key, type ObjectRecord, type StoredInfo,
} from './idb-records.js'
import { IdbChunks, storedChunk, sweptWrite, transaction } from './idb-chunks.js'
import { IdbMultipart } from './idb-multipart.js'
import { anyVersion, asVersion, markerRecord, nextKey, stampOf, versionsOf, writeVersions, type IdbVersion } from './idb-versions.js'
import { browserHashes } from './wasm-hashes.js'


const decoder = new TextDecoder()

/** An object as the store shows it: with its version id once its bucket has had versioning set. */
function shown (record: ObjectRecord, versioned: boolean): ObjectInfo {
  return versioned ? { ...toInfo(record.info), versionId: record.info.versionId ?? NULL_VERSION } : toInfo(record.info)
}

/** A replaced version's chunks stay this long, so a reader that opened it first can finish. */
const REPLACED_GRACE_MS = 60_000
/** A write that started this long ago and never committed was cut off (a closed tab): its chunks go. */
const ABANDONED_WRITE_MS = 60 * 60_000

export interface IdbStoreOptions {
  /** The IndexedDB database name; one per store (a page and its service worker share it). */
  database?: string
  /** The hashing used for ETags and content hashes; default: WebAssembly (hash-wasm), pure JavaScript where that is refused. */
  hashes?: Hashes
  /** Smallest part but the last; S3's 5 MiB unless a test wants smaller. */
  minPartSize?: number
}

/**
 * An ObjectStore in IndexedDB (through idb-keyval's store, with raw cursors
 * for ranges), for service workers and pages. Keeps nothing in memory that it
 * cannot rebuild: a browser stops idle service workers at will.
 *
 * A write streams its body into chunks under a fresh version id, each chunk in
 * its own transaction, and then commits in one transaction that points the
 * object at the new version and marks the old one replaced; a write that never
 * commits (an error, a closed tab) leaves the object as it was, and its chunks
 * are swept later.
 */
export class IdbStore implements ObjectStore {
  private readonly db: UseStore
  private readonly hashes: Hashes
  private readonly multipart: IdbMultipart
  private sweeping: Promise<void> | undefined

  private readonly chunks: IdbChunks
  /** Ids of the versions this store makes (a page and its worker each have their own tag). */
  private readonly ids = new VersionIds(randomId(8))

  constructor (options: IdbStoreOptions = {}) {
    this.db = createStore(options.database ?? 's3mesh', 'records')
    this.hashes = options.hashes ?? browserHashes
    this.chunks = new IdbChunks(this.db, this.hashes)
    this.multipart = new IdbMultipart({
      db: this.db, chunks: this.chunks, hashes: this.hashes, ...(options.minPartSize === undefined ? {} : { minPartSize: options.minPartSize }),
      replaceObject: async (...a) => await this.replaceObject(...a),
    })
  }

  // ---- buckets ----

  async createBucket (name: string): Promise<void> {
    await this.tx('readwrite', async s => {
      if (await get(s, ['b', name]) !== undefined) throw new S3Error('BucketAlreadyOwnedByYou', undefined, { resource: name, detail: { BucketName: name } })
      s.put({ name, created: Date.now() } satisfies BucketRecord, ['b', name])
    })
  }

  async headBucket (name: string): Promise<BucketInfo> {
    const b = await this.tx('readonly', async s => await bucket(s, name))
    return {
      name: b.name, created: new Date(b.created), ...(b.cors === undefined ? {} : { cors: b.cors }), ...(b.lifecycle === undefined ? {} : { lifecycle: b.lifecycle }),
      ...(b.versioning === undefined ? {} : { versioning: b.versioning }), ...(b.objectLock === undefined ? {} : { objectLock: b.objectLock }),
    }
  }

  async setBucketVersioning (name: string, status: VersioningStatus): Promise<void> {
    await this.tx('readwrite', async s => {
      const b = await bucket(s, name)
      checkVersioningChange(b.objectLock, status)
      s.put({ ...b, versioning: status }, ['b', name])
    })
  }

  async setBucketObjectLock (name: string, lock: BucketObjectLock): Promise<void> {
    await this.tx('readwrite', async s => {
      const b = await bucket(s, name)
      checkLockable(b.versioning)
      s.put({ ...b, objectLock: lock }, ['b', name])
    })
  }

  /** A version's retention or legal hold, checked and changed in one transaction with the version's record. */
  async setObjectLock (bucketName: string, key: string, change: LockChange, options?: LockOptions): Promise<VersionLock | undefined> {
    return await this.tx('readwrite', async s => {
      const b = await bucket(s, bucketName)
      const { record } = await this.readRecord(s, bucketName, key, options?.versionId)
      const lock = changedLock(b.objectLock, record.info.lock, change, new Date(), options?.bypassGovernance === true)
      const { lock: _old, ...info } = record.info
      this.rewriteVersion(s, bucketName, key, await versionsOf(s, bucketName, key), { ...record, info: lock === undefined ? info : { ...info, lock } })
      return lock
    })
  }

  async listBuckets (): Promise<BucketInfo[]> {
    const all = await this.tx('readonly', async s => await promisifyRequest(s.getAll(IDBKeyRange.bound(['b'], ['b', AFTER]))) as BucketRecord[])
    return all.map(b => ({ name: b.name, created: new Date(b.created) })).sort((a, b) => compareKeys(a.name, b.name))
  }

  async deleteBucket (name: string): Promise<void> {
    await this.tx('readwrite', async s => {
      await bucket(s, name)
      const objects = await promisifyRequest(s.count(IDBKeyRange.bound(['o', name], ['o', name, AFTER])))
      const uploads = await promisifyRequest(s.count(IDBKeyRange.bound(['u', name], ['u', name, AFTER])))
      if (objects > 0 || uploads > 0 || await anyVersion(s, name)) throw new S3Error('BucketNotEmpty', undefined, { resource: name, detail: { BucketName: name } })
      s.delete(['b', name])
    })
  }

  async setBucketCors (name: string, rules: CorsRule[] | undefined): Promise<void> {
    await this.tx('readwrite', async s => {
      const { cors: _old, ...b } = await bucket(s, name)
      s.put(rules === undefined ? b : { ...b, cors: rules }, ['b', name])
    })
  }

  /** Kept for a page that reads the configuration back; a tab runs no lifecycle (its nodes do). */
  async setBucketLifecycle (name: string, rules: LifecycleRule[] | undefined): Promise<void> {
    await this.tx('readwrite', async s => {
      const { lifecycle: _old, ...b } = await bucket(s, name)
      s.put(rules === undefined ? b : { ...b, lifecycle: rules }, ['b', name])
    })
  }

  // ---- objects ----

  async putObject (bucketName: string, key: string, body: ReadableStream<Uint8Array>, options: PutOptions): Promise<ObjectInfo> {
    // A lock the bucket cannot give is refused before the body is read.
    lockForWrite(options.lock, (await this.headBucket(bucketName)).objectLock, new Date())
    const wanted = putDigests(options)
    // A Blob needs no reading when nothing is to be hashed (a copy whose identity the caller gives).
    const blob = wanted.length === 0 && (options.size === undefined || options.size === options.blob?.size) ? options.blob : undefined
    const { segment, size, digests } = await (blob !== undefined
      ? this.chunks.writeBlob(blob, body, options.signal)
      : this.chunks.write(body, wanted, options.verified, options.size, options.signal)).catch(async (err: unknown) => {
      // The quota used up: what deletes and replaced versions left past its grace goes, so that the client's retry may fit.
      if (isS3Error(err, 'InsufficientStorage')) await this.sweep().catch(() => {})
      throw err
    })
    let identity: Awaited<ReturnType<typeof putIdentity>>
    try {
      identity = await putIdentity(options, hexDigests(digests))
    } catch (err) {
      // A copy whose identity failed (its bytes were not the writer's): its chunks go.
      await this.tx('readwrite', async s => { abandon(s, [segment]) }).catch(() => {})
      throw err
    }
    const { lastModified, versionAs, ...id } = identity
    const info: StoredInfo = { key, size, ...id, lastModified: lastModified.getTime(), tags: options.tags ?? {} }
    return await this.commitObject(bucketName, key, { info, segments: [segment] }, [segment.version], options.condition, versionAs, options.lock)
  }

  /**
   * The record a read names (`versionId`), or the key's current object, in
   * transaction `s`: in a bucket with versioning set, or for a version id,
   * by core/versioning.ts's rules (markers, NoSuchVersion).
   */
  private async readRecord (s: IDBObjectStore, bucketName: string, key: string, versionId: string | undefined): Promise<{ record: ObjectRecord, versioned: boolean }> {
    const b = await bucket(s, bucketName)
    const versioned = b.versioning !== undefined
    if (versionId === undefined && !versioned) return { record: await object(s, bucketName, key), versioned }
    return { record: versionToRead(await versionsOf(s, bucketName, key), key, versionId).record, versioned }
  }

  async openObject (bucketName: string, key: string, options?: VersionOptions): Promise<ObjectHandle> {
    // A one-chunk object is read in the same transaction as its record: one consistent snapshot.
    const { record, versioned, first } = await this.tx('readonly', async s => {
      const { record, versioned } = await this.readRecord(s, bucketName, key, options?.versionId)
      const one = record.segments.length === 1 && record.segments[0]!.chunks === 1
      return { record, versioned, first: one ? await storedChunk(s, record.segments[0]!.version, 0) : undefined }
    })
    const whole = { start: 0, end: record.info.size - 1 }
    // Nothing is held open between calls (no file handle, no transaction): close has nothing to release.
    return {
      info: shown(record, versioned),
      stream: (range?: ByteRange) => this.chunks.read(record, range ?? whole, first),
      // The stored Blobs themselves (a worker answers with them without reading a byte), or a one-chunk object's bytes.
      body: async (range?: ByteRange) => {
        const r = range ?? whole
        // A slice of a stored Blob costs Chromium a trip to its blob registry (half a millisecond, per profile): the whole is given as it is.
        if (first instanceof Blob) return r.start === 0 && r.end + 1 === first.size ? first : first.slice(r.start, r.end + 1)
        if (first !== undefined) return first.subarray(r.start, r.end + 1) as Uint8Array<ArrayBuffer>
        return await this.chunks.blob(record, r)
      },
      close: async () => {},
    }
  }

  async headObject (bucketName: string, key: string, options?: VersionOptions): Promise<ObjectInfo> {
    return await this.tx('readonly', async s => {
      const { record, versioned } = await this.readRecord(s, bucketName, key, options?.versionId)
      return shown(record, versioned)
    })
  }

  async deleteObject (bucketName: string, key: string, options?: DeleteOptions): Promise<DeleteResult> {
    const { result, freed } = await this.deleteIn(bucketName, key, options)
    // A delete that frees bytes sweeps, as a write does: what earlier deletes and writes left past its grace goes
    // now. Were it swept only after a write, a site whose quota is used up (every write refused) would never get
    // back the space its deletes free.
    if (freed) void this.sweep().catch(() => {})
    return result
  }

  private async deleteIn (bucketName: string, key: string, options?: DeleteOptions): Promise<{ result: DeleteResult, freed: boolean }> {
    return await this.tx('readwrite', async s => {
      const b = await bucket(s, bucketName)
      if (b.versioning === undefined && options?.versionId === undefined) {
        const old = await get(s, ['o', bucketName, utf8(key)]) as ObjectRecord | undefined
        if (options?.ifMatch !== undefined) checkWriteCondition({ ifMatch: options.ifMatch }, old?.info, key)
        if (old === undefined) return { result: {}, freed: false }
        s.delete(['o', bucketName, utf8(key)])
        retire(s, old.segments)
        return { result: {}, freed: true }
      }
      // core/versioning.ts says what the delete does to the key's versions; they are written back in this transaction.
      const before = await versionsOf(s, bucketName, key)
      // A conditional delete is checked against the current version (S3's rule), in this transaction.
      if (options?.ifMatch !== undefined) checkWriteCondition({ ifMatch: options.ifMatch }, before[0]?.deleteMarker === false ? before[0].record.info : undefined, key)
      const marker = (versionId: string): IdbVersion => asVersion(markerRecord(key, versionId, this.ids.next().slice(0, STAMP_LENGTH)))
      // A protected version is refused (or kept quietly for a conditional delete) before anything changes.
      const target = options?.versionId === undefined ? undefined : before.find(v => v.versionId === options.versionId)
      if (target !== undefined && !mayDeleteLocked(target.record.info.lock, new Date(), options)) return { result: { versionId: target.versionId, kept: true }, freed: false }
      const { versions, result } = afterDelete(before, b.versioning, options?.versionId, () => this.ids.next(), marker, options?.onlyIf)
      writeVersions(s, bucketName, key, before, versions)
      // A delete by version id removes that version's bytes (a delete without one adds a marker and keeps them).
      return { result, freed: options?.versionId !== undefined }
    })
  }

  async listObjects (bucketName: string, options: ListOptions): Promise<ListResult> {
    const prefix = utf8(options.prefix ?? '')
    const after = options.startAfter === undefined ? undefined : utf8(options.startAfter)
    // Start at the prefix or just after startAfter, whichever is later; stop at the first key past the prefix.
    const fromAfter = after !== undefined && compareBytes(after, prefix) >= 0
    const lower: Key = ['o', bucketName, fromAfter ? after : prefix]
    return await this.tx('readonly', async s => {
      await bucket(s, bucketName)
      const objects: ListResult['objects'] = []
      let isTruncated = false
      const request = s.openCursor(IDBKeyRange.bound(lower, ['o', bucketName, AFTER], fromAfter, true))
      await new Promise<void>((resolve, reject) => {
        request.onerror = () => { reject(request.error) }
        request.onsuccess = () => {
          const cursor = request.result
          if (cursor === null) { resolve(); return }
          const keyBytes = new Uint8Array((cursor.key as IDBValidKey[])[2] as ArrayBuffer)
          if (!startsWith(keyBytes, prefix)) { resolve(); return }
          if (objects.length === options.limit) { isTruncated = true; resolve(); return }
          const { info } = cursor.value as ObjectRecord
          objects.push({ key: info.key, size: info.size, etag: info.etag, lastModified: new Date(info.lastModified) })
          cursor.continue()
        }
      })
      return { objects, isTruncated }
    })
  }

  async listObjectVersions (bucketName: string, options: VersionListOptions): Promise<VersionListResult> {
    const prefix = utf8(options.prefix ?? '')
    const marked = options.keyMarker !== undefined && compareBytes(utf8(options.keyMarker), prefix) >= 0
    return await this.tx('readonly', async s => {
      await bucket(s, bucketName)
      const out: VersionSummary[] = []
      let from = marked ? utf8(options.keyMarker!) : prefix
      let inclusive = !marked || options.versionIdMarker !== undefined
      for (;;) {
        const keyBytes = await nextKey(s, bucketName, from, inclusive)
        if (keyBytes === undefined || !startsWith(keyBytes, prefix)) return { versions: out, isTruncated: false }
        const key = decoder.decode(keyBytes)
        const versions = await versionsOf(s, bucketName, key)
        let i = marked && key === options.keyMarker && options.versionIdMarker !== undefined ? afterMarker(versions, options.versionIdMarker) : 0
        for (; i < versions.length; i++) {
          if (out.length === options.limit) return { versions: out, isTruncated: true }
          const v = versions[i]!
          out.push({ key, versionId: v.versionId, isLatest: i === 0, deleteMarker: v.deleteMarker, lastModified: v.lastModified, ...(v.deleteMarker ? {} : { size: v.record.info.size, etag: v.record.info.etag }) })
        }
        from = utf8(key)
        inclusive = false
      }
    })
  }

  async setObjectTags (bucketName: string, key: string, tags: Record<string, string>, options?: VersionOptions): Promise<void> {
    await this.tx('readwrite', async s => {
      const { record } = await this.readRecord(s, bucketName, key, options?.versionId)
      this.rewriteVersion(s, bucketName, key, await versionsOf(s, bucketName, key), { ...record, info: { ...record.info, tags } })
    })
  }

  /** Rewrites one version's record (its tags or lock: they belong to it), the others as they are. */
  private rewriteVersion (s: IDBObjectStore, bucketName: string, key: string, before: IdbVersion[], changed: ObjectRecord): void {
    const target = asVersion(changed).versionId
    writeVersions(s, bucketName, key, before, before.map(v => v.versionId === target ? asVersion(changed) : v))
  }

  // ---- multipart (idb-multipart.ts) ----

  async createMultipartUpload (bucketName: string, key: string, options: UploadOptions): Promise<string> { return await this.multipart.createMultipartUpload(bucketName, key, options) }
  async uploadPart (bucketName: string, key: string, uploadId: string, partNumber: number, body: ReadableStream<Uint8Array>, options: PartOptions = {}): Promise<PartInfo> { return await this.multipart.uploadPart(bucketName, key, uploadId, partNumber, body, options) }
  async listParts (bucketName: string, key: string, uploadId: string): Promise<PartInfo[]> { return await this.multipart.listParts(bucketName, key, uploadId) }
  async listMultipartUploads (bucketName: string, options: { prefix?: string } = {}): Promise<UploadInfo[]> { return await this.multipart.listMultipartUploads(bucketName, options) }
  async completeMultipartUpload (bucketName: string, key: string, uploadId: string, parts: CompletedPart[], options: CompleteOptions = {}): Promise<ObjectInfo> { return await this.multipart.completeMultipartUpload(bucketName, key, uploadId, parts, options) }
  async abortMultipartUpload (bucketName: string, key: string, uploadId: string): Promise<void> { await this.multipart.abortMultipartUpload(bucketName, key, uploadId) }

  /** Deletes what failed writes left behind and replaced versions past their grace period. */
  async sweep (): Promise<void> {
    this.sweeping ??= this.tx('readwrite', async s => {
      const now = Date.now()
      const replaced = await promisifyRequest(s.getAllKeys(IDBKeyRange.bound(['g'], ['g', now - REPLACED_GRACE_MS, AFTER]))) as Key[]
      for (const k of replaced) {
        s.delete(IDBKeyRange.bound(['c', k[2]!], ['c', k[2]!, AFTER]))
        s.delete(k)
      }
      const writes = await promisifyRequest(s.getAllKeys(IDBKeyRange.bound(['w'], ['w', AFTER]))) as Key[]
      const started = await promisifyRequest(s.getAll(IDBKeyRange.bound(['w'], ['w', AFTER]))) as number[]
      writes.forEach((k, i) => {
        if (started[i]! > now - ABANDONED_WRITE_MS) return
        s.delete(IDBKeyRange.bound(['c', k[1]!], ['c', k[1]!, AFTER]))
        s.delete(k)
      })
    }).finally(() => { this.sweeping = undefined })
    await this.sweeping
  }

  // ---- internals ----

  private async commitObject (bucketName: string, key: string, record: ObjectRecord, written: string[], condition?: WriteCondition, named?: VersionAs, asked?: VersionLock): Promise<ObjectInfo> {
    try {
      const info = await this.tx('readwrite', async s => {
        const shownInfo = await this.replaceObject(s, bucketName, key, record, condition, named, asked)
        // A write the sweep took for abandoned (its mark gone: it stalled for an hour) lacks its chunks: not committed.
        for (const v of written) if (await get(s, ['w', v]) === undefined) throw sweptWrite()
        for (const v of written) s.delete(['w', v])
        return shownInfo
      })
      void this.sweep().catch(() => {})
      return info
    } catch (err) {
      // The bucket went away meanwhile, or the commit failed: the new chunks go.
      await this.tx('readwrite', async s => { abandon(s, record.segments) }).catch(() => {})
      throw err
    }
  }

  /**
   * Points (bucket, key) at `record` if what it holds meets `condition`; the
   * version it replaces stays readable for the grace period, or, in a bucket
   * with versioning set, is kept as core/versioning.ts says (`named`: as
   * that version, in its place by its stamp). The version gets the lock
   * asked for, else the bucket's default from when it is made. Returns the
   * object as shown.
   */
  private async replaceObject (s: IDBObjectStore, bucketName: string, key: string, unlocked: ObjectRecord, condition?: WriteCondition, named?: VersionAs, asked?: VersionLock): Promise<ObjectInfo> {
    const b = await bucket(s, bucketName)
    const lock = lockForWrite(asked, b.objectLock, new Date(unlocked.info.lastModified))
    const record = lock === undefined ? unlocked : { ...unlocked, info: { ...unlocked.info, lock } }
    const old = await get(s, ['o', bucketName, utf8(key)]) as ObjectRecord | undefined
    checkWriteCondition(condition, old?.info, key)
    if (named !== undefined) checkNamedVersion(b.versioning, named.versionId)
    if (b.versioning === undefined) {
      s.put(record, ['o', bucketName, utf8(key)])
      if (old !== undefined) retire(s, old.segments)
      return toInfo(record.info)
    }
    const made = named?.stamp ?? this.ids.next()
    const versionId = named?.versionId ?? writtenVersionId(b.versioning, () => made)
    const versioned: ObjectRecord = { ...record, info: { ...record.info, ...(versionId === NULL_VERSION ? {} : { versionId }) }, stamp: made.slice(0, STAMP_LENGTH) }
    const before = await versionsOf(s, bucketName, key)
    const written = asVersion(versioned)
    writeVersions(s, bucketName, key, before, named === undefined ? withVersion(before, written) : placeVersion(before, written, v => stampOf(v.record)))
    return shown(versioned, true)
  }

  /** Runs `fn` in one transaction of this store's database (see transaction()). */
  private async tx<T> (mode: IDBTransactionMode, fn: (s: IDBObjectStore) => Promise<T>): Promise<T> {
    return await transaction(this.db, mode, fn)
  }
}

