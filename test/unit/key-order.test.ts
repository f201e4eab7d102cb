import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { compareKeys, prefixEnd, utf8Length } from '../../src/core/key-order.js'

describe('key order', () => {
  it('compareKeys is UTF-8 byte order (property)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
      const expected = Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')))
      return Math.sign(compareKeys(a, b)) === expected
    }), { numRuns: 5000 })
  })

  it('prefixEnd sorts after every key with the prefix and before the next prefix', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 200 }), (prefix, rest) => {
      return compareKeys(prefix + rest, prefixEnd(prefix)) < 0
    }), { numRuns: 2000 })
    assert.ok(compareKeys(prefixEnd('a/'), 'a0') < 0)
    assert.ok(compareKeys(prefixEnd('a/'), 'a/\u{10FFFF}') > 0)
  })

  it('utf8Length matches Buffer.byteLength', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), s => utf8Length(s) === Buffer.byteLength(s)))
  })
})
