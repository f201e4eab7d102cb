import { partCount, partRange } from '../../core/checksums.js'
import { S3Error } from '../../core/errors.js'
import type { ObjectInfo } from '../../core/object-store.js'
import type { Context } from '../context.js'
import { checksumXml } from '../http/checksum-headers.js'
import { requestedVersion } from '../http/version-id.js'
import { parseMaxKeys, parsePartNumberMarker } from '../listing.js'
import { httpDate } from '../respond.js'
import { xmlResponse, type XmlElement } from '../xml.js'

/** The attributes GetObjectAttributes may ask for (x-amz-object-attributes). */
const ATTRIBUTES = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize']

/**
 * GetObjectAttributes: what an object is without its bytes, as SDKs and
 * backup tools ask before a download (size, ETag, checksum, parts).
 * `Checksum` is left out for an object stored without one, as S3 leaves it
 * out; `ObjectParts` gives a multipart object's part count and its parts'
 * sizes, a page at a time (x-amz-max-parts, x-amz-part-number-marker).
 */
export async function getObjectAttributes (ctx: Context): Promise<Response> {
  const asked = (ctx.headers.get('x-amz-object-attributes') ?? '').split(',').map(a => a.trim()).filter(a => a !== '')
  if (asked.length === 0) throw new S3Error('InvalidArgument', 'x-amz-object-attributes must name at least one of ' + ATTRIBUTES.join(', ') + '.', { detail: { ArgumentName: 'x-amz-object-attributes' } })
  const unknown = asked.find(a => !ATTRIBUTES.includes(a))
  if (unknown !== undefined) throw new S3Error('InvalidArgument', `Invalid attribute name specified: ${unknown}.`, { detail: { ArgumentName: 'x-amz-object-attributes', ArgumentValue: unknown } })
  const info = await ctx.store.headObject(ctx.bucket, ctx.key, await requestedVersion(ctx))
  const body: XmlElement = {}
  if (asked.includes('ETag')) body.ETag = info.etag
  if (asked.includes('Checksum') && info.metadata.checksum !== undefined) body.Checksum = { ...checksumXml(info.metadata.checksum), ChecksumType: info.metadata.checksum.type }
  if (asked.includes('ObjectParts') && info.parts !== undefined) body.ObjectParts = objectParts(ctx, info)
  if (asked.includes('StorageClass')) body.StorageClass = 'STANDARD'
  if (asked.includes('ObjectSize')) body.ObjectSize = info.size
  return xmlResponse('GetObjectAttributesResponse', body, { headers: { 'last-modified': httpDate(info.lastModified) } })
}

function objectParts (ctx: Context, info: ObjectInfo): XmlElement {
  const sizes = info.metadata.partSizes
  if (sizes === undefined) return { PartsCount: info.parts! }
  const marker = parsePartNumberMarker(ctx.headers.get('x-amz-part-number-marker') ?? undefined, 'x-amz-part-number-marker')
  const max = parseMaxKeys(ctx.headers.get('x-amz-max-parts') ?? undefined, 'x-amz-max-parts')
  const count = partCount(sizes)
  const parts: XmlElement[] = []
  for (let n = marker + 1; n <= count && parts.length < max; n++) parts.push({ PartNumber: n, Size: partRange(sizes, n)!.size })
  const last = marker + parts.length
  // x-amz-max-parts=0 is an empty page that is not truncated (a paginator would ask for the same page forever).
  const truncated = max > 0 && last < count
  return {
    PartsCount: count,
    PartNumberMarker: marker,
    ...(truncated ? { NextPartNumberMarker: last } : {}),
    MaxParts: max,
    IsTruncated: truncated,
    Part: parts,
  }
}
