import { S3Error } from '../core/errors.js'
import { expiryOf, type LifecycleFilter, type LifecycleRule } from '../core/lifecycle.js'
import type { ObjectInfo, ObjectStore } from '../core/object-store.js'
import { childOf, elementsOf, textOf, type Parsed, type XmlElement } from './xml.js'
import { onCalendar } from './calendar.js'
import { uriEncode } from './auth/uri-encode.js'

/** S3's limit on a configuration's rules. */
const MAX_RULES = 1000

function invalid (message: string): S3Error {
  return new S3Error('InvalidArgument', message)
}

function wholeNumber (text: string | undefined, what: string, min: number): number | undefined {
  if (text === undefined) return undefined
  const t = text.trim()
  if (!/^\d{1,15}$/.test(t) || Number(t) < min) throw invalid(`'${what}' must be ${min === 0 ? 'a non-negative' : 'a positive'} integer.`)
  return Number(t)
}

function tagsOf (el: Parsed): Record<string, string> | undefined {
  const tags = elementsOf(el, 'Tag')
  if (tags.length === 0) return undefined
  const out: Record<string, string> = {}
  for (const t of tags) {
    const key = textOf(t, 'Key')
    if (key === undefined || key === '') throw new S3Error('MalformedXML', 'Every Tag of a lifecycle filter needs a Key.')
    if (Object.hasOwn(out, key)) throw invalid(`Duplicate Tag Keys are not allowed: ${key}.`)
    out[key] = textOf(t, 'Value') ?? ''
  }
  return out
}

/** A rule's <Filter>: one condition, or several under <And>. */
function filterOf (el: Parsed): LifecycleFilter {
  const given = ['Prefix', 'Tag', 'ObjectSizeGreaterThan', 'ObjectSizeLessThan', 'And'].filter(n => el[n] !== undefined)
  if (given.length > 1 || elementsOf(el, 'Tag').length > 1) throw new S3Error('MalformedXML', 'A lifecycle Filter takes one condition; several go under <And>.')
  const and = childOf(el, 'And')
  const from = and ?? el
  const filter: LifecycleFilter = {}
  const prefix = textOf(from, 'Prefix')
  if (prefix !== undefined && prefix !== '') filter.prefix = prefix
  const tags = tagsOf(from)
  if (tags !== undefined) filter.tags = tags
  const greater = wholeNumber(textOf(from, 'ObjectSizeGreaterThan'), 'ObjectSizeGreaterThan', 0)
  if (greater !== undefined) filter.sizeGreaterThan = greater
  const less = wholeNumber(textOf(from, 'ObjectSizeLessThan'), 'ObjectSizeLessThan', 1)
  if (less !== undefined) filter.sizeLessThan = less
  if (greater !== undefined && less !== undefined && greater >= less) throw invalid('ObjectSizeGreaterThan must be less than ObjectSizeLessThan.')
  return filter
}

function ruleOf (el: Parsed, i: number): LifecycleRule {
  const id = textOf(el, 'ID')
  if (id !== undefined && id.length > 255) throw invalid('ID length should not exceed allowed limit of 255.')
  const status = textOf(el, 'Status')
  if (status !== 'Enabled' && status !== 'Disabled') throw new S3Error('MalformedXML', `Rule ${i + 1}: Status must be Enabled or Disabled.`)
  for (const unsupported of ['Transition', 'NoncurrentVersionTransition']) {
    if (el[unsupported] !== undefined) throw new S3Error('NotImplemented', `s3mesh has one storage class: a lifecycle ${unsupported} has nowhere to go.`)
  }
  const filterEl = childOf(el, 'Filter')
  const legacyPrefix = textOf(el, 'Prefix')
  if (filterEl !== undefined && legacyPrefix !== undefined) throw new S3Error('MalformedXML', `Rule ${i + 1}: a rule has a Filter or a Prefix, not both.`)
  if (filterEl === undefined && legacyPrefix === undefined) throw new S3Error('MalformedXML', `Rule ${i + 1}: a rule needs a Filter (or a Prefix).`)
  const filter = filterEl !== undefined ? filterOf(filterEl) : legacyPrefix === '' ? {} : { prefix: legacyPrefix! }
  const rule: LifecycleRule = { ...(id === undefined ? {} : { id }), enabled: status === 'Enabled', filter }

  const exp = childOf(el, 'Expiration')
  if (exp !== undefined) {
    const days = wholeNumber(textOf(exp, 'Days'), 'Days', 1)
    const dateText = textOf(exp, 'Date')
    const marker = textOf(exp, 'ExpiredObjectDeleteMarker')
    if ([days, dateText, marker].filter(x => x !== undefined).length !== 1) throw new S3Error('MalformedXML', `Rule ${i + 1}: Expiration takes one of Days, Date and ExpiredObjectDeleteMarker.`)
    let date: string | undefined
    if (dateText !== undefined) {
      const t = onCalendar(dateText) ? Date.parse(dateText.trim()) : Number.NaN
      if (Number.isNaN(t)) throw invalid(`'Date' is not an ISO 8601 date: ${dateText}.`)
      if (t % 86_400_000 !== 0) throw invalid('\'Date\' must be at midnight GMT.')
      date = new Date(t).toISOString()
    }
    if (marker !== undefined && marker !== 'true' && marker !== 'false') throw new S3Error('MalformedXML', 'ExpiredObjectDeleteMarker must be true or false.')
    rule.expiration = { ...(days === undefined ? {} : { days }), ...(date === undefined ? {} : { date }), ...(marker === undefined ? {} : { expiredObjectDeleteMarker: marker === 'true' }) }
  }
  const noncurrent = childOf(el, 'NoncurrentVersionExpiration')
  if (noncurrent !== undefined) {
    const days = wholeNumber(textOf(noncurrent, 'NoncurrentDays'), 'NoncurrentDays', 1)
    if (days === undefined) throw new S3Error('MalformedXML', `Rule ${i + 1}: NoncurrentVersionExpiration needs NoncurrentDays.`)
    const newer = wholeNumber(textOf(noncurrent, 'NewerNoncurrentVersions'), 'NewerNoncurrentVersions', 1)
    if (newer !== undefined && newer > 100) throw invalid('\'NewerNoncurrentVersions\' must be at most 100.')
    rule.noncurrentVersionExpiration = { noncurrentDays: days, ...(newer === undefined ? {} : { newerNoncurrentVersions: newer }) }
  }
  const abort = childOf(el, 'AbortIncompleteMultipartUpload')
  if (abort !== undefined) {
    const days = wholeNumber(textOf(abort, 'DaysAfterInitiation'), 'DaysAfterInitiation', 1)
    if (days === undefined) throw new S3Error('MalformedXML', `Rule ${i + 1}: AbortIncompleteMultipartUpload needs DaysAfterInitiation.`)
    if (filter.tags !== undefined || filter.sizeGreaterThan !== undefined || filter.sizeLessThan !== undefined) {
      throw new S3Error('InvalidRequest', 'AbortIncompleteMultipartUpload cannot be specified with Tags or object sizes in its filter.')
    }
    rule.abortIncompleteMultipartUpload = { daysAfterInitiation: days }
  }
  if (rule.expiration === undefined && rule.noncurrentVersionExpiration === undefined && rule.abortIncompleteMultipartUpload === undefined) {
    throw invalid('At least one action needs to be specified in a rule.')
  }
  // A delete marker has no tags and no size: a rule filtering by either would never remove one.
  if (rule.expiration?.expiredObjectDeleteMarker === true && (filter.tags !== undefined || filter.sizeGreaterThan !== undefined || filter.sizeLessThan !== undefined)) {
    throw invalid('ExpiredObjectDeleteMarker cannot be specified with object tags or object sizes in its filter.')
  }
  return rule
}

/** A PutBucketLifecycleConfiguration body's rules, checked as S3 checks them. */
export function lifecycleFromXml (doc: Parsed): LifecycleRule[] {
  const rules = elementsOf(doc, 'Rule').map(ruleOf)
  if (rules.length === 0) throw new S3Error('MalformedXML', 'A lifecycle configuration needs at least one Rule.')
  if (rules.length > MAX_RULES) throw invalid(`A lifecycle configuration has at most ${MAX_RULES} rules.`)
  const ids = new Set<string>()
  for (const r of rules) {
    if (r.id === undefined) continue
    if (ids.has(r.id)) throw invalid('Rule ID must be unique. Found same ID for more than one rule.')
    ids.add(r.id)
  }
  return rules
}

function filterXml (f: LifecycleFilter): XmlElement {
  const conditions: XmlElement = {
    ...(f.prefix === undefined ? {} : { Prefix: f.prefix }),
    ...(f.tags === undefined ? {} : { Tag: Object.entries(f.tags).map(([Key, Value]) => ({ Key, Value })) }),
    ...(f.sizeGreaterThan === undefined ? {} : { ObjectSizeGreaterThan: f.sizeGreaterThan }),
    ...(f.sizeLessThan === undefined ? {} : { ObjectSizeLessThan: f.sizeLessThan }),
  }
  const count = Object.keys(conditions).length + (f.tags === undefined ? 0 : Object.keys(f.tags).length - 1)
  if (count === 0) return { Prefix: '' }
  return count === 1 ? conditions : { And: conditions }
}

/** The rules as GetBucketLifecycleConfiguration answers them. */
export function lifecycleXml (rules: readonly LifecycleRule[]): XmlElement {
  return {
    Rule: rules.map(r => ({
      ...(r.id === undefined ? {} : { ID: r.id }),
      Filter: filterXml(r.filter),
      Status: r.enabled ? 'Enabled' : 'Disabled',
      ...(r.expiration === undefined
        ? {}
        : {
            Expiration: {
              ...(r.expiration.days === undefined ? {} : { Days: r.expiration.days }),
              ...(r.expiration.date === undefined ? {} : { Date: r.expiration.date }),
              ...(r.expiration.expiredObjectDeleteMarker === undefined ? {} : { ExpiredObjectDeleteMarker: r.expiration.expiredObjectDeleteMarker }),
            },
          }),
      ...(r.noncurrentVersionExpiration === undefined
        ? {}
        : {
            NoncurrentVersionExpiration: {
              NoncurrentDays: r.noncurrentVersionExpiration.noncurrentDays,
              ...(r.noncurrentVersionExpiration.newerNoncurrentVersions === undefined ? {} : { NewerNoncurrentVersions: r.noncurrentVersionExpiration.newerNoncurrentVersions }),
            },
          }),
      ...(r.abortIncompleteMultipartUpload === undefined ? {} : { AbortIncompleteMultipartUpload: { DaysAfterInitiation: r.abortIncompleteMultipartUpload.daysAfterInitiation } }),
    })),
  }
}

/** x-amz-expiration on a GET, HEAD or write of an object the bucket's rules expire: when, and by which rule. */
export function expirationHeaders (store: ObjectStore, bucket: string, info: ObjectInfo): Record<string, string> {
  const e = info.expiration ?? expiryOf(store.lifecycleAtHand?.(bucket), info)
  if (e === undefined) return {}
  // The rule's ID URL-encoded, as S3 gives it: an ID is any text, and a header value only some bytes.
  return { 'x-amz-expiration': `expiry-date="${e.date.toUTCString()}", rule-id="${uriEncode(e.ruleId, false)}"` }
}
