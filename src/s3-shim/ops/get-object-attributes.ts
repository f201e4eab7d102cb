import { S3Error } from '../../core/errors.js'
import type { Context } from '../context.js'
import { httpDate } from '../respond.js'
import { xmlResponse, type XmlElement } from '../xml.js'

/** The attributes GetObjectAttributes may ask for (x-amz-object-attributes). */
const ATTRIBUTES = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize']

/**
 * GetObjectAttributes: what an object is without its bytes, as SDKs and
 * backup tools ask before a download (size, ETag, parts). Checksums are
 * verified as objects arrive but not kept, so `Checksum` is left out, as S3
 * leaves it out for an object stored without one; `ObjectParts` gives the
 * part count of a multipart object.
 */
export async function getObjectAttributes (ctx: Context): Promise<Response> {
  const asked = (ctx.headers.get('x-amz-object-attributes') ?? '').split(',').map(a => a.trim()).filter(a => a !== '')
  if (asked.length === 0) throw new S3Error('InvalidArgument', 'x-amz-object-attributes must name at least one of ' + ATTRIBUTES.join(', ') + '.', { detail: { ArgumentName: 'x-amz-object-attributes' } })
  const unknown = asked.find(a => !ATTRIBUTES.includes(a))
  if (unknown !== undefined) throw new S3Error('InvalidArgument', `Invalid attribute name specified: ${unknown}.`, { detail: { ArgumentName: 'x-amz-object-attributes', ArgumentValue: unknown } })
  const info = await ctx.store.headObject(ctx.bucket, ctx.key, { signal: ctx.signal })
  const body: XmlElement = {}
  if (asked.includes('ETag')) body.ETag = info.etag
  if (asked.includes('ObjectParts') && info.parts !== undefined) body.ObjectParts = { PartsCount: info.parts }
  if (asked.includes('StorageClass')) body.StorageClass = 'STANDARD'
  if (asked.includes('ObjectSize')) body.ObjectSize = info.size
  return xmlResponse('GetObjectAttributesResponse', body, { headers: { 'last-modified': httpDate(info.lastModified) } })
}
