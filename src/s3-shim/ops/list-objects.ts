import type { Context } from '../context.js'
import { xmlResponse } from '../xml.js'
import { contentsXml, cursorAfter, encoderFor, listPage, markerCursor, parseMaxKeys } from '../listing.js'

/** ListObjects (v1): marker-based paging. */
export async function listObjects (ctx: Context): Promise<Response> {
  const prefix = ctx.query.get('prefix') ?? ''
  const delimiter = ctx.query.get('delimiter') ?? ''
  const marker = ctx.query.get('marker') ?? ''
  const maxKeys = parseMaxKeys(ctx.query.get('max-keys'))
  const encode = encoderFor(ctx)
  const { entries, isTruncated } = await listPage(ctx, prefix, delimiter, markerCursor(marker, prefix, delimiter), maxKeys)
  const last = entries.at(-1)
  return xmlResponse('ListBucketResult', {
    Name: ctx.bucket,
    Prefix: encode(prefix),
    Marker: encode(marker),
    ...(isTruncated && last !== undefined ? { NextMarker: encode(cursorAfter(last).key) } : {}),
    MaxKeys: maxKeys,
    ...(delimiter !== '' ? { Delimiter: encode(delimiter) } : {}),
    IsTruncated: isTruncated,
    ...(ctx.query.has('encoding-type') ? { EncodingType: 'url' } : {}),
    ...contentsXml(entries, encode, true),
  })
}
