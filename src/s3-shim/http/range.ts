import { partRange } from '../../core/checksums.js'
import { S3Error } from '../../core/errors.js'
import { assertPartNumber } from '../../core/multipart.js'
import type { ByteRange, ObjectInfo } from '../../core/object-store.js'

/**
 * Resolves a Range header against an object size, as S3 does: `bytes=a-b`,
 * `bytes=a-` and `bytes=-n`; an end past the object is clamped; a start past
 * the end is 416. Anything S3 ignores (other units, several ranges, malformed
 * syntax) means the whole object: undefined.
 * https://www.rfc-editor.org/rfc/rfc9110#section-14.1.2
 */
export function resolveRange (header: string | null, size: number): ByteRange | undefined {
  if (header === null) return undefined
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header)
  if (m === null) return undefined
  const [, first, last] = m as unknown as [string, string, string]
  if (first === '' && last === '') return undefined
  const unsatisfiable = (): S3Error => new S3Error('InvalidRange', undefined, {
    headers: { 'content-range': `bytes */${size}` },
    detail: { RangeRequested: header.trim(), ActualObjectSize: String(size) },
  })
  if (first === '') {
    const n = Number(last)
    if (n === 0 || size === 0) throw unsatisfiable()
    return { start: Math.max(0, size - n), end: size - 1 }
  }
  const start = Number(first)
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1)
  if (last !== '' && Number(last) < start) return undefined
  if (start >= size) throw unsatisfiable()
  return { start, end }
}

/**
 * The bytes a GET or HEAD asks for: a Range header, or one part of the
 * object (`?partNumber=N`: a multipart object's part as it was uploaded; part
 * 1 of any other object is all of it). Undefined: the whole object, with 200.
 */
export function requestedBytes (headers: Headers, query: Map<string, string>, info: ObjectInfo): ByteRange | undefined {
  const n = query.get('partNumber')
  if (n === undefined) return resolveRange(headers.get('range'), info.size)
  if (headers.get('range') !== null) throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter.')
  const number = /^\d{1,5}$/.test(n) ? Number(n) : NaN
  assertPartNumber(number)
  const unsatisfiable = (): S3Error => new S3Error('InvalidPartNumber', undefined, { detail: { PartNumberRequested: n, ActualPartCount: String(info.parts ?? 1) } })
  if (info.parts === undefined) {
    if (number !== 1) throw unsatisfiable()
    return info.size === 0 ? undefined : { start: 0, end: info.size - 1 }
  }
  const sizes = info.metadata.partSizes
  if (sizes === undefined) {
    if (info.parts === 1 && number === 1) return info.size === 0 ? undefined : { start: 0, end: info.size - 1 }
    throw new S3Error('NotImplemented', 'This object was completed before s3mesh kept its part boundaries: read it with a Range.')
  }
  const part = partRange(sizes, number)
  if (part === undefined) throw unsatisfiable()
  return part.size === 0 ? undefined : { start: part.start, end: part.end }
}
