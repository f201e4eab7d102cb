import { CHECKSUM_ALGORITHMS, CHECKSUM_BYTES, checksumElement, checksumHeader, type Checksum, type ChecksumPlan, type ObjectChecksum } from '../../core/checksums.js'
import { S3Error } from '../../core/errors.js'
import { fromBase64 } from '../../core/hashes.js'
import { textOf, type Parsed, type XmlElement } from '../xml.js'

/** Whether a GET or HEAD asked for the object's checksum (`x-amz-checksum-mode: ENABLED`). */
export function checksumMode (headers: Headers): boolean {
  return headers.get('x-amz-checksum-mode')?.toUpperCase() === 'ENABLED'
}

/** An object's checksum as GET and HEAD return it. */
export function objectChecksumHeaders (checksum: ObjectChecksum | undefined): Record<string, string> {
  if (checksum === undefined) return {}
  return { [checksumHeader(checksum.algorithm)]: checksum.value, 'x-amz-checksum-type': checksum.type }
}

/** A part's (or a single PUT's) checksum as UploadPart and PutObject return it. */
export function checksumHeaders (checksum: Checksum | undefined): Record<string, string> {
  return checksum === undefined ? {} : { [checksumHeader(checksum.algorithm)]: checksum.value }
}

/** The first x-amz-checksum-* header there is, as it was sent. */
function headerChecksum (headers: Headers): Checksum | undefined {
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const value = headers.get(checksumHeader(algorithm))
    if (value !== null) return { algorithm, value }
  }
  return undefined
}

/** The checksum in a GET or HEAD answer's headers (a gateway reading a node's). */
export function checksumFromHeaders (headers: Headers): ObjectChecksum | undefined {
  const c = headerChecksum(headers)
  if (c === undefined) return undefined
  const type = headers.get('x-amz-checksum-type') ?? (c.value.includes('-') ? 'COMPOSITE' : 'FULL_OBJECT')
  return { ...c, type: type === 'COMPOSITE' ? 'COMPOSITE' : 'FULL_OBJECT' }
}

/** An upload's plan as CreateMultipartUpload answers it (and a gateway sends it on). */
export function planHeaders (plan: ChecksumPlan | undefined): Record<string, string> {
  return plan === undefined ? {} : { 'x-amz-checksum-algorithm': plan.algorithm, 'x-amz-checksum-type': plan.type }
}

/** A checksum as the XML answers carry it: `<ChecksumCRC32>...</ChecksumCRC32>`. */
export function checksumXml (checksum: Checksum | undefined): XmlElement {
  return checksum === undefined ? {} : { [checksumElement(checksum.algorithm)]: checksum.value }
}

/** A completion's `<Part>` checksum, if it names one: a malformed one is InvalidPart, as the part cannot be it. */
export function checksumOfPart (part: Parsed): Checksum | undefined {
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const value = textOf(part, checksumElement(algorithm))
    if (value === undefined) continue
    if (fromBase64(value)?.length !== CHECKSUM_BYTES[algorithm]) throw new S3Error('InvalidPart', `The ${checksumElement(algorithm)} of a part is not a ${algorithm} checksum.`)
    return { algorithm, value }
  }
  return undefined
}

/** The full-object checksum a completion sends in its headers, checked against the one made from the parts. */
export function completionChecksum (headers: Headers): Checksum | undefined {
  const c = headerChecksum(headers)
  if (c !== undefined && fromBase64(c.value)?.length !== CHECKSUM_BYTES[c.algorithm]) throw new S3Error('InvalidRequest', `Value for ${checksumHeader(c.algorithm)} header is invalid.`)
  return c
}
