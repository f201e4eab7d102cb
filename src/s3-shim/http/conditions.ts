import { S3Error } from '../../core/errors.js'
import { bareEtag } from '../../core/multipart.js'
import type { ObjectInfo, WriteCondition } from '../../core/object-store.js'
import { httpDate, quoteEtag } from '../respond.js'

function etagMatches (list: string, etag: string): boolean {
  return list.split(',').some(t => {
    const s = t.trim()
    return s === '*' || bareEtag(s.replace(/^W\//, '')) === etag
  })
}

/** HTTP dates have whole seconds; Last-Modified is compared at that resolution. */
function seconds (d: Date): number {
  return Math.floor(d.getTime() / 1000)
}

function parseDate (s: string | null): number | undefined {
  if (s === null) return undefined
  const t = Date.parse(s)
  return Number.isNaN(t) ? undefined : Math.floor(t / 1000)
}

/** Whether an answer's Last-Modified (HTTP dates count whole seconds) is `date`'s: a cache's check that a 304 vouches for what it holds. */
export function sameSecond (lastModified: string | null, date: Date): boolean {
  return parseDate(lastModified) === seconds(date)
}

export interface ConditionHeaders {
  ifMatch: string | null
  ifNoneMatch: string | null
  ifModifiedSince: string | null
  ifUnmodifiedSince: string | null
}

export function readConditions (headers: Headers, prefix = 'if-'): ConditionHeaders {
  return {
    ifMatch: headers.get(`${prefix}match`),
    ifNoneMatch: headers.get(`${prefix}none-match`),
    ifModifiedSince: headers.get(`${prefix}modified-since`),
    ifUnmodifiedSince: headers.get(`${prefix}unmodified-since`),
  }
}

/**
 * Evaluates conditional headers in RFC 9110 order, with S3's pairing rules: a
 * passing If-Match overrides a failing If-Unmodified-Since, and a failing
 * If-None-Match overrides a passing If-Modified-Since. `notModified` is the
 * error for a matched If-None-Match: 304 on GET/HEAD, 412 for copy sources.
 */
export function checkConditions (c: ConditionHeaders, info: ObjectInfo, notModified: 'NotModified' | 'PreconditionFailed' = 'NotModified'): void {
  // A 304 names the version it vouches for too: a cache that holds another version with the same ETag (a restore) asks again.
  const headers = { etag: quoteEtag(info.etag), 'last-modified': httpDate(info.lastModified), ...(info.versionId === undefined ? {} : { 'x-amz-version-id': info.versionId }) }
  const modified = seconds(info.lastModified)
  if (c.ifMatch !== null) {
    if (!etagMatches(c.ifMatch, info.etag)) throw new S3Error('PreconditionFailed', undefined, { detail: { Condition: 'If-Match' } })
  } else {
    const t = parseDate(c.ifUnmodifiedSince)
    if (t !== undefined && modified > t) throw new S3Error('PreconditionFailed', undefined, { detail: { Condition: 'If-Unmodified-Since' } })
  }
  if (c.ifNoneMatch !== null) {
    if (etagMatches(c.ifNoneMatch, info.etag)) throw new S3Error(notModified, undefined, notModified === 'NotModified' ? { headers } : { detail: { Condition: 'If-None-Match' } })
  } else {
    const t = parseDate(c.ifModifiedSince)
    if (t !== undefined && modified <= t) throw new S3Error(notModified, undefined, notModified === 'NotModified' ? { headers } : { detail: { Condition: 'If-Modified-Since' } })
  }
}

/**
 * The condition a PUT or CompleteMultipartUpload sends (S3's conditional
 * writes): `If-None-Match: *` or `If-Match: <etag>`; the store checks it as
 * the write commits.
 */
export function writeCondition (headers: Headers): WriteCondition | undefined {
  const none = headers.get('if-none-match')?.trim()
  const match = headers.get('if-match')?.trim()
  if (none === undefined && match === undefined) return undefined
  if (none !== undefined && none !== '*') throw new S3Error('NotImplemented', 'If-None-Match on a write takes only "*" (no object may have the key).', { detail: { Header: 'If-None-Match' } })
  if (match !== undefined && (match === '' || match.includes(','))) throw new S3Error('InvalidArgument', 'If-Match on a write takes one ETag.', { detail: { ArgumentName: 'If-Match', ArgumentValue: match } })
  return { ...(none === undefined ? {} : { ifNoneMatch: '*' as const }), ...(match === undefined ? {} : { ifMatch: bareEtag(match) }) }
}

/** The write condition as store options: nothing when there is none. */
export function conditionOf (headers: Headers): { condition?: WriteCondition } {
  const condition = writeCondition(headers)
  return condition === undefined ? {} : { condition }
}
