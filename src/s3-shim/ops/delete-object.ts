import { S3Error } from '../../core/errors.js'
import type { Context } from '../context.js'
import { deleteKeepingAcl } from './get-acl.js'
import { deleteHeaders } from '../http/version-id.js'

/** S3's conditional deletes, which s3mesh does not make: refused rather than ignored (a delete the caller meant to happen only if unchanged). */
export const CONDITIONAL_DELETE = 'Conditional deletes (If-Match on DeleteObject, an ETag in DeleteObjects) are not supported; nothing was deleted.'

export async function deleteObject (ctx: Context): Promise<Response> {
  if (ctx.headers.has('if-match') || ctx.headers.has('x-amz-if-match-last-modified-time') || ctx.headers.has('x-amz-if-match-size')) throw new S3Error('NotImplemented', CONDITIONAL_DELETE)
  const result = await deleteKeepingAcl(ctx, ctx.key, ctx.query.get('versionId'))
  return new Response(null, { status: 204, headers: deleteHeaders(result) })
}
