import { CANNED_ACLS, idOf, OWNER_ONLY_ACLS, type CannedAcl } from '../../core/access/access-records.js'
import { isS3Error, S3Error } from '../../core/errors.js'
import type { Context } from '../context.js'
import { NULL_VERSION, tookCurrent, type DeleteResult } from '../../core/versioning.js'
import { deleteVersion, requestedVersion } from '../http/version-id.js'
import { xmlResponse, type XmlElement } from '../xml.js'
import { OWNER } from '../owner.js'
import { CANNED_GRANTS, cannedOfGrants, grantsOfHeaders, grantsOfPolicy, hasGrantHeaders } from '../http/acl-grants.js'

const XSI = 'http://www.w3.org/2001/XMLSchema-instance'

/** A canned ACL as the grants S3 reports for it. */
function acl (canned: CannedAcl): Response {
  const group = (uri: string, permission: string): XmlElement => ({ Grantee: { '@xmlns:xsi': XSI, '@xsi:type': 'Group', URI: uri }, Permission: permission })
  const grants: XmlElement[] = [{ Grantee: { '@xmlns:xsi': XSI, '@xsi:type': 'CanonicalUser', ...OWNER }, Permission: 'FULL_CONTROL' }]
  for (const [uri, permission] of CANNED_GRANTS[canned]) grants.push(group(uri, permission))
  return xmlResponse('AccessControlPolicy', { Owner: OWNER, AccessControlList: { Grant: grants } })
}

/** The ACL a request sets, if any: its x-amz-acl, or the canned ACL its x-amz-grant-* headers are. */
export function requestedAcl (ctx: Context): CannedAcl | undefined {
  const v = ctx.headers.get('x-amz-acl')
  if (hasGrantHeaders(ctx.headers)) {
    if (v !== null) throw new S3Error('InvalidRequest', 'Specifying both Canned ACLs and Header Grants is not allowed.')
    const canned = cannedOfGrants(grantsOfHeaders(ctx.headers))
    // The owner's grants alone are private, as bucket-owner-full-control is: a write a read-only copy passes on takes them too.
    if (canned !== 'private') refuseReadOnly(ctx)
    return canned
  }
  if (v === null) return undefined
  // The owner's rights alone, as a write without an ACL has: nothing to keep, so a read-only copy passes the write on.
  if (v === 'private' || (OWNER_ONLY_ACLS as readonly string[]).includes(v)) return 'private'
  refuseReadOnly(ctx)
  if (!(CANNED_ACLS as readonly string[]).includes(v)) throw new S3Error('InvalidArgument', `x-amz-acl "${v}" is not one s3mesh supports: ${[...CANNED_ACLS, ...OWNER_ONLY_ACLS].join(', ')}.`, { detail: { ArgumentName: 'x-amz-acl', ArgumentValue: v } })
  return v as CannedAcl
}

/** Refuses to set an ACL where this endpoint's copy of the access state is read-only (an edge worker's). */
function refuseReadOnly (ctx: Context): void {
  if (ctx.auth.access?.state.readOnly === true) throw new S3Error('NotImplemented', 'ACLs are set through a mesh node: this endpoint\'s copy of the access state is read-only.')
}

/**
 * Records the canned ACL an object write asked for; a write without one
 * resets the key to private, as S3 does (a new object does not inherit the
 * ACL of the one it replaces).
 */
export async function applyObjectAcl (ctx: Context, bucket: string, key: string, canned: CannedAcl | undefined): Promise<void> {
  const access = ctx.auth.access
  // A read-only copy (an edge worker's) leaves it to the node that stores the write, which resets it there.
  if (access === undefined || access.state.readOnly) return
  if (canned !== undefined && canned !== 'private') await access.state.commit([{ kind: 'object-acl', bucket, key, acl: canned }])
  else await access.forgetObjectAcl(bucket, key)
}

/**
 * Deletes a key's version (its current object without `versionId`) as
 * DeleteObject does, and the key's object ACL with it unless the version it
 * was set on surely stays: s3mesh keeps one ACL per key, of the version
 * current when it was set, where S3 keeps one per version. It stays when a
 * delete marker is put over that version, when a delete marker is deleted,
 * and when another version is deleted by id while that one is current, so
 * removing a marker brings the object back as it was. Where the key's
 * current version cannot be told, the ACL goes (private, not public by
 * mistake).
 */
export async function deleteKeepingAcl (ctx: Context, key: string, versionId: string | undefined, ifMatch?: string): Promise<DeleteResult> {
  const access = ctx.auth.access
  const acl = access === undefined || access.state.readOnly ? undefined : access.state.get(idOf('object-acl', ctx.bucket, key))
  // Most keys have no ACL: their deletes cost no look first.
  if (acl === undefined) return await deleteVersion(ctx, key, versionId, ifMatch)
  // The current version's id (`null` in a bucket never versioned); undefined when there is none (a delete marker) or it cannot be told.
  const current = await ctx.store.headObject(ctx.bucket, key, { signal: ctx.signal }).then(info => info.versionId ?? NULL_VERSION, () => undefined)
  const result = await deleteVersion(ctx, key, versionId, ifMatch)
  const stays = versionId === undefined
    // A marker over the current version keeps it, unless the marker took its place.
    ? !tookCurrent(result, current)
    // A marker deleted by id took no object with it; another version deleted while the ACL's is current leaves that one.
    : result.deleteMarker === true || (current !== undefined && versionId !== current)
  if (!stays) await applyObjectAcl(ctx, ctx.bucket, key, undefined)
  return result
}

export async function getBucketAcl (ctx: Context): Promise<Response> {
  await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
  return acl(ctx.auth.access?.cannedAcl(ctx.bucket) ?? 'private')
}

export async function getObjectAcl (ctx: Context): Promise<Response> {
  await ctx.store.headObject(ctx.bucket, ctx.key, await requestedVersion(ctx))
  return acl(ctx.auth.access?.cannedAcl(ctx.bucket, ctx.key) ?? 'private')
}

/** The ACL a PUT ?acl sets: from x-amz-acl or x-amz-grant-* headers, or from the grants of its AccessControlPolicy body (s3cmd setacl). */
async function cannedFromRequest (ctx: Context): Promise<CannedAcl> {
  // Changing an ACL, even to private, is the access state's: a read-only copy would answer it and change nothing.
  refuseReadOnly(ctx)
  const fromHeaders = requestedAcl(ctx)
  const body = await ctx.optionalXml('AccessControlPolicy')
  if (fromHeaders !== undefined && body !== undefined) throw new S3Error('UnexpectedContent', 'This request takes its ACL from its headers or from its body, not both.')
  const canned = fromHeaders ?? (body === undefined ? undefined : cannedOfGrants(grantsOfPolicy(body)))
  if (canned === undefined) throw new S3Error('MalformedACLError', 'Send x-amz-acl with one of private, public-read, public-read-write, authenticated-read, or an AccessControlPolicy.')
  if (ctx.auth.access === undefined) throw new S3Error('NotImplemented', 'This endpoint keeps no ACLs.')
  return canned
}

export async function putBucketAcl (ctx: Context): Promise<Response> {
  const canned = await cannedFromRequest(ctx)
  await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
  const id = idOf('bucket-acl', ctx.bucket)
  if (canned !== 'private') await ctx.auth.access!.state.commit([{ kind: 'bucket-acl', bucket: ctx.bucket, acl: canned }])
  else await ctx.auth.access!.state.commit([], [id])
  return new Response(null, { status: 200 })
}

export async function putObjectAcl (ctx: Context): Promise<Response> {
  const canned = await cannedFromRequest(ctx)
  const named = await requestedVersion(ctx)
  const version = await ctx.store.headObject(ctx.bucket, ctx.key, named)
  // An ACL is kept per key, for its current version: one asked for an older version would open (or close) the current one,
  // which the caller's rights on the older one (its tags) did not decide.
  if (named.versionId !== undefined) {
    // A delete marker current: no current version (anything else, a node unreachable, fails the request as it is).
    const current = await ctx.store.headObject(ctx.bucket, ctx.key, { signal: ctx.signal }).catch((err: unknown) => { if (isS3Error(err, 'NoSuchKey')) return undefined; throw err })
    if (current?.versionId !== version.versionId) throw new S3Error('NotImplemented', 'An ACL is kept per key, for its current version: set it without versionId (or with the current version\'s id).')
  }
  await applyObjectAcl(ctx, ctx.bucket, ctx.key, canned)
  return new Response(null, { status: 200 })
}
