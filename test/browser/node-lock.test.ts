/**
 * Which tab runs an origin's page node, and as whom, in a real Chromium's Web
 * Locks (one page: the lock manager tells requests apart, not tabs).
 */
import assert from 'node:assert/strict'
import { marked, PAGE_NODE_LOCK, registering, runningUser } from '../../src/browser/node-lock.js'

declare const describe: (name: string, fn: () => void) => void
declare const it: (name: string, fn: () => Promise<void>) => void

const locks = navigator.locks
const reader = { key: 'AKIAREADER', who: 'the user reader' }
const never = new AbortController().signal

describe('node-lock', () => {
  it('names the running node\'s user while its mark is held, and none once both locks are let go', async () => {
    assert.equal(await runningUser(locks, never), undefined)
    let stop = (): void => {}
    const stopped = new Promise<void>(resolve => { stop = resolve })
    let running = (): void => {}
    const up = new Promise<void>(resolve => { running = resolve })
    const held = locks.request(PAGE_NODE_LOCK, async () => { await marked(locks, reader, async () => { running(); await stopped }) })
    await up
    assert.deepEqual(await runningUser(locks, never), reader)
    stop()
    await held
    assert.equal(await runningUser(locks, never), undefined)
  })

  it('waits out the moment between a take-over getting the node\'s lock and marking it', async () => {
    let stop = (): void => {}
    const stopped = new Promise<void>(resolve => { stop = resolve })
    let got = (): void => {}
    const taken = new Promise<void>(resolve => { got = resolve })
    const held = locks.request(PAGE_NODE_LOCK, async () => {
      got()
      await new Promise(resolve => setTimeout(resolve, 200))
      await marked(locks, reader, async () => { await stopped })
    })
    await taken
    // Asked while the lock is held and not yet marked: the answer is the mark that comes, not "no node".
    assert.deepEqual(await runningUser(locks, never), reader)
    stop()
    await held
  })

  it('lets one registration at a time check and take the node\'s lock', async () => {
    const order: string[] = []
    let first = (): void => {}
    const firstIn = new Promise<void>(resolve => { first = resolve })
    const a = registering(locks, async () => { order.push('a in'); first(); await new Promise(resolve => setTimeout(resolve, 100)); order.push('a out') })
    await firstIn
    const b = registering(locks, async () => { order.push('b in') })
    await Promise.all([a, b])
    assert.deepEqual(order, ['a in', 'a out', 'b in'])
  })
})
