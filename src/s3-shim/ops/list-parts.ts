import type { Context } from '../context.js'
import { madeAt, quoteEtag } from '../respond.js'
import { checksumXml } from '../http/checksum-headers.js'
import { xmlResponse } from '../xml.js'
import { parseMaxKeys, parsePartNumberMarker } from '../listing.js'
import { uploadIdOf } from '../multipart-params.js'
import { OWNER } from '../owner.js'

export async function listParts (ctx: Context): Promise<Response> {
  const uploadId = uploadIdOf(ctx)
  const marker = parsePartNumberMarker(ctx.query.get('part-number-marker'), 'part-number-marker')
  const maxParts = parseMaxKeys(ctx.query.get('max-parts'), 'max-parts')
  const all = (await ctx.store.listParts(ctx.bucket, ctx.key, uploadId, { signal: ctx.signal })).filter(p => p.partNumber > marker)
  const parts = all.slice(0, maxParts)
  // max-parts=0 is an empty page that is not truncated, as ListObjects' max-keys=0 is (a paginator would loop on it).
  const isTruncated = maxParts > 0 && all.length > parts.length
  return xmlResponse('ListPartsResult', {
    Bucket: ctx.bucket,
    Key: ctx.key,
    UploadId: uploadId,
    Initiator: OWNER,
    Owner: OWNER,
    StorageClass: 'STANDARD',
    PartNumberMarker: marker,
    ...(isTruncated ? { NextPartNumberMarker: parts.at(-1)!.partNumber } : {}),
    MaxParts: maxParts,
    IsTruncated: isTruncated,
    Part: parts.map(p => ({ PartNumber: p.partNumber, LastModified: madeAt(p.lastModified), ETag: quoteEtag(p.etag), Size: p.size, ...checksumXml(p.checksum) })),
  })
}
