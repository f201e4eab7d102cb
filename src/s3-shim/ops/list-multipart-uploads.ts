import { compareKeys } from '../../core/key-order.js'
import type { Context } from '../context.js'
import { isoDate } from '../respond.js'
import { xmlResponse, type XmlElement } from '../xml.js'
import { encoderFor, parseMaxKeys } from '../listing.js'
import { OWNER } from '../owner.js'

/** ListMultipartUploads: in-flight uploads by key then initiation, with key/upload-id markers and delimiter roll-up. */
export async function listMultipartUploads (ctx: Context): Promise<Response> {
  const prefix = ctx.query.get('prefix') ?? ''
  const delimiter = ctx.query.get('delimiter') ?? ''
  const keyMarker = ctx.query.get('key-marker') ?? ''
  const uploadIdMarker = ctx.query.get('upload-id-marker') ?? ''
  const maxUploads = parseMaxKeys(ctx.query.get('max-uploads'), 'max-uploads')
  // encoding-type=url: keys, prefixes, markers and the delimiter percent-encoded, as in the object listings.
  const encode = encoderFor(ctx)
  const uploads = await ctx.store.listMultipartUploads(ctx.bucket, { prefix, signal: ctx.signal })
  let pastMarker = keyMarker === ''
  // Uploads of the marker's key come in the store's order (by initiation): those up to the upload-id marker were
  // listed. One completed or aborted since is not there to count from: that key's uploads are listed again then
  // (one seen twice, rather than one never seen).
  let pastUploadId = uploadIdMarker !== '' && !uploads.some(u => u.key === keyMarker && u.uploadId === uploadIdMarker)
  // A key marker that is a common prefix (the last page ended on one, and gave no upload id): every key under it
  // was rolled up into it.
  const rolledUp = delimiter === '' || uploadIdMarker !== '' || keyMarker.length <= prefix.length || !keyMarker.startsWith(prefix) ? -1 : keyMarker.indexOf(delimiter, prefix.length)
  const markerIsPrefix = rolledUp >= 0 && rolledUp === keyMarker.length - delimiter.length
  const Upload: XmlElement[] = []
  const CommonPrefixes: XmlElement[] = []
  const seenPrefixes = new Set<string>()
  let isTruncated = false
  let next: { key: string, uploadId?: string } | undefined
  for (const u of uploads) {
    if (!pastMarker) {
      const c = compareKeys(u.key, keyMarker)
      if (c < 0 || (markerIsPrefix && u.key.startsWith(keyMarker))) continue
      // With only a key marker, uploads of that key are skipped; with an upload-id marker, those up to it.
      if (c === 0) {
        if (uploadIdMarker === '') continue
        if (!pastUploadId) { pastUploadId = u.uploadId === uploadIdMarker; continue }
      }
      pastMarker = true
    }
    const at = delimiter === '' ? -1 : u.key.indexOf(delimiter, prefix.length)
    const common = at >= 0 ? u.key.slice(0, at + delimiter.length) : undefined
    if (common !== undefined && seenPrefixes.has(common)) continue
    if (Upload.length + CommonPrefixes.length === maxUploads) { isTruncated = maxUploads > 0; break }
    if (common !== undefined) {
      seenPrefixes.add(common)
      CommonPrefixes.push({ Prefix: encode(common) })
      next = { key: common }
    } else {
      Upload.push({ Key: encode(u.key), UploadId: u.uploadId, Initiator: OWNER, Owner: OWNER, StorageClass: 'STANDARD', Initiated: isoDate(u.initiated) })
      next = { key: u.key, uploadId: u.uploadId }
    }
  }
  return xmlResponse('ListMultipartUploadsResult', {
    Bucket: ctx.bucket,
    KeyMarker: encode(keyMarker),
    UploadIdMarker: uploadIdMarker,
    ...(isTruncated && next !== undefined ? { NextKeyMarker: encode(next.key), ...(next.uploadId === undefined ? {} : { NextUploadIdMarker: next.uploadId }) } : {}),
    Prefix: encode(prefix),
    ...(delimiter !== '' ? { Delimiter: encode(delimiter) } : {}),
    MaxUploads: maxUploads,
    IsTruncated: isTruncated,
    ...(ctx.query.has('encoding-type') ? { EncodingType: 'url' } : {}),
    Upload,
    CommonPrefixes,
  })
}
