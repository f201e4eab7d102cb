import type { LifecycleRule } from '../core/lifecycle.js'
import type { CorsRule, ObjectInfo, ObjectMetadata } from '../core/object-store.js'
import { versionIdOf, type VersioningStatus } from '../core/versioning.js'
import { lockOfRecord, type BucketObjectLock, type LockRecord, type VersionLock } from '../core/object-lock.js'

/** An object's metadata: a row of `.s3mesh/meta.db` (format 1 kept it in `.s3mesh/meta/<bucket>/<hh>/<sha256(key)>.json`). */
export interface MetaRecord {
  v: 1
  key: string
  size: number
  etag: string
  sha256: string
  /** ms since the epoch */
  lastModified: number
  metadata: ObjectMetadata
  tags: Record<string, string>
  parts?: number
  /** True when the bytes live under `.s3mesh/objects` rather than at the key's path. */
  hidden: boolean
  /** The version's id in a bucket with versioning set; absent for the null version (every object of a bucket never versioned). */
  versionId?: string
  /** When the version was made (the sortable start of a version id, see versionIdOf); absent: from lastModified. A key's versions are ordered by it. */
  stamp?: string
  /** A delete marker: no bytes; size 0. */
  marker?: true
  /** The bytes live where noncurrent versions do (`.s3mesh/versions`): a noncurrent version's, or a current one's whose newer versions were deleted. Overrides `hidden`. */
  shelved?: true
  /** Inode and mtime of the data file at commit: a mismatch on read means the file was replaced or edited outside s3mesh. */
  ino: number
  mtimeMs: number
  /** What protects the version (a bucket with object lock). */
  lock?: LockRecord
}

/**
 * Format 1's commit journal: a metadata temp file naming the data temp file
 * and where both go. Start-up still finishes one left by a crash before an upgrade.
 */
export interface PendingMeta extends MetaRecord {
  commit: { dataTmp: string, dataPath: string, metaPath: string }
}

/** A bucket's file (`.s3mesh/buckets/<bucket>.json`). */
export interface BucketRecord {
  name: string
  created: number
  cors?: CorsRule[]
  lifecycle?: LifecycleRule[]
  /** Set once PutBucketVersioning has been (never unset). */
  versioning?: VersioningStatus
  /** Set once object lock was turned on (never unset). */
  objectLock?: BucketObjectLock
}

/** A multipart upload's `upload.json`. */
export interface UploadRecord {
  key: string
  initiated: number
  metadata: ObjectMetadata
  tags: Record<string, string>
  /** The lock the completed version is asked to get. */
  lock?: LockRecord
  /** The lock is the caller's to keep (UploadOptions.lockAside): answered at completion, not kept with the version. */
  lockAside?: true
  /** The canned ACL asked for (UploadOptions.acl): answered at completion. */
  acl?: string
}

/**
 * Whether a file (its stat) is the one `record` was written as: the same
 * inode, size and mtime. Otherwise it was edited or replaced by hand, or it
 * is another file that reused a freed inode.
 */
export function isRecordedFile (s: { ino: number, size: number, mtimeMs: number }, record: Pick<MetaRecord, 'ino' | 'size' | 'mtimeMs'>): boolean {
  return s.ino === record.ino && s.size === record.size && s.mtimeMs === record.mtimeMs
}

/** When a version was made, for ordering a key's versions newest first. */
export function stampOf (m: Pick<MetaRecord, 'stamp' | 'lastModified'>): string {
  return m.stamp ?? versionIdOf(m.lastModified, 0, '')
}

/** The ObjectInfo a metadata record describes. */
export function toInfo (m: MetaRecord): ObjectInfo {
  return {
    key: m.key, size: m.size, etag: m.etag, sha256: m.sha256, lastModified: new Date(m.lastModified),
    metadata: m.metadata, tags: m.tags, ...(m.parts !== undefined ? { parts: m.parts } : {}), ...lockField(lockOfRecord(m.lock)),
  }
}

const lockField = (lock: VersionLock | undefined): { lock?: VersionLock } => lock === undefined ? {} : { lock }
