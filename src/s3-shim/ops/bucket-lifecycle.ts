import { S3Error } from '../../core/errors.js'
import type { Context } from '../context.js'
import { lifecycleFromXml, lifecycleXml } from '../lifecycle-xml.js'
import { xmlResponse } from '../xml.js'

export async function getBucketLifecycleConfiguration (ctx: Context): Promise<Response> {
  const bucket = await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
  if (bucket.lifecycle === undefined) throw new S3Error('NoSuchLifecycleConfiguration', undefined, { resource: ctx.bucket, detail: { BucketName: ctx.bucket } })
  return xmlResponse('LifecycleConfiguration', lifecycleXml(bucket.lifecycle))
}

export async function putBucketLifecycleConfiguration (ctx: Context): Promise<Response> {
  const rules = lifecycleFromXml(await ctx.xml('LifecycleConfiguration'))
  await ctx.store.setBucketLifecycle(ctx.bucket, rules, { signal: ctx.signal })
  return new Response(null, { status: 200 })
}

export async function deleteBucketLifecycle (ctx: Context): Promise<Response> {
  await ctx.store.setBucketLifecycle(ctx.bucket, undefined, { signal: ctx.signal })
  return new Response(null, { status: 204 })
}
