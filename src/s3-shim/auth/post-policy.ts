import { S3Error } from '../../core/errors.js'
import { bytesEqual, fromBase64, toBase64, toHex, utf8, type Hashes } from '../../core/hashes.js'
import { parseCredential, signingKey, type CredentialProvider } from './sigv4.js'

/**
 * The POST policy of a browser form upload (SigV4 or SigV2), as S3 reads it:
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html
 */
export interface PostPolicy {
  /** When the policy stops being accepted, ms since the epoch. */
  expiration: number
  conditions: PolicyCondition[]
}

export type PolicyCondition =
  /** A field (lower-cased, without `$`) equal to, or starting with, a value. */
  | { op: 'eq' | 'starts-with', field: string, value: string, text: string }
  /** The file's size in bytes, both ends included. */
  | { op: 'content-length-range', min: number, max: number, text: string }

/** Form fields that no condition need name: the signature's own and the file (and x-ignore-*). */
const UNCONDITIONED = new Set(['policy', 'x-amz-signature', 'signature', 'awsaccesskeyid', 'file'])

function invalid (why: string): S3Error {
  return new S3Error('InvalidPolicyDocument', `Invalid Policy: ${why}`)
}

/** Decodes the form's `policy` field (base64 of a JSON document); InvalidPolicyDocument says what is wrong. */
export function parsePostPolicy (base64: string): PostPolicy {
  const bytes = fromBase64(base64.trim())
  let doc: unknown
  try {
    if (bytes === undefined) throw new Error('not base64')
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw invalid('Invalid JSON.')
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('Invalid JSON.')
  const { expiration, conditions } = doc as Record<string, unknown>
  if (typeof expiration !== 'string') throw invalid('Policy missing expiration.')
  // S3's expiration is in GMT: one that names no zone is read as such, not in the server's local time.
  const expires = Date.parse(/(Z|[+-]\d{2}:?\d{2})$/i.test(expiration) ? expiration : `${expiration}Z`)
  if (!/^\d{4}-\d{2}-\d{2}T/.test(expiration) || Number.isNaN(expires)) throw invalid(`Invalid 'expiration' value: '${expiration}'.`)
  if (!Array.isArray(conditions)) throw invalid('Policy missing conditions.')
  return { expiration: expires, conditions: conditions.flatMap(condition) }
}

function fieldName (x: unknown, text: string): string {
  if (typeof x !== 'string' || !x.startsWith('$') || x.length < 2) throw invalid(`Invalid Condition: ${text}: the field must be named as "$name".`)
  return x.slice(1).toLowerCase()
}

function condition (c: unknown): PolicyCondition[] {
  const text = JSON.stringify(c)
  if (Array.isArray(c)) {
    const [op, a, b] = c as unknown[]
    if (c.length !== 3 || typeof op !== 'string') throw invalid(`Invalid Condition: ${text}: a condition list has an operation and two values.`)
    switch (op.toLowerCase()) {
      case 'eq':
      case 'starts-with':
        if (typeof b !== 'string') throw invalid(`Invalid Condition: ${text}: the value must be a string.`)
        return [{ op: op.toLowerCase() as 'eq' | 'starts-with', field: fieldName(a, text), value: b, text }]
      case 'content-length-range': {
        const [min, max] = [Number(a), Number(b)]
        if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 0 || max < min) throw invalid(`Invalid Condition: ${text}: content-length-range takes two sizes in bytes, the smaller first.`)
        return [{ op: 'content-length-range', min, max, text }]
      }
      default:
        throw invalid(`Invalid Condition: ${text}: unknown operation "${op}".`)
    }
  }
  if (typeof c === 'object' && c !== null) {
    const entries = Object.entries(c)
    if (entries.length === 0) throw invalid(`Invalid Condition: ${text}.`)
    return entries.map(([field, value]) => {
      if (typeof value !== 'string') throw invalid(`Invalid Condition: ${text}: the value must be a string.`)
      return { op: 'eq', field: field.replace(/^\$/, '').toLowerCase(), value, text }
    })
  }
  throw invalid(`Invalid Condition: ${text}.`)
}

function denied (why: string): S3Error {
  return new S3Error('AccessDenied', `Invalid according to Policy: ${why}`)
}

/**
 * Checks a form against its policy: not expired, every condition met (the
 * bucket's against the bucket posted to), every field named by a condition.
 * Returns the file sizes the policy allows, which are checked as it streams.
 */
export function checkPostPolicy (policy: PostPolicy, bucket: string, fields: ReadonlyMap<string, string>, now: number): { min: number, max: number } {
  if (policy.expiration <= now) throw denied('Policy expired.')
  const named = new Set<string>()
  let min = 0
  let max = Infinity
  for (const c of policy.conditions) {
    if (c.op === 'content-length-range') {
      min = Math.max(min, c.min)
      max = Math.min(max, c.max)
      continue
    }
    named.add(c.field)
    const value = c.field === 'bucket' ? bucket : fields.get(c.field) ?? ''
    // A Content-Type of several values (comma-separated) meets starts-with when each of them does.
    const met = c.op === 'eq'
      ? value === c.value
      : (c.field === 'content-type' ? value.split(',').map(v => v.trim()) : [value]).every(v => v.startsWith(c.value))
    if (!met) throw denied(`Policy Condition failed: ${c.text}`)
  }
  const extra = [...fields.keys()].filter(f => !named.has(f) && !UNCONDITIONED.has(f) && !f.startsWith('x-ignore-'))
  if (extra.length > 0) throw denied(`Extra input fields: ${extra.join(', ')}`)
  return { min, max }
}

/** Who signed a form's policy. */
export interface PostSigner {
  accessKeyId: string
  sessionToken?: string
  /** s3:signatureversion as IAM conditions see it. */
  version: 'AWS4-HMAC-SHA256' | 'AWS'
}

function required (fields: ReadonlyMap<string, string>, name: string): string {
  const v = fields.get(name)
  if (v === undefined || v === '') throw new S3Error('InvalidArgument', `Bucket POST must contain a field named '${name}'. If it is specified, please check the order of the fields.`, { detail: { ArgumentName: name } })
  return v
}

/**
 * Verifies the signature over a form's policy: SigV4 (x-amz-algorithm,
 * x-amz-credential, x-amz-date, x-amz-signature: an HMAC of the policy's
 * base64 text with the credential's signing key) or SigV2 (AWSAccessKeyId,
 * signature: an HMAC-SHA1 with the secret). Throws the S3 error a client
 * should see when it does not verify.
 */
export async function verifyPostSignature (fields: ReadonlyMap<string, string>, credentials: CredentialProvider, hashes: Hashes): Promise<PostSigner> {
  const policy = required(fields, 'policy')
  const token = fields.get('x-amz-security-token')
  const session = token === undefined ? {} : { sessionToken: token }
  if (fields.has('x-amz-algorithm') || fields.has('x-amz-signature') || !fields.has('awsaccesskeyid')) {
    const algorithm = required(fields, 'x-amz-algorithm')
    if (algorithm !== 'AWS4-HMAC-SHA256') throw new S3Error('InvalidArgument', `x-amz-algorithm "${algorithm}" is not supported: use AWS4-HMAC-SHA256.`, { detail: { ArgumentName: 'x-amz-algorithm', ArgumentValue: algorithm } })
    const credential = parseCredential(required(fields, 'x-amz-credential'), 'InvalidArgument')
    if (!/^\d{8}T\d{6}Z$/.test(required(fields, 'x-amz-date'))) throw new S3Error('InvalidArgument', 'x-amz-date must be a date as YYYYMMDDTHHMMSSZ.', { detail: { ArgumentName: 'x-amz-date' } })
    const signature = required(fields, 'x-amz-signature')
    const secret = await credentials.secretFor(credential.accessKeyId, token)
    if (secret === undefined) throw new S3Error('InvalidAccessKeyId', undefined, { detail: { AWSAccessKeyId: credential.accessKeyId } })
    const expected = toHex(hashes.hmacSha256(signingKey(hashes, secret, credential.date, credential.region, credential.service), utf8(policy)))
    if (!bytesEqual(utf8(expected), utf8(signature.toLowerCase()))) throw new S3Error('SignatureDoesNotMatch', undefined, { detail: { AWSAccessKeyId: credential.accessKeyId, StringToSign: policy } })
    return { accessKeyId: credential.accessKeyId, version: 'AWS4-HMAC-SHA256', ...session }
  }
  const accessKeyId = required(fields, 'awsaccesskeyid')
  const signature = required(fields, 'signature')
  const secret = await credentials.secretFor(accessKeyId, token)
  if (secret === undefined) throw new S3Error('InvalidAccessKeyId', undefined, { detail: { AWSAccessKeyId: accessKeyId } })
  const expected = toBase64(hashes.hmacSha1(utf8(secret), utf8(policy)))
  if (!bytesEqual(utf8(expected), utf8(signature))) throw new S3Error('SignatureDoesNotMatch', undefined, { detail: { AWSAccessKeyId: accessKeyId, StringToSign: policy } })
  return { accessKeyId, version: 'AWS', ...session }
}
