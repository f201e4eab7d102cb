import { S3Error } from '../../core/errors.js'
import { bareEtag } from '../../core/multipart.js'
import type { Context } from '../context.js'
import { deleteKeepingAcl } from './get-acl.js'
import { deleteHeaders } from '../http/version-id.js'

/** What a conditional delete's If-Match (or DeleteObjects' <ETag>) asks: the ETag unquoted, or `*` (any object). */
export function deleteMatch (value: string | null | undefined, versionId: string | undefined, header = 'If-Match'): string | undefined {
  if (value === null || value === undefined) return undefined
  const match = value.trim()
  if (match === '' || match.includes(',')) throw new S3Error('InvalidArgument', `${header} on a delete takes one ETag, or *.`, { detail: { ArgumentName: header, ArgumentValue: match } })
  // S3 checks the key's current version even when a version is named; s3mesh refuses that rather than delete one version on another's ETag.
  if (versionId !== undefined) throw new S3Error('NotImplemented', `A conditional delete (${header}) of a version named by its id is not supported; nothing was deleted.`)
  return match === '*' ? '*' : bareEtag(match.replace(/^W\//, ''))
}

/** S3 takes these on directory buckets only. */
export const DIRECTORY_BUCKET_CONDITIONS = 'Conditional deletes by last-modified time or size are for S3 directory buckets; s3mesh takes If-Match (an ETag, or *). Nothing was deleted.'

export async function deleteObject (ctx: Context): Promise<Response> {
  if (ctx.headers.has('x-amz-if-match-last-modified-time') || ctx.headers.has('x-amz-if-match-size')) throw new S3Error('NotImplemented', DIRECTORY_BUCKET_CONDITIONS)
  const versionId = ctx.query.get('versionId')
  const result = await deleteKeepingAcl(ctx, ctx.key, versionId, deleteMatch(ctx.headers.get('if-match'), versionId))
  return new Response(null, { status: 204, headers: deleteHeaders(result) })
}
