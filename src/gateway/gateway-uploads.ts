import { CHECKSUM_ALGORITHMS, checksumElement } from '../core/checksums.js'
import { compareKeys } from '../core/key-order.js'
import type { PartInfo, UploadInfo } from '../core/object-store.js'
import { list, text, unquote, xmlOf, type Xml } from './gateway-xml.js'
import type { RemoteS3 } from './remote-s3.js'

// A GatewayStore's listings of multipart uploads and their parts, read whole
// from the node (or nodes) that keep them: a node answers a page of at most
// 1,000 at a time, and the S3 handler pages what the store lists for its own
// client. A first page taken as the whole would end an upload's parts at
// 1,000 (a client resuming it from ListParts would complete it without its
// tail) and hide uploads past the first 1,000 from whoever cleans them up.
// Each listing reads a node's whole list (as a node's own store lists all its
// uploads for each page it answers): a page request to a node per 1,000. A
// node that cannot be read is left out, as when its first page fails.

/** Pages a node's listing until it is no longer truncated; each page's next markers must move on (a node that repeats one is not followed for ever). */
async function allPages (page: (marker: Record<string, string>) => Promise<Xml>, next: (doc: Xml) => Record<string, string>): Promise<Xml[]> {
  const pages: Xml[] = []
  let marker: Record<string, string> = {}
  for (;;) {
    const doc = await page(marker)
    pages.push(doc)
    if (text(doc, 'IsTruncated') !== 'true') return pages
    const after = next(doc)
    if (Object.values(after).every(v => v === '') || JSON.stringify(after) === JSON.stringify(marker)) return pages
    marker = after
  }
}

/** Each item once (the first with its id), in order. */
function once<T> (items: T[], id: (item: T) => string): T[] {
  const seen = new Set<string>()
  return items.filter(item => {
    const k = id(item)
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}

/** Every part of an upload kept by the node at `endpoint` (its id there: `id`). */
export async function listAllParts (remote: RemoteS3, bucket: string, key: string, endpoint: number, id: string, signal?: AbortSignal): Promise<PartInfo[]> {
  const pages = await allPages(async marker => {
    const { response } = await remote.send({ method: 'GET', bucket, key, endpoint, query: { uploadId: id, ...marker }, ...(signal === undefined ? {} : { signal }) })
    return await xmlOf(response, 'ListPartsResult')
  }, doc => ({ 'part-number-marker': text(doc, 'NextPartNumberMarker') }))
  // A part is listed once, though a node that does not move on from a marker repeats a page.
  return once(pages.flatMap(doc => list(doc, 'Part')), p => text(p, 'PartNumber')).map(p => {
    const checksum = CHECKSUM_ALGORITHMS.map(algorithm => ({ algorithm, value: text(p, checksumElement(algorithm)) })).find(c => c.value !== '')
    return {
      partNumber: Number(text(p, 'PartNumber')), etag: unquote(text(p, 'ETag')), size: Number(text(p, 'Size')), lastModified: new Date(text(p, 'LastModified')),
      ...(checksum === undefined ? {} : { checksum }),
    }
  })
}

/** Every upload in `bucket` (under `prefix`) that any of the nodes keeps, in S3's order: keys by their UTF-8 bytes, then by when each began. */
export async function listAllUploads (remote: RemoteS3, bucket: string, prefix: string | undefined, signal?: AbortSignal): Promise<UploadInfo[]> {
  const query: Record<string, string> = { uploads: '' }
  if (prefix !== undefined && prefix !== '') query.prefix = prefix
  const answers = await Promise.allSettled(remote.endpoints.map(async (_, endpoint) => {
    const pages = await allPages(async marker => {
      const { response } = await remote.send({ method: 'GET', bucket, endpoint, query: { ...query, ...marker }, ...(signal === undefined ? {} : { signal }) })
      return await xmlOf(response, 'ListMultipartUploadsResult')
    }, doc => ({ 'key-marker': text(doc, 'NextKeyMarker'), 'upload-id-marker': text(doc, 'NextUploadIdMarker') }))
    return pages.flatMap(doc => list(doc, 'Upload')).map(u => ({ uploadId: `${endpoint}.${text(u, 'UploadId')}`, key: text(u, 'Key'), initiated: new Date(text(u, 'Initiated')) }))
  }))
  // An upload is listed once: a node lists a key's uploads again when the one a marker named was completed or aborted between pages.
  const found = once(answers.flatMap(a => a.status === 'fulfilled' ? a.value : []), u => u.uploadId)
  if (found.length === 0) {
    const failed = answers.find(a => a.status === 'rejected')
    if (failed !== undefined && answers.every(a => a.status === 'rejected')) throw failed.reason
  }
  return found.sort((a, b) => compareKeys(a.key, b.key) || a.initiated.getTime() - b.initiated.getTime())
}
