import { promisifyRequest } from 'idb-keyval'
import { NULL_VERSION, versionIdOf, type KeptVersion } from '../core/versioning.js'
import { AFTER, compareBytes, retire, utf8, type Key, type ObjectRecord } from './idb-records.js'

// Versions of keys in IdbStore's buckets with versioning set
// (docs/plans/versioning.md). A key's current object stays its ['o', bucket,
// key] record, so listing and reading it are as in a bucket never versioned;
// every other version, and every delete marker, is a record of its own:
//   ['v', bucket, utf8(key), stamp, versionId]   ObjectRecord (a marker's: no segments)
// `stamp` says when the version was made, so a key's records sort oldest
// first. A change to a key's versions is worked out by core/versioning.ts's
// rules on the whole list (as MemoryStore does) and written back in the
// caller's transaction: IndexedDB makes it all or nothing.

/** One version of a key as core/versioning.ts's rules take it. */
export interface IdbVersion extends KeptVersion { lastModified: Date, record: ObjectRecord }

export function asVersion (record: ObjectRecord): IdbVersion {
  return { versionId: record.info.versionId ?? NULL_VERSION, deleteMarker: record.marker === true, lastModified: new Date(record.info.lastModified), record }
}

/** When a version was made (a version id's sortable start); from its date for one written before versions. */
export function stampOf (record: ObjectRecord): string {
  return record.stamp ?? versionIdOf(record.info.lastModified, 0, '')
}

/** A delete marker's record. */
export function markerRecord (key: string, versionId: string, stamp: string): ObjectRecord {
  return {
    info: { key, size: 0, etag: '', sha256: '', lastModified: Date.now(), metadata: { user: {} }, tags: {}, ...(versionId === NULL_VERSION ? {} : { versionId }) },
    segments: [], marker: true, stamp,
  }
}

function range (bucket: string, key: string): IDBKeyRange {
  const k = utf8(key)
  return IDBKeyRange.bound(['v', bucket, k], ['v', bucket, k, AFTER])
}

/** A key's versions, newest first: its current object (if any), then the others. */
export async function versionsOf (s: IDBObjectStore, bucket: string, key: string): Promise<IdbVersion[]> {
  const current = await promisifyRequest(s.get(['o', bucket, utf8(key)])) as ObjectRecord | undefined
  const others = (await promisifyRequest(s.getAll(range(bucket, key))) as ObjectRecord[]).reverse()
  return [...(current === undefined ? [] : [current]), ...others].map(asVersion)
}

/**
 * Writes a key's versions as `after` (newest first) where they were
 * `before`: the newest is the current object unless it is a marker; the
 * bytes of a version that went are retired (a reader may still be on them).
 */
export function writeVersions (s: IDBObjectStore, bucket: string, key: string, before: IdbVersion[], after: IdbVersion[]): void {
  const kept = new Set(after.flatMap(v => v.record.segments.map(seg => seg.version)))
  for (const v of before) retire(s, v.record.segments.filter(seg => !kept.has(seg.version)))
  s.delete(range(bucket, key))
  const head = after[0]
  const current = head !== undefined && !head.deleteMarker ? head : undefined
  if (current === undefined) s.delete(['o', bucket, utf8(key)])
  else s.put(current.record, ['o', bucket, utf8(key)])
  for (const v of after) if (v !== current) s.put(v.record, ['v', bucket, utf8(key), stampOf(v.record), v.versionId])
}

/** The first key at or after `from` (`inclusive`) with a current object or a version, as UTF-8 bytes; undefined past the bucket. */
export async function nextKey (s: IDBObjectStore, bucket: string, from: Uint8Array<ArrayBuffer>, inclusive: boolean): Promise<Uint8Array | undefined> {
  const first = async (lower: Key, open: boolean, upper: Key): Promise<Uint8Array | undefined> => {
    const cursor = await promisifyRequest(s.openKeyCursor(IDBKeyRange.bound(lower, upper, open, true)))
    return cursor === null ? undefined : new Uint8Array((cursor.key as IDBValidKey[])[2] as ArrayBuffer)
  }
  const o = await first(['o', bucket, from], !inclusive, ['o', bucket, AFTER])
  const v = await first(inclusive ? ['v', bucket, from] : ['v', bucket, from, AFTER], !inclusive, ['v', bucket, AFTER])
  if (o === undefined) return v
  if (v === undefined) return o
  return compareBytes(o, v) <= 0 ? o : v
}

/** Whether a bucket keeps any version or marker besides its current objects. */
export async function anyVersion (s: IDBObjectStore, bucket: string): Promise<boolean> {
  return await promisifyRequest(s.count(IDBKeyRange.bound(['v', bucket], ['v', bucket, AFTER]))) > 0
}
