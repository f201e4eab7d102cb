import { idOf } from '../../core/access/access-records.js'
import type { Context } from '../context.js'

export async function deleteBucket (ctx: Context): Promise<Response> {
  await ctx.store.deleteBucket(ctx.bucket, { signal: ctx.signal })
  // Its policy and ACL go with it: a bucket made later under the name starts private.
  const access = ctx.auth.access
  if (access === undefined || access.state.readOnly) return new Response(null, { status: 204 })
  const ids = [idOf('bucket-policy', ctx.bucket), idOf('bucket-acl', ctx.bucket)].filter(id => access?.state.get(id) !== undefined)
  if (ids.length > 0) await access!.state.commit([], ids)
  return new Response(null, { status: 204 })
}
