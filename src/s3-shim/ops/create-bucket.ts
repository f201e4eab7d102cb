import { assertBucketName } from '../../core/names.js'
import type { Context } from '../context.js'

export async function createBucket (ctx: Context): Promise<Response> {
  assertBucketName(ctx.bucket)
  // A CreateBucketConfiguration (LocationConstraint) may come along; s3mesh has
  // one region, so the body only has to be well-formed.
  await ctx.optionalXml('CreateBucketConfiguration')
  await ctx.store.createBucket(ctx.bucket, { signal: ctx.signal })
  return new Response(null, { status: 200, headers: { location: `/${ctx.bucket}` } })
}
