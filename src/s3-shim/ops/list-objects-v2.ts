import { S3Error } from '../../core/errors.js'
import type { Context } from '../context.js'
import { xmlResponse } from '../xml.js'
import { contentsXml, continuationToken, cursorAfter, encoderFor, laterCursor, listPage, parseMaxKeys, tokenText, type Cursor } from '../listing.js'

// A continuation token is the cursor, opaque to clients: "k" or "p" (key or
// common prefix) and the key (listing.ts's continuationToken).
function encodeToken (c: Cursor): string {
  return continuationToken((c.isPrefix ? 'p' : 'k') + c.key)
}

function decodeToken (token: string): Cursor {
  const text = tokenText(token)
  if (text.length < 2 || (text[0] !== 'p' && text[0] !== 'k')) {
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { detail: { ArgumentName: 'continuation-token' } })
  }
  return { key: text.slice(1), isPrefix: text[0] === 'p' }
}

/** ListObjectsV2: continuation-token paging, KeyCount, optional StartAfter and owners. */
export async function listObjectsV2 (ctx: Context): Promise<Response> {
  const prefix = ctx.query.get('prefix') ?? ''
  const delimiter = ctx.query.get('delimiter') ?? ''
  const token = ctx.query.get('continuation-token')
  const startAfter = ctx.query.get('start-after') ?? ''
  const maxKeys = parseMaxKeys(ctx.query.get('max-keys'))
  const encode = encoderFor(ctx)
  // An empty token is no token (S3 lists from the start and echoes it): SDKs send one when a caller passes "".
  const after = laterCursor(token === undefined || token === '' ? undefined : decodeToken(token), startAfter === '' ? undefined : { key: startAfter, isPrefix: false })
  const { entries, isTruncated } = await listPage(ctx, prefix, delimiter, after, maxKeys)
  const last = entries.at(-1)
  return xmlResponse('ListBucketResult', {
    Name: ctx.bucket,
    Prefix: encode(prefix),
    ...(delimiter !== '' ? { Delimiter: encode(delimiter) } : {}),
    MaxKeys: maxKeys,
    KeyCount: entries.length,
    IsTruncated: isTruncated,
    ...(ctx.query.has('encoding-type') ? { EncodingType: 'url' } : {}),
    ...(token !== undefined ? { ContinuationToken: token } : {}),
    ...(isTruncated && last !== undefined ? { NextContinuationToken: encodeToken(cursorAfter(last)) } : {}),
    ...(startAfter !== '' ? { StartAfter: encode(startAfter) } : {}),
    ...contentsXml(entries, encode, ctx.query.get('fetch-owner') === 'true'),
  })
}
