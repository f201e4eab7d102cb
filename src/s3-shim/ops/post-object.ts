/**
 * POST Object: the upload a web page makes from a plain HTML form, signed
 * ahead of time by whoever may write (a server, boto3's
 * generate_presigned_post, the SDK's createPresignedPost) with a policy the
 * form must meet. https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html
 */
import type { AccessControl, Principal } from '../../core/access/access-control.js'
import { S3Error } from '../../core/errors.js'
import type { Hashes } from '../../core/hashes.js'
import { assertBucketName, assertObjectKey } from '../../core/names.js'
import type { ObjectStore } from '../../core/object-store.js'
import { permissionsFor, type ClientInfo } from '../access/request-actions.js'
import { CHECKSUMS, decodePayload } from '../auth/payload.js'
import { checkPostPolicy, parsePostPolicy, verifyPostSignature } from '../auth/post-policy.js'
import { principalCredentials } from '../auth/authenticate.js'
import type { CredentialProvider } from '../auth/sigv4.js'
import { uriEncode } from '../auth/uri-encode.js'
import { Context } from '../context.js'
import { checksumHeaders } from '../http/checksum-headers.js'
import { isFormUpload, readFormUpload } from '../http/form-upload.js'
import { refuseEncryption } from '../http/encryption.js'
import { checkStorageClass, headerValue, metadataFromHeaders, tagsFromDocument } from '../http/metadata.js'
import { quoteEtag, meshWriteHeaders } from '../respond.js'
import type { Route } from '../router.js'
import { parseXmlBody, xmlResponse } from '../xml.js'
import { applyObjectAcl, requestedAcl } from './get-acl.js'

/** S3's largest POST upload. */
const MAX_POST_BYTES = 5 * 1024 ** 3

/** Form fields that become the object's headers, as a PUT would send them. */
const HEADER_FIELDS = ['content-type', 'cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires', 'x-amz-storage-class']

export interface PostObjectOptions {
  store: ObjectStore
  hashes: Hashes
  region: string
  requestId: string
  client: ClientInfo
  access?: AccessControl
  /** Root's keys, when there is no `access`. */
  credentials?: CredentialProvider
  /** Who a form without a policy acts as (anonymous, or a service worker's page): the handler's rule for unsigned requests. */
  unsigned: () => Principal
}

/** Reads a form upload, checks its policy and signature, and stores its file. */
export async function postObject (request: Request, url: URL, route: Route, o: PostObjectOptions): Promise<Response> {
  const signal = request.signal
  if (!isFormUpload(request.headers)) throw new S3Error('PreconditionFailed', 'Bucket POST must be of the enclosure-type multipart/form-data.', { detail: { Condition: 'Bucket POST must be of the enclosure-type multipart/form-data' } })
  const { fields, file } = await readFormUpload(request, signal)
  /** The file as the store reads it (once piped, only this end can be cancelled). */
  let body = file.body
  try {
    const bucket = route.bucket
    assertBucketName(bucket)
    if (fields.has('bucket') && fields.get('bucket') !== bucket) throw new S3Error('InvalidArgument', `The form names bucket "${fields.get('bucket')}" but was posted to "${bucket}".`, { detail: { ArgumentName: 'bucket' } })

    const named = fields.get('key')
    if (named === undefined || named === '') throw new S3Error('InvalidArgument', 'Bucket POST must contain a field named \'key\'. If it is specified, please check the order of the fields.', { detail: { ArgumentName: 'key' } })

    let principal: Principal
    let size = { min: 0, max: MAX_POST_BYTES }
    let version: string | undefined
    if (fields.has('policy')) {
      const policy = parsePostPolicy(fields.get('policy')!)
      const { credentials, principalOf } = principalCredentials(o.access, o.credentials)
      const signer = await verifyPostSignature(fields, credentials, o.hashes)
      principal = principalOf(signer.accessKeyId)
      version = signer.version
      const allowed = checkPostPolicy(policy, bucket, fields, o.client.now)
      size = { min: allowed.min, max: Math.min(allowed.max, MAX_POST_BYTES) }
    } else if (['x-amz-signature', 'signature', 'x-amz-credential', 'awsaccesskeyid'].some(f => fields.has(f))) {
      throw new S3Error('InvalidArgument', 'Bucket POST must contain a field named \'policy\': a signature signs a policy.', { detail: { ArgumentName: 'policy' } })
    } else {
      principal = o.unsigned()
    }

    const key = named.replaceAll('${filename}', file.filename ?? '')
    assertObjectKey(key)

    // The fields as the headers a PUT would have sent: the metadata, ACL and tagging code reads them from there.
    const headers = new Headers()
    for (const [name, value] of fields) {
      if (HEADER_FIELDS.includes(name) || name.startsWith('x-amz-meta-') || name.startsWith('x-amz-server-side-encryption')) headers.set(name, headerValue(value, name))
    }
    if (fields.has('acl')) headers.set('x-amz-acl', headerValue(fields.get('acl')!, 'acl'))
    const tags = fields.has('tagging') ? tagsFromDocument(parseXmlBody(new TextEncoder().encode(fields.get('tagging')!), 'Tagging')) : undefined
    if (tags !== undefined) headers.set('x-amz-tagging', new URLSearchParams(tags).toString())
    const target: Route = { ...route, key }
    if (o.access !== undefined) {
      const permissions = permissionsFor(target, headers, o.client)
      if (version !== undefined) for (const p of permissions) p.context['s3:signatureversion'] = version
      o.access.check(principal, permissions)
    }
    const ctx = new Context(new Request(url, { method: 'PUT', headers }), url, target, o.store, o.hashes, undefined, signal, o.requestId, o.region, { principal, client: o.client, ...(o.access === undefined ? {} : { access: o.access }) })
    checkStorageClass(headers)
    refuseEncryption('PostObject', headers)
    const acl = requestedAcl(ctx)
    // A Content-MD5 or x-amz-checksum-* field is checked as a PUT's header is: a file that does not match is not stored.
    const digests = new Headers()
    for (const name of ['content-md5', ...Object.keys(CHECKSUMS).map(c => `x-amz-checksum-${c}`)]) if (fields.has(name)) digests.set(name, fields.get(name)!)
    body = sizeChecked(file.body, size.min, size.max)
    const payload = decodePayload(new Request(url, { method: 'PUT', headers: digests }), undefined, o.hashes, { body })
    body = payload.body!
    const { verified, checksum, checksumAlgorithm } = payload
    const info = await o.store.putObject(bucket, key, body, {
      metadata: metadataFromHeaders(headers), ...(tags === undefined ? {} : { tags }), verified, checksum, ...(checksumAlgorithm === undefined ? {} : { checksumAlgorithm }), signal,
    })
    await applyObjectAcl(ctx, bucket, key, acl)
    return answer(url, route, bucket, key, quoteEtag(info.etag), fields, { ...checksumHeaders(checksum()), ...meshWriteHeaders(info) })
  } catch (err) {
    // A store that never read the file (no such bucket): the request is let go. One that did has cancelled it.
    if (!body.locked) await body.cancel(err).catch(() => {})
    throw err
  }
}

/** The file, refused as it streams once past `max` and at its end when short of `min` (the policy's content-length-range): nothing is stored then. */
function sizeChecked (body: ReadableStream<Uint8Array>, min: number, max: number): ReadableStream<Uint8Array> {
  let n = 0
  return body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform (chunk, controller) {
      n += chunk.byteLength
      if (n > max) throw new S3Error('EntityTooLarge', `Your proposed upload exceeds the maximum allowed size (${max} bytes).`, { detail: { MaxSizeAllowed: String(max) } })
      controller.enqueue(chunk)
    },
    flush () {
      if (n < min) throw new S3Error('EntityTooSmall', `Your proposed upload is smaller than the minimum allowed size (${min} bytes).`, { detail: { ProposedSize: String(n), MinSizeAllowed: String(min) } })
    },
  }))
}

/** S3's answer: a redirect if the form asked for one, else the status it asked for (204 by default; 201 with a PostResponse document). */
function answer (url: URL, route: Route, bucket: string, key: string, etag: string, fields: ReadonlyMap<string, string>, extra: Record<string, string>): Response {
  const base = route.virtualHosted ? url.origin : url.origin + url.pathname.replace(/\/+$/, '')
  const location = `${base}/${uriEncode(key, true)}`
  const headers = { etag, location, ...extra }
  const redirect = fields.get('success_action_redirect') ?? fields.get('redirect')
  if (redirect !== undefined && /^https?:\/\//i.test(redirect) && URL.canParse(redirect)) {
    const to = new URL(redirect)
    to.searchParams.append('bucket', bucket)
    to.searchParams.append('key', key)
    to.searchParams.append('etag', etag)
    return new Response(null, { status: 303, headers: { ...headers, location: to.toString() } })
  }
  const status = fields.get('success_action_status')
  if (status === '201') return xmlResponse('PostResponse', { Location: location, Bucket: bucket, Key: key, ETag: etag }, { status: 201, headers })
  return new Response(null, { status: status === '200' ? 200 : 204, headers })
}
