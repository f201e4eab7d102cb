import type { Context } from '../context.js'

export async function deleteBucket (ctx: Context): Promise<Response> {
  await ctx.store.deleteBucket(ctx.bucket, { signal: ctx.signal })
  return new Response(null, { status: 204 })
}
