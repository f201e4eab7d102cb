import { S3Error } from '../../core/errors.js'
import { bytesEqual, toBase64, utf8, type Hashes } from '../../core/hashes.js'
import { parseQuery } from '../router.js'
import { MAX_PRESIGN_SECONDS, UNSIGNED_PAYLOAD, type CredentialProvider, type SignedIdentity } from './sigv4.js'

/** Query parameters that belong to the canonical resource in SigV2. */
const SUBRESOURCES = new Set(['acl', 'cors', 'delete', 'lifecycle', 'location', 'logging', 'notification', 'partNumber', 'policy',
  'requestPayment', 'tagging', 'torrent', 'uploadId', 'uploads', 'versionId', 'versioning', 'versions', 'website',
  'response-cache-control', 'response-content-disposition', 'response-content-encoding', 'response-content-language',
  'response-content-type', 'response-expires'])

/**
 * Query parameters the router turns a request into another operation by, left
 * out of SigV2's canonical resource (they came after it): a SigV2 URL is not
 * taken with one, which its holder could have added (`&retention` on a PUT's
 * URL makes it PutObjectRetention with a body of the holder's choosing).
 */
const UNSIGNED_OPERATIONS = ['accelerate', 'attributes', 'encryption', 'legal-hold', 'object-lock', 'ownershipControls', 'policyStatus', 'publicAccessBlock', 'replication', 'retention']

export function isSigV2Presigned (url: URL): boolean {
  return url.searchParams.has('AWSAccessKeyId') && url.searchParams.has('Signature') && url.searchParams.has('Expires')
}

/**
 * Verifies a SigV2 presigned URL (`?AWSAccessKeyId=&Expires=&Signature=`),
 * the form s3cmd `signurl` and older SDKs produce. SigV2 header auth is not
 * accepted: every current client signs requests with SigV4.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html#RESTAuthenticationQueryStringAuth
 */
export async function verifySigV2Presigned (request: Request, url: URL, options: { credentials: CredentialProvider, hashes: Hashes, now: number, bucketFromHost?: string }): Promise<SignedIdentity> {
  const q = parseQuery(url.search)
  const accessKeyId = q.get('AWSAccessKeyId')!
  const expiresText = q.get('Expires')!
  const signature = q.get('Signature')!
  if (!/^\d+$/.test(expiresText)) throw new S3Error('AuthorizationQueryParametersError', 'Expires must be a Unix time in seconds.')
  const expires = Number(expiresText)
  if (options.now > expires * 1000) throw new S3Error('AccessDenied', 'Request has expired', { detail: { Expires: new Date(expires * 1000).toISOString(), ServerTime: new Date(options.now).toISOString() } })
  if (expires * 1000 - options.now > MAX_PRESIGN_SECONDS * 1000) throw new S3Error('AuthorizationQueryParametersError', 'Presigned URLs may be valid for at most 7 days.')
  const secret = await options.credentials.secretFor(accessKeyId)
  if (secret === undefined) throw new S3Error('InvalidAccessKeyId', undefined, { detail: { AWSAccessKeyId: accessKeyId } })
  const unsignedOperation = UNSIGNED_OPERATIONS.find(k => q.has(k))
  if (unsignedOperation !== undefined) throw new S3Error('AccessDenied', `A SigV2 presigned URL does not sign "${unsignedOperation}": sign the request with SigV4.`)

  const h = request.headers
  const amz = [...h.entries()].filter(([k]) => k.startsWith('x-amz-')).sort(([a], [b]) => a < b ? -1 : 1).map(([k, v]) => `${k}:${v.trim()}\n`).join('')
  const sub = [...q].filter(([k]) => SUBRESOURCES.has(k)).sort(([a], [b]) => a < b ? -1 : 1).map(([k, v]) => v === '' ? k : `${k}=${v}`).join('&')
  const resource = (options.bucketFromHost !== undefined ? `/${options.bucketFromHost}` : '') + url.pathname + (sub === '' ? '' : `?${sub}`)
  const stringToSign = `${request.method.toUpperCase()}\n${h.get('content-md5') ?? ''}\n${h.get('content-type') ?? ''}\n${expiresText}\n${amz}${resource}`
  const expected = toBase64(options.hashes.hmacSha1(utf8(secret), utf8(stringToSign)))
  if (!bytesEqual(utf8(expected), utf8(signature))) {
    throw new S3Error('SignatureDoesNotMatch', undefined, { detail: { AWSAccessKeyId: accessKeyId, StringToSign: stringToSign } })
  }
  return { accessKeyId, amzDate: '', scope: '', signingKey: new Uint8Array(0), signature: expected, payloadHash: UNSIGNED_PAYLOAD, presigned: true, service: 's3' }
}
