import { S3Error } from '../../core/errors.js'
import type { Context } from '../context.js'
import { isoDate, quoteEtag } from '../respond.js'
import { checksumXml } from '../http/checksum-headers.js'
import { xmlResponse } from '../xml.js'
import { parseMaxKeys } from '../listing.js'
import { uploadIdOf } from '../multipart-params.js'
import { OWNER } from '../owner.js'

export async function listParts (ctx: Context): Promise<Response> {
  const uploadId = uploadIdOf(ctx)
  const markerText = ctx.query.get('part-number-marker') ?? '0'
  if (!/^\d{1,5}$/.test(markerText)) throw new S3Error('InvalidArgument', 'part-number-marker must be a part number (0 to 10000).', { detail: { ArgumentName: 'part-number-marker', ArgumentValue: markerText } })
  const marker = Number(markerText)
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
    Part: parts.map(p => ({ PartNumber: p.partNumber, LastModified: isoDate(p.lastModified), ETag: quoteEtag(p.etag), Size: p.size, ...checksumXml(p.checksum) })),
  })
}
