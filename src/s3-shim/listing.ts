import { S3Error } from '../core/errors.js'
import { fromBase64, toBase64, utf8 } from '../core/hashes.js'
import { compareKeys, prefixEnd } from '../core/key-order.js'
import type { ObjectSummary } from '../core/object-store.js'
import { uriEncode } from './auth/uri-encode.js'
import type { Context } from './context.js'
import { madeAt, quoteEtag } from './respond.js'
import type { XmlElement } from './xml.js'
import { OWNER } from './owner.js'

/** A continuation token carrying `text` (a listing's cursor), opaque to clients: base64. */
export function continuationToken (text: string): string {
  return toBase64(utf8(text))
}

/** The text a continuation token carries; InvalidArgument for one this server did not make (not base64, empty, or over `maxLength` characters). */
export function tokenText (token: string, maxLength = Infinity): string {
  const bytes = token.length <= maxLength ? fromBase64(token) : undefined
  const text = bytes === undefined ? '' : new TextDecoder('utf-8', { fatal: false }).decode(bytes)
  if (text === '') throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { detail: { ArgumentName: 'continuation-token' } })
  return text
}

/** S3 returns at most 1,000 keys per listing page. */
export const MAX_KEYS = 1000

export type ListingEntry = { kind: 'object', object: ObjectSummary } | { kind: 'prefix', prefix: string }

export interface Listing {
  entries: ListingEntry[]
  isTruncated: boolean
}

/** Where a listing resumes: after a key, or after every key under a common prefix. */
export interface Cursor {
  key: string
  isPrefix: boolean
}

export function cursorAfter (entry: ListingEntry): Cursor {
  return entry.kind === 'object' ? { key: entry.object.key, isPrefix: false } : { key: entry.prefix, isPrefix: true }
}

/**
 * One page of a listing with S3's delimiter semantics, on top of the store's
 * plain sorted listing: keys that contain the delimiter after the prefix roll
 * up into one CommonPrefix each, and the walk jumps past all of a prefix's
 * keys in one store call.
 */
export async function listPage (ctx: Context, prefix: string, delimiter: string, after: Cursor | undefined, maxKeys: number): Promise<Listing> {
  // Nothing asked for, and so nothing more to ask for (as S3 answers): "truncated" with no token to go on would loop a paginator forever.
  if (maxKeys === 0) return { entries: [], isTruncated: false }
  const entries: ListingEntry[] = []
  let startAfter = after === undefined ? undefined : after.isPrefix ? prefixEnd(after.key) : after.key
  let isTruncated = false
  pages: for (;;) {
    const want = Math.min(MAX_KEYS, maxKeys - entries.length + 1)
    const page = await ctx.store.listObjects(ctx.bucket, { prefix, startAfter, limit: want, signal: ctx.signal })
    for (const object of page.objects) {
      if (entries.length === maxKeys) { isTruncated = true; break pages }
      const at = delimiter === '' ? -1 : object.key.indexOf(delimiter, prefix.length)
      if (at >= 0) {
        const common = object.key.slice(0, at + delimiter.length)
        entries.push({ kind: 'prefix', prefix: common })
        startAfter = prefixEnd(common)
        continue pages
      }
      entries.push({ kind: 'object', object })
      startAfter = object.key
    }
    if (!page.isTruncated) break
    if (page.resumeAfter !== undefined && (startAfter === undefined || compareKeys(page.resumeAfter, startAfter) > 0)) startAfter = page.resumeAfter
  }
  return { entries, isTruncated }
}

export function parseMaxKeys (value: string | undefined, name = 'max-keys'): number {
  if (value === undefined) return MAX_KEYS
  if (!/^\d+$/.test(value)) {
    throw new S3Error('InvalidArgument', `${name} must be a non-negative integer.`, { detail: { ArgumentName: name, ArgumentValue: value } })
  }
  return Math.min(Number(value), MAX_KEYS)
}

/** A page's part-number marker (ListParts, GetObjectAttributes): a part number, 0 (the default) for the first page. */
export function parsePartNumberMarker (value: string | undefined, name: string): number {
  if (value === undefined) return 0
  if (!/^\d{1,5}$/.test(value)) throw new S3Error('InvalidArgument', `${name} must be a part number: a whole number of at most five digits (0, or none, for the first page).`, { detail: { ArgumentName: name, ArgumentValue: value } })
  return Number(value)
}

/** With encoding-type=url, S3 URL-encodes every key and prefix it returns (clients decode them). */
export function encoderFor (ctx: Context): (s: string) => string {
  const type = ctx.query.get('encoding-type')
  if (type === undefined) return s => s
  if (type !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { detail: { ArgumentName: 'encoding-type', ArgumentValue: type } })
  return s => uriEncode(s, true)
}

export function contentsXml (entries: ListingEntry[], encode: (s: string) => string, withOwner: boolean): { Contents: XmlElement[], CommonPrefixes: XmlElement[] } {
  const Contents: XmlElement[] = []
  const CommonPrefixes: XmlElement[] = []
  for (const e of entries) {
    if (e.kind === 'prefix') {
      CommonPrefixes.push({ Prefix: encode(e.prefix) })
    } else {
      const o = e.object
      Contents.push({
        Key: encode(o.key), LastModified: madeAt(o.lastModified), ETag: quoteEtag(o.etag), Size: o.size,
        ...(withOwner ? { Owner: OWNER } : {}),
        StorageClass: 'STANDARD',
      })
    }
  }
  return { Contents, CommonPrefixes }
}

/**
 * A v1 marker that names a common prefix (as NextMarker does after a page that
 * ended on one) resumes after that whole prefix.
 */
export function markerCursor (marker: string, prefix: string, delimiter: string): Cursor | undefined {
  if (marker === '') return undefined
  const isPrefix = delimiter !== '' && marker.startsWith(prefix) && marker.endsWith(delimiter) &&
    marker.indexOf(delimiter, prefix.length) === marker.length - delimiter.length
  return { key: marker, isPrefix }
}

/**
 * The cursor further on of two (a v2 token and a StartAfter, which paginators
 * send with every page). A common prefix's cursor stands after every key
 * under it: a StartAfter inside that prefix is behind it, or the page after
 * one that ended on the prefix would list it again, for ever.
 */
export function laterCursor (a: Cursor | undefined, b: Cursor | undefined): Cursor | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  if (a.isPrefix && b.key.startsWith(a.key)) return a
  if (b.isPrefix && a.key.startsWith(b.key)) return b
  return compareKeys(a.key, b.key) >= 0 ? a : b
}
