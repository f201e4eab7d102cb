/**
 * Joining through seeds: asked again until a member answers, not once. A
 * join whose answer is lost (a seed still dialling a restarted member's old
 * addresses) left the member running alone for good.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { joinSeeds } from '../../src/core/mesh/join-seeds.js'

const options = { answerMs: 300, retryMs: 20, retryAloneMs: 100 }

describe('joinSeeds', () => {
  it('asks again when a seed was reached but its answer was lost, and stops once a member answers', async () => {
    let asked = 0
    let answered = false
    const told: string[] = []
    await joinSeeds({
      ...options,
      // Reached every time; the first two answers are lost.
      join: async () => { asked++; if (asked === 3) answered = true; return 1 },
      answered: () => answered,
      onUnreached: () => { told.push('unreached') },
      onUnanswered: () => { told.push('unanswered') },
      signal: new AbortController().signal,
    })
    assert.equal(asked, 3, 'asked until answered, and no more')
    assert.deepEqual(told, [], 'answered in time: nothing told')
  })

  it('says once that it runs alone when reached seeds do not answer, and keeps asking, less often, until stopped', async () => {
    let asked = 0
    const told: string[] = []
    const stop = new AbortController()
    const joining = joinSeeds({
      ...options,
      join: async () => { asked++; return 1 },
      answered: () => false,
      onUnreached: () => { told.push('unreached') },
      onUnanswered: () => { told.push('unanswered') },
      signal: stop.signal,
    })
    await new Promise(resolve => setTimeout(resolve, 700))
    assert.deepEqual(told, ['unanswered'])
    const before = asked
    assert.ok(before >= 10, `asked every retryMs until told (${before} times)`)
    await new Promise(resolve => setTimeout(resolve, 250))
    assert.ok(asked - before <= 4, `then every retryAloneMs (${asked - before} times in 250 ms)`)
    const t = Date.now()
    stop.abort()
    await joining
    assert.ok(Date.now() - t < 50, 'a stop ends the wait at once')
  })

  it('stops at once when stopped while a join is dialling, and says nothing then', async () => {
    const stop = new AbortController()
    const told: string[] = []
    const joining = joinSeeds({
      ...options,
      retryMs: 5000,
      // A dial that fails once the node stops (as a seed that cannot be reached does).
      join: async signal => await new Promise<number>((resolve, reject) => { signal.addEventListener('abort', () => { reject(new Error('aborted')) }, { once: true }) }),
      answered: () => false,
      onUnreached: () => { told.push('unreached') },
      onUnanswered: () => { told.push('unanswered') },
      signal: stop.signal,
    })
    await new Promise(resolve => setTimeout(resolve, 50))
    const t = Date.now()
    stop.abort()
    await joining
    assert.ok(Date.now() - t < 100, `the stop waited ${Date.now() - t} ms, not the 5 s retry`)
    assert.deepEqual(told, [])
  })

  it('says when no seed can be reached yet, once, and joins when one comes up', async () => {
    let asked = 0
    const told: string[] = []
    await joinSeeds({
      ...options,
      join: async () => { asked++; if (asked < 4) throw new Error('connection refused'); return 1 },
      answered: () => asked >= 5,
      onUnreached: () => { told.push('unreached') },
      onUnanswered: () => { told.push('unanswered') },
      signal: new AbortController().signal,
    })
    assert.deepEqual(told, ['unreached'])
    assert.equal(asked, 5)
  })
})
