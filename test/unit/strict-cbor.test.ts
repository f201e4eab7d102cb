import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encode } from 'cborg'
import { decodeStrictMap, DroppedMessageError, MAX_ITEMS } from '../../src/core/wire/strict-cbor.js'

/** A map { pad: [[], [], ...] } of `n` empty arrays: one byte an item. */
function emptyArrays (n: number): Uint8Array {
  return encode({ pad: Array.from({ length: n }, () => []) })
}

describe('decodeStrictMap', () => {
  it('refuses a message of more items than its cap before it is built, whatever its size in bytes', () => {
    const small = emptyArrays(1000)
    assert.equal((decodeStrictMap(small, 'test message', Infinity, 1003).pad as unknown[]).length, 1000, 'the map, the key, the array and its 1000 items: within 1003')
    assert.throws(() => decodeStrictMap(small, 'test message', Infinity, 1002), (err: unknown) => err instanceof DroppedMessageError && err.reason === 'too-large' && /holds more than 1002 items/.test(err.message))
  })

  it('decodes a message the same whether it is small or large enough to have its items counted', () => {
    // An integer past 2^53 (a bigint in cborg's defaults) with padding that makes the message longer than the cap.
    const big = encode({ n: 2n ** 60n, pad: 'x'.repeat(2000) })
    assert.ok(big.byteLength > 1000 && big.byteLength < 100_000)
    // A cap above its length in bytes: cborg's own tokenizer; below it: the counting one.
    for (const cap of [100_000, 1000]) assert.equal(decodeStrictMap(big, 'test message', Infinity, cap).n, 2n ** 60n, `with a cap of ${cap}`)
  })

  it('caps every message at MAX_ITEMS: 4 MiB of empty arrays is refused, not built', () => {
    const flood = emptyArrays(4 * 1024 * 1024)
    assert.ok(flood.byteLength > MAX_ITEMS, 'the precondition: more items than the cap')
    const started = performance.now()
    assert.throws(() => decodeStrictMap(flood, 'test message'), (err: unknown) => err instanceof DroppedMessageError && err.reason === 'too-large')
    const ms = performance.now() - started
    assert.ok(ms < 5000, `refused in ${Math.round(ms)} ms`)
    // Without the cap, the same bytes decode: the cap is what refuses them.
    assert.equal((decodeStrictMap(flood, 'test message', Infinity, Infinity).pad as unknown[]).length, 4 * 1024 * 1024)
  })
})
