/** The membership state machine's rules, fed messages directly (no network). */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BroadcastQueue, retransmitLimit } from '../../src/core/membership/broadcast-queue.js'
import { LAN } from '../../src/core/membership/config.js'
import { MemberIds, MemberTable } from '../../src/core/membership/member-table.js'
import { MEMBER_EVENTS } from '../../src/core/membership/member-events.js'
import { Membership } from '../../src/core/membership/membership.js'
import type { Message, Update } from '../../src/core/membership/messages.js'
import { remainingSuspicionTime, Suspicion, suspicionTimeout } from '../../src/core/membership/suspicion.js'
import { seededRandom } from '../../src/core/membership/sim-network.js'

describe('suspicion timer (memberlist suspicion_test.go)', () => {
  const table: Array<[number, number, number, number]> = [
    // confirmations n, expected k, elapsed ms, remaining ms  (min 2 s, max 30 s)
    [0, 3, 0, 30_000],
    [1, 3, 2_000, 14_000],
    [2, 3, 3_000, 4_810],
    [3, 3, 4_000, -2_000],
    [4, 3, 5_000, -3_000],
    [5, 3, 10_000, -8_000],
  ]
  for (const [n, k, elapsed, remaining] of table) {
    it(`n=${n} k=${k} after ${elapsed} ms: ${remaining} ms left`, () => {
      assert.equal(remainingSuspicionTime(n, k, elapsed, 2_000, 30_000), remaining)
    })
  }
  it('minimum scales with log10(n), at least one probe-interval multiple', () => {
    assert.deepEqual([1, 10, 100, 1000, 10_000].map(n => suspicionTimeout(4, n, 1000)), [4000, 4000, 8000, 12000, 16000])
  })
  it('counts each independent confirmation once, up to k', () => {
    const s = new Suspicion('a', 2, 2_000, 30_000, 0)
    assert.equal(s.deadline(), 30_000)
    assert.equal(s.confirm('a'), false, 'the accuser does not confirm itself')
    assert.equal(s.confirm('b'), true)
    assert.equal(s.confirm('b'), false)
    assert.equal(s.confirm('c'), true)
    assert.equal(s.deadline(), 2_000)
    assert.equal(s.confirm('d'), false, 'beyond k confirmations change nothing')
  })
})

describe('broadcast queue', () => {
  it('retransmits each update RetransmitMult x ceil(log10(n+1)) times, least transmitted first, newest news about a member only', () => {
    assert.deepEqual([1, 9, 10, 99, 100, 1000].map(n => retransmitLimit(4, n)), [4, 4, 8, 8, 12, 16])
    const q = new BroadcastQueue()
    q.queue({ type: 'alive', node: 'x', incarnation: 1, meta: new Uint8Array() })
    q.queue({ type: 'suspect', node: 'x', incarnation: 1, from: 'y' })
    assert.equal(q.size, 1, 'a newer update about x replaces the older one')
    q.queue({ type: 'alive', node: 'z', incarnation: 1, meta: new Uint8Array() })
    assert.deepEqual(q.take(1, 2).map(u => u.node), ['z'], 'the newest of the never-sent goes first')
    assert.deepEqual(q.take(5, 2), [{ type: 'suspect', node: 'x', incarnation: 1, from: 'y' }, { type: 'alive', node: 'z', incarnation: 1, meta: new Uint8Array() }], 'x was sent less often, so it goes first')
    assert.equal(q.size, 1, 'z reached the limit of 2 and is gone')
    assert.deepEqual(q.take(5, 2).map(u => u.node), ['x'])
    assert.equal(q.size, 0)
  })
})

/** A member with a hand-driven clock that records what it sends and which events it emits. */
function harness (id = 'me'): { m: Membership, sent: Array<{ to: string, message: Message }>, events: string[], clock: { now: number } } {
  const clock = { now: 0 }
  const sent: Array<{ to: string, message: Message }> = []
  const events: string[] = []
  const m = new Membership({ id, config: LAN, now: () => clock.now, random: seededRandom(3), send: (to, message) => sent.push({ to, message }) })
  for (const name of MEMBER_EVENTS) m.addEventListener(name, e => events.push(`${name.slice(7)} ${e.detail.id}`))
  return { m, sent, events, clock }
}

const gossip = (...updates: Update[]): Message => ({ type: 'gossip', updates })
const alive = (node: string, incarnation: number, meta = new Uint8Array()): Update => ({ type: 'alive', node, incarnation, meta })
const suspect = (node: string, incarnation: number, from = 'x'): Update => ({ type: 'suspect', node, incarnation, from })
const dead = (node: string, incarnation: number, from = 'x'): Update => ({ type: 'dead', node, incarnation, from })

describe('member table', () => {
  it('shares ids between tables, reuses the slot of a member every table forgot, and keeps counts', () => {
    const ids = new MemberIds()
    const t1 = new MemberTable('t1', () => 0, seededRandom(1), ids)
    const t2 = new MemberTable('t2', () => 0, seededRandom(2), ids)
    t1.add('t1', 0, new Uint8Array(), 'alive')
    const a1 = t1.add('a', 3, new Uint8Array([1]), 'alive')
    const a2 = t2.add('a', 3, new Uint8Array([1]))
    assert.equal(a1, a2, 'one slot for one id')
    assert.deepEqual([t1.size, t1.live, t2.size, t2.live, t2.departed.size], [2, 2, 1, 0, 1])
    assert.equal(t2.slot('t1'), undefined, 'a member another table knows is not known here')
    t1.forget(a1)
    assert.equal(ids.lookup('a'), a1, 't2 still holds it')
    t2.forget(a2)
    assert.equal(ids.lookup('a'), undefined)
    const b = t1.add('b', 0, new Uint8Array(), 'alive')
    assert.equal(b, a1, 'the freed slot is reused')
    assert.deepEqual([t1.state(b), t1.incarnation(b), t1.rtt(b), t1.live, t1.otherIds()], ['alive', 0, undefined, 2, ['b']])
  })

  it('picks distinct random members that pass the filter, however few pass', () => {
    const t = new MemberTable('me', () => 0, seededRandom(4))
    t.add('me', 0, new Uint8Array(), 'alive')
    for (let i = 0; i < 1000; i++) t.add(`m${i}`, 0, new Uint8Array(), i % 250 === 0 ? 'alive' : 'failed')
    assert.deepEqual(t.pick(10, m => m.state === 'alive').sort(), ['m0', 'm250', 'm500', 'm750'])
    const some = t.pick(5, () => true)
    assert.equal(new Set(some).size, 5)
  })
})

describe('state transitions (memberlist state.go)', () => {
  const table: Array<{ name: string, updates: Update[], state: string | undefined, incarnation?: number, events: string[] }> = [
    { name: 'alive adds a member', updates: [alive('a', 1)], state: 'alive', incarnation: 1, events: ['join a'] },
    { name: 'an older alive is ignored', updates: [alive('a', 5), alive('a', 3)], state: 'alive', incarnation: 5, events: ['join a'] },
    { name: 'suspect at the current incarnation suspects', updates: [alive('a', 2), suspect('a', 2)], state: 'suspect', events: ['join a', 'suspect a'] },
    { name: 'suspect at an older incarnation is ignored', updates: [alive('a', 2), suspect('a', 1)], state: 'alive', events: ['join a'] },
    { name: 'a newer alive clears suspicion (the member refuted)', updates: [alive('a', 2), suspect('a', 2), alive('a', 3)], state: 'alive', incarnation: 3, events: ['join a', 'suspect a', 'update a'] },
    { name: 'alive at the suspected incarnation does not clear it', updates: [alive('a', 2), suspect('a', 2), alive('a', 2)], state: 'suspect', events: ['join a', 'suspect a'] },
    { name: 'dead from another member is a failure', updates: [alive('a', 1), dead('a', 1)], state: 'failed', events: ['join a', 'failed a'] },
    { name: 'dead from the member itself is a leave', updates: [alive('a', 1), dead('a', 1, 'a')], state: 'left', events: ['join a', 'leave a'] },
    { name: 'an older dead is ignored', updates: [alive('a', 4), dead('a', 3)], state: 'alive', events: ['join a'] },
    { name: 'suspect after failed is ignored', updates: [alive('a', 1), dead('a', 1), suspect('a', 1)], state: 'failed', events: ['join a', 'failed a'] },
    { name: 'a failed member comes back with a higher incarnation (reclaim)', updates: [alive('a', 1), dead('a', 1), alive('a', 2)], state: 'alive', incarnation: 2, events: ['join a', 'failed a', 'join a'] },
    { name: 'updates about unknown members other than alive are ignored', updates: [suspect('b', 1), dead('b', 1)], state: undefined, events: [] },
    { name: 'new meta at a higher incarnation is an update', updates: [alive('a', 1), alive('a', 2, new Uint8Array([7]))], state: 'alive', events: ['join a', 'update a'] },
  ]
  for (const row of table) {
    it(row.name, () => {
      const { m, events } = harness()
      events.length = 0
      m.receive('x', gossip(...row.updates))
      const a = m.get(row.updates[0]!.node)
      assert.equal(a?.state, row.state)
      if (row.incarnation !== undefined) assert.equal(a?.incarnation, row.incarnation)
      assert.deepEqual(events.filter(e => !e.endsWith(' me')), row.events)
    })
  }

  it('refutes a suspicion or a death about itself with a higher incarnation', () => {
    const { m } = harness()
    m.takeUpdates(100)
    m.receive('x', gossip(suspect('me', 0)))
    assert.equal(m.get('me')!.state, 'alive')
    assert.equal(m.get('me')!.incarnation, 1)
    assert.deepEqual(m.takeUpdates(100), [alive('me', 1)])
    m.receive('x', gossip(dead('me', 7)))
    assert.equal(m.get('me')!.incarnation, 8)
    assert.equal(m.get('me')!.state, 'alive')
    assert.equal(m.awareness.healthScore, 2, 'being accused lowers local health')
  })

  it('tells the accused directly when its own probe raises a suspicion, and answers an accuser directly', () => {
    const { m, sent } = harness()
    m.receive('x', gossip(alive('a', 1), alive('b', 1)))
    sent.length = 0
    m.suspectAfterProbe('a')
    assert.deepEqual(sent.filter(s => s.to === 'a').map(s => s.message), [gossip(suspect('a', 1, 'me'))])
    sent.length = 0
    m.receive('b', gossip(suspect('b', 1, 'b'), suspect('a', 1, 'b')))
    assert.equal(sent.filter(s => s.to === 'a').length, 0, 'suspicions heard from others are only gossiped')
    m.receive('x', gossip(suspect('me', 0, 'c')))
    assert.deepEqual(sent.filter(s => s.to === 'c').map(s => s.message), [gossip(alive('me', 1))], 'the refutation goes straight to the accuser')
  })

  it('leaves on purpose: its own state becomes left and every live member is told directly', () => {
    const { m, sent } = harness()
    m.receive('x', gossip(alive('a', 1), alive('b', 1), alive('c', 1), dead('c', 1)))
    m.takeUpdates(100)
    m.leave()
    assert.equal(m.get('me')!.state, 'left')
    const direct = sent.filter(s => s.message.type === 'gossip' && s.message.updates.length === 1).map(s => s.to).sort()
    assert.deepEqual(direct, ['a', 'b'], 'live members a and b, not the failed c')
    const out = sent.filter(s => s.message.type === 'gossip').flatMap(s => (s.message as { updates: Update[] }).updates)
    assert.deepEqual(out[0], dead('me', 0, 'me'), 'the leave goes first: it is the least transmitted update')
  })

  it('answers a ping, relays a ping-req, and nacks when the target stays silent', () => {
    const { m, sent, clock } = harness()
    m.receive('p', { type: 'ping', seq: 9, target: 'me' })
    const ack = sent.pop()!
    assert.deepEqual([ack.to, ack.message.type, (ack.message as { seq: number }).seq], ['p', 'ack', 9])
    assert.deepEqual((ack.message as { updates?: Update[] }).updates, [alive('me', 0)], 'queued news rides along on the ack')
    m.receive('p', { type: 'ping', seq: 10, target: 'someone-else' })
    assert.equal(sent.length, 0, 'a ping for another id is not answered')
    m.receive('r', { type: 'ping-req', seq: 4, target: 't' })
    const relayed = sent.pop()!
    assert.equal(relayed.to, 't')
    assert.equal(relayed.message.type, 'ping')
    clock.now = LAN.probeTimeoutMs
    m.tick()
    assert.ok(sent.some(s => s.to === 'r' && s.message.type === 'nack' && s.message.seq === 4))
  })

  it('refuses meta larger than the configured limit', () => {
    const { m } = harness()
    assert.throws(() => m.updateMeta(new Uint8Array(LAN.maxMetaBytes + 1)), /at most 512/)
    m.updateMeta(new Uint8Array(LAN.maxMetaBytes))
    assert.equal(m.get('me')!.incarnation, 1)
    assert.equal(m.awareness.healthScore, 0, 'changing its own meta is not a refutation')
    assert.deepEqual(m.takeUpdates(1), [alive('me', 1, new Uint8Array(LAN.maxMetaBytes))])
  })
})
