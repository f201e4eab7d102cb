/**
 * The browser's WebAssembly hashes (hash-wasm, pooled) give byte for byte what
 * the pure-JavaScript ones give, for every algorithm, across pool reuse and
 * before the pool is ready (the fallback).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { webHashes, type HashAlgorithm } from '../../src/core/hashes.js'
import { wasmHashes } from '../../src/browser/wasm-hashes.js'

const ALGORITHMS: HashAlgorithm[] = ['md5', 'sha1', 'sha256', 'crc32', 'crc32c']

function digest (hashes: typeof webHashes, algorithm: HashAlgorithm, pieces: Uint8Array[]): string {
  const h = hashes.create(algorithm)
  for (const p of pieces) h.update(p)
  return Buffer.from(h.digest()).toString('hex')
}

describe('wasmHashes', () => {
  it('matches the pure-JavaScript hashes for every algorithm, fed in pieces, many times over (pooled hashers are reset)', async () => {
    const hashes = wasmHashes()
    // Before any hasher is made: the fallback answers, the same.
    for (const a of ALGORITHMS) assert.equal(digest(hashes, a, [Buffer.from('abc')]), digest(webHashes, a, [Buffer.from('abc')]), `${a} before ready`)
    await new Promise(resolve => setTimeout(resolve, 200))
    for (let round = 0; round < 12; round++) {
      const data = randomBytes(1 + round * 9973)
      const pieces = [data.subarray(0, 7), data.subarray(7, 5000), data.subarray(5000)]
      for (const a of ALGORITHMS) assert.equal(digest(hashes, a, pieces), digest(webHashes, a, [data]), `${a}, round ${round}`)
    }
    // Known answers, so that both agreeing on something wrong would show.
    assert.equal(digest(hashes, 'md5', [Buffer.from('')]), 'd41d8cd98f00b204e9800998ecf8427e')
    assert.equal(digest(hashes, 'crc32c', [Buffer.from('123456789')]), 'e3069283')
    assert.equal(digest(hashes, 'crc32', [Buffer.from('123456789')]), 'cbf43926')
  })

  it('keeps two hashes of one algorithm apart when both are open', async () => {
    const hashes = wasmHashes()
    await new Promise(resolve => setTimeout(resolve, 200))
    const a = hashes.create('sha256')
    const b = hashes.create('sha256')
    a.update(Buffer.from('one'))
    b.update(Buffer.from('two'))
    assert.equal(Buffer.from(a.digest()).toString('hex'), digest(webHashes, 'sha256', [Buffer.from('one')]))
    assert.equal(Buffer.from(b.digest()).toString('hex'), digest(webHashes, 'sha256', [Buffer.from('two')]))
  })
})
