/** The browser tests assert as strictly as the Node ones: node:assert/strict is mapped to the strict port. */
import assert from 'node:assert/strict'

declare const describe: (name: string, fn: () => void) => void
declare const it: (name: string, fn: () => Promise<void>) => void

describe('node:assert/strict in the browser', () => {
  it('is strict: no == coercion, no loose deepEqual', async () => {
    assert.throws(() => { assert.equal(1, '1' as unknown as number) })
    assert.throws(() => { assert.deepEqual({ a: 1 }, { a: '1' }) })
    assert.throws(() => { assert.notEqual(1, 1) })
    assert.equal(1, 1)
  })
})
