import type { AccessControl, Principal } from '../../core/access/access-control.js'
import { isSigV2Presigned, verifySigV2Presigned } from './sigv2-presigned.js'
import { verifySigV4, type CredentialProvider, type SignedIdentity, type VerifyOptions } from './sigv4.js'

export interface AuthenticateOptions extends VerifyOptions {
  /** The bucket a virtual-hosted request names in its Host (SigV2 signs it). */
  bucketFromHost?: string
}

/**
 * Who signed a request: SigV4 in the Authorization header or a presigned
 * URL, or a SigV2 presigned URL (s3cmd signurl). Undefined for a request that
 * carries no signature at all (anonymous); the S3 error a client should see
 * for any signature that does not verify. What every s3mesh endpoint checks
 * requests with: S3 and the mesh API alike.
 */
export async function authenticate (request: Request, url: URL, options: AuthenticateOptions): Promise<SignedIdentity | undefined> {
  if (request.headers.get('authorization') === null && isSigV2Presigned(url)) {
    return await verifySigV2Presigned(request, url, { credentials: options.credentials, hashes: options.hashes, now: options.now, bucketFromHost: options.bucketFromHost })
  }
  return await verifySigV4(request, url, options)
}

export interface SignedPrincipal {
  identity: SignedIdentity
  principal: Principal
}

/**
 * Who signed a request, as the access layer sees them: the access key (and
 * session token) resolved once, for the signature's secret and for the
 * principal decisions are made for. Without `access`, the `credentials`
 * given are root's. Undefined for an unsigned request.
 */
export async function authenticatePrincipal (request: Request, url: URL, access: AccessControl | undefined, options: Omit<AuthenticateOptions, 'credentials'> & { credentials?: CredentialProvider }): Promise<SignedPrincipal | undefined> {
  const { credentials, principalOf } = principalCredentials(access, options.credentials)
  const identity = await authenticate(request, url, { ...options, credentials })
  if (identity === undefined) return undefined
  return { identity, principal: principalOf(identity.accessKeyId) }
}

/**
 * The secrets a signature is checked with, and who signed once it has been:
 * with `access`, the principal its key resolves to (resolved once, with the
 * secret); without, the `credentials` given, which are root's.
 */
export function principalCredentials (access: AccessControl | undefined, credentials?: CredentialProvider): { credentials: CredentialProvider, principalOf: (accessKeyId: string) => Principal } {
  let principal: Principal | undefined
  return {
    credentials: access === undefined
      ? credentials ?? { secretFor: () => undefined }
      : { secretFor: async (key, token) => { const r = await access.resolve(key, token); principal = r.principal; return r.secret } },
    principalOf: accessKeyId => principal ?? { kind: 'root', accessKeyId },
  }
}
