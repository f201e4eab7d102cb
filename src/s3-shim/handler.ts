import { isS3Error, S3Error } from '../core/errors.js'
import { webHashes, type Hashes } from '../core/hashes.js'
import { requestIdSource } from '../core/ids.js'
import { assertBucketName, assertObjectKey } from '../core/names.js'
import { objectTags, type ObjectStore } from '../core/object-store.js'
import { authenticatePrincipal } from './auth/authenticate.js'
import { withPresignedHeaders } from './auth/presigned-headers.js'
import { DEFAULT_CLOCK_SKEW_MS, isSigV4Presigned, type CredentialProvider } from './auth/sigv4.js'
import { Context, type OperationHandler } from './context.js'
import { refuseObjectLock } from './http/object-lock.js'
import { tagsFromDocument } from './http/metadata.js'
import { refuseEncryption } from './http/encryption.js'
import { answerStoredEncoding } from './http/stored-encoding.js'
import { corsHeaders, matchCorsRule } from './http/cors.js'
import { getObjectLegalHold, getObjectLockConfiguration, getObjectRetention, putObjectLegalHold, putObjectLockConfiguration, putObjectRetention } from './ops/object-lock.js'
import { abortMultipartUpload } from './ops/abort-multipart-upload.js'
import { deleteBucketCors, getBucketCors, putBucketCors } from './ops/bucket-cors.js'
import { deleteBucketLifecycle, getBucketLifecycleConfiguration, putBucketLifecycleConfiguration } from './ops/bucket-lifecycle.js'
import { completeMultipartUpload } from './ops/complete-multipart-upload.js'
import { copyObject } from './ops/copy-object.js'
import { createBucket } from './ops/create-bucket.js'
import { createMultipartUpload } from './ops/create-multipart-upload.js'
import { deleteBucket } from './ops/delete-bucket.js'
import { deleteObject } from './ops/delete-object.js'
import { deleteObjects } from './ops/delete-objects.js'
import { getBucketAcl, getObjectAcl, putBucketAcl, putObjectAcl } from './ops/get-acl.js'
import { deleteBucketPolicy, getBucketPolicy, getBucketPolicyStatus, putBucketPolicy } from './ops/bucket-policy.js'
import { EXISTING_TAG_KEYS, type AccessControl, type Permission, type Principal } from '../core/access/access-control.js'
import { arn, copySourceOf, EXISTING_TAG_OPERATIONS, globalContext, permissionsFor, withExistingTags, type ClientInfo } from './access/request-actions.js'
import { accessApi, isAccessApiRequest } from './iam/access-api.js'
import { getBucketLocation } from './ops/get-bucket-location.js'
import { getBucketVersioning, putBucketVersioning } from './ops/bucket-versioning.js'
import { listObjectVersions } from './ops/list-object-versions.js'
import { getObject } from './ops/get-object.js'
import { getObjectAttributes } from './ops/get-object-attributes.js'
import { headBucket } from './ops/head-bucket.js'
import { headObject } from './ops/head-object.js'
import { listBuckets } from './ops/list-buckets.js'
import { listMultipartUploads } from './ops/list-multipart-uploads.js'
import { listObjects } from './ops/list-objects.js'
import { listObjectsV2 } from './ops/list-objects-v2.js'
import { listParts } from './ops/list-parts.js'
import { deleteObjectTagging, getObjectTagging, putObjectTagging } from './ops/object-tagging.js'
import { preflight } from './ops/preflight.js'
import { postObject } from './ops/post-object.js'
import { putObject } from './ops/put-object.js'
import { uploadPart } from './ops/upload-part.js'
import { uploadPartCopy } from './ops/upload-part-copy.js'
import { unsetSettings } from './ops/bucket-defaults.js'
import { refuseOtherOwner } from './owner.js'
import { asS3Error, errorResponse } from './respond.js'
import { route, type Operation, type Route, type RouterOptions } from './router.js'

export interface S3HandlerOptions extends RouterOptions {
  /** Where objects live. */
  store: ObjectStore
  /**
   * Users, keys, sessions and policies: who may do what, decided for every
   * request; the IAM and STS APIs are served with it. Without it, the
   * `credentials` below sign and may do everything.
   */
  access?: AccessControl
  /** Whether the IAM and STS APIs are served with `access` (default true; an edge worker's copy of the state is read-only). */
  serveAccessApi?: boolean
  /** Access keys and their secrets, for SigV4, when there is no `access`. */
  credentials?: CredentialProvider
  /** Hash implementations; the pure-JS default runs anywhere, Node passes native ones. */
  hashes?: Hashes
  /** The region reported by GetBucketLocation and HeadBucket; signatures for any region are accepted. */
  region?: string
  /** How far a request's x-amz-date may be from this clock (AWS: 15 minutes). */
  clockSkewMs?: number
  /** The clock, in ms since the epoch (tests pass a fixed one). */
  now?: () => number
  /**
   * Whether an unsigned request may proceed with every right. Default: never;
   * with `access`, it is then an anonymous request that bucket policies and
   * ACLs may allow. The service worker allows same-origin requests.
   */
  allowAnonymous?: (request: Request, route: Route) => boolean
  /**
   * Who an unsigned request acts as, if anyone: a service worker's page acts
   * with the credentials it registered (decided with `access`, as the node
   * would decide them). Undefined: allowAnonymous, then anonymous.
   */
  unsignedAs?: (request: Request, route: Route) => Principal | undefined
  /**
   * Serve objects so that a browser never runs them: nosniff, and a CSP
   * sandbox unless the type is plain media or text. For an origin that holds
   * secrets (the console's, where a page keeps its keys): an object uploaded
   * by someone else, opened there, must not run as the console.
   */
  sandboxObjects?: boolean
  /** Called with unexpected (500) errors; the default logs to the console. */
  onInternalError?: (err: unknown, requestId: string) => void
}

/** Filled in by the handler for the caller's metrics and logs. */
export interface RequestInfo {
  operation?: Operation
  requestId?: string
  /** Set by the adapter: the client's address and whether it came over TLS (aws:SourceIp, aws:SecureTransport). */
  client?: { sourceIp?: string, secure: boolean }
}

export type S3Handler = (request: Request, info?: RequestInfo) => Promise<Response>


/** Every operation but the two the handler answers itself: a preflight (no signature) and a form upload (signed inside its body). */
const OPERATIONS: Record<Exclude<Operation, 'Preflight' | 'PostObject'>, OperationHandler> = {
  ListBuckets: listBuckets,
  CreateBucket: createBucket,
  HeadBucket: headBucket,
  DeleteBucket: deleteBucket,
  GetBucketLocation: getBucketLocation,
  GetBucketCors: getBucketCors,
  PutBucketCors: putBucketCors,
  GetBucketPolicy: getBucketPolicy,
  PutBucketPolicy: putBucketPolicy,
  DeleteBucketPolicy: deleteBucketPolicy,
  GetBucketPolicyStatus: getBucketPolicyStatus,
  PutBucketAcl: putBucketAcl,
  PutObjectAcl: putObjectAcl,
  GetObjectLockConfiguration: getObjectLockConfiguration,
  PutObjectLockConfiguration: putObjectLockConfiguration,
  GetObjectRetention: getObjectRetention,
  PutObjectRetention: putObjectRetention,
  GetObjectLegalHold: getObjectLegalHold,
  PutObjectLegalHold: putObjectLegalHold,
  ...unsetSettings,
  DeleteBucketCors: deleteBucketCors,
  GetBucketLifecycleConfiguration: getBucketLifecycleConfiguration,
  PutBucketLifecycleConfiguration: putBucketLifecycleConfiguration,
  DeleteBucketLifecycle: deleteBucketLifecycle,
  GetBucketVersioning: getBucketVersioning,
  PutBucketVersioning: putBucketVersioning,
  ListObjectVersions: listObjectVersions,
  GetBucketAcl: getBucketAcl,
  ListObjects: listObjects,
  ListObjectsV2: listObjectsV2,
  ListMultipartUploads: listMultipartUploads,
  DeleteObjects: deleteObjects,
  PutObject: putObject,
  GetObject: getObject,
  HeadObject: headObject,
  DeleteObject: deleteObject,
  CopyObject: copyObject,
  GetObjectAcl: getObjectAcl,
  GetObjectTagging: getObjectTagging,
  GetObjectAttributes: getObjectAttributes,
  PutObjectTagging: putObjectTagging,
  DeleteObjectTagging: deleteObjectTagging,
  CreateMultipartUpload: createMultipartUpload,
  UploadPart: uploadPart,
  UploadPartCopy: uploadPartCopy,
  CompleteMultipartUpload: completeMultipartUpload,
  AbortMultipartUpload: abortMultipartUpload,
  ListParts: listParts,
}

/** The operations that read the object itself (s3:GetObject or s3:GetObjectVersion), whose HEAD their caller may make. */
const READS_OBJECT = new Set<Operation>(['GetObject', 'HeadObject', 'GetObjectAttributes'])

/** Reads of one key whose NoSuchKey S3 answers as AccessDenied to a caller that may not list the bucket. */
const KEY_READS = new Set<Operation>(['GetObject', 'HeadObject', 'GetObjectAttributes', 'GetObjectTagging', 'GetObjectAcl', 'GetObjectRetention', 'GetObjectLegalHold'])

/** Types a browser shows without running anything: everything else is sandboxed on an origin that holds secrets. */
const INERT_TYPES = /^(image\/(png|jpeg|gif|webp|avif|bmp|x-icon|vnd\.microsoft\.icon)|video\/[\w.+-]+|audio\/[\w.+-]+|application\/pdf|text\/plain|text\/csv|text\/markdown|application\/json|application\/octet-stream|binary\/octet-stream)\s*(;|$)/i

export function sandbox (headers: Headers): void {
  headers.set('x-content-type-options', 'nosniff')
  // A list (`text/plain;,text/html`) is read by browsers as its last type: only a single inert type goes unsandboxed.
  const type = headers.get('content-type') ?? ''
  if (type.includes(',') || !INERT_TYPES.test(type)) headers.set('content-security-policy', 'sandbox')
}

/**
 * The S3 protocol as one Web-standard function: `(Request) => Promise<Response>`.
 * Runs unchanged in Node (through the http adapter), a service worker and an
 * edge runtime.
 *
 * @example
 * const handler = createS3Handler({ store: new MemoryStore(), credentials: { secretFor: k => k === 'AK' ? 'SECRET' : undefined } })
 * const res = await handler(new Request('http://localhost/bucket/key'))
 */
export function createS3Handler (options: S3HandlerOptions): S3Handler {
  const hashes = options.hashes ?? webHashes
  const region = options.region ?? 'us-east-1'
  const clockSkewMs = options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS
  const now = options.now ?? Date.now
  const onInternalError = options.onInternalError ?? ((err, id) => { console.error(`s3mesh: internal error in request ${id}:`, err) })
  const { store, access } = options
  const nextRequestId = requestIdSource()

  /** Who an unsigned request acts as: a service worker's page, anyone when allowed, else anonymous (with `access`) or no one. */
  function unsignedPrincipal (request: Request, r: Route): Principal {
    const as = options.unsignedAs?.(request, r)
    if (as !== undefined) return as
    if (options.allowAnonymous?.(request, r) === true) return { kind: 'root', accessKeyId: '' }
    if (access !== undefined) return { kind: 'anonymous' }
    throw new S3Error('AccessDenied', 'Anonymous requests are not allowed: sign the request with SigV4 or use a presigned URL.')
  }

  /**
   * The tags of the object a request acts on, and of a copy's source, as
   * s3:ExistingObjectTag/<key>, where a policy in force names that key for an
   * action the request asks on it (one look at the object first). A missing
   * object has none; a look that fails otherwise fails the request (a Deny
   * on a tag must not pass unread).
   */
  async function withTagsIfAsked (principal: Principal, r: Route, headers: Headers, permissions: Permission[], signal: AbortSignal): Promise<Permission[]> {
    if (access === undefined) return permissions
    const tagsOf = async (bucket: string, key: string, versionId: string | undefined, readsObject: boolean): Promise<Record<string, string>> => {
      const options = { signal, ...(versionId === undefined ? {} : { versionId }) }
      try {
        // A store that reads tags apart (a gateway, with its caller's rights) is asked for them with the right the
        // caller likely has: a read of the object looks at it first (its HEAD says whether there are any to ask for);
        // another operation asks the tags, and looks at the object if it may not (a caller that may read it, not its
        // tags, has them asked only if there are some). A store that may hold tags back unsaid (a tab's entries) has
        // them asked whatever the operation, never taken from its HEAD, which could show none for an object with some.
        if (!readsObject || store.holdsTagsBack === true) {
          try {
            return (await objectTags(store, bucket, key, options)).tags
          } catch (err) {
            if (store.objectTags === undefined || store.holdsTagsBack === true || !isS3Error(err, 'AccessDenied')) throw err
            const info = await store.headObject(bucket, key, options).catch(() => undefined)
            if (info !== undefined && info.tagCount === undefined) return info.tags
            throw err
          }
        }
        const info = await store.headObject(bucket, key, options)
        return info.tagCount === undefined ? info.tags : (await objectTags(store, bucket, key, options)).tags
      } catch (err) {
        if (isS3Error(err, 'NoSuchKey') || isS3Error(err, 'NoSuchVersion') || isS3Error(err, 'MethodNotAllowed') || isS3Error(err, 'NoSuchBucket')) return {}
        throw err
      }
    }
    // Only a condition on tags for an action asked on that object counts (one for deletes says nothing of reads).
    const namesTags = (bucket: string, resource: string): boolean =>
      permissions.some(p => p.resource === resource && access.conditionsOn(principal, bucket, EXISTING_TAG_KEYS, p.action))
    let out = permissions
    if (r.key !== '' && EXISTING_TAG_OPERATIONS.has(r.operation) && namesTags(r.bucket, arn(r.bucket, r.key))) {
      out = withExistingTags(out, arn(r.bucket, r.key), await tagsOf(r.bucket, r.key, r.query.get('versionId'), READS_OBJECT.has(r.operation)))
    }
    // A copy reads its source: a Deny on the source's tags must hold there too (a copy would take the bytes away from them).
    const source = copySourceOf(r, headers)
    if (source !== undefined && source.key !== '' && namesTags(source.bucket, arn(source.bucket, source.key))) {
      out = withExistingTags(out, arn(source.bucket, source.key), await tagsOf(source.bucket, source.key, source.versionId, true))
    }
    return out
  }

  async function run (request: Request, url: URL, r: Route, requestId: string, client: ClientInfo, info: RequestInfo): Promise<Response> {
    if (r.operation === 'Preflight') return await preflight(request, r.bucket, store)
    if (r.operation === 'PostObject') {
      return await postObject(request, url, r, {
        store, hashes, region, requestId, client, ...(access === undefined ? {} : { access }), ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
        unsigned: () => unsignedPrincipal(request, r),
      })
    }
    const signed = await authenticatePrincipal(request, url, access, { ...(options.credentials === undefined ? {} : { credentials: options.credentials }), hashes, now: client.now, clockSkewMs, ...(r.virtualHosted ? { bucketFromHost: r.bucket } : {}) })
    if (signed !== undefined && isSigV4Presigned(signed.identity)) {
      // Its x-amz-* query parameters, signed with it, are headers as S3 reads them (they may make a PUT a copy).
      const asRead = withPresignedHeaders(request, url)
      if (asRead !== request) {
        request = asRead
        r = route(request, url, options)
        // (Headers do not make a request a preflight or a form upload: for the types.)
        if (r.operation === 'Preflight' || r.operation === 'PostObject') throw new S3Error('InvalidRequest', `A presigned URL cannot be a ${r.operation}.`)
        info.operation = r.operation
      }
    }
    const identity = signed?.identity
    if (identity !== undefined) client = { ...client, signature: { authType: identity.presigned ? 'REST-QUERY-STRING' : 'REST-HEADER', version: identity.presigned && identity.scope === '' ? 'AWS' : 'AWS4-HMAC-SHA256' } }
    const principal = signed?.principal ?? unsignedPrincipal(request, r)
    // Names are checked before any store sees them: a store may map them to file paths.
    if (r.bucket !== '' && r.operation !== 'CreateBucket') assertBucketName(r.bucket)
    if (r.key !== '') assertObjectKey(r.key)
    // (Not on CreateBucket: the bucket is the caller's once made, and S3 does not check it there.)
    if (r.bucket !== '' && r.operation !== 'CreateBucket') refuseOtherOwner(request.headers)
    const ctx = new Context(request, url, r, store, hashes, identity, request.signal, requestId, region, { principal, client, ...(access === undefined ? {} : { access }) })
    // The tags PutObjectTagging sets are in its body: read (verified, small) before the check, which policies see them in.
    if (access !== undefined && r.operation === 'PutObjectTagging') ctx.bodyTags = tagsFromDocument(await ctx.xml('Tagging'))
    // ListBuckets shows what the caller may see; DeleteObjects checks each key it names.
    if (access !== undefined && r.operation !== 'ListBuckets' && r.operation !== 'DeleteObjects') access.check(principal, await withTagsIfAsked(principal, r, request.headers, permissionsFor(r, request.headers, client, [], ctx.bodyTags), request.signal))
    refuseObjectLock(r.operation, request.headers, store)
    refuseEncryption(r.operation, request.headers)
    try {
      return await OPERATIONS[r.operation](ctx)
    } catch (err) {
      // As S3 answers: a missing key is 404 only to a caller that may list it (s3:ListBucket, its s3:prefix the key);
      // to another, 403, so that a read does not tell which keys exist.
      if (access !== undefined && KEY_READS.has(r.operation) && isS3Error(err, 'NoSuchKey') &&
        access.decide(principal, { action: 's3:ListBucket', resource: arn(r.bucket), context: { ...globalContext(request.headers, client), 's3:prefix': r.key } }) !== 'allow') {
        throw new S3Error('AccessDenied', `The key does not exist or may not be read: telling which would need s3:ListBucket on ${r.bucket}.`)
      }
      throw err
    }
  }

  /** CORS headers for an actual (non-preflight) request from a browser, from the bucket's rules. */
  async function addCors (request: Request, r: Route | undefined, response: Response): Promise<void> {
    const origin = request.headers.get('origin')
    if (origin === null || r === undefined || r.bucket === '' || r.operation === 'Preflight') return
    const bucket = await store.headBucket(r.bucket).catch(() => undefined)
    const rule = matchCorsRule(bucket?.cors, origin, request.method)
    if (rule === undefined) return
    for (const [k, v] of Object.entries(corsHeaders(rule, origin))) response.headers.set(k, v)
  }

  return async (request, info = {}) => {
    const requestId = nextRequestId()
    info.requestId = requestId
    let r: Route | undefined
    let response: Response
    try {
      const url = new URL(request.url)
      const client: ClientInfo = { ...info.client, secure: info.client?.secure ?? url.protocol === 'https:', now: now() }
      if (access !== undefined && options.serveAccessApi !== false && isAccessApiRequest(request, url, options.basePath)) {
        info.operation = 'AccessApi' as Operation
        response = await accessApi(request, { access, hashes, clockSkewMs, client, requestId })
        response.headers.set('x-amz-request-id', requestId)
        return response
      }
      r = route(request, url, options)
      info.operation = r.operation
      response = await run(request, url, r, requestId, client, info)
    } catch (err) {
      const e = asS3Error(err)
      if (e.code === 'InternalError') onInternalError(err, requestId)
      response = errorResponse(e, requestId, request.method)
      // As S3 answers a HeadBucket it refuses: with the bucket's region (how SDKs find it: Go's GetBucketRegion).
      if (r?.operation === 'HeadBucket' && e.code === 'AccessDenied') response.headers.set('x-amz-bucket-region', region)
    }
    response.headers.set('x-amz-request-id', requestId)
    await addCors(request, r, response)
    if (r?.operation === 'GetObject' || r?.operation === 'HeadObject') {
      if (options.sandboxObjects === true) sandbox(response.headers)
      answerStoredEncoding(request, response)
    }
    return response
  }
}
