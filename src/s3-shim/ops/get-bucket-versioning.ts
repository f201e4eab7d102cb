import type { Context } from '../context.js'
import { xmlResponse } from '../xml.js'

/** s3mesh does not version objects; clients that ask (rclone, s3cmd) get "never enabled". */
export async function getBucketVersioning (ctx: Context): Promise<Response> {
  await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
  return xmlResponse('VersioningConfiguration', {})
}
