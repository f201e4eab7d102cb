/**
 * Object lock as S3 writes it: ObjectLockConfiguration, Retention and
 * LegalHold documents, and the x-amz-object-lock-* headers of a write and a
 * read, to and from core/object-lock.ts's types. Refusals carry S3's codes
 * and messages (docs/plans/object-lock.md says where each comes from).
 */
import { S3Error } from '../core/errors.js'
import { checkDefaultRetention, checkRetention, LOCK_MODES, type BucketObjectLock, type LockMode, type Retention, type VersionLock } from '../core/object-lock.js'
import { isoDate } from './respond.js'
import { childOf, elementsOf, textOf, type Parsed, type XmlElement } from './xml.js'
import { onCalendar } from './calendar.js'

const malformed = (message: string): S3Error => new S3Error('MalformedXML', message)

function modeOf (text: string | undefined, refuse: (message: string) => S3Error): LockMode {
  if (text === undefined || !(LOCK_MODES as readonly string[]).includes(text)) throw refuse(`The object lock mode must be GOVERNANCE or COMPLIANCE${text === undefined ? '' : `, not "${text}"`}.`)
  return text as LockMode
}

function period (text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  if (!/^-?\d{1,15}$/.test(text.trim())) throw malformed('Days and Years must be whole numbers.')
  return Number(text.trim())
}

/** A PutObjectLockConfiguration body: ObjectLockEnabled (Enabled, the only value) and an optional default retention. */
export function lockConfigurationFrom (doc: Parsed): BucketObjectLock {
  if (textOf(doc, 'ObjectLockEnabled') !== 'Enabled') throw malformed('ObjectLockEnabled must be Enabled: object lock cannot be turned off.')
  // <Rule> repeats in a lifecycle configuration, so it parses as a list: here there is one at most.
  const rules = elementsOf(doc, 'Rule')
  if (rules.length > 1) throw malformed('An ObjectLockConfiguration has one Rule at most.')
  const rule = rules[0]
  if (rule === undefined) return {}
  const retention = childOf(rule, 'DefaultRetention')
  if (retention === undefined) throw malformed('A Rule needs a DefaultRetention.')
  const days = period(textOf(retention, 'Days'))
  const years = period(textOf(retention, 'Years'))
  const out = { mode: modeOf(textOf(retention, 'Mode'), malformed), ...(days === undefined ? {} : { days }), ...(years === undefined ? {} : { years }) }
  checkDefaultRetention(out)
  return { rule: out }
}

export function lockConfigurationXml (lock: BucketObjectLock): XmlElement {
  const r = lock.rule
  return {
    ObjectLockEnabled: 'Enabled',
    ...(r === undefined ? {} : { Rule: { DefaultRetention: { Mode: r.mode, ...(r.days === undefined ? {} : { Days: r.days }), ...(r.years === undefined ? {} : { Years: r.years }) } } }),
  }
}

/** An S3 date: ISO 8601 with its time zone (Z or an offset); anything else is not a date (a zone left out would be the server's). */
function dateOf (text: string): Date {
  const t = text.trim()
  return new Date(/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})$/i.test(t) && onCalendar(t) ? t : Number.NaN)
}

/** A PutObjectRetention body: a mode and a date in the future, or neither (the retention lifted, which only a bypass allows). */
export function retentionFrom (doc: Parsed, now: Date): Retention | undefined {
  const mode = textOf(doc, 'Mode')
  const until = textOf(doc, 'RetainUntilDate')
  if (mode === undefined && until === undefined) return undefined
  if (mode === undefined || until === undefined) throw malformed('A Retention needs both Mode and RetainUntilDate.')
  const r = { mode: modeOf(mode, malformed), until: dateOf(until) }
  checkRetention(r, now)
  return r
}

export function retentionXml (r: Retention): XmlElement {
  return { Mode: r.mode, RetainUntilDate: isoDate(r.until) }
}

/** A PutObjectLegalHold body: Status ON or OFF. */
export function legalHoldFrom (doc: Parsed): boolean {
  const status = textOf(doc, 'Status')
  if (status !== 'ON' && status !== 'OFF') throw malformed('A LegalHold\'s Status must be ON or OFF.')
  return status === 'ON'
}

export function legalHoldXml (on: boolean): XmlElement {
  return { Status: on ? 'ON' : 'OFF' }
}

/** What a PutObject, CopyObject or CreateMultipartUpload asks for in its x-amz-object-lock-* headers: undefined when none. */
export function lockFromHeaders (headers: Headers, now: Date): VersionLock | undefined {
  const mode = headers.get('x-amz-object-lock-mode')
  const until = headers.get('x-amz-object-lock-retain-until-date')
  const hold = headers.get('x-amz-object-lock-legal-hold')
  if (mode === null && until === null && hold === null) return undefined
  if ((mode === null) !== (until === null)) throw new S3Error('InvalidArgument', 'x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied')
  if (hold !== null && hold !== 'ON' && hold !== 'OFF') throw new S3Error('InvalidArgument', 'Legal Hold must be either of \'ON\' or \'OFF\'', { detail: { ArgumentName: 'x-amz-object-lock-legal-hold', ArgumentValue: hold } })
  let retention: Retention | undefined
  if (mode !== null && until !== null) {
    retention = { mode: modeOf(mode, () => new S3Error('InvalidArgument', 'Unknown wormMode directive.')), until: dateOf(until) }
    checkRetention(retention, now)
  }
  return { ...(retention === undefined ? {} : { retention }), ...(hold === null ? {} : { legalHold: hold === 'ON' }) }
}

/** The x-amz-object-lock-* headers of a GET or HEAD: each only for a caller who may read it (s3:GetObjectRetention, s3:GetObjectLegalHold). */
export function lockHeaders (lock: VersionLock | undefined, may: { retention: boolean, legalHold: boolean }): Record<string, string> {
  const h: Record<string, string> = {}
  if (lock?.retention !== undefined && may.retention) {
    h['x-amz-object-lock-mode'] = lock.retention.mode
    h['x-amz-object-lock-retain-until-date'] = isoDate(lock.retention.until)
  }
  if (lock?.legalHold !== undefined && may.legalHold) h['x-amz-object-lock-legal-hold'] = lock.legalHold ? 'ON' : 'OFF'
  return h
}
