import { promisifyRequest } from 'idb-keyval'
import { S3Error } from '../core/errors.js'
import type { Checksum } from '../core/checksums.js'
import type { LifecycleRule } from '../core/lifecycle.js'
import type { CorsRule, ObjectInfo, ObjectMetadata, PartInfo } from '../core/object-store.js'
import type { VersioningStatus } from '../core/versioning.js'
import type { BucketObjectLock, VersionLock } from '../core/object-lock.js'

// The records IdbStore keeps in IndexedDB, their keys, and the small reads and
// writes its operations share (these take the IDBObjectStore of a transaction
// the store opened).

/** Bytes of one write: `chunks` values under ['c', version, 0..chunks-1], all CHUNK_BYTES but the last. */
export interface Segment { version: string, chunks: number, size: number }

export interface BucketRecord {
  name: string
  created: number
  cors?: CorsRule[]
  lifecycle?: LifecycleRule[]
  versioning?: VersioningStatus
  /** Set once object lock was turned on (never unset). */
  objectLock?: BucketObjectLock
}
export interface StoredInfo extends Omit<ObjectInfo, 'lastModified' | 'replicas'> { lastModified: number }
export interface ObjectRecord {
  info: StoredInfo
  segments: Segment[]
  /** A delete marker (idb-versions.ts): no bytes. */
  marker?: true
  /** When the version was made, in a bucket with versioning set (see idb-versions.ts's stampOf). */
  stamp?: string
}
export interface UploadRecord {
  uploadId: string
  key: string
  initiated: number
  metadata: ObjectMetadata
  tags: Record<string, string>
  /** The lock the completed version is asked to get (IndexedDB keeps its Date as one). */
  lock?: VersionLock
  /** The lock is the caller's to keep (UploadOptions.lockAside). */
  lockAside?: true
  /** The canned ACL asked for (UploadOptions.acl): answered at completion. */
  acl?: string
}
export interface PartRecord { partNumber: number, etag: string, size: number, lastModified: number, checksum?: Checksum, segment: Segment }

/** A part as the store's interface gives it. */
export function partInfo (p: PartRecord): PartInfo {
  return { partNumber: p.partNumber, etag: p.etag, size: p.size, lastModified: new Date(p.lastModified), ...(p.checksum === undefined ? {} : { checksum: p.checksum }) }
}

// Every record lives in one IndexedDB object store under an array key whose
// first element says what it is, so one transaction can change objects,
// uploads and chunks together, and key ranges give sorted listings:
//   ['b', bucket]                       BucketRecord
//   ['o', bucket, utf8(key)]            ObjectRecord (binary keys sort in UTF-8 byte order, as S3 lists)
//   ['v', bucket, utf8(key), stamp, id]  ObjectRecord of a version that is not current, or a delete marker (idb-versions.ts)
//   ['u', bucket, uploadId]             UploadRecord
//   ['p', uploadId, partNumber]         PartRecord
//   ['c', version, index]               chunk: a Blob (a byte array when an older version wrote it)
//   ['w', version]                      when a write not yet committed last stored a chunk
//   ['g', time, version]                chunk count of a replaced version, deleted after the grace period
export type Key = IDBValidKey[]

const encoder = new TextEncoder()
export const utf8 = (s: string): Uint8Array<ArrayBuffer> => encoder.encode(s)

/** Everything sorting after ['x', a, ...] for any ...: arrays sort after every other key type. */
export const AFTER: IDBValidKey = []

export function toInfo (s: StoredInfo): ObjectInfo {
  return { ...s, lastModified: new Date(s.lastModified) }
}

function noSuchBucket (name: string): S3Error {
  return new S3Error('NoSuchBucket', undefined, { resource: name, detail: { BucketName: name } })
}

function noSuchKey (key: string): S3Error {
  return new S3Error('NoSuchKey', undefined, { resource: key, detail: { Key: key } })
}

function noSuchUpload (uploadId: string): S3Error {
  return new S3Error('NoSuchUpload', undefined, { detail: { UploadId: uploadId } })
}

/** A store error from IndexedDB in S3's words (a full quota is the common one). */
export function storageError (err: unknown): unknown {
  if (err instanceof S3Error) return err
  const name = (err as { name?: string })?.name
  if (name === 'QuotaExceededError') return new S3Error('InsufficientStorage', 'The browser refused to store more: its storage quota for this site is used up.')
  return err
}

export async function get (s: IDBObjectStore, key: Key): Promise<unknown> {
  return await promisifyRequest(s.get(key))
}

export async function bucket (s: IDBObjectStore, name: string): Promise<BucketRecord> {
  const b = await get(s, ['b', name]) as BucketRecord | undefined
  if (b === undefined) throw noSuchBucket(name)
  return b
}

export async function object (s: IDBObjectStore, bucketName: string, key: string): Promise<ObjectRecord> {
  const o = await get(s, ['o', bucketName, utf8(key)]) as ObjectRecord | undefined
  if (o === undefined) throw noSuchKey(key)
  return o
}

export async function upload (s: IDBObjectStore, bucketName: string, key: string, uploadId: string): Promise<UploadRecord> {
  const u = await get(s, ['u', bucketName, uploadId]) as UploadRecord | undefined
  if (u === undefined || u.key !== key) throw noSuchUpload(uploadId)
  return u
}

/** Marks segments replaced: their chunks go after the grace period (a reader may still be on them). */
export function retire (s: IDBObjectStore, segments: Segment[]): void {
  const now = Date.now()
  for (const seg of segments) s.put(seg.chunks, ['g', now, seg.version])
}

/** Deletes segments nobody can be reading (never committed, or parts of an aborted upload). */
export function abandon (s: IDBObjectStore, segments: Segment[]): void {
  for (const seg of segments) {
    s.delete(IDBKeyRange.bound(['c', seg.version], ['c', seg.version, AFTER]))
    s.delete(['w', seg.version])
  }
}

export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

export function startsWith (bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false
  return true
}
