import type { Checksum, ChecksumAlgorithm, ChecksumPlan, ObjectChecksum, PartSizes } from './checksums.js'
import { S3Error } from './errors.js'
import type { LifecycleRule } from './lifecycle.js'
import { streamOfBytes } from './streams.js'
import type { DeleteCondition, DeleteResult, VersionListOptions, VersionListResult, VersioningStatus } from './versioning.js'
import type { BucketObjectLock, LockChange, VersionLock } from './object-lock.js'

/**
 * The storage contract every s3mesh store implements: memory (core), disk
 * (Node), IndexedDB (browser) and, later, the mesh-aware store. The S3 handler
 * speaks only to this interface. One compliance suite (test/compliance) runs
 * against every implementation.
 *
 * Errors are `S3Error`s with the S3 code a client should see (NoSuchBucket,
 * NoSuchKey, NoSuchUpload, BucketNotEmpty, InvalidPart, ...).
 */

/** Headers a client sets on an object and gets back on GET/HEAD. */
export interface ObjectMetadata {
  contentType?: string
  contentEncoding?: string
  contentDisposition?: string
  contentLanguage?: string
  cacheControl?: string
  expires?: string
  /** `x-amz-meta-*` headers: lower-case names without the prefix. */
  user: Record<string, string>
  /** The checksum the client sent with the object and the store verified, or a multipart object's made from its parts' (returned with `x-amz-checksum-mode: ENABLED`). */
  checksum?: ObjectChecksum
  /** On a multipart upload not yet completed: what its parts are checked with, and how its object's checksum is made. */
  checksumPlan?: ChecksumPlan
  /** A multipart object's part sizes, in runs: what GET ?partNumber=N reads. */
  partSizes?: PartSizes
}

/** What a listing needs: cheap enough to keep in memory per object. */
export interface ObjectSummary {
  key: string
  size: number
  /** Hex MD5 for a single PUT; `md5-of-part-md5s-N` for multipart. No quotes. */
  etag: string
  lastModified: Date
}

/** A mesh write's time by part, ms (ObjectInfo.phases). */
export interface WritePhases {
  write: number
  copies: number
  announce: number
}

export interface ObjectInfo extends ObjectSummary {
  /** Hex SHA-256 of the whole content: what the mesh verifies transfers against. */
  sha256: string
  metadata: ObjectMetadata
  tags: Record<string, string>
  /**
   * How many tags the version has, where the store read their number and not
   * the tags (a GatewayStore's GET and HEAD: the tags need another request,
   * and s3:GetObjectTagging, which a reader of the object need not have);
   * `tags` is then empty. The tags themselves: `objectTags`.
   */
  tagCount?: number
  /** Number of parts for a multipart object; absent for a single PUT. */
  parts?: number
  /** On a mesh, after a write: how many members hold this version (x-s3mesh-replicas). */
  replicas?: number
  /**
   * On a mesh, after a write asked with `returnEntry`: the catalog entry of
   * the version written (a catalog message, base64), which the node answers
   * as x-s3mesh-entry, so a tab writing through it need not ask for it.
   */
  entry?: string
  /**
   * On a mesh, after a write: where its time went, in milliseconds (answered
   * as Server-Timing). `write`: the local copy under its key's lock (a PUT's
   * body read, written and committed; a completed upload's parts put
   * together); `copies`: after it, until the write quorum holds it (the
   * replicas' commits, or whole copies sent to a spare or from the local
   * copy); `announce`: its announcement handed to gossip. Not timed: what
   * comes before (the request, its checks, the replicas' streams opening).
   */
  phases?: WritePhases
  /** When the bucket's lifecycle rules expire it, as a store that reads objects elsewhere was told (a gateway); others' are worked out from `lifecycleAtHand`. */
  expiration?: { date: Date, ruleId: string }
  /** Its version id, in a store that keeps versions (core/versioning.ts): `null` for the version a key has while versioning is not enabled. */
  versionId?: string
  /** What protects this version from being deleted (a store that keeps object lock: core/object-lock.ts). */
  lock?: VersionLock
  /** After CompleteMultipartUpload only: the canned ACL its upload was begun with (UploadOptions.acl). */
  uploadAcl?: string
}

export interface BucketInfo {
  name: string
  created: Date
  cors?: CorsRule[]
  lifecycle?: LifecycleRule[]
  /** Set once PutBucketVersioning has been: versions are kept while Enabled (core/versioning.ts). */
  versioning?: VersioningStatus
  /** Set once object lock was turned on (never off again), with the default retention new versions get (core/object-lock.ts). */
  objectLock?: BucketObjectLock
}

/** One rule of a bucket's CORS configuration, as in S3's CORSRule. */
export interface CorsRule {
  id?: string
  allowedOrigins: string[]
  allowedMethods: string[]
  allowedHeaders: string[]
  exposeHeaders: string[]
  maxAgeSeconds?: number
}

/** An inclusive byte range, already resolved against the object size. */
export interface ByteRange {
  start: number
  end: number
}

/** An open object: its info and its bytes as one consistent snapshot. */
export interface ObjectHandle {
  readonly info: ObjectInfo
  /** Streams the object (or one range of it). Takes ownership: the handle is closed when the stream ends or is cancelled. */
  stream (range?: ByteRange): ReadableStream<Uint8Array>
  /**
   * Streams as `stream` does once the bytes are under way, for a store that
   * reads them elsewhere: it fails here (and the request gets an error
   * answer) instead of cutting the body short. Absent: use `stream`.
   */
  streamReady? (range?: ByteRange): Promise<ReadableStream<Uint8Array>>
  /**
   * The object (or one range of it) as a body the platform hands over whole,
   * when the store has one at hand: bytes it read with the info, or Blobs
   * (IndexedDB keeps chunks as Blobs, and a service worker answers with them
   * without reading a byte), where a stream is pumped through JavaScript a
   * chunk at a time. Undefined (or absent): use `stream`. The caller still
   * closes the handle.
   */
  body? (range?: ByteRange): Promise<Uint8Array<ArrayBuffer> | Blob | undefined>
  /** Releases the handle without reading it. Safe to call more than once. */
  close (): Promise<void>
}

export interface Signal {
  signal?: AbortSignal
}

/** A read, delete or tagging of one version (a store that keeps versions); the key's current one without `versionId`. */
export interface VersionOptions extends Signal {
  versionId?: string
}

/** A delete: of one version, and with `versionId` only if that version still meets `onlyIf` (core/versioning.ts), checked under the store's lock. */
export interface DeleteOptions extends VersionOptions {
  onlyIf?: DeleteCondition
  /**
   * S3's conditional delete (If-Match): only if the key's current version is
   * an object with this ETag (unquoted; `*`: any object), checked under the
   * store's lock; else 412 PreconditionFailed, or 404 NoSuchKey when there is
   * no object (none, or a delete marker). S3 checks the current version
   * whatever `versionId` names; s3mesh takes it without one only (the S3
   * layer refuses it with one, and a mesh store too).
   */
  ifMatch?: string
  /** A GOVERNANCE retention does not refuse this delete by id (a caller allowed s3:BypassGovernanceRetention asked for it). */
  bypassGovernance?: boolean
}

/** A lock change of one version (the key's current one without `versionId`), past a GOVERNANCE retention with `bypassGovernance`. */
export interface LockOptions extends VersionOptions {
  bypassGovernance?: boolean
}

/**
 * A write's precondition, as S3's conditional writes send it: `If-None-Match: *`
 * (only if no object has the key) or `If-Match: <etag>` (only if the object
 * has that ETag). A store checks it where the write commits, atomically with
 * it: a write that fails it stores nothing.
 */
export interface WriteCondition {
  ifNoneMatch?: '*'
  /** An ETag, without quotes. */
  ifMatch?: string
}

/**
 * Throws what S3 answers when `current` (the key's object, or undefined) fails
 * a write's condition: 412, or 404 for If-Match on no object. `If-Match: *`
 * passes on any object (RFC 9110).
 */
export function checkWriteCondition (condition: WriteCondition | undefined, current: { etag: string } | undefined, key: string): void {
  if (condition === undefined) return
  if (condition.ifMatch !== undefined) {
    if (current === undefined) throw new S3Error('NoSuchKey', undefined, { resource: key, detail: { Key: key } })
    if (condition.ifMatch !== '*' && current.etag !== condition.ifMatch) throw new S3Error('PreconditionFailed', undefined, { detail: { Condition: 'If-Match' } })
  }
  if (condition.ifNoneMatch === '*' && current !== undefined) throw new S3Error('PreconditionFailed', undefined, { detail: { Condition: 'If-None-Match' } })
}

export interface PutOptions extends Signal {
  metadata: ObjectMetadata
  /** Only if the key's object meets it (checked as the write commits). */
  condition?: WriteCondition
  /**
   * Called once the new object is ready to take the key, under the store's
   * lock for it, before it does: a throw stores nothing. (A mesh asks its
   * arbiter here whether a conditional write may still commit.)
   */
  beforeCommit?: () => Promise<void>
  tags?: Record<string, string>
  /** The size the client declared; a body of any other length fails with IncompleteBody and stores nothing. */
  size?: number
  /** On a mesh: give the version's catalog entry in ObjectInfo.entry (the writer asked for it with x-s3mesh-entry). */
  returnEntry?: boolean
  /**
   * Hex digests the body stream is already verified against as it flows (the
   * stream errors before its end if they do not match), such as a signed
   * x-amz-content-sha256 or a Content-MD5. A store may take them instead of
   * hashing the bytes a second time.
   */
  verified?: VerifiedDigests
  /**
   * Called by a store that hashed the body it was given, with its SHA-256
   * (hex), before the write commits: a gateway signs the hash, and the node
   * checks the bytes against it. A caller that keeps the same bytes
   * elsewhere need not hash them again.
   */
  onHashed?: (sha256: string) => void
  /**
   * The checksum the client sent (x-amz-checksum-*, as a header or a
   * trailer), which the body stream has verified: read once the body has
   * ended, and kept with the object.
   */
  checksum?: () => Checksum | undefined
  /** The algorithm of `checksum`, known before the body (a trailer's is named up front): a store that passes the body on as it arrives declares it. */
  checksumAlgorithm?: ChecksumAlgorithm
  /** Stores a copy of a write made elsewhere (a mesh replica), keeping its identity. */
  copyOf?: CopyOf
  /** The version this write is stored as, in a bucket with versioning set, where the caller names its versions (a mesh member, by its clock). Absent: the store names it. */
  versionAs?: VersionAs
  /**
   * For a copy whose version is known only once all its bytes have arrived (a
   * mesh replica that receives a write while it is being made): called when
   * the body has ended (a store that makes writes durable has made the bytes
   * so), before the write commits, it gives the copy's identity and the
   * SHA-256 the caller has checked the bytes against. It may wait (for the
   * writer's version); if it fails, nothing is stored. The store hashes nothing.
   */
  copyOfAtEnd?: () => (CopyOf & { sha256: string }) | Promise<CopyOf & { sha256: string }>
  /** The lock the request asks the new version to get; in a bucket with a default retention, that is given where none is asked (core/object-lock.ts lockForWrite). */
  lock?: VersionLock
  /**
   * The body's bytes as one Blob, when the caller has them so (a browser
   * tab's request, s3-shim/blob-bodies.ts): the same bytes as the stream, of
   * `size`. A store may keep or send the Blob as it is, and cancel the
   * stream unread: a browser then moves the bytes without copying them
   * through JavaScript.
   */
  blob?: Blob
}

export interface UploadOptions extends Signal {
  metadata: ObjectMetadata
  tags?: Record<string, string>
  /** As PutOptions.lock, for the version the upload makes. */
  lock?: VersionLock
  /**
   * The caller keeps and enforces object lock itself (a mesh member, in its
   * catalog): `lock` is kept with the upload unchecked and answered as the
   * completed version's ObjectInfo.lock, and this store neither checks it
   * against its bucket nor keeps it with the version.
   */
  lockAside?: boolean
  /**
   * The canned ACL the completed object is to have (S3's x-amz-acl at
   * CreateMultipartUpload): kept with the upload, so it outlives a restart,
   * and answered as the completion's ObjectInfo.uploadAcl. The store applies
   * nothing: ACLs are the S3 layer's.
   */
  acl?: string
}

export interface CompleteOptions extends Signal {
  /** Only if the key's object meets it (checked as the upload completes; the upload stays if it fails). */
  condition?: WriteCondition
  /** As PutOptions.beforeCommit. */
  beforeCommit?: () => Promise<void>
  /** The object's full-object checksum as the client sent it with the completion: it must match the one made from the parts'. */
  checksum?: Checksum
  /** As PutOptions.versionAs. */
  versionAs?: VersionAs
}

/** What a copy of a write made elsewhere keeps: its ETag (a multipart ETag is not the MD5 of the bytes), time and part count, its checksum when only its end tells it, and the version it is in a bucket with versioning set. */
export interface CopyOf { etag: string, lastModified: Date, parts?: number, checksum?: ObjectChecksum, versionAs?: VersionAs }

/**
 * A version as another part names it (a mesh member names its versions by
 * its clock, and its copies keep them): its id (`null` for the null
 * version) and the stamp that orders it among its key's versions (when it
 * was made: core/versioning.ts's stampOfVersion). A store keeps it under that
 * id, replacing a version of the same id, and in its place by the stamp: a
 * copy older than the key's newest version is kept as noncurrent. A bucket
 * never versioned takes only the null version.
 */
export interface VersionAs { versionId: string, stamp: string }

/** The digests a store computes for a put: none when the identity comes at the end, no MD5 when a copy brings its ETag. */
export function putDigests (options: PutOptions): Array<'md5' | 'sha256'> {
  if (options.copyOfAtEnd !== undefined) return []
  return options.copyOf === undefined ? ['md5', 'sha256'] : ['sha256']
}

/** What a put commits as, once its body has ended: from the copy it is, or from the digests computed (hex), with the metadata to keep (the client's checksum added). */
export async function putIdentity (options: PutOptions, digests: { md5?: string, sha256?: string }): Promise<Omit<CopyOf, 'checksum'> & { sha256: string, metadata: ObjectMetadata }> {
  const late = await options.copyOfAtEnd?.()
  if (late !== undefined) {
    const { checksum, ...id } = late
    return { ...id, metadata: withChecksum(options.metadata, checksum) }
  }
  const copy = options.copyOf
  const sent = copy === undefined ? options.checksum?.() : undefined
  const versionAs = copy?.versionAs ?? options.versionAs
  return {
    etag: copy?.etag ?? digests.md5!, sha256: digests.sha256!, lastModified: copy?.lastModified ?? new Date(), ...(copy?.parts === undefined ? {} : { parts: copy.parts }),
    metadata: withChecksum(options.metadata, sent === undefined ? undefined : { ...sent, type: 'FULL_OBJECT' }),
    ...(versionAs === undefined ? {} : { versionAs }),
  }
}

/** The metadata with the object's checksum, if it has one. */
export function withChecksum (metadata: ObjectMetadata, checksum: ObjectChecksum | undefined): ObjectMetadata {
  return checksum === undefined ? metadata : { ...metadata, checksum }
}

export interface VerifiedDigests {
  md5?: string
  sha256?: string
}

export interface ListOptions extends Signal {
  prefix?: string
  /** Only keys sorting strictly after this one (UTF-8 byte order). */
  startAfter?: string
  /** At most this many objects (1..1000 in practice). */
  limit: number
}

export interface ListResult {
  objects: ObjectSummary[]
  /** True when more keys match after the last one returned. */
  isTruncated: boolean
  /**
   * Where the next page starts when that is past the last key returned (a
   * store that held keys back from this caller walked further): a listing
   * goes on after it, so that a page with no key it may see still moves on.
   */
  resumeAfter?: string
}

export interface UploadInfo {
  uploadId: string
  key: string
  initiated: Date
}

export interface PartInfo {
  partNumber: number
  etag: string
  size: number
  lastModified: Date
  /** The checksum the part was sent with, verified. */
  checksum?: Checksum
}

export interface CompletedPart {
  partNumber: number
  etag: string
  /** The part's checksum as the client names it in the completion (checked against the part's). */
  checksum?: Checksum
}

/** What an upload's part is stored with. */
export interface PartOptions extends Signal {
  size?: number
  verified?: VerifiedDigests
  /** As PutOptions.checksum: the part's checksum, read once its body has ended. */
  checksum?: () => Checksum | undefined
  /** As PutOptions.checksumAlgorithm. */
  checksumAlgorithm?: ChecksumAlgorithm
}

export interface ObjectStore {
  createBucket (name: string, options?: Signal): Promise<void>
  /** The bucket's info; throws NoSuchBucket. */
  headBucket (name: string, options?: Signal): Promise<BucketInfo>
  listBuckets (options?: Signal): Promise<BucketInfo[]>
  /** Deletes an empty bucket; throws BucketNotEmpty when objects or uploads remain. */
  deleteBucket (name: string, options?: Signal): Promise<void>
  /** Sets (or with undefined removes) the bucket's CORS rules. */
  setBucketCors (name: string, rules: CorsRule[] | undefined, options?: Signal): Promise<void>
  /** Sets (or with undefined removes) the bucket's lifecycle rules. */
  setBucketLifecycle (name: string, rules: LifecycleRule[] | undefined, options?: Signal): Promise<void>
  /**
   * The bucket's lifecycle rules when the store has them at hand, without
   * I/O: GET, HEAD and PUT answer x-amz-expiration from them. Absent on a
   * store that asks elsewhere (it sets ObjectInfo.expiration instead).
   */
  lifecycleAtHand?: (bucket: string) => LifecycleRule[] | undefined

  /**
   * False when the store surely keeps nothing under the key, known without
   * I/O (a DiskStore: no metadata row; a file placed by hand there is its
   * folder scan's to find). Absent where asking costs no more than opening.
   * A mesh member hears of every write to the keys it owns; most it does not
   * hold, and this spares it looking for each on disk.
   */
  recorded?: (bucket: string, key: string) => boolean

  /** Stores the whole stream as the object, atomically: on any failure nothing changes. */
  putObject (bucket: string, key: string, body: ReadableStream<Uint8Array>, options: PutOptions): Promise<ObjectInfo>
  /** Opens an object (or, in a store that keeps versions, one version of it) for reading; throws NoSuchKey (NoSuchVersion). */
  openObject (bucket: string, key: string, options?: VersionOptions): Promise<ObjectHandle>
  headObject (bucket: string, key: string, options?: VersionOptions): Promise<ObjectInfo>
  /** Deletes an object (a store that keeps versions: as core/versioning.ts's afterDelete says); deleting a missing key succeeds, as in S3. */
  deleteObject (bucket: string, key: string, options?: DeleteOptions): Promise<DeleteResult | void>
  /** Keys in UTF-8 byte order. */
  listObjects (bucket: string, options: ListOptions): Promise<ListResult>
  setObjectTags (bucket: string, key: string, tags: Record<string, string>, options?: VersionOptions): Promise<void>
  /**
   * A version's tags, read apart from the object, where the store's object
   * info carries only their number (`ObjectInfo.tagCount`: a GatewayStore).
   * Absent: `headObject`'s tags are the tags. Read them with `objectTags` below.
   */
  objectTags?: (bucket: string, key: string, options?: VersionOptions) => Promise<VersionTags>
  /**
   * True where headObject may hold a version's tags back without saying so
   * (no `tagCount`): a tab's GuestStore, whose entries lack the tags of
   * objects its user may not read. Its tags are then only what objectTags reads.
   */
  readonly holdsTagsBack?: boolean

  /** Sets a bucket's versioning (a store that keeps versions; docs/plans/versioning.md says which do). */
  setBucketVersioning?: (name: string, status: VersioningStatus, options?: Signal) => Promise<void>
  /** Every version and delete marker of a bucket's keys, a page at a time (a store that keeps versions). */
  listObjectVersions?: (bucket: string, options: VersionListOptions) => Promise<VersionListResult>

  /**
   * Turns object lock on for a bucket whose versioning is Enabled
   * (InvalidBucketState otherwise), or changes its default retention; it is
   * never turned off, and its versioning is not suspended again (a store
   * that keeps object lock: docs/plans/object-lock.md).
   */
  setBucketObjectLock?: (name: string, lock: BucketObjectLock, options?: Signal) => Promise<void>
  /**
   * Changes one version's retention or legal hold, checked as the change
   * is made (core/object-lock.ts retentionChangeRefusal); returns the
   * version's lock now. A delete by id of a protected version is refused
   * with AccessDenied (deleteRefusal), or answered `kept` with `onlyIf`.
   */
  setObjectLock?: (bucket: string, key: string, change: LockChange, options?: LockOptions) => Promise<VersionLock | undefined>

  /** Begins an upload; the lock asked for (`lock`) is the version's once it completes, as PutOptions.lock. */
  createMultipartUpload (bucket: string, key: string, options: UploadOptions): Promise<string>
  uploadPart (bucket: string, key: string, uploadId: string, partNumber: number, body: ReadableStream<Uint8Array>, options?: PartOptions): Promise<PartInfo>
  /** Parts in part-number order; throws NoSuchUpload. */
  listParts (bucket: string, key: string, uploadId: string, options?: Signal): Promise<PartInfo[]>
  /** Uploads in (key, initiated) order. */
  listMultipartUploads (bucket: string, options?: { prefix?: string } & Signal): Promise<UploadInfo[]>
  completeMultipartUpload (bucket: string, key: string, uploadId: string, parts: CompletedPart[], options?: CompleteOptions): Promise<ObjectInfo>
  abortMultipartUpload (bucket: string, key: string, uploadId: string, options?: Signal): Promise<void>

  /**
   * Stores that find objects by themselves (files placed by hand in a Node
   * node's bucket folders, adopted in the background) tell listeners here, so
   * a mesh member can announce them. Returns the unsubscribe.
   */
  onAdopted?: (listener: (bucket: string, info: ObjectInfo) => void) => () => void
  /** Such a store's objects whose bytes were deleted by hand (a file removed from a bucket folder). Returns the unsubscribe. */
  onRemoved?: (listener: (bucket: string, key: string) => void) => () => void
  /** Settles once such a store has looked for what was placed in it by hand (a Node node's first folder scan). */
  readonly firstScan?: Promise<void>
  /**
   * A store kept between runs names each opening (a Node node's meta.db):
   * `current` this one's, `previous` the one before it. A mesh member that
   * checked its claims against the store in session X skips the check at its
   * next start only if the store's previous session is X: nothing else (a
   * run without the mesh) wrote to the store in between.
   */
  readonly session?: { current: string, previous?: string }
}

/** A version's tags, and its id in a store that keeps versions. */
export interface VersionTags {
  tags: Record<string, string>
  versionId?: string
}

/** A version's tags from any store: its own `objectTags`, or its object info's. */
export async function objectTags (store: ObjectStore, bucket: string, key: string, options: VersionOptions = {}): Promise<VersionTags> {
  if (store.objectTags !== undefined) return await store.objectTags(bucket, key, options)
  const info = await store.headObject(bucket, key, options)
  return { tags: info.tags, ...(info.versionId === undefined ? {} : { versionId: info.versionId }) }
}

/** A handle on an object's bytes held in memory (nothing to release). */
export function bytesHandle (info: ObjectInfo, bytes: Uint8Array): ObjectHandle {
  return {
    info,
    stream: (range?: ByteRange) => streamOfBytes(range === undefined ? bytes : bytes.subarray(range.start, range.end + 1)),
    close: async () => {},
  }
}
