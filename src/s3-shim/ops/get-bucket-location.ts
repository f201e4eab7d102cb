import type { Context } from '../context.js'

export async function getBucketLocation (ctx: Context): Promise<Response> {
  await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
  // S3 answers an empty LocationConstraint for us-east-1.
  const region = ctx.region === 'us-east-1' ? '' : ctx.region
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${region}</LocationConstraint>`
  return new Response(body, { headers: { 'content-type': 'application/xml' } })
}
