import { S3Error } from '../../core/errors.js'
import { bytesEqual, digestOf, toHex, utf8, type Hashes } from '../../core/hashes.js'
import { safeDecode } from '../router.js'
import { uriEncode } from './uri-encode.js'

/**
 * x-amz-* headers a request may carry unsigned: those the signature covers
 * another way (the date and the payload's hash are in what is signed),
 * and what proxies add (CloudFront's request id). Every other x-amz-* header
 * changes what a request does (x-amz-copy-source makes a PUT a copy,
 * x-amz-acl makes it public, x-amz-tagging, x-amz-meta-*, object lock's), so
 * S3 requires it among the signed ones: else whoever sees a signed request
 * could send it again within the clock skew with one added.
 */
const MAY_GO_UNSIGNED = new Set(['x-amz-date', 'x-amz-content-sha256', 'x-amz-cf-id'])

/** Where the handler finds secrets: the root credentials, users' keys, STS sessions. */
export interface CredentialProvider {
  /**
   * The secret key of an access key id (with its session token, for STS
   * credentials), or undefined when there is no such key. May throw the
   * S3Error a client should see (ExpiredToken, an inactive key).
   */
  secretFor (accessKeyId: string, sessionToken?: string): string | undefined | Promise<string | undefined>
}

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD'
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
const ALGORITHM = 'AWS4-HMAC-SHA256'
/** AWS refuses requests whose clock is more than 15 minutes off. */
export const DEFAULT_CLOCK_SKEW_MS = 15 * 60 * 1000
/** Presigned URLs live at most 7 days. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600

/** What a verified signature establishes, and what chunk signatures chain from. */
export interface SignedIdentity {
  accessKeyId: string
  /** The request timestamp as signed, `YYYYMMDDTHHMMSSZ`. */
  amzDate: string
  /** `date/region/service/aws4_request`. */
  scope: string
  signingKey: Uint8Array
  /** The request signature: the seed of aws-chunked chunk signatures. */
  signature: string
  /** The payload hash the client signed: a hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING-* mode. */
  payloadHash: string
  presigned: boolean
  /** The STS session token the request carried (x-amz-security-token), signed with it. */
  sessionToken?: string
  /** The service the credential scope names: s3, or iam/sts for the access API. */
  service: string
}

export interface VerifyOptions {
  credentials: CredentialProvider
  hashes: Hashes
  now: number
  clockSkewMs: number
  /**
   * A header-signed request without x-amz-content-sha256: S3 refuses it
   * ('refuse', the default); plain SigV4 (curl --aws-sigv4, s3mesh's own
   * API) signs the body's hash instead, which for a request without a body
   * is the empty string's ('empty').
   */
  missingPayloadHash?: 'refuse' | 'empty'
  /**
   * The services a credential scope may name (default s3 only): the IAM and
   * STS APIs accept iam and sts, signed over the body's SHA-256 (`bodySha256`).
   */
  services?: readonly string[]
  /** The hex SHA-256 of a body already read, for requests that sign it without x-amz-content-sha256. */
  bodySha256?: string
}

interface Parts {
  accessKeyId: string
  date: string
  region: string
  service: string
  signedHeaders: string[]
  signature: string
  amzDate: string
}

/** A SigV4 credential (`<key>/<YYYYMMDD>/<region>/<service>/aws4_request`), or the S3 error `error` saying what is wrong with it. */
export function parseCredential (credential: string, error: 'AuthorizationHeaderMalformed' | 'AuthorizationQueryParametersError' | 'InvalidArgument', services: readonly string[] = ['s3']): Omit<Parts, 'signedHeaders' | 'signature' | 'amzDate'> {
  const c = credential.split('/')
  if (c.length !== 5 || c[4] !== 'aws4_request' || !/^\d{8}$/.test(c[1]!)) {
    throw new S3Error(error, `The credential "${credential}" is malformed; expected "<key>/<YYYYMMDD>/<region>/s3/aws4_request".`)
  }
  if (!services.includes(c[3]!)) throw new S3Error(error, `The credential names service "${c[3]}"; expected ${services.map(x => `"${x}"`).join(' or ')}.`)
  return { accessKeyId: c[0]!, date: c[1]!, region: c[2]!, service: c[3]! }
}

function parseAmzDate (s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s)
  if (m === null) return undefined
  const t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)
  return Number.isNaN(t) ? undefined : t
}

function toAmzDate (ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')
}

function parseAuthorizationHeader (header: string, request: Request, services?: readonly string[]): Parts {
  const rest = header.slice(ALGORITHM.length).trim()
  const fields = new Map<string, string>()
  for (const piece of rest.split(',')) {
    const eq = piece.indexOf('=')
    if (eq > 0) fields.set(piece.slice(0, eq).trim(), piece.slice(eq + 1).trim())
  }
  const credential = fields.get('Credential')
  const signedHeaders = fields.get('SignedHeaders')
  const signature = fields.get('Signature')
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw new S3Error('AuthorizationHeaderMalformed', 'The authorization header must name Credential, SignedHeaders and Signature.')
  }
  let amzDate = request.headers.get('x-amz-date') ?? undefined
  if (amzDate === undefined) {
    const d = request.headers.get('date')
    const t = d === null ? NaN : Date.parse(d)
    if (Number.isNaN(t)) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header.')
    amzDate = toAmzDate(t)
  }
  return { ...parseCredential(credential, 'AuthorizationHeaderMalformed', services), signedHeaders: headerNames(signedHeaders, 'AuthorizationHeaderMalformed'), signature, amzDate }
}

/** A header field name (RFC 9110's token; SigV4 signs them lower case). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** SignedHeaders' names: a name no header can have is the request's mistake (a 400), not one to look up. */
function headerNames (list: string, code: 'AuthorizationHeaderMalformed' | 'AuthorizationQueryParametersError'): string[] {
  const names = list.split(';')
  const bad = names.find(n => !HEADER_NAME.test(n))
  if (bad !== undefined) throw new S3Error(code, `SignedHeaders names "${bad}", which no header can be named.`)
  return names
}

/** Raw query pairs, decoded, in order, duplicates kept: the canonical query needs all of them. */
function queryPairs (search: string): Array<[string, string]> {
  const s = search.startsWith('?') ? search.slice(1) : search
  if (s === '') return []
  return s.split('&').filter(p => p !== '').map(p => {
    const eq = p.indexOf('=')
    return eq < 0 ? [safeDecode(p), ''] : [safeDecode(p.slice(0, eq)), safeDecode(p.slice(eq + 1))]
  })
}

function canonicalQuery (pairs: Array<[string, string]>): string {
  return pairs
    .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)] as const)
    .sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)
    .map(([k, v]) => `${k}=${v}`)
    .join('&')
}

function canonicalHeaders (request: Request, url: URL, signedHeaders: string[]): string {
  let out = ''
  for (const name of signedHeaders) {
    // Host is a forbidden header in browsers and service workers: a Request there
    // never carries it, though it goes on the wire. The URL has it.
    const value = request.headers.get(name) ?? (name === 'host' ? url.host : null)
    if (value === null) throw new S3Error('AccessDenied', `The signed header "${name}" is missing from the request.`)
    out += `${name}:${value.trim().replace(/\s+/g, ' ')}\n`
  }
  return out
}

/** Caches derived signing keys: one per (secret, day, region), reused by every request that day. */
const signingKeys = new Map<string, Uint8Array>()

export function signingKey (hashes: Hashes, secret: string, date: string, region: string, service: string): Uint8Array {
  const id = `${secret}\n${date}\n${region}\n${service}`
  let key = signingKeys.get(id)
  if (key === undefined) {
    const kDate = hashes.hmacSha256(utf8('AWS4' + secret), utf8(date))
    const kRegion = hashes.hmacSha256(kDate, utf8(region))
    const kService = hashes.hmacSha256(kRegion, utf8(service))
    key = hashes.hmacSha256(kService, utf8('aws4_request'))
    if (signingKeys.size > 256) signingKeys.clear()
    signingKeys.set(id, key)
  }
  return key
}

function timingSafeEqualHex (a: string, b: string): boolean {
  return bytesEqual(utf8(a.toLowerCase()), utf8(b.toLowerCase()))
}

/**
 * Verifies a SigV4 request, header-signed or presigned. Returns undefined for
 * a request that carries no signature at all (anonymous); throws the S3 error
 * a client should see for any signature that does not verify.
 */
export async function verifySigV4 (request: Request, url: URL, options: VerifyOptions): Promise<SignedIdentity | undefined> {
  const authorization = request.headers.get('authorization')
  const query = queryPairs(url.search)
  const presigned = query.some(([k]) => k === 'X-Amz-Algorithm')
  let parts: Parts
  let payloadHash: string
  let pairsToSign = query
  if (authorization !== null) {
    if (!authorization.startsWith(ALGORITHM)) {
      throw new S3Error('InvalidRequest', 'Only AWS Signature Version 4 (AWS4-HMAC-SHA256) is supported.')
    }
    parts = parseAuthorizationHeader(authorization, request, options.services)
    const declared = request.headers.get('x-amz-content-sha256') ?? options.bodySha256 ?? (options.missingPayloadHash === 'empty' ? EMPTY_SHA256 : null)
    if (declared === null) throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256')
    payloadHash = declared
    const t = parseAmzDate(parts.amzDate)
    if (t === undefined) throw new S3Error('AccessDenied', `The x-amz-date "${parts.amzDate}" is not of the form YYYYMMDDTHHMMSSZ.`)
    if (Math.abs(options.now - t) > options.clockSkewMs) {
      throw new S3Error('RequestTimeTooSkewed', undefined, { detail: { RequestTime: parts.amzDate, ServerTime: new Date(options.now).toISOString() } })
    }
  } else if (presigned) {
    const q = new Map(query)
    if (q.get('X-Amz-Algorithm') !== ALGORITHM) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Algorithm must be AWS4-HMAC-SHA256.')
    const credential = q.get('X-Amz-Credential')
    const amzDate = q.get('X-Amz-Date')
    const expires = q.get('X-Amz-Expires')
    const signedHeaders = q.get('X-Amz-SignedHeaders')
    const signature = q.get('X-Amz-Signature')
    if (credential === undefined || amzDate === undefined || expires === undefined || signedHeaders === undefined || signature === undefined) {
      throw new S3Error('AuthorizationQueryParametersError', 'Presigned URLs need X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature.')
    }
    parts = { ...parseCredential(credential, 'AuthorizationQueryParametersError', options.services), signedHeaders: headerNames(signedHeaders, 'AuthorizationQueryParametersError'), signature, amzDate }
    const t = parseAmzDate(amzDate)
    if (t === undefined) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Date must be of the form YYYYMMDDTHHMMSSZ.')
    const seconds = /^\d+$/.test(expires) ? Number(expires) : NaN
    if (!(seconds >= 1 && seconds <= MAX_PRESIGN_SECONDS)) {
      throw new S3Error('AuthorizationQueryParametersError', `X-Amz-Expires must be between 1 and ${MAX_PRESIGN_SECONDS} seconds (7 days).`)
    }
    if (options.now > t + seconds * 1000) {
      throw new S3Error('AccessDenied', 'Request has expired', { detail: { 'X-Amz-Expires': expires, Expires: new Date(t + seconds * 1000).toISOString(), ServerTime: new Date(options.now).toISOString() } })
    }
    if (t - options.now > options.clockSkewMs) throw new S3Error('AccessDenied', 'Request is not valid yet.')
    payloadHash = q.get('X-Amz-Content-Sha256') ?? UNSIGNED_PAYLOAD
    pairsToSign = query.filter(([k]) => k !== 'X-Amz-Signature')
  } else {
    return undefined
  }

  if (parts.amzDate.slice(0, 8) !== parts.date) {
    throw new S3Error(authorization === null ? 'AuthorizationQueryParametersError' : 'AuthorizationHeaderMalformed', `The credential date ${parts.date} does not match the request date ${parts.amzDate.slice(0, 8)}.`)
  }
  if (!parts.signedHeaders.includes('host')) throw new S3Error('AccessDenied', 'The host header must be signed.')
  // No x-amz-* header may be added to a signed request or a presigned URL, as S3 refuses them: its holder could otherwise
  // make a PUT a copy of another object (x-amz-copy-source), public (x-amz-acl), tagged or retained. A presigned URL's
  // payload hash is the query's.
  const unsigned = [...request.headers.keys()]
    .filter(h => h.startsWith('x-amz-') && !parts.signedHeaders.includes(h) && (presigned && authorization === null ? h !== 'x-amz-content-sha256' : !MAY_GO_UNSIGNED.has(h)))
  if (unsigned.length > 0) throw new S3Error('AccessDenied', `There were headers present in the request which were not signed: ${unsigned.join(', ')}.`, { detail: { HeadersNotSigned: unsigned.join(', ') } })
  // STS credentials carry their session token, signed with the request (a header, or a presigned URL's query).
  const sessionToken = presigned && authorization === null ? query.find(([k]) => k === 'X-Amz-Security-Token')?.[1] : request.headers.get('x-amz-security-token') ?? undefined
  if (sessionToken !== undefined && authorization !== null && !parts.signedHeaders.includes('x-amz-security-token')) {
    throw new S3Error('AccessDenied', 'The x-amz-security-token header must be signed.')
  }
  const secret = await options.credentials.secretFor(parts.accessKeyId, sessionToken)
  if (secret === undefined) throw new S3Error('InvalidAccessKeyId', undefined, { detail: { AWSAccessKeyId: parts.accessKeyId } })

  const canonicalRequest = [
    request.method.toUpperCase(),
    uriEncode(safeDecode(url.pathname), true),
    canonicalQuery(pairsToSign),
    canonicalHeaders(request, url, parts.signedHeaders),
    parts.signedHeaders.join(';'),
    payloadHash,
  ].join('\n')
  const scope = `${parts.date}/${parts.region}/${parts.service}/aws4_request`
  const stringToSign = `${ALGORITHM}\n${parts.amzDate}\n${scope}\n${toHex(digestOf(options.hashes, 'sha256', canonicalRequest))}`
  const key = signingKey(options.hashes, secret, parts.date, parts.region, parts.service)
  const expected = toHex(options.hashes.hmacSha256(key, utf8(stringToSign)))
  if (!timingSafeEqualHex(expected, parts.signature)) {
    throw new S3Error('SignatureDoesNotMatch', undefined, {
      detail: { AWSAccessKeyId: parts.accessKeyId, StringToSign: stringToSign, CanonicalRequest: canonicalRequest },
    })
  }
  return { accessKeyId: parts.accessKeyId, amzDate: parts.amzDate, scope, signingKey: key, signature: expected, payloadHash, presigned: authorization === null, service: parts.service, ...(sessionToken === undefined ? {} : { sessionToken }) }
}

/** Whether `id` signed a SigV4 presigned URL (which signs its whole query; a SigV2 one, which has no scope, does not). */
export function isSigV4Presigned (id: SignedIdentity): boolean {
  return id.presigned && id.scope !== ''
}

/** The signature of one aws-chunked chunk, chained from the previous one. */
export function chunkSignature (hashes: Hashes, id: SignedIdentity, previous: string, chunkSha256Hex: string): string {
  const s = `AWS4-HMAC-SHA256-PAYLOAD\n${id.amzDate}\n${id.scope}\n${previous}\n${EMPTY_SHA256}\n${chunkSha256Hex}`
  return toHex(hashes.hmacSha256(id.signingKey, utf8(s)))
}

/** The signature over aws-chunked trailing headers. */
export function trailerSignature (hashes: Hashes, id: SignedIdentity, previous: string, trailerText: string): string {
  const s = `AWS4-HMAC-SHA256-TRAILER\n${id.amzDate}\n${id.scope}\n${previous}\n${toHex(digestOf(hashes, 'sha256', trailerText))}`
  return toHex(hashes.hmacSha256(id.signingKey, utf8(s)))
}

export { timingSafeEqualHex }
