import { multipartChecksum, partSizesOf, type Checksum } from './checksums.js'
import { S3Error } from './errors.js'
import { fromHex, toHex, type Hashes } from './hashes.js'
import type { CompletedPart, ObjectMetadata, PartInfo } from './object-store.js'
import { concatBytes } from './streams.js'

/** S3's smallest part, except the last: https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html */
export const MIN_PART_SIZE = 5 * 1024 * 1024
export const MAX_PART_NUMBER = 10_000
/** S3's largest single PUT (5 GiB) and largest object (5 TiB). */
export const MAX_PUT_SIZE = 5 * 1024 ** 3
export const MAX_OBJECT_SIZE = 5 * 1024 ** 4

/** ETags travel quoted in headers and XML; stores keep them bare. */
export function bareEtag (etag: string): string {
  const t = etag.trim()
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t
}

/**
 * Checks a CompleteMultipartUpload part list against the stored parts, as S3
 * does: at least one part, strictly ascending numbers, every part uploaded
 * with the named ETag (and checksum, when one is named), every part but the
 * last at least `minPartSize` bytes.
 * Returns the stored parts to join, in order.
 */
export function selectParts (requested: CompletedPart[], stored: ReadonlyMap<number, PartInfo>, minPartSize = MIN_PART_SIZE): PartInfo[] {
  if (requested.length === 0) throw new S3Error('MalformedXML', 'You must specify at least one part.')
  const out: PartInfo[] = []
  let previous = 0
  for (const r of requested) {
    if (r.partNumber <= previous) throw new S3Error('InvalidPartOrder')
    previous = r.partNumber
    const part = stored.get(r.partNumber)
    if (part === undefined || part.etag !== bareEtag(r.etag) || (r.checksum !== undefined && (part.checksum?.algorithm !== r.checksum.algorithm || part.checksum.value !== r.checksum.value))) {
      throw new S3Error('InvalidPart', undefined, { detail: { PartNumber: String(r.partNumber), ETag: r.etag } })
    }
    out.push(part)
  }
  for (let i = 0; i < out.length - 1; i++) {
    if (out[i]!.size < minPartSize) {
      throw new S3Error('EntityTooSmall', undefined, {
        detail: { ProposedSize: String(out[i]!.size), MinSizeAllowed: String(minPartSize), PartNumber: String(out[i]!.partNumber) },
      })
    }
  }
  return out
}

/** The ETag S3 gives a multipart object: hex MD5 of the parts' binary MD5s, then `-N`. */
export function multipartEtag (hashes: Hashes, parts: readonly PartInfo[]): string {
  const h = hashes.create('md5')
  h.update(concatBytes(parts.map(p => fromHex(p.etag) ?? new Uint8Array(0))))
  return `${toHex(h.digest())}-${parts.length}`
}

export function assertPartNumber (n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_PART_NUMBER) {
    throw new S3Error('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive.`, { detail: { ArgumentName: 'partNumber', ArgumentValue: String(n) } })
  }
}

/**
 * The metadata a completed upload's object keeps: the upload's, with the
 * object's checksum made from its parts' when the upload named an algorithm
 * (see checksums.ts), and its part sizes (GET ?partNumber=N). `expected`, a
 * full-object checksum the completion sent, must be the one made.
 */
export async function completedMetadata (hashes: Hashes, upload: ObjectMetadata, parts: readonly PartInfo[], expected?: Checksum): Promise<ObjectMetadata> {
  const { checksumPlan, checksum: _none, ...rest } = upload
  const metadata: ObjectMetadata = { ...rest, partSizes: partSizesOf(parts.map(p => p.size)) }
  if (checksumPlan !== undefined) metadata.checksum = await multipartChecksum(hashes, checksumPlan, parts)
  if (expected !== undefined && (metadata.checksum?.type !== 'FULL_OBJECT' || metadata.checksum.algorithm !== expected.algorithm || metadata.checksum.value !== expected.value)) {
    throw new S3Error('BadDigest', `The ${expected.algorithm} you specified for the multipart upload did not match the calculated checksum.`)
  }
  return metadata
}
