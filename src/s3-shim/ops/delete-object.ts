import { S3Error } from '../../core/errors.js'
import { NULL_VERSION } from '../../core/versioning.js'
import type { Context } from '../context.js'
import { applyObjectAcl } from './get-acl.js'
import { deleteHeaders, deleteVersion } from '../http/version-id.js'

/** S3's conditional deletes, which s3mesh does not make: refused rather than ignored (a delete the caller meant to happen only if unchanged). */
export const CONDITIONAL_DELETE = 'Conditional deletes (If-Match on DeleteObject, an ETag in DeleteObjects) are not supported; nothing was deleted.'

export async function deleteObject (ctx: Context): Promise<Response> {
  if (ctx.headers.has('if-match') || ctx.headers.has('x-amz-if-match-last-modified-time') || ctx.headers.has('x-amz-if-match-size')) throw new S3Error('NotImplemented', CONDITIONAL_DELETE)
  const versionId = ctx.query.get('versionId')
  const result = await deleteVersion(ctx, ctx.key, versionId)
  // An object's ACL is the key's: it goes with the object, not with an older version deleted (or one that never was).
  if (versionId === undefined || versionId === NULL_VERSION) await applyObjectAcl(ctx, ctx.bucket, ctx.key, undefined)
  return new Response(null, { status: 204, headers: deleteHeaders(result) })
}
