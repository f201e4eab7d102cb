/** The repair loop's waits between tries (retry-waits.ts): doubling, capped, ended by a change of members, never two tries at once. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RetryWaits } from '../../src/core/mesh/retry-waits.js'

/** What `due` hands over at `now`, each taken (or refused with `room` false). */
const due = <T>(w: RetryWaits<T>, now: number, room = true): T[] => {
  const out: T[] = []
  w.due(now, item => { if (room) out.push(item); return room })
  return out
}

describe('RetryWaits', () => {
  it('a wait doubles at each failure in a row, up to the cap, and ends with success', () => {
    const w = new RetryWaits<string>(1_000, () => 5_000)
    const waits: number[] = []
    for (let i = 0; i < 5; i++) {
      w.failed('v', 'item', 0)
      let end = 0
      while (w.holds('v', end)) end += 100
      waits.push(end)
    }
    assert.deepEqual(waits, [1_000, 2_000, 4_000, 5_000, 5_000])
    w.forget('v')
    assert.equal(w.holds('v', 0), false)
    w.failed('v', 'item', 0)
    assert.equal(w.holds('v', 999), true, 'after a success, the first wait again')
    assert.equal(w.holds('v', 1_000), false)
  })

  it('what waits no more is handed back once taken, until it fails again; what runs is neither due nor tried', () => {
    const w = new RetryWaits<string>(1_000, () => 10_000)
    w.failed('a', 'A', 0)
    w.failed('b', 'B', 0)
    w.failed('b', 'B', 0)
    assert.deepEqual(due(w, 500), [], 'both wait')
    assert.deepEqual(due(w, 1_000, false), [], 'no room this pass')
    assert.deepEqual(due(w, 1_000), ['A'], 'refused: handed again at the next')
    assert.deepEqual(due(w, 1_500), [], 'A handed back once')
    w.start('b')
    assert.deepEqual(due(w, 2_000), [], 'B runs')
    assert.equal(w.holds('b', 2_000), true, 'a running try is not started again')
    w.ended('b')
    assert.deepEqual(due(w, 2_000), ['B'])
    w.failed('a', 'A', 3_000)
    assert.deepEqual(due(w, 5_000), ['A'], 'failed again: handed back after its next wait (2 s)')
  })

  it('another list of live members ends every wait, from the first again; prune forgets waits long ended', () => {
    const w = new RetryWaits<string>(1_000, () => 60_000)
    w.under('a,b')
    for (let i = 0; i < 4; i++) w.failed('v', 'V', 0)
    assert.equal(w.holds('v', 7_999), true, 'an 8 s wait')
    w.under('a,b')
    assert.equal(w.holds('v', 1), true, 'the same members: still waiting')
    w.under('a,b,c')
    assert.equal(w.holds('v', 1), false, 'a member joined: tried at once')
    assert.deepEqual(due(w, 1), ['V'])
    w.failed('v', 'V', 1)
    assert.equal(w.holds('v', 1_000), true)
    assert.equal(w.holds('v', 1_001), false, 'from the first wait again')
    w.prune(1_001 + 10_000, 10_000)
    assert.equal(w.size, 1, 'ended 10 s ago, not more: kept')
    w.prune(1_002 + 10_000, 10_000)
    assert.equal(w.size, 0)
  })
})
