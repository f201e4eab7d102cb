import { isSigV2Presigned, verifySigV2Presigned } from './sigv2-presigned.js'
import { verifySigV4, type SignedIdentity, type VerifyOptions } from './sigv4.js'

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
