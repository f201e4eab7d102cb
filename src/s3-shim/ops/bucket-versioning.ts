import { S3Error } from '../../core/errors.js'
import type { Context } from '../context.js'
import { textOf, xmlResponse } from '../xml.js'

/** A bucket's versioning state: none for a bucket never set (what rclone and s3cmd ask before they list). */
export async function getBucketVersioning (ctx: Context): Promise<Response> {
  const bucket = await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
  return xmlResponse('VersioningConfiguration', bucket.versioning === undefined ? {} : { Status: bucket.versioning })
}

/**
 * Sets a bucket's versioning (Enabled or Suspended; it is never unset, as in
 * S3). A store that keeps no versions says so rather than pretending
 * (every store s3mesh serves keeps them: docs/plans/versioning.md).
 */
export async function putBucketVersioning (ctx: Context): Promise<Response> {
  const config = await ctx.xml('VersioningConfiguration')
  const status = textOf(config, 'Status')
  if (status !== 'Enabled' && status !== 'Suspended') {
    throw new S3Error('MalformedXML', 'The versioning configuration\'s Status must be Enabled or Suspended.')
  }
  const mfa = textOf(config, 'MfaDelete')
  if (mfa !== undefined && mfa !== 'Disabled') throw new S3Error('NotImplemented', 's3mesh does not implement MFA delete.')
  const set = ctx.store.setBucketVersioning
  if (set === undefined) {
    await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
    throw new S3Error('NotImplemented', 'This endpoint keeps no object versions: set versioning through a node.')
  }
  await set.call(ctx.store, ctx.bucket, status, { signal: ctx.signal })
  return new Response(null, { status: 200 })
}
