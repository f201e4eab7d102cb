/**
 * S3 Object Lock's rules: a bucket's default retention, a version's
 * retention and legal hold, and what they refuse (deleting a version by id,
 * shortening a retention). Platform-neutral: the S3 shim parses and answers
 * the XML and headers (`s3-shim/object-lock-xml.ts`), stores keep a lock
 * with each version and check it under their lock for the key
 * (docs/plans/object-lock.md).
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html
 */
import { S3Error } from './errors.js'

/** GOVERNANCE: a caller with s3:BypassGovernanceRetention may shorten or lift it; COMPLIANCE: nobody may, root included, until it ends. */
export type LockMode = 'GOVERNANCE' | 'COMPLIANCE'

export const LOCK_MODES: readonly LockMode[] = ['GOVERNANCE', 'COMPLIANCE']

/** The request header ("true") that asks to delete or shorten under a GOVERNANCE retention, with the right to. */
export const BYPASS_GOVERNANCE_HEADER = 'x-amz-bypass-governance-retention'

/** A bucket's default retention: each new version written without one of its own is retained this long from when it was made. Days or years, not both. */
export interface DefaultRetention { mode: LockMode, days?: number, years?: number }

/** A bucket's object lock (its presence means enabled: S3 never turns it off), with its default retention if it has one. */
export interface BucketObjectLock { rule?: DefaultRetention }

/** A version's retention: it cannot be deleted (by id) before `until`, nor the retention shortened, as `mode` says. */
export interface Retention { mode: LockMode, until: Date }

/** What protects one version: a retention, a legal hold (true: ON until lifted, whatever the dates; false: OFF, as set; absent: never set), or both. */
export interface VersionLock { retention?: Retention, legalHold?: boolean }

/** A lock that says nothing (no retention, a hold never set) is none. */
function orNone (lock: VersionLock): VersionLock | undefined {
  return lock.retention === undefined && lock.legalHold === undefined ? undefined : lock
}

/**
 * A version's lock as records and messages keep it (a DiskStore's meta.db,
 * a mesh's catalog entry): plain JSON and CBOR, its retention's end as ms
 * since the epoch.
 */
export interface LockRecord { mode?: LockMode, until?: number, legalHold?: boolean }

export function lockRecord (lock: VersionLock | undefined): LockRecord | undefined {
  if (lock === undefined) return undefined
  return { ...(lock.retention === undefined ? {} : { mode: lock.retention.mode, until: lock.retention.until.getTime() }), ...(lock.legalHold === undefined ? {} : { legalHold: lock.legalHold }) }
}

export function lockOfRecord (stored: LockRecord | undefined): VersionLock | undefined {
  if (stored === undefined) return undefined
  return orNone({ ...(stored.mode === undefined || stored.until === undefined ? {} : { retention: { mode: stored.mode, until: new Date(stored.until) } }), ...(stored.legalHold === undefined ? {} : { legalHold: stored.legalHold }) })
}

/** A change to one version's lock: its retention (undefined: lifted) or its legal hold. */
export type LockChange = { retention: Retention | undefined } | { legalHold: boolean }

/** S3's longest default retention: 100 years. */
export const MAX_RETENTION_DAYS = 36_500
const MAX_RETENTION_YEARS = 100

const DAY_MS = 24 * 60 * 60 * 1000

/** The refusal S3 answers for a protected version (DeleteObject by id, and each such key of DeleteObjects). */
export function lockedError (): S3Error {
  return new S3Error('AccessDenied', 'Access Denied because object protected by object lock.')
}

/**
 * What S3 answers for object lock asked of a bucket without it: a write's
 * lock headers (`write`: S3 spells it "ObjectLockConfiguration" there) or a
 * retention or legal hold (its own operations: "Object Lock Configuration").
 */
export function missingLockError (asked: 'write' | 'version'): S3Error {
  return new S3Error('InvalidRequest', asked === 'write' ? 'Bucket is missing ObjectLockConfiguration' : 'Bucket is missing Object Lock Configuration')
}

/** Checks a default retention as PutObjectLockConfiguration does: one period, positive, at most 100 years. */
export function checkDefaultRetention (rule: DefaultRetention): void {
  if ((rule.days === undefined) === (rule.years === undefined)) throw new S3Error('MalformedXML', 'A DefaultRetention needs Days or Years, not both.')
  const n = rule.days ?? rule.years!
  if (!Number.isInteger(n) || n <= 0) throw new S3Error('InvalidRetentionPeriod', 'The retention period must be a positive integer value.')
  if ((rule.days !== undefined && n > MAX_RETENTION_DAYS) || (rule.years !== undefined && n > MAX_RETENTION_YEARS)) {
    throw new S3Error('InvalidRetentionPeriod', `The retention period may be at most ${MAX_RETENTION_DAYS} days (${MAX_RETENTION_YEARS} years).`)
  }
}

/** The retention a bucket's default gives a version made at `made`: that many days, or calendar years, later. */
export function defaultUntil (rule: DefaultRetention, made: Date): Retention {
  if (rule.days !== undefined) return { mode: rule.mode, until: new Date(made.getTime() + rule.days * DAY_MS) }
  const until = new Date(made.getTime())
  until.setUTCFullYear(until.getUTCFullYear() + rule.years!)
  return { mode: rule.mode, until }
}

/** Checks a retention a request sets: it must end in the future. */
export function checkRetention (r: Retention, now: Date): void {
  if (Number.isNaN(r.until.getTime())) throw new S3Error('InvalidArgument', 'The retain until date is not an ISO 8601 date with its time zone (such as 2030-01-01T00:00:00Z).', { detail: { ArgumentName: 'RetainUntilDate' } })
  if (r.until.getTime() <= now.getTime()) throw new S3Error('InvalidArgument', 'The retain until date must be in the future!', { detail: { ArgumentName: 'RetainUntilDate' } })
}

/**
 * The lock a new version gets: the one the request asks for, else the
 * bucket's default retention from `made`; a legal hold as asked. Undefined
 * when nothing protects it.
 */
export function lockForWrite (asked: VersionLock | undefined, bucket: BucketObjectLock | undefined, made: Date): VersionLock | undefined {
  if (asked !== undefined && bucket === undefined) throw missingLockError('write')
  const retention = asked?.retention ?? (bucket?.rule === undefined ? undefined : defaultUntil(bucket.rule, made))
  return orNone({ ...(retention === undefined ? {} : { retention }), ...(asked?.legalHold === undefined ? {} : { legalHold: asked.legalHold }) })
}

/** Whether a retention still holds at `now`. */
export function retained (r: Retention | undefined, now: Date): r is Retention {
  return r !== undefined && r.until.getTime() > now.getTime()
}

/**
 * Why a version may not be deleted by id now, if it may not: a legal hold
 * (nothing lifts it but lifting the hold), a COMPLIANCE retention, or a
 * GOVERNANCE one without `bypass` (a caller allowed
 * s3:BypassGovernanceRetention that asked for it). A delete without an id
 * makes a delete marker, which no lock refuses.
 */
export function deleteRefusal (lock: VersionLock | undefined, now: Date, bypass: boolean): S3Error | undefined {
  if (lock === undefined) return undefined
  if (lock.legalHold === true) return lockedError()
  if (!retained(lock.retention, now)) return undefined
  if (lock.retention.mode === 'COMPLIANCE' || !bypass) return lockedError()
  return undefined
}

/**
 * Why a version's retention may not become `next` (undefined: lifted), if
 * it may not. Extending in the same mode is always allowed; COMPLIANCE is
 * never shortened, weakened to GOVERNANCE or lifted before it ends;
 * GOVERNANCE is shortened, lifted or made COMPLIANCE only with `bypass`.
 * Once a retention has ended, anything goes.
 */
export function retentionChangeRefusal (current: Retention | undefined, next: Retention | undefined, now: Date, bypass: boolean): S3Error | undefined {
  if (!retained(current, now)) return undefined
  const longer = next !== undefined && next.until.getTime() >= current.until.getTime()
  if (next !== undefined && next.mode === current.mode && longer) return undefined
  if (current.mode === 'COMPLIANCE') return lockedError()
  return bypass ? undefined : lockedError()
}

/** Refuses turning object lock on in a bucket whose versioning is not Enabled. */
export function checkLockable (versioning: string | undefined): void {
  if (versioning !== 'Enabled') throw new S3Error('InvalidBucketState', 'Versioning must be \'Enabled\' on the bucket to apply a Object Lock configuration')
}

/** Refuses a change of versioning in a bucket with object lock (it stays Enabled). */
export function checkVersioningChange (lock: BucketObjectLock | undefined, status: string): void {
  if (lock !== undefined && status !== 'Enabled') throw new S3Error('InvalidBucketState', 'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.')
}

/**
 * A version's lock after `change`, as a store makes it: refused in a bucket
 * without object lock, and a retention change as retentionChangeRefusal
 * says. Undefined when nothing protects the version any more.
 */
export function changedLock (bucket: BucketObjectLock | undefined, current: VersionLock | undefined, change: LockChange, now: Date, bypass: boolean): VersionLock | undefined {
  if (bucket === undefined) throw missingLockError('version')
  const hold = current?.legalHold === undefined ? {} : { legalHold: current.legalHold }
  if ('retention' in change) {
    const refusal = retentionChangeRefusal(current?.retention, change.retention, now, bypass)
    if (refusal !== undefined) throw refusal
    return orNone({ ...(change.retention === undefined ? {} : { retention: change.retention }), ...hold })
  }
  return orNone({ ...(current?.retention === undefined ? {} : { retention: current.retention }), legalHold: change.legalHold })
}

/**
 * Whether a delete by id may remove a version with `lock` now: throws what
 * S3 answers (deleteRefusal), or, for a delete with a condition (the
 * lifecycle runner's), answers false so the version is kept quietly.
 */
export function mayDeleteLocked (lock: VersionLock | undefined, now: Date, options: { bypassGovernance?: boolean, onlyIf?: unknown } | undefined): boolean {
  const refusal = deleteRefusal(lock, now, options?.bypassGovernance === true)
  if (refusal === undefined) return true
  if (options?.onlyIf !== undefined) return false
  throw refusal
}
