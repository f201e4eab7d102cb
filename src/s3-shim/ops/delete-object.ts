import type { Context } from '../context.js'

export async function deleteObject (ctx: Context): Promise<Response> {
  await ctx.store.deleteObject(ctx.bucket, ctx.key, { signal: ctx.signal })
  return new Response(null, { status: 204 })
}
