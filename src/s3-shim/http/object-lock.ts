import { S3Error } from '../../core/errors.js'
import { missingLockError, type VersionLock } from '../../core/object-lock.js'
import type { ObjectStore } from '../../core/object-store.js'
import { mayOnKey } from '../access/key-probe.js'
import type { Context } from '../context.js'
import { lockFromHeaders } from '../object-lock-xml.js'
import type { Operation } from '../router.js'

/** The headers that ask for a new version to be locked (PutObject, CopyObject, CreateMultipartUpload). */
const LOCK_HEADERS = ['x-amz-object-lock-mode', 'x-amz-object-lock-retain-until-date', 'x-amz-object-lock-legal-hold']

/** Whether a store keeps object lock (docs/plans/object-lock.md says which do). */
export function keepsLocks (store: ObjectStore): boolean {
  return store.setBucketObjectLock !== undefined && store.setObjectLock !== undefined
}

/** Whether CreateBucket asks for object lock. */
export function asksLockedBucket (headers: Headers): boolean {
  return headers.get('x-amz-bucket-object-lock-enabled')?.trim().toLowerCase() === 'true'
}

/**
 * Refuses what asks for object lock of a store that does not keep it,
 * rather than storing as if it were locked: a bucket created with it
 * (NotImplemented: it would not protect what it holds) and a write that
 * asks for a retention or a legal hold (answered as S3 answers one in a
 * bucket without object lock).
 */
export function refuseObjectLock (operation: Operation, headers: Headers, store: ObjectStore): void {
  if (keepsLocks(store)) return
  if (operation === 'CreateBucket' && asksLockedBucket(headers)) {
    throw new S3Error('NotImplemented', 'This endpoint does not keep object lock yet (docs/plans/object-lock.md): create the bucket without x-amz-bucket-object-lock-enabled, or on a node started with --no-mesh.')
  }
  if ((operation === 'PutObject' || operation === 'CopyObject' || operation === 'CreateMultipartUpload') && LOCK_HEADERS.some(h => headers.has(h))) {
    throw missingLockError('write')
  }
}

/** The lock a write asks for in its headers (the store adds the bucket's default, or refuses a lock its bucket cannot give). */
export function askedLock (ctx: Context): { lock?: VersionLock } {
  const lock = lockFromHeaders(ctx.headers, new Date())
  return lock === undefined ? {} : { lock }
}

/** Whether the caller may read a version's retention and legal hold (GET and HEAD show them only then, as S3 does). */
export function mayReadLock (ctx: Context): { retention: boolean, legalHold: boolean } {
  return { retention: mayOnKey(ctx, 's3:GetObjectRetention'), legalHold: mayOnKey(ctx, 's3:GetObjectLegalHold') }
}
