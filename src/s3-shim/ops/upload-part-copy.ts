import { S3Error } from '../../core/errors.js'
import { MAX_PUT_SIZE } from '../../core/multipart.js'
import type { ByteRange } from '../../core/object-store.js'
import type { Context } from '../context.js'
import { checksumXml } from '../http/checksum-headers.js'
import { madeAt, quoteEtag } from '../respond.js'
import { xmlResponse } from '../xml.js'
import { letGo, openCopySource, parseCopySource } from '../copy-source.js'
import { partNumberOf, uploadIdOf } from '../multipart-params.js'

/** x-amz-copy-source-range must be `bytes=first-last` inside the source object. */
function copyRange (header: string | null, size: number): ByteRange | undefined {
  if (header === null) return undefined
  const m = /^bytes=(\d+)-(\d+)$/.exec(header.trim())
  if (m === null) throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last.', { detail: { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: header } })
  const start = Number(m[1])
  const end = Number(m[2])
  // S3 answers 400 InvalidArgument here (not a GET's 416 InvalidRange), in these words.
  if (start > end || end >= size) throw new S3Error('InvalidArgument', `Range specified is not valid for source object of size: ${size}`, { detail: { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: header } })
  return { start, end }
}

export async function uploadPartCopy (ctx: Context): Promise<Response> {
  const partNumber = partNumberOf(ctx)
  const uploadId = uploadIdOf(ctx)
  const source = parseCopySource(ctx)
  const handle = await openCopySource(ctx, source)
  let range: ByteRange | undefined
  try {
    range = copyRange(ctx.headers.get('x-amz-copy-source-range'), handle.info.size)
  } catch (err) {
    await handle.close()
    throw err
  }
  const size = range === undefined ? handle.info.size : range.end - range.start + 1
  // As S3: a part is at most 5 GiB, however large its source.
  if (size > MAX_PUT_SIZE) {
    await handle.close()
    throw new S3Error('InvalidRequest', `The specified copy source is larger than the maximum allowable size for a copy source: ${MAX_PUT_SIZE}. Copy a range of it (x-amz-copy-source-range) of at most that.`)
  }
  const body = handle.stream(range)
  let part
  try {
    part = await ctx.store.uploadPart(ctx.bucket, ctx.key, uploadId, partNumber, body, { size, signal: ctx.signal })
  } catch (err) {
    // A store that refuses before it reads the body (no such upload: aborted while copies of its parts were queued) leaves
    // the source open otherwise: a file, or a fetch from a holder that stalls other reads of that version.
    await letGo(body, handle, err)
    throw err
  }
  const sourceVersion = handle.info.versionId ?? source.versionId
  const headers: Record<string, string> = sourceVersion === undefined ? {} : { 'x-amz-copy-source-version-id': sourceVersion }
  return xmlResponse('CopyPartResult', { ETag: quoteEtag(part.etag), LastModified: madeAt(part.lastModified), ...checksumXml(part.checksum) }, { headers })
}
