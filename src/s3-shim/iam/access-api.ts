/**
 * The AWS IAM and STS APIs at the S3 endpoint, as Ceph RGW and MinIO serve
 * them: a form-encoded POST to `/`, signed with SigV4 for service `iam` or
 * `sts`, answered in the query protocol's XML. `aws iam`, `aws sts`, boto3
 * and the SDK's clients work against it with `--endpoint-url`; so does
 * `s3mesh admin`. Root may do everything; a user what its policies allow
 * (iam:CreateUser, ...); anyone signed may ask STS for credentials of their own.
 */
import { AccessAdmin } from '../../core/access/access-admin.js'
import type { AccessControl, Principal } from '../../core/access/access-control.js'
import { IamError } from '../../core/access/iam-error.js'
import { isS3Error, S3Error } from '../../core/errors.js'
import { digestOf, toHex, type Hashes } from '../../core/hashes.js'
import { readAll } from '../../core/streams.js'
import type { ClientInfo } from '../access/request-actions.js'
import { globalContext } from '../access/request-actions.js'
import { authenticatePrincipal } from '../auth/authenticate.js'
import { renderXml, type XmlElement } from '../xml.js'
import { IAM_ACTIONS, type IamCall } from './iam-actions.js'
import { STS_ACTIONS } from './sts-actions.js'

/** Where pages reach the IAM and STS APIs on their own origin. */
export const ACCESS_API_PATHS = { iam: '/_s3mesh/v1/iam', sts: '/_s3mesh/v1/sts' } as const

export const IAM_NS = 'https://iam.amazonaws.com/doc/2010-05-08/'
export const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/'

/** A form body is small: the largest field is a policy document (6,144 characters, URL-encoded). */
const MAX_FORM_BYTES = 64 * 1024

export interface AccessApiOptions {
  access: AccessControl
  hashes: Hashes
  clockSkewMs: number
  client: ClientInfo
  requestId: string
}

/** Whether a request is for the IAM or STS API rather than S3: a signed form POST to the root naming service iam or sts. */
export function isAccessApiRequest (request: Request, url: URL, basePath = ''): boolean {
  // At the root of the S3 endpoint as AWS's clients call it; under /_s3mesh/v1/ for pages (the console), whose origin serves its own `/`.
  const paths = [`${basePath}/`, basePath, ACCESS_API_PATHS.iam, ACCESS_API_PATHS.sts]
  if (request.method !== 'POST' || !paths.includes(url.pathname)) return false
  if (!(request.headers.get('content-type') ?? '').startsWith('application/x-www-form-urlencoded')) return false
  const credential = /Credential=[^/]+\/\d{8}\/[^/]+\/(\w+)\//.exec(request.headers.get('authorization') ?? '')?.[1]
  return credential === 'iam' || credential === 'sts'
}

export async function accessApi (request: Request, o: AccessApiOptions): Promise<Response> {
  let service: 'iam' | 'sts' = /\/sts\//.test(request.headers.get('authorization') ?? '') ? 'sts' : 'iam'
  try {
    const body = await readAll(request.body, MAX_FORM_BYTES, request.signal).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err)
      // Too large, or never whole (a client silent or gone half-way): each says which.
      if (isS3Error(err, 'EntityTooLarge')) throw new IamError('ValidationError', `The request body is too large (at most ${MAX_FORM_BYTES} bytes): ${message}`)
      throw new IamError('ValidationError', `The request body could not be read: ${message}`)
    })
    const url = new URL(request.url)
    const bodySha256 = toHex(digestOf(o.hashes, 'sha256', body))
    // The body is what is signed: a declared hash must be the body's (else a captured request could carry another action).
    const declared = request.headers.get('x-amz-content-sha256')
    if (declared !== null && declared.toLowerCase() !== bodySha256) throw new IamError('SignatureDoesNotMatch', 'x-amz-content-sha256 is not the hash of the body sent: the IAM and STS APIs sign the body itself.')
    const signed = await authenticatePrincipal(request, url, o.access, {
      hashes: o.hashes, now: o.client.now, clockSkewMs: o.clockSkewMs, services: ['iam', 'sts'], bodySha256,
    }).catch((err: unknown) => { throw asIamError(err) })
    if (signed === undefined) throw new IamError('AccessDenied', 'The IAM and STS APIs need a signed request.')
    const { identity, principal } = signed
    service = identity.service as 'iam' | 'sts'
    const params = new URLSearchParams(new TextDecoder().decode(body))
    for (const [k, v] of url.searchParams) if (!params.has(k)) params.set(k, v)
    const action = params.get('Action') ?? ''
    const actions = service === 'iam' ? IAM_ACTIONS : STS_ACTIONS
    // Own properties only: Action=constructor or toString names no action.
    const handler = Object.hasOwn(actions, action) ? actions[action] : undefined
    if (handler === undefined) throw new IamError('InvalidAction', `${action === '' ? 'The request names no Action' : `${action} is not an action of the ${service.toUpperCase()} API s3mesh serves`}.`)
    const call: IamCall = {
      params, principal, access: o.access, admin: new AccessAdmin(o.access.state, o.access.root.accessKeyId, () => o.client.now),
      now: o.client.now,
      allow: (iamAction, resource, on = service, keys = {}) => { allow(o, principal, `${on}:${iamAction}`, resource, request.headers, keys) },
    }
    const result = await handler(call)
    const ns = service === 'iam' ? IAM_NS : STS_NS
    return new Response(renderXml(`${action}Response`, {
      '@xmlns': ns,
      ...(result === undefined ? {} : { [`${action}Result`]: result }),
      ResponseMetadata: { RequestId: o.requestId },
    }, false), { headers: { 'content-type': 'text/xml' } })
  } catch (err) {
    const e = asIamError(err)
    return new Response(renderXml('ErrorResponse', {
      '@xmlns': service === 'iam' ? IAM_NS : STS_NS,
      Error: { Type: e.status >= 500 ? 'Receiver' : 'Sender', Code: e.code, Message: e.message },
      RequestId: o.requestId,
    }, false), { status: e.status, headers: { 'content-type': 'text/xml' } })
  }
}

/** Root may do anything; anyone else what their policies allow. */
function allow (o: AccessApiOptions, p: Principal, action: string, resource: string, headers: Headers, keys: Record<string, string>): void {
  const decision = o.access.decide(p, { action, resource, context: { ...globalContext(headers, o.client), ...keys } })
  if (decision !== 'allow') {
    const who = p.kind === 'user' ? `User ${p.user.name}` : 'This caller'
    throw new IamError('AccessDenied', `${who} is not authorized to perform ${action} on resource ${resource}.`)
  }
}

/** S3's signature and credential errors in IAM's terms. */
function asIamError (err: unknown): IamError {
  if (err instanceof IamError) return err
  if (err instanceof S3Error) {
    switch (err.code) {
      case 'InvalidAccessKeyId': return new IamError('InvalidClientTokenId', err.message)
      case 'InvalidToken': return new IamError('InvalidClientTokenId', err.message)
      case 'ExpiredToken': return new IamError('ExpiredToken', err.message)
      case 'SignatureDoesNotMatch': return new IamError('SignatureDoesNotMatch', err.message)
      case 'AccessDenied': return new IamError('AccessDenied', err.message)
      case 'RequestTimeTooSkewed': return new IamError('SignatureDoesNotMatch', 'Signature expired: the request time is too far from the server time.')
      case 'InternalError': return new IamError('InternalFailure', err.message)
      default: return new IamError('IncompleteSignature', err.message)
    }
  }
  return new IamError('InternalFailure', 'We encountered an internal error. Please try again.')
}

export type { XmlElement }
