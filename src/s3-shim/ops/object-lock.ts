/**
 * Object lock's own operations: a bucket's configuration (with its default
 * retention), a version's retention and legal hold. The store keeps and
 * checks them (core/object-lock.ts); one that keeps none answers as S3
 * does for a bucket without object lock.
 */
import { S3Error } from '../../core/errors.js'
import { missingLockError, type LockChange, type VersionLock } from '../../core/object-lock.js'
import type { Context } from '../context.js'
import { asksBypass } from '../access/request-actions.js'
import { requestedVersion } from '../http/version-id.js'
import { legalHoldFrom, legalHoldXml, lockConfigurationFrom, lockConfigurationXml, retentionFrom, retentionXml } from '../object-lock-xml.js'
import { xmlResponse } from '../xml.js'


export async function getObjectLockConfiguration (ctx: Context): Promise<Response> {
  const bucket = await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
  if (bucket.objectLock === undefined) throw new S3Error('ObjectLockConfigurationNotFoundError', undefined, { resource: ctx.bucket, detail: { BucketName: ctx.bucket } })
  return xmlResponse('ObjectLockConfiguration', lockConfigurationXml(bucket.objectLock))
}

export async function putObjectLockConfiguration (ctx: Context): Promise<Response> {
  const lock = lockConfigurationFrom(await ctx.xml('ObjectLockConfiguration'))
  const set = ctx.store.setBucketObjectLock
  if (set === undefined) {
    await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
    throw new S3Error('NotImplemented', 'This endpoint does not keep object lock yet (docs/plans/object-lock.md).')
  }
  await set.call(ctx.store, ctx.bucket, lock, { signal: ctx.signal })
  return new Response(null, { status: 200 })
}

/** The version's lock, in a bucket with object lock (InvalidRequest otherwise, as S3 answers). */
async function lockOfVersion (ctx: Context): Promise<VersionLock | undefined> {
  const bucket = await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
  if (bucket.objectLock === undefined) throw missingLockError('version')
  return (await ctx.store.headObject(ctx.bucket, ctx.key, await requestedVersion(ctx))).lock
}

const notSet = (ctx: Context): S3Error => new S3Error('NoSuchObjectLockConfiguration', undefined, { resource: `/${ctx.bucket}/${ctx.key}`, detail: { Key: ctx.key } })

export async function getObjectRetention (ctx: Context): Promise<Response> {
  const lock = await lockOfVersion(ctx)
  if (lock?.retention === undefined) throw notSet(ctx)
  return xmlResponse('Retention', retentionXml(lock.retention))
}

export async function getObjectLegalHold (ctx: Context): Promise<Response> {
  const lock = await lockOfVersion(ctx)
  if (lock?.legalHold === undefined) throw notSet(ctx)
  return xmlResponse('LegalHold', legalHoldXml(lock.legalHold))
}

async function setLock (ctx: Context, change: LockChange): Promise<Response> {
  const set = ctx.store.setObjectLock
  // A bucket without object lock is said first, as S3 says it (before whether the key or version exists).
  if (set === undefined || (await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })).objectLock === undefined) throw missingLockError('version')
  await set.call(ctx.store, ctx.bucket, ctx.key, change, { ...await requestedVersion(ctx), bypassGovernance: asksBypass(ctx.headers) })
  return new Response(null, { status: 200 })
}

export async function putObjectRetention (ctx: Context): Promise<Response> {
  return await setLock(ctx, { retention: retentionFrom(await ctx.xml('Retention'), new Date()) })
}

export async function putObjectLegalHold (ctx: Context): Promise<Response> {
  return await setLock(ctx, { legalHold: legalHoldFrom(await ctx.xml('LegalHold')) })
}
