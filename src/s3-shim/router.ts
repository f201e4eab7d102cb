import { S3Error } from '../core/errors.js'

/** The S3 operations s3mesh answers, named as in the S3 API reference. */
export type Operation =
  | 'ListBuckets' | 'CreateBucket' | 'HeadBucket' | 'DeleteBucket' | 'GetBucketLocation'
  | 'GetBucketCors' | 'PutBucketCors' | 'DeleteBucketCors' | 'GetBucketVersioning' | 'PutBucketVersioning' | 'GetBucketAcl'
  | 'ListObjects' | 'ListObjectsV2' | 'ListObjectVersions' | 'ListMultipartUploads' | 'DeleteObjects'
  | 'PutObject' | 'PostObject' | 'GetObject' | 'HeadObject' | 'DeleteObject' | 'CopyObject' | 'GetObjectAcl'
  | 'GetObjectTagging' | 'PutObjectTagging' | 'DeleteObjectTagging' | 'GetObjectAttributes'
  | 'CreateMultipartUpload' | 'UploadPart' | 'UploadPartCopy' | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload' | 'ListParts' | 'Preflight'
  | 'GetBucketPolicy' | 'PutBucketPolicy' | 'DeleteBucketPolicy' | 'GetBucketPolicyStatus' | 'PutBucketAcl' | 'PutObjectAcl'
  | 'GetBucketLifecycleConfiguration' | 'PutBucketLifecycleConfiguration' | 'DeleteBucketLifecycle'
  | 'GetObjectLockConfiguration' | 'PutObjectLockConfiguration' | 'GetObjectRetention' | 'PutObjectRetention' | 'GetObjectLegalHold' | 'PutObjectLegalHold'
  | UnsetSettingRead

/**
 * Bucket settings s3mesh cannot set, whose reads answer as S3 does for a
 * bucket without them (ops/bucket-defaults.ts), by sub-resource.
 */
export const UNSET_SETTING_READS = {
  encryption: 'GetBucketEncryption',
  tagging: 'GetBucketTagging',
  website: 'GetBucketWebsite',
  replication: 'GetBucketReplication',
  publicAccessBlock: 'GetPublicAccessBlock',
  ownershipControls: 'GetBucketOwnershipControls',
  requestPayment: 'GetBucketRequestPayment',
  logging: 'GetBucketLogging',
  accelerate: 'GetBucketAccelerateConfiguration',
  notification: 'GetBucketNotificationConfiguration',
} as const

export type UnsetSettingRead = typeof UNSET_SETTING_READS[keyof typeof UNSET_SETTING_READS]

export interface Route {
  operation: Operation
  /** Empty for service-level operations (ListBuckets). */
  bucket: string
  /** Empty for bucket-level operations. */
  key: string
  query: Map<string, string>
  /** True when the bucket came from the Host header (`bucket.domain`) rather than the path. */
  virtualHosted: boolean
}

/** Sub-resources S3 has and s3mesh does not: answered NotImplemented rather than misread as another operation. */
const UNSUPPORTED = ['lifecycle', 'replication', 'website', 'logging', 'notification', 'encryption', 'object-lock',
  'retention', 'legal-hold', 'restore', 'select', 'torrent', 'accelerate', 'requestPayment', 'analytics',
  'inventory', 'metrics', 'intelligent-tiering', 'ownershipControls', 'publicAccessBlock', 'renameObject']

export interface RouterOptions {
  /** A path prefix in front of the S3 namespace, e.g. `/s3` in a service worker. */
  basePath?: string
  /** Host names under which `bucket.<domain>` means virtual-hosted style, e.g. `localhost`. */
  virtualHostDomains?: readonly string[]
}

/**
 * Decodes a raw query string. Unlike URLSearchParams, `+` stays a plus: SigV4
 * canonicalises from the percent-encoding and every S3 client encodes spaces
 * as %20.
 */
export function parseQuery (search: string): Map<string, string> {
  const out = new Map<string, string>()
  const s = search.startsWith('?') ? search.slice(1) : search
  if (s === '') return out
  for (const part of s.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const name = safeDecode(eq < 0 ? part : part.slice(0, eq))
    const value = eq < 0 ? '' : safeDecode(part.slice(eq + 1))
    if (!out.has(name)) out.set(name, value)
  }
  return out
}

/** decodeURIComponent, with malformed percent-encoding an InvalidArgument that names where it was (`where`: the request URL unless told). */
export function safeDecode (s: string, where = 'The request URL'): string {
  try {
    return decodeURIComponent(s)
  } catch {
    throw new S3Error('InvalidArgument', `${where} contains malformed percent-encoding.`)
  }
}

/**
 * Finds `.` or `..` segments in a raw request path before a URL parser resolves
 * them away: `PUT /bucket/../x` must be refused, not turned into `PUT /x`.
 * Adapters that see the raw request target (Node's http) call this.
 */
export function rawPathProblem (rawPath: string): S3Error | undefined {
  const path = rawPath.split('?')[0]!
  for (const seg of path.split('/')) {
    if (seg.length > 6 || seg.length === 0 || !/^(\.|%2e)+$/i.test(seg)) continue
    const decoded = seg.replace(/%2e/gi, '.')
    if (decoded === '.' || decoded === '..') {
      return new S3Error('InvalidArgument', 'Object keys must not contain "." or ".." path segments.', { resource: path })
    }
  }
  return undefined
}

function splitTarget (url: URL, host: string | null, options: RouterOptions): { bucket: string, key: string, virtualHosted: boolean } {
  let path = url.pathname
  const base = options.basePath ?? ''
  if (base !== '') {
    if (path !== base && !path.startsWith(base + '/')) throw new S3Error('InvalidRequest', `S3 requests live under ${base}/.`)
    path = path.slice(base.length)
  }
  const hostname = (host ?? url.host).replace(/:\d+$/, '').toLowerCase()
  for (const domain of options.virtualHostDomains ?? []) {
    if (hostname.endsWith('.' + domain)) {
      return { bucket: hostname.slice(0, -domain.length - 1), key: safeDecode(path.replace(/^\//, '')), virtualHosted: true }
    }
  }
  const rest = path.replace(/^\//, '')
  const slash = rest.indexOf('/')
  if (slash < 0) return { bucket: safeDecode(rest), key: '', virtualHosted: false }
  return { bucket: safeDecode(rest.slice(0, slash)), key: safeDecode(rest.slice(slash + 1)), virtualHosted: false }
}

/** Maps method + path + query to an S3 operation. */
export function route (request: Request, url: URL, options: RouterOptions = {}): Route {
  const { bucket, key, virtualHosted } = splitTarget(url, request.headers.get('host'), options)
  const query = parseQuery(url.search)
  const method = request.method.toUpperCase()
  const has = (name: string): boolean => query.has(name)
  const op = (operation: Operation): Route => ({ operation, bucket, key, query, virtualHosted })

  if (method === 'OPTIONS') return op('Preflight')
  // A bucket's versions are listed (GET); the sub-resource means nothing else.
  if (has('versions') && (method !== 'GET' || key !== '' || bucket === '')) throw new S3Error('NotImplemented', 'The "versions" sub-resource is only listed (GET on a bucket).')
  // A bucket setting s3mesh cannot set is read as S3 answers for a bucket without it.
  if (method === 'GET' && bucket !== '' && key === '') {
    for (const [name, operation] of Object.entries(UNSET_SETTING_READS)) if (has(name)) return op(operation)
  }
  for (const name of UNSUPPORTED) {
    // A bucket's lifecycle is supported; its object lock configuration and an object's retention and legal hold are read and set (GET, PUT).
    if (name === 'lifecycle' && key === '' && bucket !== '') continue
    const getOrPut = method === 'GET' || method === 'PUT'
    if (name === 'object-lock' && key === '' && bucket !== '' && getOrPut) continue
    if ((name === 'retention' || name === 'legal-hold') && key !== '' && getOrPut) continue
    if ((name === 'object-lock' || name === 'retention' || name === 'legal-hold') && has(name) && bucket !== '') throw new S3Error('MethodNotAllowed', undefined, { detail: { Method: method, ResourceType: name } })
    if (has(name)) throw new S3Error('NotImplemented', `s3mesh does not implement the "${name}" sub-resource.`)
  }
  if (bucket === '') {
    if (method === 'GET') return op('ListBuckets')
    throw new S3Error('MethodNotAllowed', undefined, { detail: { Method: method, ResourceType: 'SERVICE' } })
  }
  if (key === '') {
    switch (method) {
      case 'GET':
        if (has('location')) return op('GetBucketLocation')
        if (has('cors')) return op('GetBucketCors')
        if (has('lifecycle')) return op('GetBucketLifecycleConfiguration')
        if (has('uploads')) return op('ListMultipartUploads')
        if (has('versioning')) return op('GetBucketVersioning')
        if (has('versions')) return op('ListObjectVersions')
        if (has('acl')) return op('GetBucketAcl')
        if (has('policy')) return op('GetBucketPolicy')
        if (has('policyStatus')) return op('GetBucketPolicyStatus')
        if (has('object-lock')) return op('GetObjectLockConfiguration')
        return op(query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects')
      case 'HEAD': return op('HeadBucket')
      case 'PUT':
        if (has('cors')) return op('PutBucketCors')
        if (has('lifecycle')) return op('PutBucketLifecycleConfiguration')
        if (has('policy')) return op('PutBucketPolicy')
        if (has('acl')) return op('PutBucketAcl')
        if (has('versioning')) return op('PutBucketVersioning')
        if (has('object-lock')) return op('PutObjectLockConfiguration')
        if (has('tagging')) throw new S3Error('NotImplemented', 's3mesh does not implement bucket tagging.')
        return op('CreateBucket')
      case 'DELETE':
        if (has('cors')) return op('DeleteBucketCors')
        if (has('lifecycle')) return op('DeleteBucketLifecycle')
        if (has('policy')) return op('DeleteBucketPolicy')
        if (has('tagging')) throw new S3Error('NotImplemented', 's3mesh does not implement bucket tagging.')
        return op('DeleteBucket')
      case 'POST':
        if (has('delete')) return op('DeleteObjects')
        if (has('lifecycle')) break
        // A browser form upload: the key, the policy and the file are in the body (anything else is refused as S3 does).
        return op('PostObject')
    }
    throw new S3Error('MethodNotAllowed', undefined, { detail: { Method: method, ResourceType: 'BUCKET' } })
  }
  const copy = request.headers.has('x-amz-copy-source')
  switch (method) {
    case 'GET':
      if (has('uploadId')) return op('ListParts')
      if (has('tagging')) return op('GetObjectTagging')
      if (has('acl')) return op('GetObjectAcl')
      if (has('attributes')) return op('GetObjectAttributes')
      if (has('retention')) return op('GetObjectRetention')
      if (has('legal-hold')) return op('GetObjectLegalHold')
      return op('GetObject')
    case 'HEAD': return op('HeadObject')
    case 'PUT':
      if (has('partNumber') && has('uploadId')) return op(copy ? 'UploadPartCopy' : 'UploadPart')
      if (has('tagging')) return op('PutObjectTagging')
      if (has('acl')) return op('PutObjectAcl')
      if (has('retention')) return op('PutObjectRetention')
      if (has('legal-hold')) return op('PutObjectLegalHold')
      return op(copy ? 'CopyObject' : 'PutObject')
    case 'DELETE':
      if (has('uploadId')) return op('AbortMultipartUpload')
      if (has('tagging')) return op('DeleteObjectTagging')
      return op('DeleteObject')
    case 'POST':
      if (has('uploads')) return op('CreateMultipartUpload')
      if (has('uploadId')) return op('CompleteMultipartUpload')
      break
  }
  throw new S3Error('MethodNotAllowed', undefined, { detail: { Method: method, ResourceType: 'OBJECT' } })
}
