import type { Context } from '../context.js'
import { uploadIdOf } from '../multipart-params.js'

export async function abortMultipartUpload (ctx: Context): Promise<Response> {
  await ctx.store.abortMultipartUpload(ctx.bucket, ctx.key, uploadIdOf(ctx), { signal: ctx.signal })
  return new Response(null, { status: 204 })
}
