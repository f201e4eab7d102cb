import { access, lstat, readdir, readFile, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Hashes } from '../core/hashes.js'
import { randomId } from '../core/ids.js'
import { NULL_VERSION, STAMP_LENGTH, VersionIds, versionIdOf, type KeptVersion, type VersioningStatus } from '../core/versioning.js'
import { describeFile } from './disk-adopt.js'
import { renameInto, writeDurable } from './disk-files.js'
import { DurableFolders, type MadeFolders } from './durable-folders.js'
import { GroupFsync } from './group-fsync.js'
import type { DiskLayout } from './disk-layout.js'
import { stampOf, type MetaRecord } from './disk-records.js'
import type { MetaDb, VersionPlan, VersionRows } from './meta-db.js'

/** A record as core/versioning.ts's rules see it. */
export interface KeptRecord extends KeptVersion { lastModified: Date, record: MetaRecord }

/**
 * The versions of keys in DiskStore's buckets with versioning set
 * (docs/plans/versioning.md). A key's current object stays where it always
 * was (its path, or `.s3mesh/objects` when hidden) with its row in `objects`;
 * the versions before it, and delete markers, have rows in `versions` and
 * their bytes under `.s3mesh/versions` (DiskLayout.versionsDir). When the
 * current version is deleted, the one before becomes current where its
 * bytes are (`shelved`): nothing moves back, so `ls` shows a key's current
 * object or nothing. This file plans what a write or a delete changes; the
 * writer (disk-writer.ts) carries a plan out under an intent that start-up
 * finishes or rolls back (disk-recovery.ts).
 */
export class DiskVersions {
  /** Ids of this store's versions: sortable, unique to it (a tag of its own each run). */
  private readonly ids = new VersionIds(randomId(8))

  /** `folders`: where the versions folders are made durable (by default, fsynced when `sync` is). */
  constructor (private readonly layout: DiskLayout, private readonly db: MetaDb, private readonly sync: boolean, private readonly folders = new DurableFolders(layout.root, sync ? new GroupFsync() : undefined)) {}

  /** A key's versions newest first: its current object (if any), then the others. */
  list (bucket: string, key: string): MetaRecord[] {
    const current = this.db.get(bucket, key)
    const others = this.db.versionsOf(bucket, key)
    return current === undefined ? others : [current, ...others]
  }

  /** Where a version's bytes are. */
  dataPath (bucket: string, key: string, m: MetaRecord): string {
    if (m.shelved === true) return this.layout.versionPath(bucket, key, m.versionId)
    return m.hidden ? this.layout.hiddenPath(bucket, key) : this.layout.visiblePath(bucket, key)!
  }

  /** The file a version leaves behind when it goes: its bytes, or a marker's empty file. */
  filePath (bucket: string, key: string, m: MetaRecord): string {
    return m.marker === true ? this.layout.markerPath(bucket, key, m.versionId) : this.dataPath(bucket, key, m)
  }

  /** The id (none for the null version) and stamp of a version made now under `status`. */
  newVersion (status: VersioningStatus): { versionId?: string, stamp: string } {
    const id = this.ids.next()
    const stamp = id.slice(0, STAMP_LENGTH)
    return status === 'Enabled' ? { versionId: id, stamp } : { stamp }
  }

  /**
   * What writing `next` as the key's new current version changes: the
   * current object before it is shelved (kept as a noncurrent version),
   * unless both are the null version (suspended: overwritten in place); a
   * noncurrent null version goes when `next` is the null one. `inPlace`:
   * the previous object's bytes are replaced at the key's path, as in a
   * bucket never versioned.
   */
  planWrite (bucket: string, key: string, next: MetaRecord, previous: MetaRecord | undefined): { plan: VersionPlan, inPlace: boolean } {
    const rows: VersionRows = { current: next, put: [], remove: [] }
    const plan: VersionPlan = { rows }
    let inPlace = false
    if (previous !== undefined) {
      // The same version again (the null one; a named copy fetched again) is overwritten, not kept.
      if (next.versionId === previous.versionId) {
        if (previous.shelved === true) plan.drop = this.dataPath(bucket, key, previous)
        else inPlace = true
      } else {
        this.shelve(bucket, key, previous, plan)
      }
    }
    this.dropSameId(bucket, key, plan, next.versionId)
    return { plan, inPlace }
  }

  /**
   * What keeping `next`, a version named elsewhere (a mesh's copy, its
   * `shelved` set here), as noncurrent changes when the key's newest
   * version is later than it; undefined when it is not (it is written as
   * the current one, planWrite). Its bytes go straight to the versions
   * area, a version of the same id goes, and the current object stays.
   */
  planOlder (bucket: string, key: string, next: MetaRecord): VersionPlan | undefined {
    const newest = this.list(bucket, key)[0]
    if (newest === undefined || newest.versionId === next.versionId || stampOf(newest) <= stampOf(next)) return undefined
    next.shelved = true
    const plan: VersionPlan = { rows: { current: this.db.get(bucket, key), put: [next], remove: [] } }
    const same = this.db.versionsOf(bucket, key).find(v => v.versionId === next.versionId)
    // A version of the same id (the null one, or a copy fetched again): replaced by the rename, or its other file dropped.
    const file = same === undefined ? undefined : this.filePath(bucket, key, same)
    if (file !== undefined && file !== this.dataPath(bucket, key, next)) plan.drop = file
    return plan
  }

  /**
   * What a DELETE without a version id does in a bucket with versioning set:
   * a delete marker becomes the current version (the null one when
   * suspended, replacing the null version wherever it is), and the current
   * object is shelved.
   */
  planDelete (bucket: string, key: string, status: VersioningStatus): { plan: VersionPlan, marker: MetaRecord } {
    const marker: MetaRecord = {
      v: 1, key, size: 0, etag: '', sha256: '', lastModified: Date.now(), metadata: { user: {} }, tags: {}, hidden: false, ino: 0, mtimeMs: 0, marker: true,
      ...this.newVersion(status),
    }
    const rows: VersionRows = { current: undefined, put: [], remove: [] }
    const plan: VersionPlan = { rows, markerFile: this.layout.markerPath(bucket, key, marker.versionId) }
    const current = this.db.get(bucket, key)
    if (current !== undefined) {
      if (marker.versionId === undefined && current.versionId === undefined) plan.drop = this.dataPath(bucket, key, current)
      else this.shelve(bucket, key, current, plan)
    }
    if (marker.versionId === undefined) this.dropSameId(bucket, key, plan, undefined)
    rows.put!.push(marker)
    return { plan, marker }
  }

  /**
   * The row changes of deleting one version by its id (`target`, of the
   * key's versions newest first): when it was the newest, the version
   * before it becomes current, where its bytes are.
   */
  rowsWithout (list: MetaRecord[], target: MetaRecord, currentRow: MetaRecord | undefined): VersionRows {
    const id = target.versionId ?? 'null'
    const isCurrent = currentRow !== undefined && target === list[0]
    const next = list[0] === target ? list[1] : undefined
    const promoted = next !== undefined && next.marker !== true ? { ...next, shelved: true as const } : undefined
    const remove = [...(isCurrent ? [] : [id]), ...(promoted === undefined ? [] : [promoted.versionId ?? 'null'])]
    return { current: isCurrent ? promoted : (promoted ?? currentRow), remove }
  }

  /**
   * Makes sure a key's versions folder is there, with the key beside it (for
   * a rebuild), both durable: what is moved in next needs only the folder's
   * own fsync.
   */
  async prepare (bucket: string, key: string): Promise<void> {
    const keyPath = this.layout.versionsKeyPath(bucket, key)
    if (await access(keyPath).then(() => true, () => false)) return
    const made = await this.folders.fill(this.layout.versionsDir(bucket, key), async () => {
      const tmp = this.layout.tmpPath(randomId(), '.key')
      await writeDurable(tmp, key, this.sync)
      await renameInto(tmp, keyPath)
    })
    await this.folders.sync(dirname(keyPath), made)
  }

  /** Writes a delete marker's file, holding its stamp: a rebuild orders a null marker by it (a file's time is too coarse beside versions made in the same millisecond). Returns the folders it made, for DurableFolders.sync once the marker's folder is fsynced. */
  async writeMarker (path: string, stamp = ''): Promise<MadeFolders> {
    // Its folder is there once prepare ran, unless removed since: made again as any folder (see DurableFolders).
    return await this.folders.fill(dirname(path), async () => {
      const tmp = this.layout.tmpPath(randomId(), '.marker')
      await writeDurable(tmp, stamp, this.sync)
      await renameInto(tmp, path)
    })
  }

  /**
   * Finds a bucket's versions and markers again from their files (a lost or
   * damaged metadata database, rebuilt): each key's folder under
   * `.s3mesh/versions`, named by the key kept beside it. A key with no file
   * at its path (nor a hidden one) gets its newest version as current, where
   * its bytes are. `lock` runs a key's change under the store's key lock.
   * Returns how many versions and markers were found.
   */
  async rebuild (bucket: string, hashes: Hashes, lock: (key: string, fn: () => Promise<void>) => Promise<void>, signal: AbortSignal): Promise<number> {
    const root = this.layout.bucketVersionsDir(bucket)
    let found = 0
    for (const shard of await readdir(root).catch(() => [] as string[])) {
      for (const name of (await readdir(join(root, shard)).catch(() => [] as string[])).filter(n => n.endsWith('.key'))) {
        if (signal.aborted) return found
        const key = await readFile(join(root, shard, name), 'utf8').catch(() => undefined)
        if (key === undefined || this.layout.versionsKeyPath(bucket, key) !== join(root, shard, name)) continue
        await lock(key, async () => {
          const dir = this.layout.versionsDir(bucket, key)
          const records: MetaRecord[] = []
          for (const file of await readdir(dir).catch(() => [] as string[])) {
            const marker = file.endsWith('.marker')
            const id = marker ? file.slice(0, -'.marker'.length) : file
            const s = await stat(join(dir, file)).catch(() => undefined)
            if (s === undefined || !s.isFile()) continue
            // A marker's file holds its stamp (older ones are empty: their time then).
            const kept = marker ? (await readFile(join(dir, file), 'utf8').catch(() => '')).trim() : ''
            const stamp = /^[0-9a-z]{13}$/.test(kept) ? kept : id === NULL_VERSION ? versionIdOf(Math.floor(s.mtimeMs), 0, '') : id.slice(0, STAMP_LENGTH)
            const made = { ...(id === NULL_VERSION ? {} : { versionId: id }), stamp }
            if (marker) {
              records.push({ v: 1, key, size: 0, etag: '', sha256: '', lastModified: Math.floor(s.mtimeMs), metadata: { user: {} }, tags: {}, hidden: false, ino: 0, mtimeMs: 0, marker: true, ...made })
              continue
            }
            const described = await describeFile(join(dir, file), key, hashes).catch(() => undefined)
            if (described !== undefined) records.push({ ...described, ...made, shelved: true })
          }
          if (records.length === 0) return
          records.sort((a, b) => stampOf(b) < stampOf(a) ? -1 : stampOf(b) > stampOf(a) ? 1 : 0)
          const visible = this.layout.visiblePath(bucket, key)
          const atPath = this.db.has(bucket, key) || (visible !== undefined && (await lstat(visible).catch(() => undefined))?.isFile() === true)
          const newest = records[0]!
          const current = !atPath && newest.marker !== true ? newest : undefined
          await this.db.changeVersions(bucket, key, { current: current ?? this.db.get(bucket, key), put: records.filter(r => r !== current) })
          found += records.length
        })
      }
    }
    return found
  }

  private shelve (bucket: string, key: string, current: MetaRecord, plan: VersionPlan): void {
    plan.rows.put!.push({ ...current, shelved: true })
    if (current.shelved !== true) plan.shelve = { from: this.dataPath(bucket, key, current), to: this.layout.versionPath(bucket, key, current.versionId), ino: current.ino }
  }

  /** A noncurrent version of the id being written goes: the null one (a suspended write or delete), or a named copy's. */
  private dropSameId (bucket: string, key: string, plan: VersionPlan, versionId: string | undefined): void {
    const older = this.db.versionsOf(bucket, key).find(v => v.versionId === versionId)
    if (older === undefined) return
    plan.rows.remove!.push(versionId ?? 'null')
    const file = this.filePath(bucket, key, older)
    // A null marker's file over the older one's: the same name, replaced in one rename, never removed after.
    if (file === plan.markerFile) plan.markerReplaces = true
    else plan.drop = file
  }
}


/** Records as the rules in core/versioning.ts take them. */
export function kept (records: MetaRecord[]): KeptRecord[] {
  return records.map(record => ({ versionId: record.versionId ?? 'null', deleteMarker: record.marker === true, lastModified: new Date(record.lastModified), record }))
}
