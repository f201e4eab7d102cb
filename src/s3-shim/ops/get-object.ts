import type { ObjectInfo } from '../../core/object-store.js'
import type { Context } from '../context.js'
import { checksumMode, objectChecksumHeaders } from '../http/checksum-headers.js'
import { checkConditions, readConditions } from '../http/conditions.js'
import { applyResponseOverrides, objectHeaders } from '../http/metadata.js'
import { requestedBytes } from '../http/range.js'
import { requestedVersion } from '../http/version-id.js'
import { mayReadLock } from '../http/object-lock.js'
import { lockHeaders } from '../object-lock-xml.js'
import { expirationHeaders } from '../lifecycle-xml.js'

export async function getObject (ctx: Context): Promise<Response> {
  const handle = await ctx.store.openObject(ctx.bucket, ctx.key, await requestedVersion(ctx))
  try {
    const { info } = handle
    checkConditions(readConditions(ctx.headers), info)
    const range = requestedBytes(ctx.headers, ctx.query, info)
    const headers = readHeaders(ctx, info, range !== undefined)
    applyResponseOverrides(headers, ctx.query, ctx.auth.principal.kind === 'anonymous')
    const whole = await handle.body?.(range)
    if (whole !== undefined) await handle.close()
    const body = whole ?? (handle.streamReady !== undefined ? await handle.streamReady(range) : handle.stream(range))
    if (range === undefined) {
      headers.set('content-length', String(info.size))
      return new Response(body, { status: 200, headers })
    }
    headers.set('content-length', String(range.end - range.start + 1))
    headers.set('content-range', `bytes ${range.start}-${range.end}/${info.size}`)
    return new Response(body, { status: 206, headers })
  } catch (err) {
    await handle.close()
    throw err
  }
}

/**
 * An object's headers for a GET or HEAD, with its checksum when the client
 * asked for it and reads the whole object (a part's or a range's bytes are
 * not what the object's checksum is of).
 */
export function readHeaders (ctx: Context, info: ObjectInfo, partial: boolean): Headers {
  const headers = objectHeaders(info)
  // A multipart object's part count, as S3 gives it: only to a read of one part.
  if (info.parts !== undefined && ctx.query.get('partNumber') !== undefined) headers.set('x-amz-mp-parts-count', String(info.parts))
  for (const [name, value] of Object.entries(expirationHeaders(ctx.store, ctx.bucket, info))) headers.set(name, value)
  for (const [name, value] of Object.entries(lockHeaders(info.lock, info.lock === undefined ? { retention: false, legalHold: false } : mayReadLock(ctx)))) headers.set(name, value)
  if (!partial && ctx.query.get('partNumber') === undefined && checksumMode(ctx.headers)) {
    for (const [name, value] of Object.entries(objectChecksumHeaders(info.metadata.checksum))) headers.set(name, value)
  }
  return headers
}
