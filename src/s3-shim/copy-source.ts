import { isS3Error, S3Error } from '../core/errors.js'
import { assertBucketName, assertObjectKey } from '../core/names.js'
import type { ObjectHandle } from '../core/object-store.js'
import type { Context } from './context.js'
import { checkConditions, readConditions } from './http/conditions.js'
import { safeDecode } from './router.js'
import { versionOf } from './http/version-id.js'

export interface CopySource {
  bucket: string
  key: string
  /** The version named (`?versionId=`), if any. */
  versionId?: string
}

/**
 * x-amz-copy-source taken apart without checks (the permissions a copy needs
 * are worked out from it before the copy checks it): `bucket/key` decoded,
 * the version it names (`?versionId=`, decoded; none when empty), and
 * whether something other than a versionId follows "?".
 */
export function splitCopySource (raw: string): { path: string, versionId?: string, otherQuery: boolean } {
  const [path, query] = raw.split('?', 2) as [string, string | undefined]
  const versionId = query === undefined ? undefined : /^versionId=(.*)$/.exec(query)?.[1]
  return { path: safeDecode(path.replace(/^\//, '')), ...(versionId === undefined || versionId === '' ? {} : { versionId: safeDecode(versionId) }), otherQuery: query !== undefined && versionId === undefined }
}

/** Parses x-amz-copy-source: `bucket/key` or `/bucket/key`, URL-encoded, optionally `?versionId=`. */
export function parseCopySource (ctx: Context): CopySource {
  const raw = ctx.headers.get('x-amz-copy-source') ?? ''
  const { path: decoded, versionId, otherQuery } = splitCopySource(raw)
  if (otherQuery) throw new S3Error('InvalidArgument', 'x-amz-copy-source may name a versionId and nothing else after "?".', { detail: { ArgumentName: 'x-amz-copy-source', ArgumentValue: raw } })
  const slash = decoded.indexOf('/')
  if (slash <= 0 || slash === decoded.length - 1) {
    throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', { detail: { ArgumentName: 'x-amz-copy-source', ArgumentValue: raw } })
  }
  const source = { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1), ...(versionId === undefined ? {} : { versionId }) }
  assertBucketName(source.bucket)
  assertObjectKey(source.key)
  return source
}

/** Opens the copy source and checks the x-amz-copy-source-if-* conditions (412 when one fails). */
export async function openCopySource (ctx: Context, source: CopySource): Promise<ObjectHandle> {
  const handle = await ctx.store.openObject(source.bucket, source.key, await versionOf(ctx.store, source.bucket, source.key, source.versionId, ctx.signal)).catch((err: unknown) => {
    // A delete marker named by its id: a bad request here (S3's 400), not a GET of a marker's 405 with the marker's headers.
    throw isS3Error(err, 'MethodNotAllowed') ? new S3Error('InvalidRequest', 'The source of a copy request may not specifically refer to a delete marker by version id.') : err
  })
  try {
    checkConditions(readConditions(ctx.headers, 'x-amz-copy-source-if-'), handle.info, 'PreconditionFailed')
  } catch (err) {
    await handle.close()
    throw err
  }
  return handle
}

/**
 * Lets a copy's source go when the store refused the copy: its body is
 * cancelled (some handles leave a stream once taken to whoever reads it, and
 * a fetch from a holder no one reads stalls that version's other reads), then
 * the handle closed.
 */
export async function letGo (body: ReadableStream<Uint8Array>, handle: ObjectHandle, reason: unknown): Promise<void> {
  await body.cancel(reason).catch(() => {})
  await handle.close().catch(() => {})
}
