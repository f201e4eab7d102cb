import { MESH_ACCOUNT } from '../core/access/access-control.js'
import { S3Error } from '../core/errors.js'

/** s3mesh has one owner (the root user); S3 responses that name an owner name this one. */
export const OWNER = { ID: 's3mesh', DisplayName: 's3mesh' }

/**
 * Refuses a request whose x-amz-expected-bucket-owner (or, for a copy's
 * source, x-amz-source-expected-bucket-owner) names another account than
 * the one that owns every bucket here (STS GetCallerIdentity's): a client
 * sends it so that it never writes to, or reads from, a bucket someone else
 * owns, which S3 answers with 403.
 */
export function refuseOtherOwner (headers: Headers): void {
  for (const header of ['x-amz-expected-bucket-owner', 'x-amz-source-expected-bucket-owner']) {
    const expected = headers.get(header)?.trim()
    if (expected !== undefined && expected !== MESH_ACCOUNT) {
      throw new S3Error('AccessDenied', `The bucket is owned by account ${MESH_ACCOUNT}, not the ${expected} that ${header} expects.`)
    }
  }
}
