import type { PartSizes } from '../../core/checksums.js'
import { S3Error } from '../../core/errors.js'
import type { ObjectInfo, ObjectMetadata } from '../../core/object-store.js'
import { safeDecode } from '../router.js'
import { httpDate, quoteEtag } from '../respond.js'
import { childOf, elementsOf, textOf, type Parsed } from '../xml.js'

/** S3 limits user metadata (names and values of x-amz-meta-*) to 2 KB. */
const MAX_USER_METADATA = 2048

const STANDARD: Array<[keyof Omit<ObjectMetadata, 'user' | 'checksum' | 'checksumPlan' | 'partSizes'>, string]> = [
  ['contentType', 'content-type'],
  ['contentEncoding', 'content-encoding'],
  ['contentDisposition', 'content-disposition'],
  ['contentLanguage', 'content-language'],
  ['cacheControl', 'cache-control'],
  ['expires', 'expires'],
]

/**
 * S3's storage classes. Every object here is kept as STANDARD (listings say
 * so); a write that names another class is taken, as s3rver and Ceph's
 * gateway take it, and one that names no class S3 has is refused, as S3
 * refuses it.
 */
const STORAGE_CLASSES = new Set(['STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER', 'DEEP_ARCHIVE', 'OUTPOSTS', 'GLACIER_IR', 'SNOW', 'EXPRESS_ONEZONE', 'FSX_OPENZFS', 'FSX_ONTAP'])

/** Refuses a write whose x-amz-storage-class names no class S3 has (the write operations call it: metadataFromHeaders also reads a node's answers, in the gateway). */
export function checkStorageClass (headers: Headers): void {
  const asked = headers.get('x-amz-storage-class')
  if (asked !== null && !STORAGE_CLASSES.has(asked)) throw new S3Error('InvalidStorageClass', `The storage class you specified (${asked}) is not valid: S3's are ${[...STORAGE_CLASSES].join(', ')}.`)
}

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
    const text = metadataValue(value)
    // Counted as S3 counts it: the bytes of the key and value in UTF-8.
    size += key.length + ENCODER.encode(text).byteLength
    meta.user[key] = text
  })
  if (size > MAX_USER_METADATA) throw new S3Error('MetadataTooLarge', `User metadata (x-amz-meta-*) is limited to ${MAX_USER_METADATA} bytes; this request has ${size}.`)
  return meta
}

/** The headers that carry an object's metadata (the standard ones that are set, and x-amz-meta-*): what a PUT sends and a GET returns. */
export function metadataHeaders (metadata: ObjectMetadata): Record<string, string> {
  const h: Record<string, string> = {}
  for (const [field, header] of STANDARD) {
    const v = metadata[field]
    if (v !== undefined) h[header] = v
  }
  for (const [k, v] of Object.entries(metadata.user)) h[`x-amz-meta-${k}`] = mailSafe(v)
  return h
}

const ENCODER = new TextEncoder()
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true })

/**
 * A user metadata value as received, as text. HTTP headers carry bytes: a
 * client that sends UTF-8 as it is (Node and the fetch API hand it over one
 * character per byte) means that text; one that encodes it as RFC 2047 asks,
 * as AWS documents (`=?UTF-8?B?...?=` or `?Q?`), means the text decoded.
 * Bytes that are not UTF-8 stay as they came (one character per byte).
 */
export function metadataValue (raw: string): string {
  const words = decodeEncodedWords(raw)
  if (words !== undefined) return words
  if (!/[\x80-\xff]/.test(raw) || /[^\x00-\xff]/.test(raw)) return raw
  try {
    return STRICT_UTF8.decode(Uint8Array.from(raw, c => c.charCodeAt(0)))
  } catch {
    return raw
  }
}

/** A metadata value as AWS returns it: as is if US-ASCII, else RFC 2047 encoded (`=?UTF-8?B?...?=`). */
export function mailSafe (value: string): string {
  if (/^[\x20-\x7e]*$/.test(value)) return value
  return `=?UTF-8?B?${btoa(utf8Binary(value))}?=`
}

/** Text as its UTF-8 bytes, one character per byte. */
function utf8Binary (value: string): string {
  let binary = ''
  for (const b of ENCODER.encode(value)) binary += String.fromCharCode(b)
  return binary
}

/** A header's name as HTTP allows it (a token), lowercase. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/

/**
 * Text that goes into a header (a GET's response-* override, a form
 * upload's field) as a header carries it: US-ASCII as it is, anything else
 * as its UTF-8 bytes, one character per byte, as a raw header arrives (a
 * filename in Content-Disposition reaches the client in UTF-8). A control
 * character (CR, LF, NUL, DEL) is refused: no header may hold one.
 */
export function headerValue (value: string, name: string): string {
  if (!HEADER_NAME.test(name)) throw new S3Error('InvalidArgument', `${JSON.stringify(name)} is not a header name (letters, digits and - . _ ~ and a few other signs).`, { detail: { ArgumentName: name } })
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) throw new S3Error('InvalidArgument', `The value of ${name} holds a control character, which no header may.`, { detail: { ArgumentName: name } })
  return /^[\x00-\x7f]*$/.test(value) ? value : utf8Binary(value)
}

/** The text of a value made of RFC 2047 encoded words (UTF-8 or ISO-8859-1, B or Q), else undefined. */
function decodeEncodedWords (raw: string): string | undefined {
  const word = /=\?(utf-8|iso-8859-1)\?([bq])\?([^?\s]*)\?=/gi
  const trimmed = raw.trim()
  if (!trimmed.startsWith('=?') || !trimmed.endsWith('?=')) return undefined
  let out = ''
  let last = 0
  for (const m of trimmed.matchAll(word)) {
    // Only whitespace may separate encoded words (it is then dropped).
    if (trimmed.slice(last, m.index).trim() !== '') return undefined
    last = m.index + m[0].length
    const [, charset, kind, text] = m as unknown as [string, string, string, string]
    let bytes: Uint8Array
    if (kind.toLowerCase() === 'b') {
      let binary: string
      try { binary = atob(text) } catch { return undefined }
      bytes = Uint8Array.from(binary, c => c.charCodeAt(0))
    } else {
      const q = text.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
      bytes = Uint8Array.from(q, c => c.charCodeAt(0))
    }
    if (charset.toLowerCase() === 'iso-8859-1') out += String.fromCharCode(...bytes)
    else {
      try { out += STRICT_UTF8.decode(bytes) } catch { return undefined }
    }
  }
  return last === trimmed.length && last > 0 ? out : undefined
}

/** The response headers that describe an object on GET and HEAD. */
export function objectHeaders (info: ObjectInfo): Headers {
  const h = new Headers(metadataHeaders(info.metadata))
  h.set('etag', quoteEtag(info.etag))
  h.set('last-modified', httpDate(info.lastModified))
  h.set('accept-ranges', 'bytes')
  h.set('content-type', info.metadata.contentType ?? 'binary/octet-stream')
  const tagCount = info.tagCount ?? Object.keys(info.tags).length
  if (tagCount > 0) h.set('x-amz-tagging-count', String(tagCount))
  if (info.versionId !== undefined) h.set('x-amz-version-id', info.versionId)
  // The content's SHA-256, which the mesh verifies copies against: lets a gateway (the edge worker) report it too.
  if (info.sha256 !== '') h.set('x-s3mesh-sha256', info.sha256)
  // A multipart object's part sizes, for a gateway to answer ?partNumber=N as the node would.
  if (info.metadata.partSizes !== undefined) h.set('x-s3mesh-part-sizes', formatPartSizes(info.metadata.partSizes))
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
    if (v !== undefined) h.set(header, headerValue(v, param))
  }
}

/** Checks a tag set against S3's limits: 10 tags, keys to 128 and values to 256 characters, unique keys. */
export function assertTags (tags: Array<[string, string]>): Record<string, string> {
  if (tags.length > 10) throw new S3Error('InvalidTag', 'Object tags cannot be greater than 10.')
  const out: Record<string, string> = {}
  for (const [k, v] of tags) {
    if (k.length === 0 || k.length > 128) throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid: keys are 1 to 128 characters.')
    if (k.toLowerCase().startsWith('aws:')) throw new S3Error('InvalidTag', 'Your TagKey cannot be prefixed with aws:')
    if (v.length > 256) throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid: values are at most 256 characters.')
    if (Object.hasOwn(out, k)) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key.')
    out[k] = v
  }
  return out
}

/** A Tagging document's tags (PutObjectTagging's body, a form upload's `tagging` field), checked. */
export function tagsFromDocument (doc: Parsed): Record<string, string> {
  return assertTags(elementsOf(childOf(doc, 'TagSet') ?? {}, 'Tag').map(t => [textOf(t, 'Key') ?? '', textOf(t, 'Value') ?? '']))
}

/**
 * The x-amz-tagging header's pairs as sent (URL-encoded `k1=v1&k2=v2`), repeated keys too; undefined when absent.
 * The one reading of the header: the policy check's condition keys (request-actions.ts) and the tags stored are the same.
 */
export function taggingPairs (headers: Headers): Array<[string, string]> | undefined {
  const v = headers.get('x-amz-tagging')
  if (v === null) return undefined
  // As URLSearchParams reads a query (a leading ? dropped, + a space), but every pair kept (its parse keeps the first of
  // a repeated key, and assertTags must see both to refuse it, as S3 does), and malformed percent-encoding refused.
  const decode = (text: string): string => safeDecode(text.replace(/\+/g, '%20'), 'The x-amz-tagging header')
  return v.replace(/^\?/, '').split('&').filter(p => p !== '').map((p): [string, string] => {
    const eq = p.indexOf('=')
    return eq < 0 ? [decode(p), ''] : [decode(p.slice(0, eq)), decode(p.slice(eq + 1))]
  })
}

/** The x-amz-tagging header of a PUT, checked as tags. */
export function tagsFromHeader (headers: Headers): Record<string, string> | undefined {
  const pairs = taggingPairs(headers)
  return pairs === undefined ? undefined : assertTags(pairs)
}

/** Part sizes as `x-s3mesh-part-sizes` carries them: `size*count,...`. */
export function formatPartSizes (runs: PartSizes): string {
  return runs.map(([size, count]) => `${size}*${count}`).join(',')
}

/** `x-s3mesh-part-sizes` read back; undefined when absent or malformed. */
export function parsePartSizes (header: string | null): PartSizes | undefined {
  if (header === null || !/^\d+\*\d+(,\d+\*\d+)*$/.test(header)) return undefined
  return header.split(',').map(run => run.split('*').map(Number) as [number, number])
}
