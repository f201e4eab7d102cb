/**
 * What an S3 request asks permission for, in IAM's terms: each operation's
 * action(s) on its resource ARN(s), with the condition keys S3 defines for it
 * (s3:prefix, s3:delimiter, s3:max-keys on a listing; s3:RequestObjectTag/<k>
 * on a write with tags) and the global ones every request has (aws:SourceIp,
 * aws:SecureTransport, aws:CurrentTime, aws:Referer, aws:UserAgent). What
 * evaluate() (src/core/access) decides on.
 */
import { existingTags, type Permission } from '../../core/access/access-control.js'
import type { ContextValues } from '../../core/access/policy-match.js'
import type { Route } from '../router.js'
import { splitCopySource } from '../copy-source.js'
import { taggingPairs } from '../http/metadata.js'
import { GRANT_HEADERS, hasGrantHeaders } from '../http/acl-grants.js'
import { BYPASS_GOVERNANCE_HEADER } from '../../core/object-lock.js'

export type { Permission }

/** The connection the request came on (the adapter knows it; the Request does not). */
export interface ClientInfo {
  /** The client's IP address. */
  sourceIp?: string
  /** Whether the request came over TLS. */
  secure: boolean
  /** When the request arrived, ms since the epoch. */
  now: number
  /** How the request was signed, once its signature verified (s3:authType, s3:signatureversion); none when unsigned. */
  signature?: { authType: 'REST-HEADER' | 'REST-QUERY-STRING', version: 'AWS' | 'AWS4-HMAC-SHA256' }
}

/** An S3 resource's ARN: a bucket's, or an object's. */
export const arn = (bucket: string, key?: string): string => key === undefined ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${key}`

/** Each operation's action, and whether it is on the bucket or the object. */
const ACTIONS: Partial<Record<Route['operation'], [string, 'bucket' | 'object' | 'all']>> = {
  ListBuckets: ['s3:ListAllMyBuckets', 'all'],
  CreateBucket: ['s3:CreateBucket', 'bucket'],
  HeadBucket: ['s3:ListBucket', 'bucket'],
  DeleteBucket: ['s3:DeleteBucket', 'bucket'],
  GetBucketLocation: ['s3:GetBucketLocation', 'bucket'],
  GetBucketCors: ['s3:GetBucketCORS', 'bucket'],
  PutBucketCors: ['s3:PutBucketCORS', 'bucket'],
  DeleteBucketCors: ['s3:PutBucketCORS', 'bucket'],
  GetBucketLifecycleConfiguration: ['s3:GetLifecycleConfiguration', 'bucket'],
  PutBucketLifecycleConfiguration: ['s3:PutLifecycleConfiguration', 'bucket'],
  DeleteBucketLifecycle: ['s3:PutLifecycleConfiguration', 'bucket'],
  GetBucketVersioning: ['s3:GetBucketVersioning', 'bucket'],
  PutBucketVersioning: ['s3:PutBucketVersioning', 'bucket'],
  ListObjectVersions: ['s3:ListBucketVersions', 'bucket'],
  GetBucketAcl: ['s3:GetBucketAcl', 'bucket'],
  ListObjects: ['s3:ListBucket', 'bucket'],
  ListObjectsV2: ['s3:ListBucket', 'bucket'],
  ListMultipartUploads: ['s3:ListBucketMultipartUploads', 'bucket'],
  PutObject: ['s3:PutObject', 'object'],
  PostObject: ['s3:PutObject', 'object'],
  GetObject: ['s3:GetObject', 'object'],
  HeadObject: ['s3:GetObject', 'object'],
  DeleteObject: ['s3:DeleteObject', 'object'],
  CopyObject: ['s3:PutObject', 'object'],
  GetObjectAcl: ['s3:GetObjectAcl', 'object'],
  GetObjectTagging: ['s3:GetObjectTagging', 'object'],
  GetObjectAttributes: ['s3:GetObjectAttributes', 'object'],
  PutObjectTagging: ['s3:PutObjectTagging', 'object'],
  DeleteObjectTagging: ['s3:DeleteObjectTagging', 'object'],
  CreateMultipartUpload: ['s3:PutObject', 'object'],
  UploadPart: ['s3:PutObject', 'object'],
  UploadPartCopy: ['s3:PutObject', 'object'],
  CompleteMultipartUpload: ['s3:PutObject', 'object'],
  AbortMultipartUpload: ['s3:AbortMultipartUpload', 'object'],
  ListParts: ['s3:ListMultipartUploadParts', 'object'],
  GetBucketPolicy: ['s3:GetBucketPolicy', 'bucket'],
  PutBucketPolicy: ['s3:PutBucketPolicy', 'bucket'],
  DeleteBucketPolicy: ['s3:DeleteBucketPolicy', 'bucket'],
  GetBucketPolicyStatus: ['s3:GetBucketPolicyStatus', 'bucket'],
  PutBucketAcl: ['s3:PutBucketAcl', 'bucket'],
  PutObjectAcl: ['s3:PutObjectAcl', 'object'],
  GetObjectLockConfiguration: ['s3:GetBucketObjectLockConfiguration', 'bucket'],
  PutObjectLockConfiguration: ['s3:PutBucketObjectLockConfiguration', 'bucket'],
  GetObjectRetention: ['s3:GetObjectRetention', 'object'],
  PutObjectRetention: ['s3:PutObjectRetention', 'object'],
  GetObjectLegalHold: ['s3:GetObjectLegalHold', 'object'],
  PutObjectLegalHold: ['s3:PutObjectLegalHold', 'object'],
  GetBucketEncryption: ['s3:GetEncryptionConfiguration', 'bucket'],
  GetBucketTagging: ['s3:GetBucketTagging', 'bucket'],
  GetBucketWebsite: ['s3:GetBucketWebsite', 'bucket'],
  GetBucketReplication: ['s3:GetReplicationConfiguration', 'bucket'],
  GetPublicAccessBlock: ['s3:GetBucketPublicAccessBlock', 'bucket'],
  GetBucketOwnershipControls: ['s3:GetBucketOwnershipControls', 'bucket'],
  GetBucketRequestPayment: ['s3:GetBucketRequestPayment', 'bucket'],
  GetBucketLogging: ['s3:GetBucketLogging', 'bucket'],
  GetBucketAccelerateConfiguration: ['s3:GetAccelerateConfiguration', 'bucket'],
  GetBucketNotificationConfiguration: ['s3:GetBucketNotification', 'bucket'],
}

/** What a request that names a version (`?versionId=`) needs in place of its operation's action: AWS's *Version actions. */
const VERSION_ACTIONS: Partial<Record<string, string>> = {
  GetObject: 's3:GetObjectVersion',
  HeadObject: 's3:GetObjectVersion',
  DeleteObject: 's3:DeleteObjectVersion',
  GetObjectAcl: 's3:GetObjectVersionAcl',
  PutObjectAcl: 's3:PutObjectVersionAcl',
  GetObjectTagging: 's3:GetObjectVersionTagging',
  PutObjectTagging: 's3:PutObjectVersionTagging',
  DeleteObjectTagging: 's3:DeleteObjectVersionTagging',
  GetObjectAttributes: 's3:GetObjectVersionAttributes',
}

/** Whether a request asks to pass a GOVERNANCE retention (it then needs s3:BypassGovernanceRetention too). */
export function asksBypass (headers: Headers): boolean {
  return headers.get(BYPASS_GOVERNANCE_HEADER)?.trim().toLowerCase() === 'true'
}

/** s3:authType and s3:signatureversion, of the signature that verified. */
function signatureKeys (client: ClientInfo): ContextValues {
  return client.signature === undefined ? {} : { 's3:authType': client.signature.authType, 's3:signatureversion': client.signature.version }
}

/**
 * The S3 condition keys a request's headers and signature give (s3:x-amz-acl,
 * s3:authType, ...). How it was signed is the verified signature's, never
 * what its query names: an anonymous request with `X-Amz-Signature=x` in it
 * is no signed one.
 */
function s3Keys (route: Route, headers: Headers): ContextValues {
  return {
    // A form upload's signature is over its policy (post-object.ts passes the form's fields as headers).
    ...(route.operation === 'PostObject' ? { 's3:authType': 'POST' } : {}),
    ...(headers.get('x-amz-acl') === null ? {} : { 's3:x-amz-acl': headers.get('x-amz-acl')! }),
    ...Object.fromEntries(GRANT_HEADERS.filter(([name]) => headers.has(name)).map(([name]) => [`s3:${name}`, headers.get(name)!])),
    ...(headers.get('x-amz-copy-source') === null ? {} : { 's3:x-amz-copy-source': headers.get('x-amz-copy-source')! }),
    ...(headers.get('x-amz-metadata-directive') === null ? {} : { 's3:x-amz-metadata-directive': headers.get('x-amz-metadata-directive')! }),
    // Conditional writes and deletes: a policy can require them (Null on s3:if-match, s3:if-none-match).
    ...(headers.get('if-match') === null ? {} : { 's3:if-match': headers.get('if-match')! }),
    ...(headers.get('if-none-match') === null ? {} : { 's3:if-none-match': headers.get('if-none-match')! }),
  }
}

/**
 * The operations on an existing object whose permissions S3 gives
 * `s3:ExistingObjectTag/<key>`: the tags the object (or the version named)
 * has, looked up when a policy in force names one (handler.ts).
 */
export const EXISTING_TAG_OPERATIONS: ReadonlySet<string> = new Set([
  'GetObject', 'HeadObject', 'GetObjectAttributes', 'GetObjectAcl', 'PutObjectAcl', 'GetObjectTagging', 'PutObjectTagging', 'DeleteObjectTagging',
  'GetObjectRetention', 'PutObjectRetention', 'GetObjectLegalHold', 'PutObjectLegalHold',
])

/** Gives the permissions on `resource` the object's tags as `s3:ExistingObjectTag/<key>`. */
export function withExistingTags (permissions: Permission[], resource: string, tags: Record<string, string>): Permission[] {
  const keys = existingTags(tags)
  return permissions.map(p => p.resource === resource ? { ...p, context: { ...p.context, ...keys } } : p)
}

/** The condition keys every request has. */
export function globalContext (headers: Headers, client: ClientInfo): ContextValues {
  return {
    'aws:SecureTransport': String(client.secure),
    'aws:CurrentTime': new Date(client.now).toISOString(),
    'aws:EpochTime': String(Math.floor(client.now / 1000)),
    ...(client.sourceIp === undefined ? {} : { 'aws:SourceIp': client.sourceIp }),
    ...(headers.get('referer') === null ? {} : { 'aws:Referer': headers.get('referer')! }),
    ...(headers.get('user-agent') === null ? {} : { 'aws:UserAgent': headers.get('user-agent')! }),
    // How it was signed: in every check of the request (a listing's, a missing key's, each key of a multi-object delete).
    ...signatureKeys(client),
  }
}

/**
 * The permissions a request needs, all of which must be allowed. DeleteObjects
 * needs s3:DeleteObject per key (s3:DeleteObjectVersion for a key with a
 * VersionId), known only from its body: pass the keys. A request naming a
 * version needs the *Version action (s3:GetObjectVersion, ...), with the
 * `s3:versionid` condition key. A CORS preflight needs none (it is answered
 * from the bucket's CORS rules).
 */
export function permissionsFor (route: Route, headers: Headers, client: ClientInfo, deleteKeys: Array<string | { key: string, versionId?: string, ifMatch?: string }> = [], bodyTags?: Record<string, string>): Permission[] {
  const global = globalContext(headers, client)
  if (route.operation === 'Preflight') return []
  if (route.operation === 'DeleteObjects') {
    return deleteKeys.flatMap(k => {
      const key = typeof k === 'string' ? k : k.key
      const versionId = typeof k === 'string' ? undefined : k.versionId
      const ifMatch = typeof k === 'string' ? undefined : k.ifMatch
      const context = ifMatch === undefined ? global : { ...global, 's3:if-match': ifMatch }
      const perms: Permission[] = [versionId === undefined
        ? { action: 's3:DeleteObject', resource: arn(route.bucket, key), context }
        : { action: 's3:DeleteObjectVersion', resource: arn(route.bucket, key), context: { ...context, 's3:versionid': versionId } }]
      if (namesEtag(ifMatch)) perms.push({ action: 's3:GetObject', resource: arn(route.bucket, key), context })
      if (versionId !== undefined && asksBypass(headers)) perms.push({ action: 's3:BypassGovernanceRetention', resource: arn(route.bucket, key), context: global })
      return perms
    })
  }
  const entry = ACTIONS[route.operation]
  if (entry === undefined) throw new Error(`No IAM action is mapped for ${route.operation}.`)
  const versionId = route.query.get('versionId')
  const [action, on] = versionId === undefined ? entry : [VERSION_ACTIONS[route.operation] ?? entry[0], entry[1]]
  const resource = on === 'all' ? 'arn:aws:s3:::*' : on === 'bucket' ? arn(route.bucket) : arn(route.bucket, route.key)
  const context: ContextValues = { ...global, ...s3Keys(route, headers), ...(versionId === undefined || VERSION_ACTIONS[route.operation] === undefined ? {} : { 's3:versionid': versionId }) }
  if (route.operation === 'ListObjects' || route.operation === 'ListObjectsV2' || route.operation === 'ListObjectVersions') {
    for (const [param, key] of [['prefix', 's3:prefix'], ['delimiter', 's3:delimiter'], ['max-keys', 's3:max-keys']] as const) {
      const v = route.query.get(param)
      if (v !== undefined) context[key] = v
    }
  }
  // A write that makes an object: the tags and the ACL it may set with it.
  const makesObject = route.operation === 'PutObject' || route.operation === 'PostObject' || route.operation === 'CopyObject' || route.operation === 'CreateMultipartUpload'
  // The tags it sets: a copy sets the header's only when it replaces the source's (x-amz-tagging-directive REPLACE); else
  // it keeps the source's, and the header, ignored, tells a policy nothing (it could otherwise pass a condition on tags
  // the copy does not get).
  const setsTags = makesObject && (route.operation !== 'CopyObject' || headers.get('x-amz-tagging-directive')?.toUpperCase() === 'REPLACE')
  // PutObjectTagging sets its body's tags (the handler reads them before the check).
  const tagging = setsTags ? taggingPairs(headers) : route.operation === 'PutObjectTagging' && bodyTags !== undefined ? Object.entries(bodyTags) : undefined
  if (tagging !== undefined) {
    for (const [k, v] of tagging) context[`s3:RequestObjectTag/${k}`] = v
    context['s3:RequestObjectTagKeys'] = tagging.map(([k]) => k)
  }
  const permissions: Permission[] = [{ action, resource, context }]
  // Tags set with the write need the tagging permission too (AWS's rule, and MinIO's): s3:PutObject alone sets none.
  if (makesObject && tagging !== undefined && tagging.length > 0) permissions.push({ action: 's3:PutObjectTagging', resource, context })
  // GetObjectAttributes tells an object's ETag, size and checksums: AWS asks for the read permission as well.
  if (route.operation === 'GetObjectAttributes') permissions.push(versionId === undefined ? { action: 's3:GetObject', resource, context } : { action: 's3:GetObjectVersion', resource, context })
  // Setting an ACL while writing (x-amz-acl, or grants) needs the ACL permission too (AWS's rule): PutObject alone cannot make an object public.
  if (headers.get('x-amz-acl') !== null || hasGrantHeaders(headers)) {
    if (route.operation === 'CreateBucket') permissions.push({ action: 's3:PutBucketAcl', resource, context })
    if (makesObject) permissions.push({ action: 's3:PutObjectAcl', resource, context })
  }
  // Object lock: a bucket made with it needs its configuration's and versioning's permissions; a write that locks the
  // new version, the retention's or legal hold's; passing a GOVERNANCE retention, s3:BypassGovernanceRetention.
  const writes = route.operation === 'PutObject' || route.operation === 'CopyObject' || route.operation === 'CreateMultipartUpload'
  if (route.operation === 'CreateBucket' && headers.get('x-amz-bucket-object-lock-enabled')?.trim().toLowerCase() === 'true') {
    permissions.push({ action: 's3:PutBucketObjectLockConfiguration', resource, context }, { action: 's3:PutBucketVersioning', resource, context })
  }
  if (writes && (headers.has('x-amz-object-lock-mode') || headers.has('x-amz-object-lock-retain-until-date'))) permissions.push({ action: 's3:PutObjectRetention', resource, context })
  if (writes && headers.has('x-amz-object-lock-legal-hold')) permissions.push({ action: 's3:PutObjectLegalHold', resource, context })
  // (A delete without a version id makes a marker, which no lock refuses: the header asks nothing there.)
  const byId = route.operation === 'PutObjectRetention' || (route.operation === 'DeleteObject' && versionId !== undefined)
  if (byId && asksBypass(headers)) permissions.push({ action: 's3:BypassGovernanceRetention', resource, context })
  if (route.operation === 'DeleteObject' && namesEtag(headers.get('if-match'))) permissions.push({ action: 's3:GetObject', resource, context })
  // A copy reads its source: the caller needs GetObject there too (GetObjectVersion for a version named).
  const source = copySourceOf(route, headers)
  if (source !== undefined) {
    permissions.push(source.versionId === undefined
      ? { action: 's3:GetObject', resource: arn(source.bucket, source.key), context: global }
      : { action: 's3:GetObjectVersion', resource: arn(source.bucket, source.key), context: { ...global, 's3:versionid': source.versionId } })
  }
  return permissions
}

/** The object a copy (CopyObject, UploadPartCopy) reads, as its x-amz-copy-source names it; undefined for another request. */
export function copySourceOf (route: Route, headers: Headers): { bucket: string, key: string, versionId?: string } | undefined {
  if (route.operation !== 'CopyObject' && route.operation !== 'UploadPartCopy') return undefined
  const { path, versionId } = splitCopySource(headers.get('x-amz-copy-source') ?? '')
  const slash = path.indexOf('/')
  if (slash <= 0) return undefined
  return { bucket: path.slice(0, slash), key: path.slice(slash + 1), ...(versionId === undefined ? {} : { versionId }) }
}

/** Whether a condition on an ETag (not `*`) is asked: it tells whether the object changed, so S3 asks for s3:GetObject too. */
function namesEtag (ifMatch: string | null | undefined): boolean {
  return ifMatch !== null && ifMatch !== undefined && ifMatch.trim() !== '*'
}
