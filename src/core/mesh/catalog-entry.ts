import type { LifecycleRule } from '../lifecycle.js'
import type { CorsRule, ObjectMetadata } from '../object-store.js'
import type { VersioningStatus } from '../versioning.js'
import type { BucketObjectLock, LockRecord } from '../object-lock.js'
import { compareKeys } from '../key-order.js'
import { compareVersions, formatVersion, type Version } from './hlc.js'

/** What the cluster knows of one version of an object: enough to list, HEAD and verify it. */
export interface ObjectRecord {
  size: number
  /** As S3 reports it, without quotes. */
  etag: string
  /** Hex SHA-256 of the content: every transferred byte is checked against it. */
  sha256: string
  lastModified: number
  metadata: ObjectMetadata
  tags: Record<string, string>
  parts?: number
  /** Hex root of the object's chunk tree (chunk-tree.ts), for objects of more than 1 MiB written by a member that makes one: what a range read from a holder is checked against. */
  tree?: string
  /** What protects this version from a delete by id (a bucket with object lock): changed as tags are, by a new entry version that keeps `created`. */
  lock?: LockRecord
}

/**
 * One catalog entry: the newest version known of a bucket (key `undefined`)
 * or of one slot of an object, or a tombstone when that newest version is a
 * delete. `holders` are the members that hold this version's bytes, sorted.
 *
 * An object key has one slot per S3 version (docs/plans/versioning.md): the
 * `null` slot (no `versionId`: every entry of an unversioned bucket) and one
 * per version id. Entries merge per slot; which slot is the key's current
 * version is derived from them (headOf), so nothing moves when it changes.
 */
export interface CatalogEntry {
  bucket: string
  /** Absent for the entry of the bucket itself. */
  key?: string
  /** The S3 version id of this slot; absent for the `null` slot (and on bucket entries). */
  versionId?: string
  /** The entry's version: the last change to this slot (a write, a tag edit, a removal). Merges go by it, after `created` (compareSlotAge). */
  version: Version
  /** When the S3 version in this slot was written (absent: `version`): a tag edit changes `version`, never this, so the head stays where it was. */
  created?: Version
  /** A delete marker: a version that says the key is deleted. Not a tombstone (it stays until deleted by its id); no object, no holders. */
  marker?: true
  /** A tombstone: the newest version is a delete. */
  deleted: boolean
  /** Absent on tombstones and bucket entries. */
  object?: ObjectRecord
  /** A bucket's CORS rules (bucket entries only): a new bucket version carries them, so every node answers preflights alike. */
  cors?: CorsRule[]
  /** A bucket's lifecycle rules (bucket entries only), carried the same way: the member that decides for the bucket's objects acts on them. */
  lifecycle?: LifecycleRule[]
  /** A bucket's versioning state (bucket entries only; absent: never set). */
  versioning?: VersioningStatus
  /** A bucket's object lock (bucket entries only; absent: never turned on), with its default retention. */
  objectLock?: BucketObjectLock
  /**
   * Which bucket of this name this is (live bucket entries only): the
   * version of the CreateBucket (or adoption of a folder) that made it,
   * kept by every settings change. Absent: made by an older release.
   */
  born?: Version
  /**
   * The buckets of this name deleted so far (bucket entries, live or not):
   * their `born`, oldest first, the last MAX_ENDED. A delete adds the
   * bucket's; a CreateBucket carries the list on; a merge keeps both
   * entries' lists. See predated.
   */
  ended?: Version[]
  /**
   * The `born` of the bucket this slot's entry was made in (object entries
   * only; absent: made by an older release, or in a bucket without one).
   */
  incarnation?: Version
  holders: string[]
}

/** The slot an entry fills under its key: its version id, `''` for the `null` slot. */
export function slotOf (e: Pick<CatalogEntry, 'versionId'>): string {
  return e.versionId ?? ''
}

/** When an entry's S3 version was written. */
export function createdOf (e: CatalogEntry): Version {
  return e.created ?? e.version
}

/** How many deleted buckets of one name a bucket's entry remembers (see `ended`). */
export const MAX_ENDED = 16

/**
 * Whether an object entry was made in a bucket since deleted, as `bucket`
 * (the bucket's entry now) says: a member cut off from the delete, and
 * declared failed, may have written into it until it heard. A delete
 * refuses a bucket that has anything in it, and holds every other member's
 * writes until it is decided (bucket-close.ts), so nothing else of a
 * deleted bucket is left to keep. Only the bucket the delete saw is ended:
 * a bucket of the same name made meanwhile elsewhere, unknown to the
 * deleter, keeps its objects when the two merge.
 */
export function predated (bucket: CatalogEntry | undefined, e: CatalogEntry): boolean {
  const made = e.incarnation
  if (e.key === undefined || made === undefined || bucket?.ended === undefined) return false
  return endedNow(bucket).some(v => compareVersions(v, made) === 0)
}

/**
 * The buckets a bucket's entry says are deleted: its `ended`, but for the
 * bucket it is when that one is back (a change to its settings made after
 * the delete by a member cut off from it, a newer version of its entry,
 * brings it back with what is left of it, as before incarnations).
 */
export function endedNow (e: CatalogEntry): Version[] {
  const born = e.born
  return (e.ended ?? []).filter(v => e.deleted || born === undefined || compareVersions(v, born) !== 0)
}

/** The buckets of this name deleted, with `e`'s (a live bucket's entry being deleted) among them: what its tombstone carries. */
export function endedWith (e: CatalogEntry): Version[] | undefined {
  const ended = uniteEnded(e.ended, e.born === undefined ? [] : [e.born])
  return ended.length === 0 ? undefined : ended
}

/** Whether an entry needs the versioned wire form and fields (a slot other than `null`, a marker, or a `created` of its own). */
export function isVersionedSlot (e: CatalogEntry): boolean {
  return e.versionId !== undefined || e.marker === true || e.created !== undefined
}

/**
 * The head of a key (its current version) among its slots: the slot that is
 * not a tombstone with the latest `created`; when every slot is a tombstone,
 * the one removed last. Ties (a broken writer) go to the larger slot id, so
 * every member picks the same slot whatever order entries arrived in.
 */
export function headOf (slots: Iterable<CatalogEntry>): CatalogEntry | undefined {
  let head: CatalogEntry | undefined
  for (const e of slots) if (head === undefined || beats(e, head)) head = e
  return head
}

function beats (a: CatalogEntry, b: CatalogEntry): boolean {
  if (a.deleted !== b.deleted) return !a.deleted
  const order = a.deleted ? compareVersions(a.version, b.version) : compareVersions(createdOf(a), createdOf(b))
  return order > 0 || (order === 0 && slotOf(a) > slotOf(b))
}

/** Whether a head says the key has an object now (not a tombstone, not a delete marker). */
export function isLiveObject (e: CatalogEntry | undefined): boolean {
  return e !== undefined && !e.deleted && e.marker !== true && e.object !== undefined
}

/**
 * Merges two entries for the same slot (bucket, key and version id). Commutative, associative
 * and idempotent, so announcements may arrive in any order, twice, or late:
 * the newer version wins whole (but for a bucket's `ended`, which both
 * entries' lists make); for the same version the holder lists unite.
 * (Two different contents under one version would mean a broken or hostile
 * writer; the one with the larger sha256 wins, so every node still agrees.)
 */
export function mergeEntries (a: CatalogEntry, b: CatalogEntry): CatalogEntry {
  const merged = mergeSlot(a, b)
  // A bucket's deleted buckets are facts that stay true whichever entry wins: both lists are kept (a bucket made by
  // a member that never heard of the name does not bring back what a delete ended).
  if (merged.key !== undefined || (a.ended === undefined && b.ended === undefined)) return merged
  const ended = uniteEnded(a.ended, b.ended)
  return sameEnded(ended, merged.ended) ? merged : { ...merged, ended }
}

/** The newest MAX_ENDED of two lists of deleted buckets, oldest first. */
function uniteEnded (a: Version[] = [], b: Version[] = []): Version[] {
  const all = [...a, ...b].sort(compareVersions).filter((v, i, sorted) => i === 0 || compareVersions(sorted[i - 1]!, v) !== 0)
  return all.slice(-MAX_ENDED)
}

function sameEnded (a: Version[] | undefined, b: Version[] | undefined): boolean {
  return (a ?? []).length === (b ?? []).length && (a ?? []).every((v, i) => compareVersions(v, b![i]!) === 0)
}

/**
 * Which of two entries of one slot is the newer, as a merge decides (before
 * their content breaks a tie): the S3 version written later, then the later
 * change to it. An edit (a tag or lock change) keeps when its version was
 * written (`created`): so one made while a newer write of the key was still
 * making its copies (not yet heard of where the edit was made) cannot outrank
 * that write, or a delete made after the version it edits, whatever its own
 * clock says; it had, and the key went back to the old content.
 */
export function compareSlotAge (a: CatalogEntry, b: CatalogEntry): number {
  return compareVersions(createdOf(a), createdOf(b)) || compareVersions(a.version, b.version)
}

function mergeSlot (a: CatalogEntry, b: CatalogEntry): CatalogEntry {
  const byVersion = compareSlotAge(a, b)
  const order = byVersion || compareContent(a, b)
  // The same version and content told with and without its lock or tree, or which bucket it is of (one member
  // dropped a field), is one copy's story: the fuller entry is kept, and so are both lists of holders.
  const lockOnly = byVersion === 0 && order !== 0 && sameButLock(a, b)
  if (order > 0 && !lockOnly) return a
  if (order < 0 && !lockOnly) return b
  const base = order < 0 ? b : a
  const holders = unite(a.holders, b.holders)
  return holders === base.holders ? base : { ...base, holders }
}

/** Whether two entries of one version differ only in what compareContent orders after their content's hash (lock, tree, size, bucket). */
function sameButLock (a: CatalogEntry, b: CatalogEntry): boolean {
  return a.deleted === b.deleted && a.marker === b.marker && compareVersions(createdOf(a), createdOf(b)) === 0 && a.object?.sha256 === b.object?.sha256
}

/** What an entry says of object lock (a version's lock, or a bucket's), as text to compare; '' for none. */
export function lockText (e: CatalogEntry): string {
  const lock = e.object?.lock ?? e.objectLock
  return lock === undefined ? '' : JSON.stringify(lock)
}

/** Orders entries of one version by content, so that merge stays commutative whatever arrives. */
function compareContent (a: CatalogEntry, b: CatalogEntry): number {
  if (a.deleted !== b.deleted) return a.deleted ? 1 : -1
  if ((a.marker === true) !== (b.marker === true)) return a.marker === true ? 1 : -1
  const created = compareVersions(createdOf(a), createdOf(b))
  if (created !== 0) return created
  const x = a.object?.sha256 ?? ''
  const y = b.object?.sha256 ?? ''
  if (x !== y) return x < y ? -1 : 1
  // The same content told with and without its chunk tree keeps the tree; told with other sizes or trees (a broken
  // writer), it is ordered too, so that every member keeps the same one.
  const u = a.object?.tree ?? ''
  const w = b.object?.tree ?? ''
  if ((u === '') !== (w === '')) return u === '' ? -1 : 1
  const s = a.object?.size ?? 0
  const t = b.object?.size ?? 0
  if (s !== t) return s < t ? -1 : 1
  if (u !== w) return u < w ? -1 : 1
  // The same version with and without a lock (a member that dropped the field): the lock is kept.
  // (Two different locks under one version would mean a broken writer: ordered by their text, so every member agrees.)
  const p = lockText(a)
  const q = lockText(b)
  if (p !== q) {
    if (p === '' || q === '') return p === '' ? -1 : 1
    return p < q ? -1 : 1
  }
  // The same version with and without which bucket it is of (a member of an older release drops those fields): they are kept.
  const i = incarnationText(a)
  const j = incarnationText(b)
  if (i === j) return 0
  if (i === '' || j === '') return i === '' ? -1 : 1
  return i < j ? -1 : 1
}

/** What an entry says of which bucket of its name it is or is in, and which were deleted, as text to compare; '' for nothing. */
function incarnationText (e: CatalogEntry): string {
  if (e.born === undefined && e.ended === undefined && e.incarnation === undefined) return ''
  const v = (x: Version | undefined): string => x === undefined ? '-' : formatVersion(x)
  return `${v(e.born)} ${v(e.incarnation)} ${(e.ended ?? []).map(v).join(',')}`
}

/** The sorted union of two sorted lists; returns an input unchanged when it already holds everything. */
export function unite (a: string[], b: string[]): string[] {
  const out: string[] = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    const x = a[i]
    const y = b[j]
    if (y === undefined || (x !== undefined && x < y)) { out.push(x!); i++ } else if (x === undefined || y < x) { out.push(y); j++ } else { out.push(x); i++; j++ }
  }
  return out.length === a.length ? a : out.length === b.length ? b : out
}

/** Whether two entries of one slot say the same thing (same version, tombstone and marker flags, content, its size and tree, and holders). */
export function sameEntry (a: CatalogEntry, b: CatalogEntry): boolean {
  return compareVersions(a.version, b.version) === 0 && a.deleted === b.deleted && a.marker === b.marker &&
    compareVersions(createdOf(a), createdOf(b)) === 0 && lockText(a) === lockText(b) && incarnationText(a) === incarnationText(b) &&
    a.object?.sha256 === b.object?.sha256 && a.object?.size === b.object?.size && a.object?.tree === b.object?.tree && a.holders.length === b.holders.length && a.holders.every((h, i) => h === b.holders[i])
}

/**
 * A page of entries back in key order (UTF-8 bytes): a catalog message
 * carries versioned slots apart from the others (an older release reads only
 * the others), so a page decoded from one is not in order.
 */
export function inKeyOrder (entries: CatalogEntry[]): CatalogEntry[] {
  return entries.sort((a, b) => compareKeys(a.key ?? '', b.key ?? ''))
}
