import { S3Error } from '../../core/errors.js'
import { objectPath } from '../../core/names.js'
import type { Context } from '../context.js'
import { quoteEtag, replicasHeader } from '../respond.js'
import { elementsOf, textOf, xmlResponse } from '../xml.js'
import { uploadIdOf } from '../multipart-params.js'
import { applyObjectAcl } from './get-acl.js'

export async function completeMultipartUpload (ctx: Context): Promise<Response> {
  const uploadId = uploadIdOf(ctx)
  const doc = await ctx.xml('CompleteMultipartUpload')
  const parts = elementsOf(doc, 'Part').map(p => {
    const n = (textOf(p, 'PartNumber') ?? '').trim()
    const etag = textOf(p, 'ETag')
    if (!/^\d{1,5}$/.test(n) || etag === undefined) throw new S3Error('MalformedXML', 'Every Part needs a PartNumber and an ETag.')
    return { partNumber: Number(n), etag: etag.trim() }
  })
  const info = await ctx.store.completeMultipartUpload(ctx.bucket, ctx.key, uploadId, parts, { signal: ctx.signal })
  // The new object has the ACL its upload asked for, or none: it does not inherit the one it replaces.
  await applyObjectAcl(ctx, ctx.bucket, ctx.key, ctx.auth.access?.uploadAcls.get(uploadId))
  ctx.auth.access?.uploadAcls.delete(uploadId)
  return xmlResponse('CompleteMultipartUploadResult', {
    Location: `${ctx.url.origin}${objectPath(ctx.bucket, ctx.key)}`,
    Bucket: ctx.bucket,
    Key: ctx.key,
    ETag: quoteEtag(info.etag),
  }, { headers: replicasHeader(info) })
}
