import { S3Error } from '../../core/errors.js'
import type { ObjectHandle } from '../../core/object-store.js'
import type { Context } from '../context.js'
import { checkConditions, readConditions } from '../http/conditions.js'
import { applyResponseOverrides, objectHeaders } from '../http/metadata.js'
import { resolveRange } from '../http/range.js'

/** GET ?partNumber=N reads one part of a multipart object; s3mesh keeps only whole objects, so only part 1 of a single-part object is served. */
function checkPartNumber (ctx: Context, handle: ObjectHandle): void {
  const n = ctx.query.get('partNumber')
  if (n === undefined) return
  if (n !== '1' || handle.info.parts !== undefined) throw new S3Error('NotImplemented', 'Reading single parts of multipart objects (partNumber) is not supported; use a Range.')
}

export async function getObject (ctx: Context): Promise<Response> {
  const handle = await ctx.store.openObject(ctx.bucket, ctx.key, { signal: ctx.signal })
  try {
    const { info } = handle
    checkConditions(readConditions(ctx.headers), info)
    checkPartNumber(ctx, handle)
    const range = resolveRange(ctx.headers.get('range'), info.size)
    const headers = objectHeaders(info)
    applyResponseOverrides(headers, ctx.query, ctx.auth.principal.kind === 'anonymous')
    const body = handle.streamReady !== undefined ? await handle.streamReady(range) : handle.stream(range)
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
