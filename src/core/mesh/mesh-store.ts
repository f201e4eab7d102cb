import { isS3Error, S3Error } from '../errors.js'
import type { Hashes } from '../hashes.js'
import type { LifecycleRule } from '../lifecycle.js'
import { readAll, throwIfAborted } from '../streams.js'
import {
  bytesHandle, type BucketInfo, type ByteRange, type CompleteOptions, type CompletedPart, type CorsRule, type DeleteOptions, type ListOptions, type ListResult, type ObjectHandle, type ObjectInfo,
  type LockOptions, type ObjectStore, type PartInfo, type PartOptions, type PutOptions, type Signal, type UploadInfo, type UploadOptions, type VersionOptions, type WriteCondition,
} from '../object-store.js'
import {
  changedLock, lockForWrite, lockOfRecord, lockRecord, mayDeleteLocked, type BucketObjectLock, type LockChange, type VersionLock,
} from '../object-lock.js'
import {
  deleteMayGo, NULL_VERSION, versionToRead,
  type DeleteResult, type KeptVersion, type VersioningStatus, type VersionListOptions, type VersionListResult, type VersionSummary,
} from '../versioning.js'
import { createdOf, mergeEntries, slotOf, type CatalogEntry } from './catalog-entry.js'
import type { Catalog } from './catalog.js'
import { hasTree, TreeHasher } from './chunk-tree.js'
import { summaries, type CatalogPartition } from './catalog-partition.js'
import { infoOf, isNoCopy, type LocalCopies } from './local-copies.js'
import { MeshBuckets } from './mesh-buckets.js'
import { confirmed, meshVersionId, NewVersions } from './mesh-writes.js'
import type { Replicator, WriteFan } from './replicator.js'
import { readLaterHandle, streamedHandle, verifiedHandle } from './read-handles.js'
import type { WriteArbiter, WriteLease } from './write-arbiter.js'
import type { Version } from './hlc.js'
import type { BucketCloser } from './bucket-close.js'

/** What the mesh store is built on (see MeshNode, which makes them). */
export interface MeshStoreParts {
  /** This member's own copies, its lock per key, and publishing. */
  copies: LocalCopies
  catalog: Catalog
  hashes: Hashes
  /** Gets a new write to its replicas: streamed as it is written (`begin`), committed with its version (`replicate`). */
  replicator: Pick<Replicator, 'begin' | 'replicate'>
  /** Fetches the newest version of an object from its holders into the local store (verified); resolves to the entry now held. */
  fetch: (entry: CatalogEntry, signal?: AbortSignal) => Promise<CatalogEntry>
  /** Fetches as `fetch` does while streaming the bytes to a reader (checked as they come); undefined when that version is being fetched already. */
  stream?: (entry: CatalogEntry) => Promise<ReadableStream<Uint8Array> | undefined>
  /** Whether placement gives this member a copy of the version (else a GET here reads it through without keeping it). */
  keeps?: (entry: CatalogEntry) => boolean
  /** Reads a version from a holder without keeping it (see HolderFetcher.readThrough): whole and checked up to `whole` bytes, else streaming. */
  readThrough?: (entry: CatalogEntry, whole: number, signal: AbortSignal) => Promise<Uint8Array | ReadableStream<Uint8Array>>
  /** Reads a range of a version with a chunk tree from a holder, keeping nothing (see HolderFetcher.readRange). */
  readRange?: (entry: CatalogEntry, range: ByteRange, signal: AbortSignal) => Promise<ReadableStream<Uint8Array>>
  /** The local copy of a version turned out not to hash to it (bit rot, a hand edit): replace it. */
  onCorrupt: (entry: CatalogEntry) => void
  /** The catalog lists this member as a holder of a version it found no local copy of (LostClaims). */
  onMissing?: (entry: CatalogEntry) => void
  /** Resolves once what was announced so far has been sent to the peers. */
  announced: () => Promise<void>
  /** Puts the catalog on stable storage (if it is kept), so a delete acknowledged is not forgotten by a restart. */
  persist: () => Promise<void>
  /** Where entries this member does not keep are read (a bucket's owners, when the catalog is partitioned); else the local catalog answers. */
  partition?: Pick<CatalogPartition, 'entry' | 'listing' | 'totals' | 'versionPage'>
  /**
   * The durable members that keep no versions (an older release): versioning
   * is not turned on while there are any. Absent: this store keeps no
   * versions (a guest's, which answers as such a store does).
   */
  versionsBlockedBy?: () => string[]
  /**
   * The durable members that keep no object lock (an older release): no
   * bucket gets object lock while there are any. Absent: this store keeps
   * none (a guest's), and a handler refuses what asks for it.
   */
  objectLockBlockedBy?: () => string[]
  /** Orders conditional writes across the mesh (without it they are refused as not implemented). */
  arbiter?: Pick<WriteArbiter, 'acquire'>
  /**
   * The durable members whose arbiter knows no conditional delete nor
   * `If-Match: *` (an older release): while there are any, both answer 503.
   */
  conditionalDeletesBlockedBy?: () => string[]
  /** Orders a bucket's delete with the writes to it across the mesh (without it a write racing a delete elsewhere may be lost with the bucket). */
  closer?: Pick<BucketCloser, 'whileOpen' | 'wrote' | 'close'>
}

/**
 * Objects up to this size read through a member that lacks them are had whole
 * (and checked) before the answer starts; larger ones stream as they arrive,
 * and bad bytes end the response short.
 */
const WHOLE_BEFORE_ANSWER = 1024 * 1024

/**
 * The ObjectStore the S3 handler uses on a mesh member: the cluster's
 * catalog decides what exists (so any member lists, HEADs and GETs every
 * object), the local store holds the bytes this member has, and what it lacks
 * is fetched from holders, checked as it arrives, and served (kept only when
 * placement gives this member a copy). Writes go to the
 * local store first, then get a new version (hybrid clock: last writer wins),
 * are announced, and are copied to the replicas placement picks before the
 * write is acknowledged.
 */
export class MeshStore implements ObjectStore {
  private readonly copies: LocalCopies
  private readonly catalog: Catalog
  private readonly buckets: MeshBuckets
  private readonly writes: NewVersions

  /** Sets a bucket's versioning for the whole mesh (see MeshStoreParts.versionsBlockedBy: a store that keeps no versions has none). */
  readonly setBucketVersioning?: (name: string, status: VersioningStatus, options?: Signal) => Promise<void>
  /** A page of a bucket's versions and delete markers, from the catalog (its owners). */
  readonly listObjectVersions?: (bucket: string, options: VersionListOptions) => Promise<VersionListResult>
  /** Turns object lock on for the whole mesh (the bucket's entry carries it; see MeshStoreParts.objectLockBlockedBy). */
  readonly setBucketObjectLock?: (name: string, lock: BucketObjectLock, options?: Signal) => Promise<void>
  /** Changes a version's retention or legal hold for the whole mesh (its slot's entry carries it). */
  readonly setObjectLock?: (bucket: string, key: string, change: LockChange, options?: LockOptions) => Promise<VersionLock | undefined>

  constructor (private readonly p: MeshStoreParts) {
    this.copies = p.copies
    this.catalog = p.catalog
    this.buckets = new MeshBuckets(p)
    this.writes = new NewVersions(p)
    const blocked = p.versionsBlockedBy
    if (blocked !== undefined) {
      this.setBucketVersioning = async (name, status, options) => { await this.buckets.setVersioning(name, status, blocked(), options) }
      this.listObjectVersions = async (bucket, options) => await this.versionsOf(bucket, options)
    }
    const lockBlocked = p.objectLockBlockedBy
    if (lockBlocked !== undefined) {
      this.setBucketObjectLock = async (name, lock, options) => { await this.buckets.setObjectLock(name, lock, lockBlocked(), options) }
      this.setObjectLock = async (bucket, key, change, options) => await this.changeLock(bucket, key, change, options)
    }
  }

  private get local (): ObjectStore { return this.copies.store }

  // ---- buckets (mesh-buckets.ts) ----

  async createBucket (name: string, options?: Signal): Promise<void> { await this.buckets.create(name, options) }
  async headBucket (name: string, options?: Signal): Promise<BucketInfo> { return await this.buckets.head(name, options) }
  async listBuckets (): Promise<BucketInfo[]> { return this.buckets.list() }
  async deleteBucket (name: string, options?: Signal): Promise<void> { await this.buckets.delete(name, options) }
  async setBucketCors (name: string, rules: CorsRule[] | undefined, options?: Signal): Promise<void> { await this.buckets.setCors(name, rules, options) }
  async setBucketLifecycle (name: string, rules: LifecycleRule[] | undefined, options?: Signal): Promise<void> { await this.buckets.setLifecycle(name, rules, options) }
  lifecycleAtHand (bucket: string): LifecycleRule[] | undefined { return this.buckets.lifecycle(bucket) }

  // ---- objects ----

  async putObject (bucket: string, key: string, body: ReadableStream<Uint8Array>, options: PutOptions): Promise<ObjectInfo> {
    // Copies of writes made elsewhere are the mesh's own business (LocalCopies), never a client's.
    if (options.copyOf !== undefined || options.copyOfAtEnd !== undefined || options.versionAs !== undefined) throw new S3Error('NotImplemented', 'A mesh store makes its own copies and names its own versions.')
    return await this.writing(bucket, options.signal, async () => await this.put(bucket, key, body, options))
  }

  /**
   * Runs a write that makes a version (an object, a marker) while a delete of
   * its bucket is not deciding anywhere (see bucket-close.ts): one begun
   * while it decides waits, then finds the bucket or not.
   */
  private async writing<T> (bucket: string, signal: AbortSignal | undefined, write: () => Promise<T>): Promise<T> {
    return this.p.closer === undefined ? await write() : await this.p.closer.whileOpen(bucket, signal, write)
  }

  private async put (bucket: string, key: string, body: ReadableStream<Uint8Array>, options: PutOptions): Promise<ObjectInfo> {
    // A lock the bucket cannot give is refused before the body is read.
    lockForWrite(options.lock, this.buckets.live(bucket).objectLock, new Date())
    await this.copies.ensureBucket(bucket, options)
    // A conditional write asks the bucket's arbiter before its body is read: a failed condition is answered at once.
    const lease = await this.lease(bucket, key, options.condition, options.signal)
    let tree: TreeHasher | undefined
    let fan: WriteFan
    try {
      // The bytes go to the replicas while they are written here; the version follows once it exists.
      // An object of more than 1 MiB gets its chunk tree from the same pass (see chunk-tree.ts).
      const hasher = tree = options.size === undefined || hasTree(options.size) ? new TreeHasher(this.p.hashes) : undefined
      const source = hasher === undefined ? body : body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ transform: (chunk, c) => { hasher.update(chunk); c.enqueue(chunk) } }))
      fan = this.p.replicator.begin({ bucket, key, metadata: options.metadata, tags: options.tags ?? {}, ...(options.size === undefined ? {} : { size: options.size }) }, source)
    } catch (err) {
      await lease?.release()
      throw err
    }
    // The version's lock is the catalog's: the local store keeps none (it drops and moves copies as placement says).
    // Its bytes are the fan's (the replicas read them too), never a Blob the store could take instead.
    const { condition: _checked, lock, blob: _whole, returnEntry, ...local } = options
    return await this.writes.commit(bucket, key, async named => {
      const info = await this.local.putObject(bucket, key, fan.local, { ...local, ...confirmed(lease, options.signal), ...(named === undefined ? {} : { versionAs: named }) })
      return lock === undefined ? info : { ...info, lock }
    }, options.signal, fan, tree, lease, returnEntry)
  }

  /** The key's lease from the bucket's arbiter, for a conditional write (see write-arbiter.ts). */
  private async lease (bucket: string, key: string, condition: WriteCondition | undefined, signal?: AbortSignal, newKind?: string): Promise<WriteLease | undefined> {
    if (condition === undefined) return undefined
    if (this.p.arbiter === undefined) throw new S3Error('NotImplemented', 'Conditional writes need the mesh\'s write arbiter.')
    // An arbiter of an older release would compare * with an ETag, and forget a delete it let happen (two winners).
    const kind = newKind ?? (condition.ifMatch === '*' ? 'If-Match: *' : undefined)
    const old = kind === undefined ? [] : this.p.conditionalDeletesBlockedBy?.() ?? []
    if (old.length > 0) throw new S3Error('ServiceUnavailable', `${kind} waits until every node runs this release: ${old.join(', ')} does not yet.`)
    return await this.p.arbiter.acquire(bucket, key, condition, signal)
  }

  async openObject (bucket: string, key: string, options?: VersionOptions): Promise<ObjectHandle> {
    let e = await this.liveObject(bucket, key, options?.signal, options?.versionId)
    const shown = this.shownId(e)
    const show = (h: ObjectHandle): ObjectHandle => shown === undefined ? h : { ...h, info: { ...h.info, versionId: shown } }
    for (let attempt = 0; attempt < 3; attempt++) {
      // Not looked for where it surely is not (LocalCopies.surelyLacks): most reads through a member placement leaves out.
      const handle = this.copies.surelyLacks(e) ? undefined : await this.copies.openLocal(bucket, key, e.object!.sha256, options?.signal, this.copies.localId(e))
      if (handle !== undefined) return show(verifiedHandle(handle, e, this.p.hashes, this.p.onCorrupt))
      if (this.p.readThrough !== undefined && this.p.keeps?.(e) === false) {
        // Listed as a holder, and no copy here: a claim to look into (where placement gives this member a copy, the fetch below makes it true).
        if (e.holders.includes(this.copies.self)) this.p.onMissing?.(e)
        // Not one of its replicas: served from a holder, and nothing is kept here.
        if (e.object!.size > WHOLE_BEFORE_ANSWER && e.object!.tree !== undefined && this.p.readRange !== undefined) return show(readLaterHandle(e, { readThrough: this.p.readThrough, readRange: this.p.readRange }, options?.signal))
        const got = await this.p.readThrough(e, WHOLE_BEFORE_ANSWER, options?.signal ?? new AbortController().signal)
        return show(got instanceof Uint8Array ? bytesHandle(infoOf(e.key!, e.object!), got) : streamedHandle(e, got))
      }
      // The reader has the bytes as they arrive from a holder, while they are stored here.
      const body = attempt === 0 ? await this.p.stream?.(e) : undefined
      if (body !== undefined) {
        if (options?.signal?.aborted === true) {
          await body.cancel(options.signal.reason).catch(() => {})
          throw options.signal.reason
        }
        if (e.object!.size > WHOLE_BEFORE_ANSWER) return show(streamedHandle(e, body))
        // A small one is had whole (and checked) before the answer, so bad bytes get a 503, not a 200 cut short.
        try {
          return show(bytesHandle(infoOf(e.key!, e.object!), await readAll(body, WHOLE_BEFORE_ANSWER, options?.signal)))
        } catch {
          throwIfAborted(options?.signal)
          // That holder failed or sent bad bytes: the fetch goes on with the next ones, and this read waits for it.
        }
      }
      e = await this.p.fetch(e, options?.signal)
    }
    throw new S3Error('ServiceUnavailable', `${bucket}/${key} changed while it was being fetched; try again.`)
  }

  async headObject (bucket: string, key: string, options?: VersionOptions): Promise<ObjectInfo> {
    const e = await this.liveObject(bucket, key, options?.signal, options?.versionId)
    const shown = this.shownId(e)
    return { ...infoOf(key, e.object!), ...(shown === undefined ? {} : { versionId: shown }) }
  }

  /**
   * Deletes as S3 does in the bucket's versioning state: in a bucket never
   * versioned, the key's object; else a delete marker becomes its current
   * version (the null slot's, when suspended), or, by id, that version goes
   * and the newest of the rest is current, with nothing moved.
   */
  async deleteObject (bucket: string, key: string, options?: DeleteOptions): Promise<DeleteResult | undefined> {
    const status = this.buckets.live(bucket).versioning
    const versionId = options?.versionId
    const signal = options?.signal
    const ifMatch = options?.ifMatch
    // The arbiter learns what the key's current object is after a delete without an id (none), not after one by id.
    if (ifMatch !== undefined && versionId !== undefined) throw new S3Error('NotImplemented', 'A conditional delete of a version by its id is not supported: delete without versionId, or without If-Match.')
    // A conditional delete asks the bucket's arbiter, as a conditional write does: of two racing, one wins.
    const lease = await this.lease(bucket, key, ifMatch === undefined ? undefined : { ifMatch }, signal, 'a conditional delete')
    let deleted: { version: Version, slot: string } | undefined
    try {
      if (status === undefined && (versionId === undefined || versionId === NULL_VERSION)) {
        await this.copies.locks.run(`${bucket}\n${key}`, async () => {
          await lease?.confirm(signal)
          await this.copies.deleteLocal(bucket, key, signal)
          const version = this.version()
          this.writes.published(this.copies.inBucket({ bucket, key, version, deleted: true, holders: [] }))
          deleted = { version, slot: '' }
        })
        await this.p.persist()
        return undefined
      }
      // A delete marker is a version: made as a PUT is, never into a bucket being deleted.
      const marking = versionId === undefined
      const result = marking
        ? await this.writing(bucket, signal, async () => await this.mark(bucket, key, signal, lease, made => { deleted = made }))
        : await this.copies.locks.run(`${bucket}\n${key}`, async () => await this.deleteSlot(bucket, key, versionId, options ?? {}, signal))
      await this.p.persist()
      return result
    } finally {
      // The key is let go with no object current from the delete's version on (or with nothing, when it did not happen).
      await lease?.release(deleted)
    }
  }

  /** A delete marker becomes the key's current version (the null slot's, when versioning is suspended). */
  private async mark (bucket: string, key: string, signal?: AbortSignal, lease?: WriteLease, made?: (marker: { version: Version, slot: string }) => void): Promise<DeleteResult> {
    const status = this.buckets.live(bucket).versioning
    return await this.copies.locks.run(`${bucket}\n${key}`, async (): Promise<DeleteResult> => {
      await lease?.confirm(signal)
      const version = this.version()
      const suspended = status === 'Suspended'
      // Suspended: the marker takes the null slot, and the null version's copy here goes (the other holders' as they hear of it).
      if (suspended) await this.copies.deleteLocal(bucket, key, signal, NULL_VERSION)
      this.writes.published(this.copies.inBucket({ bucket, key, ...(suspended ? {} : { versionId: meshVersionId(version) }), version, marker: true, deleted: false, holders: [] }))
      made?.({ version, slot: suspended ? '' : meshVersionId(version) })
      return { versionId: suspended ? NULL_VERSION : meshVersionId(version), deleteMarker: true }
    })
  }

  /** Deletes one version (or marker) by its id, the key's lock held; the key's head is worked out again from what is left. */
  private async deleteSlot (bucket: string, key: string, versionId: string, options: DeleteOptions, signal?: AbortSignal): Promise<DeleteResult> {
    const { onlyIf } = options
    const slot = versionId === NULL_VERSION ? undefined : versionId
    // The owners' entry, not a holder's own (its lock may have changed since it stored the copy).
    const e = await this.entryOf(bucket, key, signal, versionId, true)
    if (e === undefined || e.deleted) return { versionId }
    // A protected version is refused (AccessDenied), or kept quietly for the lifecycle runner: the slot's entry carries its lock to every member.
    if (!mayDeleteLocked(lockOfRecord(e.object?.lock), new Date(), options)) return { versionId, kept: true }
    if (onlyIf !== undefined) {
      // As a store checks it under its lock: the key's slots as this member knows them, its head first (the lifecycle
      // runner, which asks this, runs at the bucket's leading owner: it has them all).
      const head = slotOf(this.catalog.get(bucket, key) ?? e)
      const others = this.catalog.slots(bucket, key).filter(x => !x.deleted).map(slotOf).filter(s => s !== head)
      if (!deleteMayGo([head, ...others], slotOf(e), onlyIf)) return { versionId, kept: true }
    }
    this.writes.published(this.copies.inBucket({ bucket, key, ...(slot === undefined ? {} : { versionId: slot }), version: this.version(), deleted: true, holders: [] }))
    // A marker's too: one made by a run without the mesh is kept in the store, and a start would adopt it again.
    await this.copies.deleteLocal(bucket, key, signal, this.copies.localId(e))
    return { versionId, ...(e.marker === true ? { deleteMarker: true } : {}) }
  }

  async listObjects (bucket: string, options: ListOptions): Promise<ListResult> {
    this.buckets.live(bucket)
    if (this.p.partition !== undefined) return await this.p.partition.listing(bucket, options, options.signal)
    return summaries(this.catalog.page(bucket, options))
  }

  async setObjectTags (bucket: string, key: string, tags: Record<string, string>, options?: VersionOptions): Promise<void> {
    // A new version of the slot's entry: made as a write is, never into a bucket being deleted (a delete of the key or
    // version made elsewhere meanwhile outranks it: compareSlotAge).
    await this.writing(bucket, options?.signal, async () => { await this.tag(bucket, key, tags, options) })
  }

  private async tag (bucket: string, key: string, tags: Record<string, string>, options?: VersionOptions): Promise<void> {
    await this.copies.locks.run(`${bucket}\n${key}`, async () => {
      const e = await this.liveObject(bucket, key, options?.signal, options?.versionId, true)
      const localId = this.copies.localId(e)
      // The bytes do not change: every holder of the old version holds the new one. The edit keeps when its version
      // was made: it never makes a version current, nor outranks a write or a delete of the key made after that
      // version, however late the edit comes (compareSlotAge).
      const entry: CatalogEntry = { ...e, version: this.version(), created: createdOf(e), object: { ...e.object!, tags } }
      try {
        const local = { ...(options?.signal === undefined ? {} : { signal: options.signal }), ...(localId === undefined ? {} : { versionId: localId }) }
        if ((await this.local.headObject(bucket, key, local)).sha256 === e.object!.sha256) await this.local.setObjectTags(bucket, key, tags, local)
      } catch (err) {
        if (!isNoCopy(err)) throw err
      }
      this.writes.published(entry)
    })
  }

  /**
   * Changes a version's retention or legal hold as S3 allows
   * (core/object-lock.ts changedLock), under the key's lock: a new version of
   * its slot's entry, keeping when the version was made, carries it to every
   * member before the answer (announced and saved, as a delete is).
   */
  private async changeLock (bucket: string, key: string, change: LockChange, options?: LockOptions): Promise<VersionLock | undefined> {
    const lock = await this.writing(bucket, options?.signal, async () => await this.copies.locks.run(`${bucket}\n${key}`, async () => {
      const e = await this.liveObject(bucket, key, options?.signal, options?.versionId, true)
      const changed = changedLock(this.buckets.live(bucket).objectLock, lockOfRecord(e.object!.lock), change, new Date(), options?.bypassGovernance === true)
      const { lock: _old, ...object } = e.object!
      const record = lockRecord(changed)
      this.writes.published({ ...e, version: this.version(), created: createdOf(e), object: record === undefined ? object : { ...object, lock: record } })
      return changed
    }))
    await this.p.announced()
    await this.p.persist()
    return lock
  }

  /** A page of a bucket's versions and delete markers, each key's newest first, as the catalog (its owners) has them. */
  private async versionsOf (bucket: string, options: VersionListOptions): Promise<VersionListResult> {
    this.buckets.live(bucket)
    const q = { limit: options.limit, ...(options.prefix === undefined ? {} : { prefix: options.prefix }), ...(options.keyMarker === undefined ? {} : { keyMarker: options.keyMarker }), ...(options.versionIdMarker === undefined ? {} : { versionIdMarker: options.versionIdMarker }) }
    const page = this.p.partition === undefined ? this.catalog.versionPage(bucket, q) : await this.p.partition.versionPage(bucket, q, options.signal)
    return { versions: page.versions.map(({ entry, latest }) => versionSummary(entry, latest)), isTruncated: page.isTruncated }
  }

  // ---- multipart: staged on the member that receives the upload ----

  async createMultipartUpload (bucket: string, key: string, options: UploadOptions): Promise<string> {
    // Held while a delete of the bucket decides (an upload in progress makes it not empty), and refused after one.
    return await this.writing(bucket, options.signal, async () => {
      lockForWrite(options.lock, this.buckets.live(bucket).objectLock, new Date())
      await this.copies.ensureBucket(bucket, options)
      // The upload keeps the lock asked for and answers it at completion; the catalog keeps it with the version.
      return await this.local.createMultipartUpload(bucket, key, { ...options, ...(options.lock === undefined ? {} : { lockAside: true }) })
    })
  }

  async uploadPart (bucket: string, key: string, uploadId: string, partNumber: number, body: ReadableStream<Uint8Array>, options?: PartOptions): Promise<PartInfo> {
    return await this.local.uploadPart(bucket, key, uploadId, partNumber, body, options)
  }

  async listParts (bucket: string, key: string, uploadId: string, options?: Signal): Promise<PartInfo[]> {
    return await this.local.listParts(bucket, key, uploadId, options)
  }

  async listMultipartUploads (bucket: string, options?: { prefix?: string } & Signal): Promise<UploadInfo[]> {
    this.buckets.live(bucket)
    try {
      return await this.local.listMultipartUploads(bucket, options)
    } catch (err) {
      if (isS3Error(err, 'NoSuchBucket')) return []
      throw err
    }
  }

  async completeMultipartUpload (bucket: string, key: string, uploadId: string, parts: CompletedPart[], options: CompleteOptions = {}): Promise<ObjectInfo> {
    return await this.writing(bucket, options.signal, async () => await this.complete(bucket, key, uploadId, parts, options))
  }

  private async complete (bucket: string, key: string, uploadId: string, parts: CompletedPart[], options: CompleteOptions): Promise<ObjectInfo> {
    this.buckets.live(bucket)
    const lease = await this.lease(bucket, key, options.condition, options.signal)
    const { condition: _checked, ...local } = options
    return await this.writes.commit(bucket, key, async named => await this.local.completeMultipartUpload(bucket, key, uploadId, parts, { ...local, ...confirmed(lease, options.signal), ...(named === undefined ? {} : { versionAs: named }) }), options.signal, undefined, undefined, lease)
  }

  async abortMultipartUpload (bucket: string, key: string, uploadId: string, options?: Signal): Promise<void> {
    await this.local.abortMultipartUpload(bucket, key, uploadId, options)
  }

  private version (): CatalogEntry['version'] {
    return this.copies.version()
  }

  /**
   * The version a read names (`versionId`), or the key's current one, with
   * an object: throws what S3 answers otherwise (NoSuchKey, with the delete
   * marker's headers when one is current; NoSuchVersion; 405 for a marker's id).
   */
  private async liveObject (bucket: string, key: string, signal?: AbortSignal, versionId?: string, fresh = false): Promise<CatalogEntry> {
    this.buckets.live(bucket)
    const e = await this.entryOf(bucket, key, signal, versionId, fresh)
    if (versionId === undefined && (e === undefined || e.deleted || e.object === undefined) && e?.marker !== true) {
      throw new S3Error('NoSuchKey', undefined, { resource: `/${bucket}/${key}`, detail: { Key: key } })
    }
    versionToRead(e === undefined || e.deleted ? [] : [keptOf(e)], key, versionId)
    return e!
  }

  /**
   * The key's head (`versionId` absent) or one of its slots (`null`: the
   * null slot), tombstones included, from the catalog or the bucket's
   * owners. `fresh`: the owners' even where this member holds the version
   * (a change to it must start from its latest entry: a holder that is no
   * owner hears of its replacement, not of every change to it).
   */
  private async entryOf (bucket: string, key: string, signal?: AbortSignal, versionId?: string, fresh = false): Promise<CatalogEntry | undefined> {
    const local = versionId === undefined ? this.catalog.get(bucket, key) : this.catalog.slot(bucket, key, versionId === NULL_VERSION ? undefined : versionId)
    if (this.p.partition === undefined) return local
    const asked = await this.p.partition.entry(bucket, key, signal, { ...(versionId === undefined ? {} : { versionId }), ...(fresh ? { holders: true } : {}) })
    // This member's own last change to the slot may not have reached the owners yet: the newer of the two.
    return fresh && asked !== undefined && local !== undefined && slotOf(asked) === slotOf(local) ? mergeEntries(local, asked) : asked
  }

  /** The version id a read shows (x-amz-version-id): a slot's in a bucket with versioning set, none in one never versioned. */
  private shownId (e: CatalogEntry): string | undefined {
    return this.copies.localId(e)
  }
}

/** A slot as core/versioning.ts's rules see it (versionToRead). */
function keptOf (e: CatalogEntry): KeptVersion & { lastModified: Date } {
  return { versionId: e.versionId ?? NULL_VERSION, deleteMarker: e.marker === true, lastModified: new Date(e.marker === true || e.object === undefined ? createdOf(e).ms : e.object.lastModified) }
}

/** A slot as ListObjectVersions shows it. */
function versionSummary (e: CatalogEntry, latest: boolean): VersionSummary {
  const made = new Date(createdOf(e).ms)
  const o = e.object
  return {
    key: e.key!, versionId: e.versionId ?? NULL_VERSION, isLatest: latest, deleteMarker: e.marker === true,
    lastModified: o === undefined ? made : new Date(o.lastModified), ...(o === undefined ? {} : { size: o.size, etag: o.etag }), made,
  }
}
