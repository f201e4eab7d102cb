import type { Context } from '../context.js'
import { applyObjectAcl } from './get-acl.js'

export async function deleteObject (ctx: Context): Promise<Response> {
  await ctx.store.deleteObject(ctx.bucket, ctx.key, { signal: ctx.signal })
  await applyObjectAcl(ctx, ctx.bucket, ctx.key, undefined)
  return new Response(null, { status: 204 })
}
