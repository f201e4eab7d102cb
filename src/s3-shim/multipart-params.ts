import { S3Error } from '../core/errors.js'
import { assertPartNumber } from '../core/multipart.js'
import type { Context } from './context.js'

export function uploadIdOf (ctx: Context): string {
  const id = ctx.query.get('uploadId') ?? ''
  if (id === '') throw new S3Error('NoSuchUpload', undefined, { detail: { UploadId: id } })
  return id
}

export function partNumberOf (ctx: Context): number {
  const raw = ctx.query.get('partNumber') ?? ''
  const n = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN
  assertPartNumber(n)
  return n
}
