import { NULL_VERSION } from '../../core/versioning.js'
import type { Context } from '../context.js'
import { applyObjectAcl } from './get-acl.js'
import { deleteHeaders, deleteVersion } from '../http/version-id.js'

export async function deleteObject (ctx: Context): Promise<Response> {
  const versionId = ctx.query.get('versionId')
  const result = await deleteVersion(ctx, ctx.key, versionId)
  // An object's ACL is the key's: it goes with the object, not with an older version deleted (or one that never was).
  if (versionId === undefined || versionId === NULL_VERSION) await applyObjectAcl(ctx, ctx.bucket, ctx.key, undefined)
  return new Response(null, { status: 204, headers: deleteHeaders(result) })
}
