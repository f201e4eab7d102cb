import type { Context } from '../context.js'

export async function headBucket (ctx: Context): Promise<Response> {
  await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
  return new Response(null, { status: 200, headers: { 'x-amz-bucket-region': ctx.region } })
}
