import type { Context } from '../context.js'
import { checkConditions, readConditions } from '../http/conditions.js'
import { applyResponseOverrides } from '../http/metadata.js'
import { requestedBytes } from '../http/range.js'
import { readHeaders } from './get-object.js'
import { requestedVersion } from '../http/version-id.js'

export async function headObject (ctx: Context): Promise<Response> {
  const info = await ctx.store.headObject(ctx.bucket, ctx.key, await requestedVersion(ctx))
  checkConditions(readConditions(ctx.headers), info)
  const range = requestedBytes(ctx.headers, ctx.query, info)
  const headers = readHeaders(ctx, info, range !== undefined)
  applyResponseOverrides(headers, ctx.query, ctx.auth.principal.kind === 'anonymous')
  if (range === undefined) {
    headers.set('content-length', String(info.size))
    return new Response(null, { status: 200, headers })
  }
  headers.set('content-length', String(range.end - range.start + 1))
  headers.set('content-range', `bytes ${range.start}-${range.end}/${info.size}`)
  return new Response(null, { status: 206, headers })
}
