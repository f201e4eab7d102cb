/**
 * Object lock's rules (core/object-lock.ts) and its XML and headers
 * (s3-shim/object-lock-xml.ts), against what S3 answers: the cases and
 * codes in docs/plans/object-lock.md.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isS3Error, type S3ErrorCode } from '../../src/core/errors.js'
import { defaultUntil, deleteRefusal, lockForWrite, retentionChangeRefusal, type Retention } from '../../src/core/object-lock.js'
import { legalHoldFrom, lockConfigurationFrom, lockConfigurationXml, lockFromHeaders, lockHeaders, retentionFrom } from '../../src/s3-shim/object-lock-xml.js'
import { parseXmlBody, renderXml } from '../../src/s3-shim/xml.js'

const now = new Date('2026-12-02T12:00:00Z')
const later = (days: number): Date => new Date(now.getTime() + days * 86_400_000)
const refused = (code: S3ErrorCode) => (err: unknown): boolean => isS3Error(err, code)
const doc = (root: string, xml: string): ReturnType<typeof parseXmlBody> => parseXmlBody(new TextEncoder().encode(`<${root}>${xml}</${root}>`), root)

describe('object lock rules', () => {
  it('refuses deleting a version under a legal hold or a retention, GOVERNANCE only with a bypass, and nothing once it ends', () => {
    const governance = { retention: { mode: 'GOVERNANCE' as const, until: later(1) } }
    const compliance = { retention: { mode: 'COMPLIANCE' as const, until: later(1) } }
    assert.equal(deleteRefusal(undefined, now, false), undefined)
    assert.equal(deleteRefusal(governance, now, false)?.code, 'AccessDenied')
    assert.equal(deleteRefusal(governance, now, true), undefined, 'a bypass lifts GOVERNANCE')
    assert.equal(deleteRefusal(compliance, now, true)?.code, 'AccessDenied', 'nothing lifts COMPLIANCE')
    assert.equal(deleteRefusal({ legalHold: true }, now, true)?.code, 'AccessDenied', 'nor a legal hold')
    assert.equal(deleteRefusal(compliance, later(2), false), undefined, 'once the date has passed')
    assert.equal(deleteRefusal({ ...compliance, legalHold: true }, later(2), false)?.code, 'AccessDenied', 'a hold outlives the date')
    assert.match(deleteRefusal(compliance, now, false)!.message, /protected by object lock/)
  })

  it('lets a retention be extended in its mode, never COMPLIANCE shortened or lifted, GOVERNANCE only with a bypass', () => {
    const g: Retention = { mode: 'GOVERNANCE', until: later(10) }
    const c: Retention = { mode: 'COMPLIANCE', until: later(10) }
    assert.equal(retentionChangeRefusal(g, { mode: 'GOVERNANCE', until: later(20) }, now, false), undefined)
    assert.equal(retentionChangeRefusal(c, { mode: 'COMPLIANCE', until: later(20) }, now, false), undefined)
    assert.equal(retentionChangeRefusal(g, { mode: 'GOVERNANCE', until: later(5) }, now, false)?.code, 'AccessDenied')
    assert.equal(retentionChangeRefusal(g, { mode: 'GOVERNANCE', until: later(5) }, now, true), undefined)
    assert.equal(retentionChangeRefusal(g, undefined, now, false)?.code, 'AccessDenied')
    assert.equal(retentionChangeRefusal(g, undefined, now, true), undefined, 'lifted with a bypass')
    assert.equal(retentionChangeRefusal(g, { mode: 'COMPLIANCE', until: later(20) }, now, false)?.code, 'AccessDenied', 'made COMPLIANCE only with a bypass')
    assert.equal(retentionChangeRefusal(g, { mode: 'COMPLIANCE', until: later(20) }, now, true), undefined)
    for (const next of [{ mode: 'COMPLIANCE' as const, until: later(5) }, { mode: 'GOVERNANCE' as const, until: later(20) }, undefined]) {
      assert.equal(retentionChangeRefusal(c, next, now, true)?.code, 'AccessDenied', `COMPLIANCE to ${JSON.stringify(next)}`)
    }
    assert.equal(retentionChangeRefusal(c, undefined, later(11), false), undefined, 'an ended retention is anyone\'s to change')
    assert.equal(retentionChangeRefusal(undefined, g, now, false), undefined)
  })

  it('gives a new version the lock asked for, else the bucket\'s default from when it was made, and refuses a lock where the bucket has none', () => {
    const made = new Date('2024-02-29T10:00:00Z')
    assert.deepEqual(defaultUntil({ mode: 'GOVERNANCE', days: 30 }, made), { mode: 'GOVERNANCE', until: new Date('2024-03-30T10:00:00Z') })
    assert.deepEqual(defaultUntil({ mode: 'COMPLIANCE', years: 1 }, made).until, new Date('2025-03-01T10:00:00Z'), 'calendar years')
    const bucket = { rule: { mode: 'GOVERNANCE' as const, days: 1 } }
    assert.deepEqual(lockForWrite(undefined, bucket, now), { retention: { mode: 'GOVERNANCE', until: later(1) } })
    assert.deepEqual(lockForWrite({ retention: { mode: 'COMPLIANCE', until: later(9) } }, bucket, now), { retention: { mode: 'COMPLIANCE', until: later(9) } })
    assert.deepEqual(lockForWrite({ legalHold: true }, bucket, now), { retention: { mode: 'GOVERNANCE', until: later(1) }, legalHold: true }, 'a hold alone keeps the default retention')
    assert.equal(lockForWrite(undefined, {}, now), undefined)
    assert.equal(lockForWrite(undefined, undefined, now), undefined)
    assert.throws(() => lockForWrite({ legalHold: true }, undefined, now), (err: unknown) => isS3Error(err, 'InvalidRequest') && /missing ObjectLockConfiguration/.test(err.message))
  })
})

describe('object lock XML and headers', () => {
  it('reads and writes ObjectLockConfiguration with S3\'s refusals', () => {
    const rule = '<Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>30</Days></DefaultRetention></Rule>'
    const config = lockConfigurationFrom(doc('ObjectLockConfiguration', `<ObjectLockEnabled>Enabled</ObjectLockEnabled>${rule}`))
    assert.deepEqual(config, { rule: { mode: 'COMPLIANCE', days: 30 } })
    assert.deepEqual(lockConfigurationFrom(parseXmlBody(new TextEncoder().encode(renderXml('ObjectLockConfiguration', lockConfigurationXml(config))), 'ObjectLockConfiguration')), config, 'round trip')
    assert.deepEqual(lockConfigurationFrom(doc('ObjectLockConfiguration', '<ObjectLockEnabled>Enabled</ObjectLockEnabled>')), {}, 'no rule: no default retention')
    const bad = (xml: string, code: S3ErrorCode): void => { assert.throws(() => lockConfigurationFrom(doc('ObjectLockConfiguration', xml)), refused(code), xml) }
    bad('<ObjectLockEnabled>Disabled</ObjectLockEnabled>', 'MalformedXML')
    bad(`<ObjectLockEnabled>Enabled</ObjectLockEnabled>${rule.replace('<Days>30</Days>', '<Days>30</Days><Years>1</Years>')}`, 'MalformedXML')
    bad(`<ObjectLockEnabled>Enabled</ObjectLockEnabled>${rule.replace('<Days>30</Days>', '')}`, 'MalformedXML')
    bad(`<ObjectLockEnabled>Enabled</ObjectLockEnabled>${rule.replace('COMPLIANCE', 'compliance')}`, 'MalformedXML')
    bad(`<ObjectLockEnabled>Enabled</ObjectLockEnabled>${rule.replace('30', '0')}`, 'InvalidRetentionPeriod')
    bad(`<ObjectLockEnabled>Enabled</ObjectLockEnabled>${rule.replace('30', '-1')}`, 'InvalidRetentionPeriod')
    bad(`<ObjectLockEnabled>Enabled</ObjectLockEnabled>${rule.replace('<Days>30</Days>', '<Years>101</Years>')}`, 'InvalidRetentionPeriod')
  })

  it('reads Retention and LegalHold: a date in the future, both fields or neither, ON or OFF', () => {
    assert.deepEqual(retentionFrom(doc('Retention', '<Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-01T00:00:00.000Z</RetainUntilDate>'), now), { mode: 'GOVERNANCE', until: new Date('2030-01-01T00:00:00Z') })
    assert.equal(retentionFrom(doc('Retention', ''), now), undefined, 'an empty Retention lifts it')
    assert.throws(() => retentionFrom(doc('Retention', '<Mode>GOVERNANCE</Mode>'), now), refused('MalformedXML'))
    assert.throws(() => retentionFrom(doc('Retention', '<Mode>GOVERNANCE</Mode><RetainUntilDate>2020-01-01T00:00:00Z</RetainUntilDate>'), now), (err: unknown) => isS3Error(err, 'InvalidArgument') && /must be in the future/.test(err.message))
    // A day not on the calendar is no date (JavaScript's Date would read it as March 2).
    assert.throws(() => retentionFrom(doc('Retention', '<Mode>GOVERNANCE</Mode><RetainUntilDate>2099-02-30T00:00:00Z</RetainUntilDate>'), now), (err: unknown) => isS3Error(err) && err.status === 400)
    assert.equal(legalHoldFrom(doc('LegalHold', '<Status>ON</Status>')), true)
    assert.equal(legalHoldFrom(doc('LegalHold', '<Status>OFF</Status>')), false)
    assert.throws(() => legalHoldFrom(doc('LegalHold', '<Status>on</Status>')), refused('MalformedXML'))
  })

  it('reads a write\'s lock headers and writes a read\'s, each only for a caller who may see it', () => {
    assert.equal(lockFromHeaders(new Headers(), now), undefined)
    const h = new Headers({ 'x-amz-object-lock-mode': 'COMPLIANCE', 'x-amz-object-lock-retain-until-date': '2030-01-01T00:00:00Z', 'x-amz-object-lock-legal-hold': 'ON' })
    const lock = lockFromHeaders(h, now)
    assert.deepEqual(lock, { retention: { mode: 'COMPLIANCE', until: new Date('2030-01-01T00:00:00Z') }, legalHold: true })
    assert.throws(() => lockFromHeaders(new Headers({ 'x-amz-object-lock-mode': 'COMPLIANCE' }), now), (err: unknown) => isS3Error(err, 'InvalidArgument') && /must both be supplied/.test(err.message))
    assert.throws(() => lockFromHeaders(new Headers({ 'x-amz-object-lock-mode': 'FOREVER', 'x-amz-object-lock-retain-until-date': '2030-01-01T00:00:00Z' }), now), (err: unknown) => isS3Error(err, 'InvalidArgument') && /wormMode/.test(err.message))
    assert.throws(() => lockFromHeaders(new Headers({ 'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': 'tomorrow' }), now), refused('InvalidArgument'))
    assert.throws(() => lockFromHeaders(new Headers({ 'x-amz-object-lock-legal-hold': 'yes' }), now), refused('InvalidArgument'))
    assert.deepEqual(lockHeaders(lock, { retention: true, legalHold: true }), { 'x-amz-object-lock-mode': 'COMPLIANCE', 'x-amz-object-lock-retain-until-date': '2030-01-01T00:00:00.000Z', 'x-amz-object-lock-legal-hold': 'ON' })
    assert.deepEqual(lockHeaders(lock, { retention: false, legalHold: true }), { 'x-amz-object-lock-legal-hold': 'ON' })
    assert.deepEqual(lockHeaders(lock, { retention: false, legalHold: false }), {})
  })
})
