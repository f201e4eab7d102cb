import { S3Error } from '../errors.js'
import { toBase64, toHex, type Hashes } from '../hashes.js'
import type { ObjectInfo, VersionAs } from '../object-store.js'
import { lockForWrite, lockOfRecord, lockRecord } from '../object-lock.js'
import { NULL_VERSION, stampAt } from '../versioning.js'
import { slotOf, type CatalogEntry } from './catalog-entry.js'
import { encodeCatalogMessage } from './catalog-codec.js'
import type { Catalog } from './catalog.js'
import type { Version } from './hlc.js'
import { hasTree, TreeHasher, treeRoot } from './chunk-tree.js'
import { recordOf, type LocalCopies } from './local-copies.js'
import type { Replicator, WriteFan } from './replicator.js'
import type { WriteLease } from './write-arbiter.js'
import type { BucketCloser } from './bucket-close.js'

/**
 * The longest entry given back with a write (base64 characters, as an
 * answer's header): one with much user metadata or many tags is left out
 * (the writer asks for it), so that it never outgrows a proxy's buffer for
 * the answer's headers (nginx: 4 KiB by default).
 */
const MAX_ENTRY_HEADER = 2048

/** What a new version is made with (MeshStoreParts' of the same names). */
export interface NewVersionParts {
  copies: LocalCopies
  catalog: Catalog
  hashes: Hashes
  replicator: Pick<Replicator, 'replicate'>
  /** Resolves once what was announced so far has been sent to the peers. */
  announced: () => Promise<void>
  closer?: Pick<BucketCloser, 'wrote'>
}

/**
 * A version this member makes of an object (a PUT, a completed multipart
 * upload; MeshStore's writes): the local write and its catalog entry under
 * the key's lock, then the copies at its replicas, then one announcement
 * with the members that hold it, before the client has its answer.
 */
export class NewVersions {
  constructor (private readonly p: NewVersionParts) {}

  /**
   * Runs a local write and versions it (`locked`), lets a conditional
   * write's key go with the version written, then copies it to the replicas.
   */
  async commit (bucket: string, key: string, write: (named: VersionAs | undefined) => Promise<ObjectInfo>, signal?: AbortSignal, fan?: WriteFan, tree?: TreeHasher, lease?: WriteLease, returnEntry?: boolean): Promise<ObjectInfo> {
    const began = performance.now()
    let done: { info: ObjectInfo, entry: CatalogEntry }
    try {
      done = await this.locked(bucket, key, write, signal, fan, tree)
    } catch (err) {
      // Not written: the key is let go (outside its lock: the arbiter may be slow to answer).
      await lease?.release()
      throw err
    }
    const { info, entry } = done
    // Written here: the arbiter holds later conditional writes to this version from now on, however long the copies take.
    const released = lease?.release({ etag: info.etag, version: entry.version, slot: slotOf(entry) })
    try {
      const written = performance.now()
      const replicas = await this.p.replicator.replicate(entry, signal, fan)
      const copied = performance.now()
      // Announced once, with the replicas that have it (they store quietly), and handed to gossip before
      // the client has its answer: a GET anywhere right after the PUT finds it.
      const announced = { ...entry, holders: [this.p.copies.self, ...replicas].sort() }
      this.published(announced)
      await this.p.announced()
      const phases = { write: written - began, copies: copied - written, announce: performance.now() - copied }
      const encoded = returnEntry === true ? toBase64(encodeCatalogMessage([announced])) : undefined
      return { ...info, replicas: 1 + replicas.length, phases, ...(encoded !== undefined && encoded.length <= MAX_ENTRY_HEADER ? { entry: encoded } : {}) }
    } finally {
      await released
    }
  }

  /**
   * The local write and its version, under the key's lock (so a late
   * catalog entry cannot remove the new bytes in between). In a bucket with
   * versioning set the version is named first, from this member's clock:
   * the local store keeps the bytes under that id (the null one while
   * suspended), as every replica does.
   */
  private async locked (bucket: string, key: string, write: (named: VersionAs | undefined) => Promise<ObjectInfo>, signal?: AbortSignal, fan?: WriteFan, tree?: TreeHasher): Promise<{ info: ObjectInfo, entry: CatalogEntry }> {
    return await this.p.copies.locks.run(`${bucket}\n${key}`, async () => {
      const status = this.p.catalog.get(bucket)?.versioning
      const made = status === undefined ? undefined : this.p.copies.version()
      const named = made === undefined ? undefined : { versionId: status === 'Enabled' ? meshVersionId(made) : NULL_VERSION, stamp: stampAt(made.ms, made.counter) }
      let info: ObjectInfo
      try {
        if (named !== undefined) await this.p.copies.ensureBucket(bucket, signal === undefined ? {} : { signal })
        info = await write(named)
      } catch (err) {
        fan?.abort(err instanceof Error ? err : new Error(String(err)))
        throw err
      }
      const object = recordOf(info)
      // The lock the write asked for (info.lock: the request's, or its upload's), else the bucket's default from when the version was made.
      const lock = lockRecord(lockForWrite(info.lock, this.p.catalog.get(bucket)?.objectLock, info.lastModified))
      if (lock !== undefined) object.lock = lock
      if (hasTree(info.size)) {
        // A completed multipart upload (no body went by) is hashed from the copy just made.
        // A copy that cannot be read back now gets no tree (its ranges stream whole): the write itself has happened.
        const leaves = tree?.bytes === info.size ? tree.finish() : await this.leavesOfLocal(bucket, key, info.sha256, signal, named?.versionId).catch(() => undefined)
        if (leaves !== undefined) object.tree = toHex(treeRoot(this.p.hashes, leaves))
      }
      const slot = named === undefined || named.versionId === NULL_VERSION ? {} : { versionId: named.versionId }
      // A new version keeps the clock's reading it is named by. The null slot merges last-writer-wins by version:
      // its version is read once the write is done, as in a bucket never versioned (a write that began first and
      // ended last wins, and one that lost meanwhile is not taken for this one).
      const version = slot.versionId === undefined ? this.p.copies.version() : made!
      const madeHere = this.p.copies.inBucket({ bucket, key, ...slot, version, deleted: false, object, holders: [this.p.copies.self] })
      if (this.p.copies.predated(madeHere)) {
        // The bucket was deleted while this write was under way (heard from the member that deleted it, this one cut off
        // from it till now): the catalog keeps nothing of it, so neither does this member.
        const gone = new S3Error('NoSuchBucket', undefined, { resource: bucket, detail: { BucketName: bucket } })
        fan?.abort(gone)
        await this.p.copies.deleteLocal(bucket, key, undefined, named?.versionId)
        throw gone
      }
      // In this member's catalog at once (a read here finds it); announced by commit(), once.
      const entry = this.p.copies.apply(madeHere)
      this.p.closer?.wrote(entry)
      const { lock: _asked, ...written } = info
      const kept = { ...written, ...(lock === undefined ? {} : { lock: lockOfRecord(lock)! }) }
      return { info: named === undefined ? kept : { ...kept, versionId: named.versionId }, entry }
    })
  }

  /** The chunk tree's leaves of the local copy of (bucket, key) (or of its version `versionId`), if it still has content `sha256`. */
  private async leavesOfLocal (bucket: string, key: string, sha256: string, signal?: AbortSignal, versionId?: string): Promise<Uint8Array[] | undefined> {
    const handle = await this.p.copies.openLocal(bucket, key, sha256, signal, versionId)
    if (handle === undefined) return undefined
    const tree = new TreeHasher(this.p.hashes)
    const reader = handle.stream().getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return tree.finish()
      tree.update(value)
    }
  }

  /** Publishes a change this member makes to an object's slot, and remembers it for a delete of its bucket to count (see bucket-close.ts). */
  published (e: CatalogEntry): void {
    this.p.copies.publish(e)
    this.p.closer?.wrote(e)
  }
}

/**
 * The S3 version id of a version this member makes at `v`: the stamp the
 * stores order versions by (when it was made), then the member's id, so
 * ids made at once by two members differ.
 */
export function meshVersionId (v: Version): string {
  return `${stampAt(v.ms, v.counter)}${v.node.replace(/[^A-Za-z0-9]/g, '')}`
}

/** A conditional write's check as it commits: the arbiter is asked again whether the key is still the write's. */
export function confirmed (lease: WriteLease | undefined, signal?: AbortSignal): { beforeCommit?: () => Promise<void> } {
  return lease === undefined ? {} : { beforeCommit: async () => { await lease.confirm(signal) } }
}
