import { opendir, readdir, readFile, stat, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { bucketNameProblem } from '../core/names.js'
import { CliError } from './cli-error.js'
import { codeOf, pruneEmptyDirs, removeQuietly, renameInto, writeDurable } from './disk-files.js'
import { FORMAT_VERSION, type DiskLayout } from './disk-layout.js'
import type { DurableFolders, MadeFolders } from './durable-folders.js'
import { isRecordedFile, type BucketRecord, type MetaRecord, type PendingMeta } from './disk-records.js'
import type { CommitIntent, MetaDb } from './meta-db.js'
import { removeUpload } from './disk-uploads.js'

async function exists (path: string): Promise<boolean> {
  try { await stat(path); return true } catch { return false }
}

/** Whether the file at `path` is the one `record` was written as (an inode freed by a failed write's temp file can be reused by another file there). */
async function isFileOf (path: string, record: MetaRecord): Promise<boolean> {
  const s = await stat(path).catch(() => undefined)
  return s !== undefined && isRecordedFile(s, record)
}

/** What finishing an interrupted change works with (DiskStore's). */
export interface RecoveryParts {
  db: MetaDb
  layout: DiskLayout
  folders: DurableFolders
  /** Writes a delete marker's file (DiskVersions.writeMarker). */
  writeMarker: (path: string, stamp?: string) => Promise<MadeFolders>
}

/**
 * Finishes or rolls back commits a crash interrupted. A commit's intent is
 * durable before its data file moves: if the data file is in place (the temp
 * file gone, the file at the destination the one the intent names), the
 * commit is finished (the client may not have seen the 200, but the object is
 * whole and verified); if not, the intent is dropped and the old object stays.
 */
export async function recoverIntents (parts: RecoveryParts): Promise<{ finished: number, dropped: number, stuck: string[] }> {
  let finished = 0
  let dropped = 0
  const stuck: string[] = []
  for (const intent of parts.db.intents()) {
    try {
      if (await recoverIntent(parts, intent)) finished++
      else dropped++
    } catch (err) {
      // One change that cannot be finished now (a file that will not go, a folder that will not fsync) does not stop the start: its key waits (`stuck`).
      process.stderr.write(`s3mesh: finishing an interrupted change to ${intent.bucket}/${intent.record.key}: ${err instanceof Error ? err.message : String(err)}\n`)
      stuck.push(`${intent.bucket}/${intent.record.key}`)
    }
  }
  return { finished, dropped, stuck }
}

/** Finishes or rolls back one change (see recoverIntents); returns whether it was finished. */
async function recoverIntent (parts: RecoveryParts, intent: CommitIntent): Promise<boolean> {
  return await (intent.plan !== undefined ? recoverVersioned(parts, intent) : recoverPlain(parts, intent))
}

/**
 * Finishes or rolls back the changes to `bucket`/`key` that wait in their
 * intents, as a start does: for a change that failed half-way while the
 * store ran (BlockedKeys). Call with the key's lock held. A rolled-back PUT's
 * temp file goes as well (at a start, the temp folder is emptied instead).
 * Throws if one still cannot be.
 */
export async function recoverKey (parts: RecoveryParts, bucket: string, key: string): Promise<void> {
  for (const intent of parts.db.intents()) {
    if (intent.bucket !== bucket || intent.record.key !== key) continue
    await recoverIntent(parts, intent)
    if (intent.dataTmp !== '') await removeQuietly(intent.dataTmp)
  }
}

/**
 * The folders of the files a recovered change moved, made durable before the
 * rows that count on them (or the dropped intent that would undo them): the
 * change's own fsyncs may not have run before the crash, so each folder up to
 * the data folder is fsynced.
 */
async function syncFoldersOf (folders: DurableFolders, paths: Array<string | undefined>): Promise<void> {
  for (const dir of new Set(paths.filter((p): p is string => p !== undefined && p !== '').map(p => dirname(p)))) await folders.syncPath(dir)
}

/**
 * A plain commit: finished once its data file is in place. Returns whether
 * it was finished. As the commit would have, it then removes the key's old
 * copy if that was kept at the other place (hidden under `.s3mesh/objects`
 * against visible at its path): left there, a rebuild of the database from
 * the folder would find a second copy of the key, and a visible one would be
 * taken for a file put by hand.
 */
async function recoverPlain ({ db, layout, folders }: RecoveryParts, intent: CommitIntent): Promise<boolean> {
  if (!(await exists(intent.dataTmp)) && await isFileOf(intent.dataPath, intent.record)) {
    const { bucket, record } = intent
    // The intent is still there, so the key's row is the one the commit replaces.
    const previous = db.get(bucket, record.key)
    await syncFoldersOf(folders, [intent.dataPath])
    await removeCompleted(layout, folders, intent)
    await db.settle(intent.id, bucket, record)
    if (previous !== undefined && previous.hidden !== record.hidden) await removeOldPlace(layout, bucket, previous, intent.dataPath)
    return true
  }
  await db.settle(intent.id, intent.bucket)
  return false
}

/**
 * The upload a finished commit completed (CommitIntent.upload), if it is an
 * upload's folder of this data folder's bucket (not a path of another folder
 * the data was copied from). Best-effort: an upload left is one to abort.
 */
async function removeCompleted (layout: DiskLayout, folders: DurableFolders, intent: CommitIntent): Promise<void> {
  if (intent.upload === undefined || dirname(intent.upload) !== layout.uploadsDir(intent.bucket)) return
  await removeUpload(folders, intent.upload).catch(() => {})
}

/** The copy `previous` left at its place (see recoverPlain); nothing that is not its file goes. */
async function removeOldPlace (layout: DiskLayout, bucket: string, previous: MetaRecord, dataPath: string): Promise<void> {
  const old = previous.hidden ? layout.hiddenPath(bucket, previous.key) : layout.visiblePath(bucket, previous.key)
  if (old === undefined || old === dataPath || !(await isFileOf(old, previous))) return
  await unlink(old).catch(() => {})
  if (previous.hidden) await removeQuietly(layout.hiddenKeyPath(bucket, previous.key))
  else await pruneEmptyDirs(dirname(old), layout.bucketDir(bucket))
}

/**
 * A versioned commit or delete (disk-versions.ts): done once its new data is
 * in place (a delete writes none: once the current object is shelved); then
 * what is left (a replaced version's file removed, a marker's file written,
 * the rows) is finished. Otherwise a shelved object goes back to its path and
 * the intent is dropped. Returns whether it was finished.
 */
async function recoverVersioned ({ db, layout, folders, writeMarker }: RecoveryParts, intent: CommitIntent): Promise<boolean> {
  const plan = intent.plan!
  const shelve = plan.shelve
  const shelvedThere = shelve === undefined ? false : (await stat(shelve.to).catch(() => undefined))?.ino === shelve.ino
  const done = intent.dataTmp === ''
    ? shelve === undefined || shelvedThere
    : !(await exists(intent.dataTmp)) && await isFileOf(intent.dataPath, intent.record)
  if (done) {
    if (plan.drop !== undefined) await unlink(plan.drop).catch(err => { if (codeOf(err) !== 'ENOENT') throw err })
    if (plan.markerFile !== undefined) await folders.sync(dirname(plan.markerFile), await writeMarker(plan.markerFile, intent.record.stamp))
    // The shelved object's old folder too: its leaving must not come back (a scan would take the file as one put by hand).
    await syncFoldersOf(folders, [intent.dataPath, shelve?.from, shelve?.to, plan.markerFile, plan.drop])
    await removeCompleted(layout, folders, intent)
    await db.settle(intent.id, intent.bucket, undefined, { key: intent.record.key, rows: plan.rows })
    return true
  }
  // Through DurableFolders: while the store runs (BlockedKeys), another write may rename into a folder this makes.
  if (shelvedThere && !(await exists(shelve!.from))) await folders.sync(dirname(shelve!.from), await folders.rename(shelve!.to, shelve!.from))
  // A marker's file written before the shelving that did not happen goes with it.
  if (plan.markerFile !== undefined && plan.markerReplaces !== true) await unlink(plan.markerFile).catch(() => {})
  await syncFoldersOf(folders, [shelve?.from, shelve?.to, plan.markerFile])
  await db.settle(intent.id, intent.bucket)
  return false
}

/** Empties the temp folder: whatever is there belongs to a write that never finished. Returns how many went. */
export async function cleanTemp (layout: DiskLayout): Promise<number> {
  let dropped = 0
  for (const name of await readdir(layout.tmp).catch(() => [] as string[])) {
    await removeQuietly(join(layout.tmp, name))
    dropped++
  }
  return dropped
}

/**
 * Format 1 (one JSON file per object) to format 2 (MetaDb): finishes a commit
 * a crash left in format 1's journal, imports every metadata file in batches,
 * keeps hidden objects' keys beside their bytes (format 1 did not), and
 * removes the old files. Runs once, at the first start after an upgrade.
 * Returns how many objects were imported.
 */
export async function importFormat1 (layout: DiskLayout, db: MetaDb, sync: boolean): Promise<number> {
  if (!(await exists(layout.legacyMetaRoot))) return 0
  for (const name of (await readdir(layout.tmp).catch(() => [] as string[])).filter(n => n.endsWith('.meta.json'))) {
    try {
      const pending = JSON.parse(await readFile(join(layout.tmp, name), 'utf8')) as PendingMeta
      const { dataTmp, dataPath, metaPath } = pending.commit
      const s = await exists(dataTmp) ? undefined : await stat(dataPath).catch(() => undefined)
      if (s !== undefined && s.ino === pending.ino) await renameInto(join(layout.tmp, name), metaPath)
    } catch {
      // An unreadable journal entry was never renamed into place: nothing to finish.
    }
  }
  let imported = 0
  for (const bucket of await readdir(layout.legacyMetaRoot).catch(() => [] as string[])) {
    if (bucket.startsWith('.')) continue
    const dir = layout.legacyMetaDir(bucket)
    for (const shard of await readdir(dir).catch(() => [] as string[])) {
      const files = (await readdir(join(dir, shard)).catch(err => { if (codeOf(err) === 'ENOTDIR') return [] as string[]; throw err }))
        .filter(f => f.endsWith('.json'))
      for (let i = 0; i < files.length; i += 256) {
        const records = (await Promise.all(files.slice(i, i + 256).map(async f => {
          try { return JSON.parse(await readFile(join(dir, shard, f), 'utf8')) as MetaRecord } catch { return undefined }
        }))).filter((r): r is MetaRecord => r !== undefined)
        for (const r of records.filter(r => r.hidden)) {
          const tmp = layout.tmpPath(`import-${imported}`, '.key')
          await writeDurable(tmp, r.key, sync)
          await renameInto(tmp, layout.hiddenKeyPath(bucket, r.key))
        }
        await db.putMany(bucket, records)
        imported += records.length
      }
    }
  }
  await removeQuietly(layout.legacyMetaRoot)
  return imported
}

/**
 * Reads every bucket record. Folders in the data root that have a valid
 * bucket name but no record (made by hand) become buckets. Objects are not
 * read here: they are in MetaDb, and files placed by hand are found by FolderScan.
 */
export async function loadBuckets (layout: DiskLayout, adopt: (name: string, created: number) => Promise<BucketRecord>): Promise<Map<string, BucketRecord>> {
  const buckets = new Map<string, BucketRecord>()
  for (const name of await readdir(layout.bucketsMeta).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue
    const record = JSON.parse(await readFile(join(layout.bucketsMeta, name), 'utf8')) as BucketRecord
    buckets.set(record.name, record)
  }
  for (const entry of await readdir(layout.root, { withFileTypes: true })) {
    if (!entry.isDirectory() || buckets.has(entry.name) || bucketNameProblem(entry.name) !== undefined) continue
    const s = await stat(join(layout.root, entry.name))
    buckets.set(entry.name, await adopt(entry.name, s.mtimeMs))
  }
  return buckets
}

/** A folder written by a newer s3mesh is refused rather than misread. Returns the format the folder says it holds (undefined: none said). */
export async function checkFormat (layout: DiskLayout): Promise<number | undefined> {
  let version: number | undefined
  try {
    version = (JSON.parse(await readFile(layout.formatFile, 'utf8')) as { version?: number }).version
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return undefined
    throw new CliError(`${layout.formatFile} is not readable JSON (${err instanceof Error ? err.message : String(err)}); it says which s3mesh format the folder holds`)
  }
  if (typeof version === 'number' && version > FORMAT_VERSION) {
    throw new CliError(`${layout.root} was written by a newer s3mesh (format ${version}; this one reads up to ${FORMAT_VERSION}): upgrade s3mesh`)
  }
  return typeof version === 'number' ? version : undefined
}

/** Whether the data folder holds anything a rebuild would find. */
export async function hasAnyBucketFolder (layout: DiskLayout): Promise<boolean> {
  for await (const e of await opendir(layout.root)) if (e.isDirectory() && !e.name.startsWith('.')) return true
  return false
}
