import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { bucketNameProblem } from '../core/names.js'
import { SortedKeys } from '../core/sorted-keys.js'
import { codeOf, removeQuietly, renameInto } from './disk-files.js'
import type { DiskLayout } from './disk-layout.js'
import type { BucketRecord, IndexEntry, MetaRecord, PendingMeta } from './disk-records.js'

async function exists (path: string): Promise<boolean> {
  try { await stat(path); return true } catch { return false }
}

/**
 * Finishes or rolls back commits a crash interrupted, then empties the temp
 * folder. A commit renames its data file, then its metadata file: if the data
 * rename happened, the metadata rename is finished (the client may not have
 * seen the 200, but the object is whole and verified); if not, both are
 * dropped. Returns how many commits were finished and how many temp files dropped.
 */
export async function recoverCommits (layout: DiskLayout): Promise<{ finished: number, dropped: number }> {
  let finished = 0
  let dropped = 0
  const names = await readdir(layout.tmp).catch(() => [] as string[])
  for (const name of names.filter(n => n.endsWith('.meta.json'))) {
    const path = join(layout.tmp, name)
    try {
      const pending = JSON.parse(await readFile(path, 'utf8')) as PendingMeta
      const { dataTmp, dataPath, metaPath } = pending.commit
      if (!(await exists(dataTmp))) {
        const s = await stat(dataPath).catch(() => undefined)
        if (s !== undefined && s.ino === pending.ino) {
          await renameInto(path, metaPath)
          finished++
          continue
        }
      }
    } catch {
      // An unreadable journal entry was never renamed into place: nothing to finish.
    }
  }
  for (const name of await readdir(layout.tmp).catch(() => [] as string[])) {
    await removeQuietly(join(layout.tmp, name))
    dropped++
  }
  return { finished, dropped }
}

export interface LoadedBucket {
  record: BucketRecord
  objects: SortedKeys<IndexEntry>
}

/**
 * Reads every bucket and object record into memory. Folders in the data root
 * that have a valid bucket name but no record (made by hand) become buckets.
 */
export async function loadIndex (layout: DiskLayout, adopt: (name: string, created: number) => Promise<BucketRecord>): Promise<Map<string, LoadedBucket>> {
  const buckets = new Map<string, LoadedBucket>()
  for (const name of await readdir(layout.bucketsMeta).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue
    const record = JSON.parse(await readFile(join(layout.bucketsMeta, name), 'utf8')) as BucketRecord
    buckets.set(record.name, { record, objects: new SortedKeys() })
  }
  for (const entry of await readdir(layout.root, { withFileTypes: true })) {
    if (!entry.isDirectory() || buckets.has(entry.name) || bucketNameProblem(entry.name) !== undefined) continue
    const s = await stat(join(layout.root, entry.name))
    buckets.set(entry.name, { record: await adopt(entry.name, s.mtimeMs), objects: new SortedKeys() })
  }
  for (const [name, bucket] of buckets) {
    const dir = layout.metaDir(name)
    for (const shard of await readdir(dir).catch(() => [] as string[])) {
      const files = await readdir(join(dir, shard)).catch(err => { if (codeOf(err) === 'ENOTDIR') return [] as string[]; throw err })
      // Bounded parallel reads: fast on SSDs without exhausting file descriptors.
      for (let i = 0; i < files.length; i += 64) {
        const batch = files.slice(i, i + 64).filter(f => f.endsWith('.json'))
        const records = await Promise.all(batch.map(async f => {
          try {
            return JSON.parse(await readFile(join(dir, shard, f), 'utf8')) as MetaRecord
          } catch {
            return undefined
          }
        }))
        for (const r of records) {
          if (r !== undefined) bucket.objects.set(r.key, { size: r.size, etag: r.etag, lastModified: r.lastModified, hidden: r.hidden })
        }
      }
    }
  }
  return buckets
}

