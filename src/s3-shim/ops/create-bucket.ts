import { assertBucketName } from '../../core/names.js'
import type { Context } from '../context.js'
import { requestedAcl } from './get-acl.js'
import { asksLockedBucket } from '../http/object-lock.js'

export async function createBucket (ctx: Context): Promise<Response> {
  assertBucketName(ctx.bucket)
  const acl = requestedAcl(ctx)
  // A CreateBucketConfiguration (LocationConstraint) may come along; s3mesh has
  // one region, so the body only has to be well-formed.
  await ctx.optionalXml('CreateBucketConfiguration')
  await ctx.store.createBucket(ctx.bucket, { signal: ctx.signal })
  // Object lock: versioning on, then the lock (never turned off); the handler refused it already where the store keeps none.
  if (asksLockedBucket(ctx.headers)) {
    try {
      await ctx.store.setBucketVersioning!(ctx.bucket, 'Enabled', { signal: ctx.signal })
      await ctx.store.setBucketObjectLock!(ctx.bucket, {}, { signal: ctx.signal })
    } catch (err) {
      // Not left behind without its lock (a retry would find it made): the bucket goes, empty as it is.
      await ctx.store.deleteBucket(ctx.bucket).catch(() => {})
      throw err
    }
  }
  if (acl !== undefined && acl !== 'private' && ctx.auth.access !== undefined) await ctx.auth.access.state.commit([{ kind: 'bucket-acl', bucket: ctx.bucket, acl }])
  return new Response(null, { status: 200, headers: { location: `/${ctx.bucket}` } })
}
