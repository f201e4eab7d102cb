/**
 * A bucket's lifecycle rules (S3's LifecycleConfiguration) and what they
 * decide for an object or an upload. Platform-neutral: the S3 shim parses
 * and answers the configuration, stores keep it with the bucket, and
 * `lifecycle-runner.ts` acts on it.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-rules.html
 */

/** Which objects a rule applies to: all of these that are given (S3's Filter, And included). */
export interface LifecycleFilter {
  prefix?: string
  /** Every one of these tags, with these values. */
  tags?: Record<string, string>
  /** Only objects larger than this many bytes. */
  sizeGreaterThan?: number
  /** Only objects smaller than this many bytes. */
  sizeLessThan?: number
}

export interface LifecycleRule {
  /** At most 255 characters; unique in the configuration. */
  id?: string
  enabled: boolean
  filter: LifecycleFilter
  /** Current versions expire `days` after they were written (at the next midnight UTC), or on `date` (an ISO date at midnight UTC). */
  expiration?: { days?: number, date?: string, expiredObjectDeleteMarker?: boolean }
  /** Noncurrent versions in a versioned bucket: deleted NoncurrentDays after they became noncurrent, the newest NewerNoncurrentVersions kept (in a store that keeps versions; see noncurrentExpires). */
  noncurrentVersionExpiration?: { noncurrentDays: number, newerNoncurrentVersions?: number }
  /** Multipart uploads not completed `days` after they began (at the next midnight UTC) are aborted. */
  abortIncompleteMultipartUpload?: { daysAfterInitiation: number }
}

const DAY_MS = 24 * 60 * 60 * 1000

/** `days` after `from`, rounded up to the next midnight UTC, as S3 counts lifecycle days. */
export function afterDays (from: Date, days: number): Date {
  const t = from.getTime() + days * DAY_MS
  return new Date(Math.ceil(t / DAY_MS) * DAY_MS)
}

/** What a filter needs to know of an object; `tags` only when the filter names some. */
export interface LifecycleSubject {
  key: string
  size: number
  lastModified: Date
  tags?: Record<string, string>
}

export function matches (filter: LifecycleFilter, o: LifecycleSubject): boolean {
  if (filter.prefix !== undefined && !o.key.startsWith(filter.prefix)) return false
  if (filter.sizeGreaterThan !== undefined && !(o.size > filter.sizeGreaterThan)) return false
  if (filter.sizeLessThan !== undefined && !(o.size < filter.sizeLessThan)) return false
  if (filter.tags !== undefined) {
    for (const [k, v] of Object.entries(filter.tags)) if (o.tags?.[k] !== v) return false
  }
  return true
}

/** When an object expires and by which rule: the earliest of the enabled expiration rules that match it (S3's x-amz-expiration). */
export function expiryOf (rules: readonly LifecycleRule[] | undefined, o: LifecycleSubject): { date: Date, ruleId: string } | undefined {
  let best: { date: Date, ruleId: string } | undefined
  for (const r of rules ?? []) {
    const e = r.expiration
    if (!r.enabled || e === undefined || (e.days === undefined && e.date === undefined) || !matches(r.filter, o)) continue
    const date = e.days !== undefined ? afterDays(o.lastModified, e.days) : new Date(e.date!)
    if (best === undefined || date < best.date) best = { date, ruleId: r.id ?? '' }
  }
  return best
}

/**
 * Whether the rules expire a noncurrent version (NoncurrentVersionExpiration):
 * `since` is when it became noncurrent (its successor was made), `newer` how
 * many noncurrent versions of its key are newer than it (a rule keeps
 * NewerNoncurrentVersions of them). A delete marker is matched as an
 * object of no bytes and no tags.
 */
export function noncurrentExpires (rules: readonly LifecycleRule[] | undefined, o: LifecycleSubject & { marker?: boolean }, since: Date, newer: number, now: number): boolean {
  for (const r of rules ?? []) {
    const n = r.noncurrentVersionExpiration
    // A marker has no size or tags: a filter on tags never matches one.
    if (!r.enabled || n === undefined || !matches(r.filter, o.marker === true ? { key: o.key, size: 0, lastModified: o.lastModified } : o)) continue
    if (n.newerNoncurrentVersions !== undefined && newer < n.newerNoncurrentVersions) continue
    if (afterDays(since, n.noncurrentDays).getTime() <= now) return true
  }
  return false
}

/**
 * Whether the rules remove a delete marker that is the only version of its
 * key left (an expired object delete marker): ExpiredObjectDeleteMarker says
 * so, and so does an Expiration by Days or Date once the marker is past it,
 * as S3 does in a versioned bucket.
 */
export function expiredMarkerGoes (rules: readonly LifecycleRule[] | undefined, marker: { key: string, lastModified: Date }, now: number): boolean {
  const subject = { key: marker.key, size: 0, lastModified: marker.lastModified }
  for (const r of rules ?? []) {
    const e = r.expiration
    if (!r.enabled || e === undefined || !matches(r.filter, subject)) continue
    if (e.expiredObjectDeleteMarker === true) return true
    const at = e.days !== undefined ? afterDays(marker.lastModified, e.days) : e.date !== undefined ? new Date(e.date) : undefined
    if (at !== undefined && at.getTime() <= now) return true
  }
  return false
}

/** When an upload begun at `initiated` under `key` is aborted by the rules; undefined: never. */
export function uploadExpiryOf (rules: readonly LifecycleRule[] | undefined, key: string, initiated: Date): Date | undefined {
  let best: Date | undefined
  for (const r of rules ?? []) {
    const a = r.abortIncompleteMultipartUpload
    if (!r.enabled || a === undefined || (r.filter.prefix !== undefined && !key.startsWith(r.filter.prefix))) continue
    const date = afterDays(initiated, a.daysAfterInitiation)
    if (best === undefined || date < best) best = date
  }
  return best
}
