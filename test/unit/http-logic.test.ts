import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isS3Error } from '../../src/core/errors.js'
import type { ObjectInfo } from '../../src/core/object-store.js'
import { checkConditions, type ConditionHeaders } from '../../src/s3-shim/http/conditions.js'
import { matchCorsRule } from '../../src/s3-shim/http/cors.js'
import { resolveRange } from '../../src/s3-shim/http/range.js'
import { parsePostPolicy } from '../../src/s3-shim/auth/post-policy.js'
import { parseXmlBody } from '../../src/s3-shim/xml.js'

describe('Range', () => {
  const cases: Array<[string | null, number, [number, number] | undefined | 'InvalidRange']> = [
    [null, 100, undefined],
    ['bytes=0-9', 100, [0, 9]],
    ['bytes=90-', 100, [90, 99]],
    ['bytes=-10', 100, [90, 99]],
    ['bytes=-1000', 100, [0, 99]],
    ['bytes=50-5000', 100, [50, 99]],
    ['bytes=99-99', 100, [99, 99]],
    ['bytes=100-', 100, 'InvalidRange'],
    ['bytes=100-200', 100, 'InvalidRange'],
    ['bytes=-0', 100, 'InvalidRange'],
    ['bytes=0-0', 0, 'InvalidRange'],
    ['bytes=5-2', 100, undefined],
    ['bytes=0-1,5-6', 100, undefined],
    ['items=0-1', 100, undefined],
    ['bytes=', 100, undefined],
  ]
  for (const [header, size, expected] of cases) {
    it(`${String(header)} of ${size} bytes -> ${JSON.stringify(expected)}`, () => {
      if (expected === 'InvalidRange') {
        assert.throws(() => resolveRange(header, size), (e: unknown) => isS3Error(e, 'InvalidRange') && e.headers?.['content-range'] === `bytes */${size}`)
      } else {
        const r = resolveRange(header, size)
        assert.deepEqual(r === undefined ? undefined : [r.start, r.end], expected)
      }
    })
  }
})

describe('conditional requests', () => {
  const info = { etag: 'abc', lastModified: new Date('2024-01-02T03:04:05.678Z') } as ObjectInfo
  const none: ConditionHeaders = { ifMatch: null, ifNoneMatch: null, ifModifiedSince: null, ifUnmodifiedSince: null }
  const before = 'Mon, 01 Jan 2024 00:00:00 GMT'
  const same = 'Tue, 02 Jan 2024 03:04:05 GMT'
  const after = 'Wed, 03 Jan 2024 00:00:00 GMT'
  const cases: Array<[string, Partial<ConditionHeaders>, string | undefined]> = [
    ['no conditions', {}, undefined],
    ['If-Match matches', { ifMatch: '"abc"' }, undefined],
    ['If-Match list and *', { ifMatch: '"x", "abc"' }, undefined],
    ['If-Match fails', { ifMatch: '"xyz"' }, 'PreconditionFailed'],
    ['If-None-Match matches', { ifNoneMatch: '"abc"' }, 'NotModified'],
    ['If-None-Match *', { ifNoneMatch: '*' }, 'NotModified'],
    ['If-None-Match other', { ifNoneMatch: '"zzz"' }, undefined],
    ['If-Modified-Since before', { ifModifiedSince: before }, undefined],
    ['If-Modified-Since same second', { ifModifiedSince: same }, 'NotModified'],
    ['If-Modified-Since after', { ifModifiedSince: after }, 'NotModified'],
    ['If-Unmodified-Since before', { ifUnmodifiedSince: before }, 'PreconditionFailed'],
    ['If-Unmodified-Since same second', { ifUnmodifiedSince: same }, undefined],
    // S3: a true If-Match wins over a false If-Unmodified-Since, a false If-None-Match over a true If-Modified-Since.
    ['If-Match true + If-Unmodified-Since false', { ifMatch: '"abc"', ifUnmodifiedSince: before }, undefined],
    ['If-None-Match false + If-Modified-Since true', { ifNoneMatch: '"abc"', ifModifiedSince: before }, 'NotModified'],
    ['If-None-Match true + If-Modified-Since false', { ifNoneMatch: '"zzz"', ifModifiedSince: after }, undefined],
    ['unparseable date is ignored', { ifModifiedSince: 'yesterday' }, undefined],
  ]
  for (const [name, c, expected] of cases) {
    it(`${name} -> ${expected ?? 'pass'}`, () => {
      if (expected === undefined) checkConditions({ ...none, ...c }, info)
      else assert.throws(() => checkConditions({ ...none, ...c }, info), (e: unknown) => isS3Error(e) && e.code === expected)
    })
  }
})

describe('CORS rule matching', () => {
  const rules = [
    { allowedOrigins: ['https://*.example.com'], allowedMethods: ['GET'], allowedHeaders: [], exposeHeaders: [] },
    { allowedOrigins: ['http://localhost:5173'], allowedMethods: ['GET', 'PUT'], allowedHeaders: ['x-amz-*', 'content-type'], exposeHeaders: ['ETag'] },
  ]
  it('matches origin wildcards, methods and requested headers', () => {
    assert.equal(matchCorsRule(rules, 'https://app.example.com', 'GET'), rules[0])
    assert.equal(matchCorsRule(rules, 'https://example.com', 'GET'), undefined)
    assert.equal(matchCorsRule(rules, 'http://localhost:5173', 'PUT', ['x-amz-date', 'content-type']), rules[1])
    assert.equal(matchCorsRule(rules, 'http://localhost:5173', 'PUT', ['authorization']), undefined)
    assert.equal(matchCorsRule(rules, 'http://localhost:5173', 'DELETE'), undefined)
  })
})

describe('XML bodies', () => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
  const code = (f: () => unknown): string | undefined => { try { f(); return undefined } catch (e) { return isS3Error(e) ? e.code : 'other' } }
  it('refuses malformed XML, DOCTYPEs, empty bodies and the wrong root', () => {
    assert.equal(code(() => parseXmlBody(enc('<Delete><Object>'), 'Delete')), 'MalformedXML')
    assert.equal(code(() => parseXmlBody(enc('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Delete/>'), 'Delete')), 'MalformedXML')
    assert.equal(code(() => parseXmlBody(enc(''), 'Delete')), 'MalformedXML')
    assert.equal(code(() => parseXmlBody(enc('<Tagging/>'), 'Delete')), 'MalformedXML')
  })
  it('keeps key text exactly, including spaces and entities', () => {
    const doc = parseXmlBody(enc('<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key> a &amp; b </Key></Object></Delete>'), 'Delete')
    assert.deepEqual(doc.Object, [{ Key: ' a & b ' }])
  })
  it('takes `&#1;` in a CDATA section or a comment as text, where as a reference it is refused', () => {
    const doc = parseXmlBody(enc('<Delete><!-- &#1; --><Object><Key><![CDATA[a&#1;b]]></Key></Object></Delete>'), 'Delete')
    assert.deepEqual(doc.Object, [{ Key: 'a&#1;b' }])
    assert.equal(code(() => parseXmlBody(enc('<Delete><Object><Key>a&#1;b</Key></Object></Delete>'), 'Delete')), 'MalformedXML')
    // A comment's opener inside an attribute value is no comment: the reference after it is still found.
    assert.equal(code(() => parseXmlBody(enc('<Delete><Object><Key x="<!--">a&#1;b</Key></Object><Quiet y="-->">true</Quiet></Delete>'), 'Delete')), 'MalformedXML')
  })
  it('decodes numeric character references, as Go clients write quotes', () => {
    const doc = parseXmlBody(enc('<CompleteMultipartUpload><Part><ETag>&#34;abc&#34;</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>'), 'CompleteMultipartUpload')
    assert.deepEqual(doc.Part, [{ ETag: '"abc"', PartNumber: '1' }])
  })
})

describe('POST policies', () => {
  it('reads an expiration that names no zone as GMT, as S3 does, whatever the server\'s time zone', () => {
    const policy = (expiration: string): string => Buffer.from(JSON.stringify({ expiration, conditions: [] })).toString('base64')
    const zone = process.env.TZ
    process.env.TZ = 'America/New_York'
    try {
      assert.equal(new Date(2030, 0, 1).getTimezoneOffset(), 300, 'precondition: the local time is not GMT')
      assert.equal(parsePostPolicy(policy('2030-01-01T00:00:00')).expiration, Date.UTC(2030, 0, 1))
      assert.equal(parsePostPolicy(policy('2030-01-01T00:00:00.000Z')).expiration, Date.UTC(2030, 0, 1))
      assert.equal(parsePostPolicy(policy('2030-01-01T00:00:00+01:00')).expiration, Date.UTC(2029, 11, 31, 23))
    } finally {
      if (zone === undefined) delete process.env.TZ
      else process.env.TZ = zone
    }
  })
})
