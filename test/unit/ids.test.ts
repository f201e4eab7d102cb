import { test } from 'node:test'
import assert from 'node:assert/strict'
import { uniqueIdSource } from '../../src/core/ids.js'

test('uniqueIdSource: names from one source never repeat, and another source (a later run) shares none of them', () => {
  const a = uniqueIdSource()
  const b = uniqueIdSource()
  const fromA = Array.from({ length: 1000 }, () => a())
  const fromB = Array.from({ length: 1000 }, () => b())
  assert.equal(new Set(fromA).size, 1000)
  // Plain hex of one length: safe as a file name and a primary key.
  for (const id of [...fromA, ...fromB]) assert.match(id, /^[0-9a-f]{24}$/)
  const seen = new Set(fromA)
  assert.ok(fromB.every(id => !seen.has(id)))
  assert.notEqual(fromA[0]!.slice(0, 16), fromB[0]!.slice(0, 16))
})
