import { S3Error } from '../../core/errors.js'
import type { ObjectInfo, ObjectMetadata } from '../../core/object-store.js'
import { parseQuery } from '../router.js'
import { httpDate, quoteEtag } from '../respond.js'

/** S3 limits user metadata (names and values of x-amz-meta-*) to 2 KB. */
const MAX_USER_METADATA = 2048

const STANDARD: Array<[keyof Omit<ObjectMetadata, 'user'>, string]> = [
  ['contentType', 'content-type'],
  ['contentEncoding', 'content-encoding'],
  ['contentDisposition', 'content-disposition'],
  ['contentLanguage', 'content-language'],
  ['cacheControl', 'cache-control'],
  ['expires', 'expires'],
]

/** The metadata a PUT, copy or multipart create declares in its headers. */
export function metadataFromHeaders (headers: Headers): ObjectMetadata {
  const meta: ObjectMetadata = { user: {} }
  for (const [field, header] of STANDARD) {
    let v = headers.get(header)
    // aws-chunked is transfer framing, not a property of the object.
    if (field === 'contentEncoding' && v !== null) v = v.split(',').map(s => s.trim()).filter(s => s !== '' && s !== 'aws-chunked').join(',') || null
    if (v !== null) meta[field] = v
  }
  let size = 0
  headers.forEach((value, name) => {
    if (!name.startsWith('x-amz-meta-')) return
    const key = name.slice('x-amz-meta-'.length)
    size += key.length + value.length
    meta.user[key] = value
  })
  if (size > MAX_USER_METADATA) throw new S3Error('InvalidArgument', `User metadata (x-amz-meta-*) is limited to ${MAX_USER_METADATA} bytes; this request has ${size}.`)
  return meta
}

/** The headers that carry an object's metadata (the standard ones that are set, and x-amz-meta-*): what a PUT sends and a GET returns. */
export function metadataHeaders (metadata: ObjectMetadata): Record<string, string> {
  const h: Record<string, string> = {}
  for (const [field, header] of STANDARD) {
    const v = metadata[field]
    if (v !== undefined) h[header] = v
  }
  for (const [k, v] of Object.entries(metadata.user)) h[`x-amz-meta-${k}`] = v
  return h
}

/** The response headers that describe an object on GET and HEAD. */
export function objectHeaders (info: ObjectInfo): Headers {
  const h = new Headers(metadataHeaders(info.metadata))
  h.set('etag', quoteEtag(info.etag))
  h.set('last-modified', httpDate(info.lastModified))
  h.set('accept-ranges', 'bytes')
  h.set('content-type', info.metadata.contentType ?? 'binary/octet-stream')
  const tagCount = Object.keys(info.tags).length
  if (tagCount > 0) h.set('x-amz-tagging-count', String(tagCount))
  if (info.parts !== undefined) h.set('x-amz-mp-parts-count', String(info.parts))
  // The content's SHA-256, which the mesh verifies copies against: lets a gateway (the edge worker) report it too.
  if (info.sha256 !== '') h.set('x-s3mesh-sha256', info.sha256)
  return h
}

/**
 * GET's response-* query overrides. Signed requests only, as S3 has it: an
 * anonymous caller could otherwise make a public object answer as text/html.
 */
export function applyResponseOverrides (h: Headers, query: Map<string, string>, anonymous = false): void {
  if (anonymous && [...query.keys()].some(k => k.startsWith('response-'))) {
    throw new S3Error('InvalidRequest', 'Request specific response headers cannot be used for anonymous GET requests.')
  }
  for (const [param, header] of [
    ['response-content-type', 'content-type'], ['response-content-language', 'content-language'],
    ['response-expires', 'expires'], ['response-cache-control', 'cache-control'],
    ['response-content-disposition', 'content-disposition'], ['response-content-encoding', 'content-encoding'],
  ] as const) {
    const v = query.get(param)
    if (v !== undefined) h.set(header, v)
  }
}

/** Checks a tag set against S3's limits: 10 tags, keys to 128 and values to 256 characters, unique keys. */
export function assertTags (tags: Array<[string, string]>): Record<string, string> {
  if (tags.length > 10) throw new S3Error('InvalidTag', 'Object tags cannot be greater than 10.')
  const out: Record<string, string> = {}
  for (const [k, v] of tags) {
    if (k.length === 0 || k.length > 128) throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid: keys are 1 to 128 characters.')
    if (v.length > 256) throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid: values are at most 256 characters.')
    if (Object.hasOwn(out, k)) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key.')
    out[k] = v
  }
  return out
}

/** The x-amz-tagging header of a PUT: URL-encoded `k1=v1&k2=v2`. */
export function tagsFromHeader (headers: Headers): Record<string, string> | undefined {
  const v = headers.get('x-amz-tagging')
  if (v === null) return undefined
  return assertTags([...parseQuery(v.replace(/\+/g, '%20'))])
}
