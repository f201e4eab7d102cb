import type { Context } from '../context.js'
import { metadataFromHeaders, tagsFromHeader } from '../http/metadata.js'
import { xmlResponse } from '../xml.js'

export async function createMultipartUpload (ctx: Context): Promise<Response> {
  const uploadId = await ctx.store.createMultipartUpload(ctx.bucket, ctx.key, {
    metadata: metadataFromHeaders(ctx.headers), tags: tagsFromHeader(ctx.headers), signal: ctx.signal,
  })
  return xmlResponse('InitiateMultipartUploadResult', { Bucket: ctx.bucket, Key: ctx.key, UploadId: uploadId })
}
