import { S3Error } from './errors.js'
import { utf8Length } from './key-order.js'

/** Longest key S3 accepts, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024

const BUCKET_CHARS = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/

/**
 * Why `name` is not a valid bucket name, or undefined when it is. The rules are
 * S3's general-purpose bucket rules:
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
 */
export function bucketNameProblem (name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'Bucket names must be between 3 and 63 characters long.'
  if (!BUCKET_CHARS.test(name)) return 'Bucket names may contain only lowercase letters, numbers, dots and hyphens, and must begin and end with a letter or number.'
  if (name.includes('..')) return 'Bucket names must not contain two adjacent periods.'
  if (IPV4.test(name)) return 'Bucket names must not be formatted as an IP address.'
  if (name.startsWith('xn--') || name.startsWith('sthree-')) return 'Bucket names must not start with "xn--" or "sthree-".'
  if (name.endsWith('-s3alias') || name.endsWith('--ol-s3')) return 'Bucket names must not end with "-s3alias" or "--ol-s3".'
  return undefined
}

export function assertBucketName (name: string): void {
  const problem = bucketNameProblem(name)
  if (problem !== undefined) throw new S3Error('InvalidBucketName', problem, { resource: name, detail: { BucketName: name } })
}

/**
 * Checks an object key. S3 allows almost any key; s3mesh refuses the few that
 * cannot be stored safely as a file path on every platform: NUL characters and
 * `.` or `..` path segments (which would let a key escape its bucket folder).
 */
export function assertObjectKey (key: string): void {
  if (key.length === 0) throw new S3Error('InvalidArgument', 'Object keys must not be empty.')
  if (utf8Length(key) > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', `Your key is too long: keys are at most ${MAX_KEY_BYTES} bytes of UTF-8.`, { detail: { MaxSizeAllowed: String(MAX_KEY_BYTES) } })
  }
  if (key.includes('\0')) throw new S3Error('InvalidArgument', 'Object keys must not contain NUL characters.', { resource: key })
  for (const segment of key.split('/')) {
    if (segment === '.' || segment === '..') {
      throw new S3Error('InvalidArgument', 'Object keys must not contain "." or ".." path segments.', { resource: key })
    }
  }
}

/**
 * `/bucket` or `/bucket/key` as a URL path, as S3 clients write it: each
 * segment of the key percent-encoded, its slashes kept.
 */
export function objectPath (bucket: string, key?: string): string {
  return `/${encodeURIComponent(bucket)}${key === undefined ? '' : `/${key.split('/').map(encodeURIComponent).join('/')}`}`
}
