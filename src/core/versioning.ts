import { S3Error } from './errors.js'
import type { Signal } from './object-store.js'

/**
 * S3 object versioning, the rules every store follows (docs/plans/versioning.md):
 * which version a write or a delete makes under a bucket's versioning state,
 * what a read of a delete marker answers, and how version ids are made. A
 * store keeps, per key, its versions newest first; these functions decide
 * what changes in that list, so every store answers alike.
 */

/** A bucket's versioning state as PutBucketVersioning sets it. A bucket never set keeps one version per key, the `null` one. */
export type VersioningStatus = 'Enabled' | 'Suspended'

/** The id of the version a key has while its bucket's versioning is not enabled (never set, or suspended). */
export const NULL_VERSION = 'null'

/** What a delete did: the version it removed or the marker it made, as DeleteObject answers (x-amz-version-id, x-amz-delete-marker). */
export interface DeleteResult {
  versionId?: string
  deleteMarker?: boolean
  /** Nothing was deleted: the version no longer met the delete's `onlyIf` (never sent to a client). */
  kept?: true
}

/**
 * Whether a delete without a version id, answered `result`, took the key's
 * current version for good rather than hiding it behind a marker: no marker
 * was made (versioning never set), or a null marker took the null version's
 * place (versioning suspended). `current`: the current version's id before
 * the delete (`null` in a bucket never versioned), undefined when it could
 * not be told (taken as the null version).
 */
export function tookCurrent (result: DeleteResult | undefined, current: string | undefined): boolean {
  return result?.deleteMarker !== true || (result.versionId === NULL_VERSION && (current === undefined || current === NULL_VERSION))
}

/**
 * A delete by version id that goes ahead only while the version is still
 * what the caller saw, checked under the store's lock for the key (the
 * lifecycle runner's deletes): `noncurrent`, not the key's current version;
 * `alone`, the key's only version. A version made current, or given a
 * successor, in between is kept.
 */
export type DeleteCondition = 'noncurrent' | 'alone'

/** One version of a key as ListObjectVersions shows it: an object's version, or a delete marker. */
export interface VersionSummary {
  key: string
  versionId: string
  /** The key's current version (a marker may be). */
  isLatest: boolean
  deleteMarker: boolean
  lastModified: Date
  /** Absent on a delete marker. */
  size?: number
  /** Absent on a delete marker. */
  etag?: string
  /** When this store made the version, where that is not `lastModified` (a file placed by hand keeps its own date): when its predecessor became noncurrent. */
  made?: Date
}

export interface VersionListOptions extends Signal {
  prefix?: string
  /** Versions of keys after this one, and of this key those older than `versionIdMarker` (S3's key-marker). */
  keyMarker?: string
  /** With `keyMarker`: only that key's versions older than this one (S3's version-id-marker). */
  versionIdMarker?: string
  /** At most this many versions and markers. */
  limit: number
}

export interface VersionListResult {
  /** In key order (UTF-8 bytes), each key's newest first. */
  versions: VersionSummary[]
  isTruncated: boolean
}

/** What a store keeps of one version of a key, for the rules below. */
export interface KeptVersion {
  versionId: string
  deleteMarker: boolean
}

/**
 * The version id a write (PUT, copy, completed upload) gets: a new one when
 * versioning is enabled, else the `null` version's, which it replaces.
 */
export function writtenVersionId (status: VersioningStatus | undefined, newId: () => string): string {
  return status === 'Enabled' ? newId() : NULL_VERSION
}

/**
 * A key's versions (newest first) once `written` is stored: it goes first,
 * and a version of the same id (the `null` one, when versioning is not
 * enabled) goes, wherever it was.
 */
export function withVersion<T extends KeptVersion> (versions: readonly T[], written: T): T[] {
  return [written, ...versions.filter(v => v.versionId !== written.versionId)]
}

/**
 * A key's versions (newest first) once `written`, a version another part
 * named (ObjectStore's VersionAs), is stored: a version of the same id goes,
 * and `written` takes its place by its stamp (`stamp` gives each version's),
 * ahead of those of the same stamp. A late copy of an old version is so
 * kept as noncurrent.
 */
export function placeVersion<T extends KeptVersion> (versions: readonly T[], written: T, stamp: (v: T) => string): T[] {
  const others = versions.filter(v => v.versionId !== written.versionId)
  const at = others.findIndex(v => stamp(v) <= stamp(written))
  return at < 0 ? [...others, written] : [...others.slice(0, at), written, ...others.slice(at)]
}

/**
 * Throws when a bucket with versioning never set is asked to keep a version
 * other than the null one, and for an id of anything but letters, digits,
 * `-` and `_` (a store may name a file by it).
 */
export function checkNamedVersion (status: VersioningStatus | undefined, versionId: string): void {
  if (!isVersionIdName(versionId)) throw new S3Error('InvalidArgument', 'A version id named for a store is letters, digits, - and _ only.')
  if (status === undefined && versionId !== NULL_VERSION) throw new S3Error('InvalidRequest', `Version ${versionId} cannot be kept in a bucket whose versioning was never set.`)
}

/** The stamp (the sortable start of a version id) of a version made at `ms`, `counter` (a hybrid clock's reading). */
export function stampAt (ms: number, counter: number): string {
  return versionIdOf(ms, counter, '')
}

/**
 * What a DELETE does to a key's versions (newest first) and what it answers.
 * With a version id it removes that version (a marker or an object's; none:
 * nothing, as S3 answers a delete of a missing version). Without one: a
 * bucket never versioned removes the `null` version; an enabled one adds a
 * delete marker with a new id; a suspended one replaces the `null` version
 * with a `null` marker. `marker(id)` makes the store's marker. A delete by
 * id that fails `onlyIf` changes nothing and answers `kept`.
 */
export function afterDelete<T extends KeptVersion> (
  versions: readonly T[], status: VersioningStatus | undefined, versionId: string | undefined, newId: () => string, marker: (versionId: string) => T, onlyIf?: DeleteCondition,
): { versions: T[], result: DeleteResult, removed?: T } {
  if (versionId !== undefined) {
    const removed = versions.find(v => v.versionId === versionId)
    if (removed === undefined) return { versions: [...versions], result: { versionId } }
    if (!deleteMayGo(versions, removed, onlyIf)) return { versions: [...versions], result: { versionId, kept: true } }
    return { versions: versions.filter(v => v !== removed), removed, result: { versionId, ...(removed.deleteMarker ? { deleteMarker: true } : {}) } }
  }
  if (status === undefined) {
    const removed = versions.find(v => v.versionId === NULL_VERSION)
    return { versions: versions.filter(v => v !== removed), result: {}, ...(removed === undefined ? {} : { removed }) }
  }
  const m = marker(status === 'Enabled' ? newId() : NULL_VERSION)
  const removed = status === 'Suspended' ? versions.find(v => v.versionId === NULL_VERSION) : undefined
  return { versions: withVersion(versions, m), result: { versionId: m.versionId, deleteMarker: true }, ...(removed === undefined ? {} : { removed }) }
}

/** Whether a delete by id of `target` (one of the key's `versions`, newest first) meets its condition. */
export function deleteMayGo<T> (versions: readonly T[], target: T, onlyIf: DeleteCondition | undefined): boolean {
  if (onlyIf === 'noncurrent') return versions[0] !== target
  if (onlyIf === 'alone') return versions.length === 1
  return true
}

/**
 * The version a read names (`versionId`), or the key's current one: throws
 * what S3 answers when there is none (NoSuchKey, NoSuchVersion) or it is a
 * delete marker (404 NoSuchKey without a version id, 405 with one, both with
 * `x-amz-delete-marker`).
 */
export function versionToRead<T extends KeptVersion & { lastModified: Date }> (versions: readonly T[], key: string, versionId?: string): T {
  if (versionId === undefined) {
    const current = versions[0]
    if (current === undefined) throw new S3Error('NoSuchKey', undefined, { resource: key, detail: { Key: key } })
    if (current.deleteMarker) throw new S3Error('NoSuchKey', undefined, { resource: key, detail: { Key: key }, headers: markerHeaders(current) })
    return current
  }
  const v = versions.find(x => x.versionId === versionId)
  if (v === undefined) throw new S3Error('NoSuchVersion', undefined, { resource: key, detail: { Key: key, VersionId: versionId } })
  if (v.deleteMarker) throw new S3Error('MethodNotAllowed', undefined, { resource: key, detail: { ResourceType: 'DeleteMarker' }, headers: { ...markerHeaders(v), allow: 'DELETE' } })
  return v
}

function markerHeaders (v: KeptVersion & { lastModified: Date }): Record<string, string> {
  return { 'x-amz-delete-marker': 'true', 'x-amz-version-id': v.versionId, 'last-modified': v.lastModified.toUTCString() }
}

/**
 * Where a listing of a key's versions (newest first) goes on after
 * `marker` (S3's version-id-marker): past it, or, once it has been deleted
 * (a client emptying a bucket a page at a time deletes each page before it
 * asks for the next), past where it stood. Ids sort as they were made; the
 * `null` version stands by its date. A deleted `null` marker has no place
 * left: the key is listed again from its newest version (a version listed
 * twice is harmless; one skipped is left behind when a client empties a
 * bucket a page at a time).
 */
export function afterMarker<T extends KeptVersion & { lastModified: Date }> (versions: readonly T[], marker: string): number {
  const at = versions.findIndex(v => v.versionId === marker)
  if (at >= 0) return at + 1
  if (marker === NULL_VERSION) return 0
  const stamp = marker.slice(0, STAMP_LENGTH)
  const older = versions.findIndex(v => listedStamp(v) < stamp)
  return older < 0 ? versions.length : older
}

/** The part of a version id that says when it was made (base-36 ms, then the counter): what stores order a key's versions by. */
export const STAMP_LENGTH = 13

/** Where a listed version stands among its key's (newer is greater): its id's stamp, or for the `null` version its date's. */
function listedStamp (v: KeptVersion & { lastModified: Date }): string {
  return v.versionId === NULL_VERSION ? versionIdOf(v.lastModified.getTime(), 0, '') : v.versionId.slice(0, STAMP_LENGTH)
}

/**
 * Version ids that sort in the order they were made (base-36 time, a counter
 * for ids made in the same millisecond) and are unique to their maker (`tag`:
 * a member's id, or a random one). URL-safe, 20 characters or so.
 */
export class VersionIds {
  private lastMs = 0
  private counter = 0

  constructor (private readonly tag: string, private readonly now: () => number = Date.now) {}

  next (): string {
    const ms = Math.max(Math.floor(this.now()), this.lastMs)
    this.counter = ms === this.lastMs ? this.counter + 1 : 0
    this.lastMs = ms
    return versionIdOf(ms, this.counter, this.tag)
  }
}

/** The version id of a write made at (`ms`, `counter`: fixed widths up to 1.6 million ids a millisecond, so ids sort as they were made) by `tag`'s maker. */
export function versionIdOf (ms: number, counter: number, tag: string): string {
  return `${ms.toString(36).padStart(9, '0')}${counter.toString(36).padStart(4, '0')}${tag.replace(/[^A-Za-z0-9]/g, '').slice(-8)}`
}

/** When a version id (or a stamp, its first part) was made, ms; undefined for one not made by versionIdOf. */
export function stampTime (id: string): number | undefined {
  const ms = parseInt(id.slice(0, 9), 36)
  return /^[0-9a-z]{13}/.test(id) && Number.isSafeInteger(ms) ? ms : undefined
}

/** Whether a version id is one s3mesh makes (letters, digits, `-` and `_`, up to 128): safe as a file's name. */
export function isVersionIdName (id: string): boolean {
  return /^[A-Za-z0-9_-]{1,128}$/.test(id)
}

/** A version id as a client may send it: S3's are opaque (printable ASCII, `+`, `/` and `=` among them), up to 1,024 characters; s3mesh's are URL-safe. */
export function checkVersionId (versionId: string): void {
  if (versionId === '' || versionId.length > 1024 || !/^[\x21-\x7e]+$/.test(versionId)) throw new S3Error('InvalidArgument', 'Invalid version id specified', { detail: { ArgumentName: 'versionId', ArgumentValue: versionId } })
}
