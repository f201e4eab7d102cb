/**
 * The S3 calls the console makes, over a Session: XML in and out, errors
 * thrown in plain words (s3-errors.ts).
 */
import { objectPath } from '../src/core/names.js'
import { BYPASS_GOVERNANCE_HEADER } from '../src/core/object-lock.js'
import { explain } from './s3-errors.js'
import type { Session } from './session.js'

/** A failed S3 call, its message already in plain words. */
export class ConsoleError extends Error {
  override name = 'ConsoleError'
  /** S3's error code, when the node gave one (MalformedPolicy, AccessDenied, ...). */
  constructor (message: string, readonly status: number, readonly code?: string) { super(message) }
}

async function ok (res: Response): Promise<Response> {
  if (res.ok) return res
  const body = await res.text()
  throw new ConsoleError(await explain(new Response(body, { status: res.status })), res.status, /<Code>([^<]*)<\/Code>/.exec(body)?.[1])
}

const xml = async (res: Response): Promise<Document> => new DOMParser().parseFromString(await (await ok(res)).text(), 'application/xml')
const text = (el: Element | null | undefined): string => el?.textContent ?? ''
const escapeXml = (s: string): string => s.replace(/[<>&'"]/g, c => `&#${c.charCodeAt(0)};`)

export interface BucketRow { name: string, created: number }

export async function listBuckets (s: Session): Promise<BucketRow[]> {
  const doc = await xml(await s.s3('/'))
  return [...doc.querySelectorAll('Buckets > Bucket')].map(b => ({ name: text(b.querySelector('Name')), created: Date.parse(text(b.querySelector('CreationDate'))) }))
}

/** Creates a bucket; with `objectLock`, one whose versions object lock can protect (versioning on for good). */
export async function createBucket (s: Session, name: string, options: { objectLock?: boolean } = {}): Promise<void> {
  await ok(await s.s3(objectPath(name), { method: 'PUT', ...(options.objectLock === true ? { headers: { 'x-amz-bucket-object-lock-enabled': 'true' } } : {}) }))
}

export async function deleteBucket (s: Session, name: string): Promise<void> {
  await ok(await s.s3(objectPath(name), { method: 'DELETE' }))
}

export interface ObjectRow { key: string, size: number, modified: number }
export interface Listing { folders: string[], objects: ObjectRow[], truncated: boolean }

/** Stops listing here: a bucket this large is better narrowed by a search than scrolled. */
export const LIST_LIMIT = 10_000

/** Every page of one listing (S3 answers 1000 keys at a time), up to LIST_LIMIT entries; delimited by '/' unless `deep`. */
export async function listObjects (s: Session, bucket: string, prefix: string, options: { deep?: boolean, signal?: AbortSignal } = {}): Promise<Listing> {
  const listed: Listing = { folders: [], objects: [], truncated: false }
  let token: string | undefined
  do {
    const q = new URLSearchParams({ 'list-type': '2', prefix })
    if (options.deep !== true) q.set('delimiter', '/')
    if (token !== undefined) q.set('continuation-token', token)
    const doc = await xml(await s.s3(`${objectPath(bucket)}?${q.toString()}`, options.signal === undefined ? {} : { signal: options.signal }))
    listed.folders.push(...[...doc.querySelectorAll('CommonPrefixes > Prefix')].map(p => text(p)))
    listed.objects.push(...[...doc.querySelectorAll('Contents')].map(c => ({
      key: text(c.querySelector('Key')), size: Number(text(c.querySelector('Size')) || 0), modified: Date.parse(text(c.querySelector('LastModified'))),
    })))
    token = text(doc.querySelector('IsTruncated')) === 'true' ? text(doc.querySelector('NextContinuationToken')) || undefined : undefined
  } while (token !== undefined && listed.folders.length + listed.objects.length < LIST_LIMIT)
  listed.truncated = token !== undefined
  return listed
}

/** Deletes keys with DeleteObjects, 1000 a request; throws listing the keys that could not be deleted. */
export async function deleteKeys (s: Session, bucket: string, keys: string[], signal?: AbortSignal): Promise<void> {
  const failed: string[] = []
  for (let i = 0; i < keys.length; i += 1000) {
    const body = `<Delete><Quiet>true</Quiet>${keys.slice(i, i + 1000).map(k => `<Object><Key>${escapeXml(k)}</Key></Object>`).join('')}</Delete>`
    const doc = await xml(await s.s3(`${objectPath(bucket)}?delete`, { method: 'POST', body, headers: { 'content-type': 'application/xml' }, ...(signal === undefined ? {} : { signal }) }))
    failed.push(...[...doc.querySelectorAll('Error')].map(e => `${text(e.querySelector('Key'))} (${text(e.querySelector('Code'))})`))
  }
  if (failed.length > 0) throw new ConsoleError(`Could not delete ${failed.length} object${failed.length === 1 ? '' : 's'}: ${failed.slice(0, 5).join(', ')}${failed.length > 5 ? '…' : ''}`, 500)
}

export async function deleteObject (s: Session, bucket: string, key: string): Promise<void> {
  await ok(await s.s3(objectPath(bucket, key), { method: 'DELETE' }))
}

/** A zero-byte `name/` object: a folder that shows before anything is in it (as the AWS console makes). */
export async function createFolder (s: Session, bucket: string, prefix: string): Promise<void> {
  await ok(await s.s3(objectPath(bucket, prefix.endsWith('/') ? prefix : `${prefix}/`), { method: 'PUT', body: '' }))
}

/** What protects a version from deletion: a retention until a date, in a mode, and a legal hold. */
export interface VersionLock { mode?: LockMode, until?: number, legalHold?: boolean }
export type LockMode = 'GOVERNANCE' | 'COMPLIANCE'

export interface ObjectHead {
  /** The version shown, in a bucket that keeps versions. */
  versionId?: string
  /** Its object lock, as the HEAD shows it to this user. */
  lock: VersionLock
  size: number
  type: string
  etag: string
  modified: string
  metadata: Record<string, string>
  /** Content-Encoding, Content-Disposition, Cache-Control, Content-Language as stored: a metadata edit keeps them. */
  headers: Record<string, string>
}

/** The stored headers S3 replaces along with the metadata on a copy with REPLACE. */
const KEPT_HEADERS = ['content-encoding', 'content-disposition', 'cache-control', 'content-language']

export async function headObject (s: Session, bucket: string, key: string): Promise<ObjectHead> {
  const res = await s.s3(objectPath(bucket, key), { method: 'HEAD' })
  if (!res.ok) throw new ConsoleError(res.status === 404 ? `${key} no longer exists.` : `HTTP ${res.status}`, res.status)
  const h = res.headers
  const mode = h.get('x-amz-object-lock-mode')
  const until = h.get('x-amz-object-lock-retain-until-date')
  const hold = h.get('x-amz-object-lock-legal-hold')
  const versionId = h.get('x-amz-version-id')
  return {
    ...(versionId === null || versionId === 'null' ? {} : { versionId }),
    lock: {
      ...(mode === 'GOVERNANCE' || mode === 'COMPLIANCE' ? { mode } : {}), ...(until === null ? {} : { until: Date.parse(until) }),
      ...(hold === null ? {} : { legalHold: hold === 'ON' }),
    },
    size: Number(h.get('content-length') ?? 0), type: h.get('content-type') ?? '', etag: h.get('etag') ?? '', modified: h.get('last-modified') ?? '',
    metadata: Object.fromEntries([...h].filter(([k]) => k.startsWith('x-amz-meta-')).map(([k, v]) => [k.slice(11), v])),
    headers: Object.fromEntries(KEPT_HEADERS.flatMap(k => { const v = h.get(k); return v === null ? [] : [[k, v]] })),
  }
}

export async function getTags (s: Session, bucket: string, key: string): Promise<Record<string, string>> {
  const doc = await xml(await s.s3(`${objectPath(bucket, key)}?tagging`))
  return Object.fromEntries([...doc.querySelectorAll('TagSet > Tag')].map(t => [text(t.querySelector('Key')), text(t.querySelector('Value'))]))
}

export async function putTags (s: Session, bucket: string, key: string, tags: Record<string, string>): Promise<void> {
  const body = `<Tagging><TagSet>${Object.entries(tags).map(([k, v]) => `<Tag><Key>${escapeXml(k)}</Key><Value>${escapeXml(v)}</Value></Tag>`).join('')}</TagSet></Tagging>`
  await ok(await s.s3(`${objectPath(bucket, key)}?tagging`, { method: 'PUT', body, headers: { 'content-type': 'application/xml' } }))
}

/** Replaces an object's user metadata (a copy onto itself, as S3 has it), keeping its content type and stored headers. */
export async function putMetadata (s: Session, bucket: string, key: string, head: ObjectHead, metadata: Record<string, string>): Promise<void> {
  const headers: Record<string, string> = {
    ...head.headers,
    'x-amz-copy-source': objectPath(bucket, key).slice(1), 'x-amz-metadata-directive': 'REPLACE', 'content-type': head.type || 'application/octet-stream',
  }
  for (const [k, v] of Object.entries(metadata)) {
    // Metadata travels in HTTP headers: names are tokens, values printable ASCII.
    if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(k)) throw new ConsoleError(`"${k}" cannot be a metadata name: use letters, digits and - _ . only.`, 400)
    if (!/^[\x20-\x7e]*$/.test(v)) throw new ConsoleError(`The value of ${k} must be printable ASCII (metadata travels in HTTP headers).`, 400)
    headers[`x-amz-meta-${k.toLowerCase()}`] = v
  }
  await ok(await s.s3(objectPath(bucket, key), { method: 'PUT', headers }))
}

export async function getCors (s: Session, bucket: string): Promise<string> {
  const res = await s.s3(`${objectPath(bucket)}?cors`)
  if (res.status === 404) return ''
  return await (await ok(res)).text()
}

export async function putCors (s: Session, bucket: string, rulesXml: string): Promise<void> {
  if (rulesXml.trim() === '') { await ok(await s.s3(`${objectPath(bucket)}?cors`, { method: 'DELETE' })); return }
  await ok(await s.s3(`${objectPath(bucket)}?cors`, { method: 'PUT', body: rulesXml, headers: { 'content-type': 'application/xml' } }))
}

/** A bucket's access as the console offers it: private, readable by anyone (the public-read ACL), or its own policy. */
export interface BucketAccess {
  /** The canned ACL the grants amount to. */
  acl: 'private' | 'public-read' | 'public-read-write' | 'authenticated-read'
  /** The bucket policy's JSON, when it has one. */
  policy?: string
}

export async function getBucketAccess (s: Session, bucket: string): Promise<BucketAccess> {
  const [aclRes, policyRes] = await Promise.all([s.s3(`${objectPath(bucket)}?acl`), s.s3(`${objectPath(bucket)}?policy`)])
  const grants = [...(await xml(aclRes)).querySelectorAll('Grant')].map(g => `${text(g.querySelector('URI'))} ${text(g.querySelector('Permission'))}`)
  const all = (p: string): boolean => grants.includes(`http://acs.amazonaws.com/groups/global/AllUsers ${p}`)
  const acl = all('WRITE') ? 'public-read-write' : all('READ') ? 'public-read' : grants.some(g => g.includes('AuthenticatedUsers')) ? 'authenticated-read' : 'private'
  if (policyRes.status === 404) { await policyRes.body?.cancel(); return { acl } }
  return { acl, policy: await (await ok(policyRes)).text() }
}

export async function putBucketAcl (s: Session, bucket: string, acl: BucketAccess['acl']): Promise<void> {
  await ok(await s.s3(`${objectPath(bucket)}?acl`, { method: 'PUT', headers: { 'x-amz-acl': acl } }))
}

/** Sets the bucket's policy; without one, removes it. A refused document throws a ConsoleError whose message names the statement and field. */
export async function putBucketPolicy (s: Session, bucket: string, policy: string | undefined): Promise<void> {
  if (policy === undefined) { await ok(await s.s3(`${objectPath(bucket)}?policy`, { method: 'DELETE' })); return }
  await ok(await s.s3(`${objectPath(bucket)}?policy`, { method: 'PUT', body: policy, headers: { 'content-type': 'application/json' } }))
}

/** Whether anyone, without keys, may read or write in the bucket (its ACL or policy says so); undefined when this person may not ask. */
export async function bucketIsPublic (s: Session, bucket: string): Promise<boolean | undefined> {
  const res = await s.s3(`${objectPath(bucket)}?policyStatus`)
  if (!res.ok) { await res.body?.cancel(); return undefined }
  return text((await xml(res)).querySelector('IsPublic')) === 'true'
}

/** Downloads an object (or one version of it) to the person's disk under `name`. */
export async function download (s: Session, bucket: string, key: string, name: string, versionId?: string): Promise<void> {
  const blob = await (await ok(await s.s3(`${objectPath(bucket, key)}${versionQuery(versionId)}`))).blob()
  const a = document.createElement('a')
  a.href = URL.createObjectURL(blob)
  a.download = name
  a.click()
  setTimeout(() => { URL.revokeObjectURL(a.href) }, 10_000)
}

// ---- versions ----

/** A bucket's versioning: Enabled, Suspended, or undefined while it was never turned on. */
export type Versioning = 'Enabled' | 'Suspended' | undefined

const versionQuery = (versionId: string | undefined): string => versionId === undefined ? '' : `?versionId=${encodeURIComponent(versionId)}`

export async function getVersioning (s: Session, bucket: string): Promise<Versioning> {
  const status = text((await xml(await s.s3(`${objectPath(bucket)}?versioning`))).querySelector('Status'))
  return status === 'Enabled' || status === 'Suspended' ? status : undefined
}

/** Turns versioning on, or suspends it (S3 never turns it off once on). */
export async function putVersioning (s: Session, bucket: string, status: 'Enabled' | 'Suspended'): Promise<void> {
  const body = `<VersioningConfiguration><Status>${status}</Status></VersioningConfiguration>`
  await ok(await s.s3(`${objectPath(bucket)}?versioning`, { method: 'PUT', body, headers: { 'content-type': 'application/xml' } }))
}

/** One version of a key, or a delete marker, as ListObjectVersions lists it. */
export interface VersionRow { key: string, versionId: string, latest: boolean, marker: boolean, size: number, modified: number }

/** A page of ListObjectVersions: its versions and markers in listing order (each key's newest first), and where the next page starts. */
async function versionPage (s: Session, bucket: string, query: Record<string, string>, signal?: AbortSignal): Promise<{ rows: VersionRow[], next?: { 'key-marker': string, 'version-id-marker'?: string } }> {
  const doc = await xml(await s.s3(`${objectPath(bucket)}?versions&${new URLSearchParams(query).toString()}`, signal === undefined ? {} : { signal }))
  const rows = [...doc.documentElement.children].filter(e => e.tagName === 'Version' || e.tagName === 'DeleteMarker').map(e => ({
    key: text(e.querySelector('Key')), versionId: text(e.querySelector('VersionId')), latest: text(e.querySelector('IsLatest')) === 'true',
    marker: e.tagName === 'DeleteMarker', size: Number(text(e.querySelector('Size')) || 0), modified: Date.parse(text(e.querySelector('LastModified'))),
  }))
  if (text(doc.querySelector('IsTruncated')) !== 'true') return { rows }
  const versionIdMarker = text(doc.querySelector('NextVersionIdMarker'))
  return { rows, next: { 'key-marker': text(doc.querySelector('NextKeyMarker')), ...(versionIdMarker === '' ? {} : { 'version-id-marker': versionIdMarker }) } }
}

/** A key's versions shown at most: one this old is better cleaned up by a lifecycle rule than scrolled. */
export const VERSIONS_LIMIT = 1000

/** Every version and delete marker of one key, newest first (up to VERSIONS_LIMIT). */
export async function keyVersions (s: Session, bucket: string, key: string, signal?: AbortSignal): Promise<{ versions: VersionRow[], truncated: boolean }> {
  const versions: VersionRow[] = []
  let cursor: Record<string, string> = {}
  for (;;) {
    const page = await versionPage(s, bucket, { prefix: key, 'max-keys': '1000', ...cursor }, signal)
    // Keys that start with this one (`a.txt.bak` after `a.txt`) come after all of its versions.
    const mine = page.rows.filter(r => r.key === key)
    versions.push(...mine)
    if (page.next === undefined || mine.length < page.rows.length) return { versions, truncated: false }
    if (versions.length >= VERSIONS_LIMIT) return { versions: versions.slice(0, VERSIONS_LIMIT), truncated: true }
    cursor = page.next
  }
}

/** Keys in one folder (`prefix`, delimited by '/') whose current version is a delete marker: deleted, with versions to recover. */
export async function deletedKeys (s: Session, bucket: string, prefix: string, signal?: AbortSignal): Promise<{ rows: VersionRow[], truncated: boolean }> {
  const rows: VersionRow[] = []
  let cursor: Record<string, string> = {}
  // A folder's versions, a page at a time, up to LIST_LIMIT of them (the markers among them are what is shown).
  for (let seen = 0; seen < LIST_LIMIT;) {
    const page = await versionPage(s, bucket, { prefix, delimiter: '/', 'max-keys': '1000', ...cursor }, signal)
    rows.push(...page.rows.filter(r => r.marker && r.latest))
    seen += page.rows.length
    if (page.next === undefined) return { rows, truncated: false }
    cursor = page.next
  }
  return { rows, truncated: true }
}

/** Deletes one version (or delete marker) for good; deleting a key's current marker brings its newest version back. */
export async function deleteVersion (s: Session, bucket: string, key: string, versionId: string): Promise<void> {
  await ok(await s.s3(`${objectPath(bucket, key)}${versionQuery(versionId)}`, { method: 'DELETE' }))
}

/** Makes an old version current again: a copy of it over its key (S3's restore), itself a new version. */
export async function restoreVersion (s: Session, bucket: string, key: string, versionId: string): Promise<void> {
  await ok(await s.s3(objectPath(bucket, key), { method: 'PUT', headers: { 'x-amz-copy-source': `${objectPath(bucket, key).slice(1)}${versionQuery(versionId)}` } }))
}

/** A bucket's object lock: off, or on with the default retention each new version gets (days or years). */
export type ObjectLock = { enabled: false } | { enabled: true, rule?: { mode: LockMode, days?: number, years?: number } }

export async function getObjectLock (s: Session, bucket: string): Promise<ObjectLock> {
  const res = await s.s3(`${objectPath(bucket)}?object-lock`)
  if (res.status === 404 && /ObjectLockConfigurationNotFoundError/.test(await res.clone().text())) return { enabled: false }
  const doc = await xml(res)
  const mode = text(doc.querySelector('DefaultRetention > Mode'))
  const days = text(doc.querySelector('DefaultRetention > Days'))
  const years = text(doc.querySelector('DefaultRetention > Years'))
  if (mode !== 'GOVERNANCE' && mode !== 'COMPLIANCE') return { enabled: true }
  return { enabled: true, rule: { mode, ...(days === '' ? {} : { days: Number(days) }), ...(years === '' ? {} : { years: Number(years) }) } }
}

/** Turns object lock on (for good, as S3 has it), with a default retention or none. */
export async function putObjectLock (s: Session, bucket: string, rule: { mode: LockMode, days?: number, years?: number } | undefined): Promise<void> {
  const period = rule === undefined ? '' : rule.years !== undefined ? `<Years>${rule.years}</Years>` : `<Days>${rule.days ?? 1}</Days>`
  const body = `<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>${rule === undefined ? '' : `<Rule><DefaultRetention><Mode>${rule.mode}</Mode>${period}</DefaultRetention></Rule>`}</ObjectLockConfiguration>`
  await ok(await s.s3(`${objectPath(bucket)}?object-lock`, { method: 'PUT', body, headers: { 'content-type': 'application/xml' } }))
}

/** Sets a version's retention (undefined: lifted), past a GOVERNANCE one with `bypass`. */
export async function putRetention (s: Session, bucket: string, key: string, versionId: string | undefined, retention: { mode: LockMode, until: number } | undefined, bypass: boolean): Promise<void> {
  const body = retention === undefined ? '<Retention/>' : `<Retention><Mode>${retention.mode}</Mode><RetainUntilDate>${new Date(retention.until).toISOString()}</RetainUntilDate></Retention>`
  const headers: Record<string, string> = { 'content-type': 'application/xml', ...(bypass ? { [BYPASS_GOVERNANCE_HEADER]: 'true' } : {}) }
  await ok(await s.s3(`${objectPath(bucket, key)}?retention${versionId === undefined ? '' : `&versionId=${encodeURIComponent(versionId)}`}`, { method: 'PUT', body, headers }))
}

export async function putLegalHold (s: Session, bucket: string, key: string, versionId: string | undefined, on: boolean): Promise<void> {
  const body = `<LegalHold><Status>${on ? 'ON' : 'OFF'}</Status></LegalHold>`
  await ok(await s.s3(`${objectPath(bucket, key)}?legal-hold${versionId === undefined ? '' : `&versionId=${encodeURIComponent(versionId)}`}`, { method: 'PUT', body, headers: { 'content-type': 'application/xml' } }))
}
