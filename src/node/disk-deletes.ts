import { lstat, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { lockOfRecord, mayDeleteLocked } from '../core/object-lock.js'
import type { DeleteOptions } from '../core/object-store.js'
import { deleteMayGo, NULL_VERSION, type DeleteResult } from '../core/versioning.js'
import type { DiskBuckets } from './disk-buckets.js'
import { codeOf, pruneEmptyDirs, removeQuietly, storageError } from './disk-files.js'
import type { DiskLayout } from './disk-layout.js'
import type { DiskVersions } from './disk-versions.js'
import { checkConditionOnDisk, type DiskWriter } from './disk-writer.js'
import type { MetaDb } from './meta-db.js'

/** What DiskDeletes works with: DiskStore's own parts. */
export interface DiskDeletesDeps {
  layout: DiskLayout
  /** Current objects' and versions' rows. */
  db: MetaDb
  buckets: DiskBuckets
  /** Versions of keys in buckets with versioning set: a delete marker's plan, a version's file and the rows without it. */
  versions: DiskVersions
  /** Runs each delete's plan under its intent (runPlan): the file removed, then the rows. */
  writer: DiskWriter
  /** Runs `fn` under the key's lock, unless the key waits for a change that failed half-way (ServiceUnavailable). */
  locked: <T>(bucket: string, key: string, fn: () => Promise<T>) => Promise<T>
  /** Before a versioned change, the key's lock held: refused while the index is rebuilt, and what is at the key's path made what the rows say. */
  beforeVersioned: (bucket: string, key: string) => Promise<void>
}

/**
 * DiskStore's deletes: of a current object (its file unlinked and its folder
 * fsynced, then its row, under an intent), of a key in a versioned bucket (a
 * delete marker, the object before it kept), and of a version by its id.
 */
export class DiskDeletes {
  constructor (private readonly d: DiskDeletesDeps) {}

  async delete (bucket: string, key: string, options?: DeleteOptions): Promise<DeleteResult> {
    const b = this.d.buckets.get(bucket)
    if (b.record.versioning === undefined && options?.versionId === undefined) return await this.d.locked(bucket, key, async () => await this.deleteLocked(bucket, key, undefined, options))
    // A versioned delete writes a marker: a bucket being deleted meanwhile finds it in flight (BucketNotEmpty), not after.
    b.pending++
    try {
      return await this.d.locked(bucket, key, async () => await this.deleteLocked(bucket, key, options?.versionId, options))
    } finally {
      b.pending--
    }
  }

  private async deleteLocked (bucket: string, key: string, versionId: string | undefined, options?: DeleteOptions): Promise<DeleteResult> {
    const status = this.d.buckets.get(bucket).record.versioning
    if (status !== undefined || versionId !== undefined) await this.d.beforeVersioned(bucket, key)
    // A conditional delete is checked against the key's current object (S3's rule), as a conditional write is.
    if (options?.ifMatch !== undefined) await checkConditionOnDisk({ ifMatch: options.ifMatch }, this.d.db.get(bucket, key), this.d.layout.visiblePath(bucket, key), key)
    if (versionId !== undefined) return await this.deleteVersion(bucket, key, versionId, options)
    if (status !== undefined) {
      // A delete marker becomes the current version; the object before it is kept (disk-versions.ts).
      const { plan, marker } = this.d.versions.planDelete(bucket, key, status)
      const dropped = plan.drop
      await this.d.writer.runPlan(bucket, key, marker, plan)
      if (dropped !== undefined) await this.cleanAfter(bucket, key, dropped)
      return { versionId: marker.versionId ?? NULL_VERSION, deleteMarker: true }
    }
    const entry = this.d.db.get(bucket, key)
    if (entry === undefined) {
      // A file put there by hand and never read is the object all the same: delete it too.
      const path = this.d.layout.visiblePath(bucket, key)
      const found = path === undefined ? undefined : await lstat(path).catch(() => undefined)
      if (found?.isFile() === true) {
        await unlink(path!).catch(err => { if (codeOf(err) !== 'ENOENT') throw storageError(err, 'delete the object') })
        // Durable before the answer, as a recorded object's delete is: a power cut must not bring the file back.
        await this.d.writer.syncNearest(dirname(path!)).catch(err => { throw storageError(err, 'delete the object') })
        await pruneEmptyDirs(dirname(path!), this.d.layout.bucketDir(bucket))
      }
      return {}
    }
    // Under an intent, as a versioned delete is: the file unlinked (and its folder fsynced), then the row. A crash
    // anywhere after the intent is finished at the next start. Removing the row first left the file, its unlink
    // not yet on disk, to come back after a crash as a file put there by hand: the deleted object again.
    const dataPath = this.d.versions.dataPath(bucket, key, entry)
    await this.d.writer.runPlan(bucket, key, entry, { drop: dataPath, rows: { current: undefined } })
    await this.cleanAfter(bucket, key, dataPath)
    return {}
  }

  /**
   * Deletes one version by its id (the key's lock held): its file, then its
   * row, under an intent; when it was the newest, the version before it is
   * current where its bytes are. A missing version is not an error, as in S3.
   */
  private async deleteVersion (bucket: string, key: string, versionId: string, options?: DeleteOptions): Promise<DeleteResult> {
    const list = this.d.versions.list(bucket, key)
    const target = list.find(v => (v.versionId ?? NULL_VERSION) === versionId)
    if (target === undefined) return { versionId }
    if (!deleteMayGo(list, target, options?.onlyIf) || !mayDeleteLocked(lockOfRecord(target.lock), new Date(), options)) return { versionId, kept: true }
    const path = this.d.versions.filePath(bucket, key, target)
    // Under an intent: its file removed, then the rows; a crash between is finished at the next start.
    await this.d.writer.runPlan(bucket, key, target, { drop: path, rows: this.d.versions.rowsWithout(list, target, this.d.db.get(bucket, key)) }, 'delete the version')
    await this.cleanAfter(bucket, key, path)
    return { versionId, ...(target.marker === true ? { deleteMarker: true } : {}) }
  }

  /** What a removed file leaves: its empty folders in the bucket, a hidden object's key file, a folder marker's folder. */
  private async cleanAfter (bucket: string, key: string, removed: string): Promise<void> {
    if (removed === this.d.layout.hiddenPath(bucket, key)) await removeQuietly(this.d.layout.hiddenKeyPath(bucket, key))
    else if (removed === this.d.layout.visiblePath(bucket, key)) await pruneEmptyDirs(dirname(removed), this.d.layout.bucketDir(bucket))
    else return
    if (key.endsWith('/')) {
      const folder = this.d.layout.visiblePath(bucket, key.slice(0, -1))
      if (folder !== undefined) await pruneEmptyDirs(folder, this.d.layout.bucketDir(bucket))
    }
  }
}
