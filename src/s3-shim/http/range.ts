import { S3Error } from '../../core/errors.js'
import type { ByteRange } from '../../core/object-store.js'

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
