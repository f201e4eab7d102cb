import { readdir, rmdir, unlink } from 'node:fs/promises'
import { S3Error } from '../core/errors.js'
import { randomId } from '../core/ids.js'
import { compareKeys } from '../core/key-order.js'
import { KeyedLock } from '../core/keyed-lock.js'
import type { LifecycleRule } from '../core/lifecycle.js'
import { checkLockable, checkVersioningChange, lockForWrite, lockRecord, type BucketObjectLock, type LockRecord, type VersionLock } from '../core/object-lock.js'
import type { BucketInfo, CorsRule } from '../core/object-store.js'
import type { VersioningStatus } from '../core/versioning.js'
import { codeOf, removeQuietly, renameInto, storageError, syncDir, writeDurable } from './disk-files.js'
import type { DurableFolders } from './durable-folders.js'
import type { DiskLayout } from './disk-layout.js'
import type { BucketRecord } from './disk-records.js'
import type { Bucket } from './disk-writer.js'

/**
 * A data folder's buckets: each one's folder, and its record in
 * `.s3mesh/buckets/<name>.json` (when it was made, its CORS and lifecycle
 * rules, versioning, object lock), read once at start and kept in memory.
 * A record is written whole to a temp file, fsynced and renamed into place.
 * What is in a bucket (objects, versions, uploads) is DiskStore's to judge.
 */
export class DiskBuckets {
  /** One change of a bucket's settings at a time (see change). */
  private readonly locks = new KeyedLock()

  /** `folders`: where a new bucket's folder is made durable (shared with the store's writes). */
  constructor (private readonly layout: DiskLayout, private readonly sync: boolean, private readonly all: Map<string, Bucket>, private readonly folders: DurableFolders) {}

  /** Writes a bucket's record durably (at start, for a bucket folder that had none). */
  static async writeRecord (layout: DiskLayout, record: BucketRecord, sync: boolean): Promise<void> {
    const tmp = layout.tmpPath(randomId(), '.bucket')
    await writeDurable(tmp, JSON.stringify(record), sync)
    await renameInto(tmp, layout.bucketMeta(record.name))
    if (sync) await syncDir(layout.bucketsMeta)
  }

  /** A bucket, or NoSuchBucket (one being deleted is gone already). */
  get (name: string): Bucket {
    const b = this.all.get(name)
    if (b === undefined || b.deleting) throw new S3Error('NoSuchBucket', undefined, { resource: name, detail: { BucketName: name } })
    return b
  }

  /** The lock a version written now gets (asked for, or the bucket's default); refused in a bucket without object lock. */
  lockFor (name: string, asked: VersionLock | undefined, made: number): LockRecord | undefined {
    return lockRecord(lockForWrite(asked, this.get(name).record.objectLock, new Date(made)))
  }

  /** Whether a bucket has a record (one being deleted too). */
  has (name: string): boolean {
    return this.all.has(name)
  }

  /** A bucket's versioning state (undefined: never set, or no such bucket). */
  versioning (name: string): VersioningStatus | undefined {
    return this.all.get(name)?.record.versioning
  }

  /** A bucket's lifecycle rules as they are now. */
  lifecycle (name: string): LifecycleRule[] | undefined {
    return this.all.get(name)?.record.lifecycle
  }

  /** Every bucket's name (one being deleted too). */
  names (): string[] {
    return [...this.all.keys()]
  }

  /** The buckets not being deleted. */
  live (): Bucket[] {
    return [...this.all.values()].filter(b => !b.deleting)
  }

  async create (name: string): Promise<void> {
    if (this.all.has(name)) throw new S3Error('BucketAlreadyOwnedByYou', undefined, { resource: name, detail: { BucketName: name } })
    const bucket: Bucket = { record: { name, created: Date.now() }, pending: 1, deleting: false }
    this.all.set(name, bucket)
    try {
      // The new folder's entry in the data folder is fsynced too: the bucket's first object counts on it.
      const made = await this.folders.fill(this.layout.bucketDir(name), async () => { await DiskBuckets.writeRecord(this.layout, bucket.record, this.sync) })
      if (!made.settled) await this.folders.sync(made.dir, made)
    } catch (err) {
      this.all.delete(name)
      throw storageError(err, 'create the bucket')
    } finally {
      bucket.pending--
    }
  }

  head (name: string): BucketInfo {
    const { record } = this.get(name)
    return {
      name, created: new Date(record.created), ...(record.cors !== undefined ? { cors: record.cors } : {}), ...(record.lifecycle !== undefined ? { lifecycle: record.lifecycle } : {}),
      ...(record.versioning !== undefined ? { versioning: record.versioning } : {}), ...(record.objectLock !== undefined ? { objectLock: record.objectLock } : {}),
    }
  }

  list (): BucketInfo[] {
    return this.live()
      .map(b => ({ name: b.record.name, created: new Date(b.record.created) }))
      .sort((a, b) => compareKeys(a.name, b.name))
  }

  /**
   * Deletes a bucket that `empty` (run once the bucket is marked as being
   * deleted, so no write starts meanwhile) finds empty: its folder (if it
   * holds only folders), its record, and the store's folders kept for it.
   * `forgetRows` drops what the metadata database keeps of it, before the
   * record goes: a failure there leaves the bucket as it was, settings and
   * all, rather than gone at the next start while still served until then.
   */
  async delete (name: string, empty: () => Promise<void>, forgetRows: () => Promise<void>): Promise<void> {
    const b = this.get(name)
    b.deleting = true
    try {
      await empty()
      if (!(await removeEmptyTree(this.layout.bucketDir(name)))) {
        throw new S3Error('BucketNotEmpty', 'The bucket folder holds files that s3mesh does not manage: move or delete them first.', { resource: name, detail: { BucketName: name } })
      }
      await forgetRows()
      await unlink(this.layout.bucketMeta(name))
      try {
        // Made durable before the answer, or a power cut could bring the deleted bucket back.
        if (this.sync) await syncDir(this.layout.bucketsMeta)
      } finally {
        // Its record gone, the bucket is gone (at the next start too), whether or not that fsync failed.
        for (const dir of [this.layout.hiddenDir(name), this.layout.uploadsDir(name), this.layout.bucketVersionsDir(name)]) await removeQuietly(dir)
        this.all.delete(name)
      }
    } catch (err) {
      b.deleting = false
      throw storageError(err, 'delete the bucket')
    }
  }

  async setCors (name: string, rules: CorsRule[] | undefined): Promise<void> {
    await this.change(name, 'save the CORS rules', ({ cors: _old, ...rest }) => rules === undefined ? rest : { ...rest, cors: rules })
  }

  async setLifecycle (name: string, rules: LifecycleRule[] | undefined): Promise<void> {
    await this.change(name, 'save the lifecycle rules', ({ lifecycle: _old, ...rest }) => rules === undefined ? rest : { ...rest, lifecycle: rules })
  }

  async setVersioning (name: string, status: VersioningStatus): Promise<void> {
    await this.change(name, 'save the versioning state', record => {
      checkVersioningChange(record.objectLock, status)
      return { ...record, versioning: status }
    })
  }

  async setObjectLock (name: string, lock: BucketObjectLock): Promise<void> {
    await this.change(name, 'save the object lock configuration', record => {
      checkLockable(record.versioning)
      return { ...record, objectLock: lock }
    })
  }

  /** One change of a bucket's settings at a time: each reads the record the one before it saved (a lock turned on is not lost to a CORS change). */
  private async change (name: string, what: string, change: (record: BucketRecord) => BucketRecord): Promise<void> {
    await this.locks.run(name, async () => {
      const record = change(this.get(name).record)
      await DiskBuckets.writeRecord(this.layout, record, this.sync).catch(err => { throw storageError(err, what) })
      this.get(name).record = record
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
