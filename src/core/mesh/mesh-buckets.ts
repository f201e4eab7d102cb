import { isS3Error, S3Error } from '../errors.js'
import type { LifecycleRule } from '../lifecycle.js'
import { checkLockable, checkVersioningChange, type BucketObjectLock } from '../object-lock.js'
import type { BucketInfo, CorsRule, Signal } from '../object-store.js'
import { throwIfAborted } from '../streams.js'
import type { VersioningStatus } from '../versioning.js'
import { endedWith, type CatalogEntry } from './catalog-entry.js'
import type { MeshStoreParts } from './mesh-store.js'

/**
 * A mesh's buckets, for MeshStore: each is an entry in every member's
 * catalog, and its settings (CORS and lifecycle rules, versioning, object
 * lock) ride on that entry, so every member answers alike. A change is a
 * new version of the entry, announced; the member's own store keeps the
 * bucket's folder for the copies it holds.
 */
export class MeshBuckets {
  constructor (private readonly p: Pick<MeshStoreParts, 'copies' | 'catalog' | 'partition' | 'persist' | 'announced' | 'closer'>) {}

  /** A bucket's entry, or NoSuchBucket (none, or deleted). */
  live (name: string): CatalogEntry {
    const e = this.p.catalog.get(name)
    if (e === undefined || e.deleted) throw new S3Error('NoSuchBucket', undefined, { resource: name, detail: { BucketName: name } })
    return e
  }

  async create (name: string, options?: Signal): Promise<void> {
    const existing = this.p.catalog.get(name)
    if (existing !== undefined && !existing.deleted) throw new S3Error('BucketAlreadyOwnedByYou', undefined, { resource: name, detail: { BucketName: name } })
    await this.p.copies.ensureBucket(name, options)
    // A bucket of its own (born): what a member cut off from a delete of the buckets before it (ended) wrote into them goes.
    const version = this.p.copies.version()
    this.p.copies.publish({ bucket: name, version, deleted: false, holders: [], born: version, ...(existing?.ended === undefined ? {} : { ended: existing.ended }) })
  }

  async head (name: string, options?: Signal): Promise<BucketInfo> {
    const e = this.live(name)
    // CORS and lifecycle rules and versioning live in the bucket's catalog entry: every node answers alike.
    const cors = {
      ...(e.cors === undefined ? {} : { cors: e.cors }), ...(e.lifecycle === undefined ? {} : { lifecycle: e.lifecycle }),
      ...(e.versioning === undefined ? {} : { versioning: e.versioning }), ...(e.objectLock === undefined ? {} : { objectLock: e.objectLock }),
    }
    try {
      // The mesh's settings, not the member's store's (it may keep versions for a bucket of the same name deleted before).
      const { versioning: _local, objectLock: _none, ...local } = await this.p.copies.store.headBucket(name, options)
      return { ...local, ...cors }
    } catch (err) {
      if (!isS3Error(err, 'NoSuchBucket')) throw err
      return { name, created: new Date(e.version.ms), ...cors }
    }
  }

  list (): BucketInfo[] {
    return this.p.catalog.listBuckets().map(e => ({ name: e.bucket, created: new Date(e.version.ms) }))
  }

  /**
   * Deletes an empty bucket for every member. It is closed at every durable
   * member first (bucket-close.ts), so a write racing the delete through
   * another member is either counted here (BucketNotEmpty) or made to wait
   * and then refused (NoSuchBucket): never acknowledged into a bucket that
   * is then gone.
   */
  async delete (name: string, options?: Signal): Promise<void> {
    this.live(name)
    const closed = await this.p.closer?.close(name, options?.signal)
    let tombstone: CatalogEntry | undefined
    try {
      this.live(name)
      if (closed?.busy === true) throw notEmpty(name)
      // Not empty while any version or delete marker is left, current or not.
      const { objects, versions } = this.p.partition === undefined
        ? { objects: this.p.catalog.objectCount(name), versions: this.p.catalog.versionTotals(name).versions }
        : await this.p.partition.totals(name, options?.signal)
      if (versions === undefined && this.live(name).versioning !== undefined) {
        throw new S3Error('ServiceUnavailable', 'The owner that counted this bucket runs a release that keeps no versions, and cannot say whether versions are left: upgrade every node.')
      }
      if (objects > 0 || (versions ?? 0) > 0) throw notEmpty(name)
      // Late, a member's hold could run out before the tombstone reached it: its writes would then be lost.
      const late = (): S3Error => new S3Error('ServiceUnavailable', 'The bucket is not deleted: counting its objects took too long. Try again.')
      if (closed !== undefined && !closed.inTime()) throw late()
      try {
        await this.p.copies.store.deleteBucket(name, options)
      } catch (err) {
        if (!isS3Error(err, 'NoSuchBucket')) throw err
      }
      if (closed !== undefined && !closed.inTime()) {
        // The bucket stays: its folder here is made again, as a write would make it.
        await this.p.copies.ensureBucket(name, options)
        throw late()
      }
      const ended = endedWith(this.live(name))
      tombstone = { bucket: name, version: this.p.copies.version(), deleted: true, holders: [], ...(ended === undefined ? {} : { ended }) }
      this.p.copies.publish(tombstone)
    } finally {
      // With the tombstone, every member takes it in before the writes it held go on (and find no bucket).
      await closed?.open(tombstone)
    }
    await this.p.persist()
  }

  async setCors (name: string, rules: CorsRule[] | undefined, options?: Signal): Promise<void> {
    await this.changing(name, options, async () => {
      const { cors: _old, ...kept } = this.live(name)
      await this.p.copies.ensureBucket(name, options)
      await this.p.copies.store.setBucketCors(name, rules, options)
      this.publishBucket(name, { ...kept, cors: rules })
    })
  }

  async setLifecycle (name: string, rules: LifecycleRule[] | undefined, options?: Signal): Promise<void> {
    await this.changing(name, options, async () => {
      const { lifecycle: _old, ...kept } = this.live(name)
      await this.p.copies.ensureBucket(name, options)
      await this.p.copies.store.setBucketLifecycle(name, rules, options)
      this.publishBucket(name, { ...kept, lifecycle: rules })
    })
  }

  /**
   * Runs a change of a bucket's settings while no delete of it is deciding:
   * a new version of the bucket's entry published meanwhile could outlast
   * the delete's tombstone and bring the bucket back.
   */
  private async changing<T> (name: string, options: Signal | undefined, change: () => Promise<T>): Promise<T> {
    return this.p.closer === undefined ? await change() : await this.p.closer.whileOpen(name, options?.signal, change)
  }

  /** A new version of the bucket's entry, with the settings it keeps (and which bucket of its name it is), carries them to every member. */
  private publishBucket (name: string, settings: Pick<CatalogEntry, 'cors' | 'lifecycle' | 'versioning' | 'objectLock' | 'born' | 'ended'>): void {
    const { cors, lifecycle, versioning, objectLock, born, ended } = settings
    this.p.copies.publish({
      bucket: name, version: this.p.copies.version(), deleted: false, holders: [],
      ...(cors === undefined ? {} : { cors }), ...(lifecycle === undefined ? {} : { lifecycle }), ...(versioning === undefined ? {} : { versioning }),
      ...(objectLock === undefined ? {} : { objectLock }), ...(born === undefined ? {} : { born }), ...(ended === undefined ? {} : { ended }),
    })
  }

  /**
   * Turns versioning on (or suspends it) for every member: the bucket's
   * entry carries it. Refused while a durable member of an older release is
   * in the mesh: it would take a version as the key's only object and
   * delete the others' copies.
   */
  async setVersioning (name: string, status: VersioningStatus, blocked: string[], options?: Signal): Promise<void> {
    await this.changing(name, options, async () => {
      const { versioning: _old, ...kept } = this.live(name)
      checkVersioningChange(kept.objectLock, status)
      if (blocked.length > 0) throw new S3Error('ServiceUnavailable', `Versioning cannot be set while members that keep no versions (an older release) are in the mesh: ${listed(blocked)}. Upgrade every node first.`)
      this.publishBucket(name, { ...kept, versioning: status })
      // This member's store keeps versions from now on (the others' when they next store a copy of the bucket's).
      await this.p.copies.ensureBucket(name, options)
    })
    await this.p.persist()
  }

  /**
   * Turns object lock on (or changes its default retention) for every
   * member: the bucket's entry carries it. Refused while a durable member of
   * an older release is in the mesh: it would drop the versions' locks.
   */
  async setObjectLock (name: string, lock: BucketObjectLock, blocked: string[], options?: Signal): Promise<void> {
    await this.changing(name, options, async () => {
      const { objectLock: _old, ...kept } = this.live(name)
      checkLockable(kept.versioning)
      if (blocked.length > 0) throw new S3Error('ServiceUnavailable', `Object lock cannot be set while members that keep none (an older release) are in the mesh: ${listed(blocked)}. Upgrade every node first.`)
      this.publishBucket(name, { ...kept, objectLock: lock })
    })
    throwIfAborted(options?.signal)
    await this.p.announced()
    await this.p.persist()
  }

  lifecycle (bucket: string): LifecycleRule[] | undefined {
    return this.p.catalog.get(bucket)?.lifecycle
  }
}

function notEmpty (name: string): S3Error {
  return new S3Error('BucketNotEmpty', undefined, { resource: name, detail: { BucketName: name } })
}

/** Up to three members by name, and how many more. */
function listed (ids: string[]): string {
  return ids.slice(0, 3).join(', ') + (ids.length > 3 ? ` and ${ids.length - 3} more` : '')
}
