import { streamOfBytes } from '../../core/streams.js'
import type { Context } from '../context.js'
import { checksumHeaders } from '../http/checksum-headers.js'
import { quoteEtag } from '../respond.js'
import { partNumberOf, uploadIdOf } from '../multipart-params.js'

export async function uploadPart (ctx: Context): Promise<Response> {
  const partNumber = partNumberOf(ctx)
  const uploadId = uploadIdOf(ctx)
  const { body, size, verified, checksum, checksumAlgorithm } = ctx.body()
  const part = await ctx.store.uploadPart(ctx.bucket, ctx.key, uploadId, partNumber, body ?? streamOfBytes(new Uint8Array(0)), { size, verified, checksum, checksumAlgorithm, signal: ctx.signal })
  return new Response(null, { status: 200, headers: { etag: quoteEtag(part.etag), ...checksumHeaders(part.checksum) } })
}
