/**
 * Which keys the tabs of an origin are registered with, in a real Chromium's
 * Web Locks (one page: the lock manager tells requests apart, not tabs).
 */
import assert from 'node:assert/strict'
import { claimTabUser, OtherUserError } from '../../src/browser/node-lock.js'

declare const describe: (name: string, fn: () => void) => void
declare const it: (name: string, fn: () => Promise<void>) => void

const locks = navigator.locks
const root = { key: 'AKIAROOT', who: 'the root user' }
const reader = { key: 'AKIAREADER', who: 'the user reader' }
const never = new AbortController().signal
const held = async (): Promise<string[]> => ((await locks.query()).held ?? []).map(l => l.name ?? '').filter(n => n.startsWith('s3mesh:'))

describe('claimTabUser', () => {
  it('lets tabs of one key register together, refuses another key while any is registered, and lets it once all let go', async () => {
    const a = await claimTabUser(locks, root, never)
    const b = await claimTabUser(locks, root, never)
    await assert.rejects(claimTabUser(locks, reader, never), (err: unknown) => err instanceof OtherUserError && err.running === 'the root user' && /as the root user/.test(err.message))
    await a.release()
    await assert.rejects(claimTabUser(locks, reader, never), OtherUserError, 'one tab of the root is still registered')
    await b.release()
    assert.deepEqual(await held(), [], 'nothing is held once both are let go')
    const c = await claimTabUser(locks, reader, never)
    assert.equal((await held()).length, 1)
    await c.release()
  })

  it('checks and claims in one section: of two keys claiming at once, one is refused', async () => {
    for (let round = 0; round < 10; round++) {
      const outcomes = await Promise.allSettled([claimTabUser(locks, root, never), claimTabUser(locks, reader, never)])
      const won = outcomes.filter(o => o.status === 'fulfilled')
      assert.equal(won.length, 1, `round ${round}: ${outcomes.map(o => o.status).join(', ')}`)
      assert.ok(outcomes.some(o => o.status === 'rejected' && o.reason instanceof OtherUserError))
      await (won[0] as PromiseFulfilledResult<{ release: () => Promise<void> }>).value.release()
    }
  })

  it('names a key the node did not admit by the key', async () => {
    const { tabUserOf } = await import('../../src/browser/node-lock.js')
    assert.deepEqual(tabUserOf('AKIAX'), { key: 'AKIAX', who: 'the access key AKIAX' })
    assert.deepEqual(tabUserOf('AKIAX', { kind: 'user', user: 'alice', accessKeyId: 'AKIAX' }), { key: 'AKIAX', who: 'the user alice' })
  })
})
