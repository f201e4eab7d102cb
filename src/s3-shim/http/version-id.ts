import { S3Error } from '../../core/errors.js'
import type { ObjectStore, VersionOptions } from '../../core/object-store.js'
import { checkVersionId, NULL_VERSION, type DeleteResult } from '../../core/versioning.js'
import type { Context } from '../context.js'
import { asksBypass } from '../access/request-actions.js'

/**
 * The version a request names (`?versionId=`), checked: none for the key's
 * current one. A store that keeps no versions (docs/plans/versioning.md) has
 * only the `null` version, so a read of any other is NoSuchVersion rather
 * than the current object read in its place.
 */
export async function requestedVersion (ctx: Context): Promise<VersionOptions> {
  return await versionOf(ctx.store, ctx.bucket, ctx.key, ctx.query.get('versionId'), ctx.signal)
}

/** As requestedVersion, for a version named elsewhere (a copy source's). */
export async function versionOf (store: ObjectStore, bucket: string, key: string, versionId: string | undefined, signal?: AbortSignal): Promise<VersionOptions> {
  const named = namedVersion(versionId)
  if (named !== undefined && !kept(store, named)) {
    // A missing bucket is said first, as S3 says it.
    await store.headBucket(bucket, { ...(signal === undefined ? {} : { signal }) })
    throw new S3Error('NoSuchVersion', undefined, { resource: key, detail: { Key: key, VersionId: named } })
  }
  return { ...(signal === undefined ? {} : { signal }), ...(named === undefined ? {} : { versionId: named }) }
}

/**
 * Deletes `key` or the version named (`versionId`, checked), as S3 does: in a
 * store that keeps no versions a version other than `null` does not exist,
 * and deleting it deletes nothing (where ignoring the id would delete the
 * current object).
 */
export async function deleteVersion (ctx: Context, key: string, versionId: string | undefined, ifMatch?: string): Promise<DeleteResult> {
  const named = namedVersion(versionId)
  if (named !== undefined && !kept(ctx.store, named)) {
    await ctx.store.headBucket(ctx.bucket, { signal: ctx.signal })
    return { versionId: named }
  }
  // Passing a GOVERNANCE retention was asked for, and allowed (request-actions.ts requires s3:BypassGovernanceRetention).
  const bypass = asksBypass(ctx.headers) ? { bypassGovernance: true } : {}
  const match = ifMatch === undefined ? {} : { ifMatch }
  return await ctx.store.deleteObject(ctx.bucket, key, { signal: ctx.signal, ...bypass, ...match, ...(named === undefined ? {} : { versionId: named }) }) ?? (named === undefined ? {} : { versionId: named })
}

/** The headers DeleteObject answers with. */
export function deleteHeaders (result: DeleteResult): Headers {
  const headers = new Headers()
  if (result.versionId !== undefined) headers.set('x-amz-version-id', result.versionId)
  if (result.deleteMarker === true) headers.set('x-amz-delete-marker', 'true')
  return headers
}

function namedVersion (versionId: string | undefined): string | undefined {
  if (versionId === undefined) return undefined
  checkVersionId(versionId)
  return versionId
}

/** Whether `store` may have the version `versionId`: any, if it keeps versions; else only the `null` one. */
function kept (store: ObjectStore, versionId: string): boolean {
  return store.listObjectVersions !== undefined || versionId === NULL_VERSION
}
