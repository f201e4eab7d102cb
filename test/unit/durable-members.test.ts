/**
 * DurableMembers' owner grace: a durable member gone (failed, left) keeps
 * owning its buckets' part of the catalog for a while, unless every owner of
 * a bucket is gone; a member back with the same start time counts as a
 * rejoin (a cut), one restarted does not.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { MemberInfo } from '../../src/core/membership/member-events.js'
import type { Membership } from '../../src/core/membership/membership.js'
import { encodeNodeMeta, FEATURES } from '../../src/core/membership/node-meta.js'
import { DurableMembers } from '../../src/core/mesh/durable-members.js'

const GRACE = 60_000

function mesh (ids: string[]): { members: Map<string, MemberInfo>, membership: Membership, set: (id: string, state: MemberInfo['state'], started?: number) => void } {
  const members = new Map<string, MemberInfo>()
  const set = (id: string, state: MemberInfo['state'], started = 1): void => {
    members.set(id, { id, state, incarnation: 0, meta: encodeNodeMeta({ role: 'durable', addrs: [], version: 'test', started }) } as MemberInfo)
  }
  for (const id of ids) set(id, 'alive')
  const membership = { list: () => [...members.values()], get: (id: string) => members.get(id) } as unknown as Membership
  return { members, membership, set }
}

describe('durable members: the owner grace', () => {
  const ids = ['m1', 'm2', 'm3', 'm4', 'm5']

  it('keeps a gone member an owner within the grace, and moves its buckets after it', () => {
    let now = 0
    const { membership, set } = mesh(ids)
    const d = new DurableMembers(membership, GRACE, () => now)
    d.update()
    const bucket = 'photos'
    const before = d.owners(bucket, 3)
    const gone = before[0]!
    set(gone, 'failed')
    now += 1000
    d.update()
    assert.equal(d.size, 4, 'four alive')
    assert.deepEqual(d.owners(bucket, 3), before, 'within the grace the owners stay')
    assert.equal(d.has(gone), false, 'but the gone one is not asked')
    assert.equal(d.graceEnded, false)
    now += GRACE
    assert.equal(d.graceEnded, true)
    d.update()
    assert.ok(!d.owners(bucket, 3).includes(gone), 'after the grace its buckets move')
    assert.equal(d.owningSize, 4)
  })

  it('lets the members alive own a bucket whose owners are all gone', () => {
    let now = 0
    const { membership, set } = mesh(ids)
    const d = new DurableMembers(membership, GRACE, () => now)
    d.update()
    const bucket = 'orphaned'
    const owners = d.owners(bucket, 3)
    for (const id of owners) set(id, 'left')
    now += 1000
    d.update()
    const alive = ids.filter(id => !owners.includes(id))
    assert.equal(d.owningSize, 5, 'precondition: the gone members still count for ownership')
    assert.deepEqual([...d.owners(bucket, 3)].sort(), alive.sort(), 'the two alive own it meanwhile')
  })

  it('counts a member back with the same start time as a rejoin (a cut), not one that restarted', () => {
    let now = 0
    const { membership, set } = mesh(ids)
    const d = new DurableMembers(membership, GRACE, () => now)
    d.update()
    set('m2', 'failed')
    d.update()
    set('m2', 'alive')
    now += 1000
    d.update()
    assert.equal(d.rejoins, 1, 'cut off and back')
    set('m3', 'left')
    d.update()
    set('m3', 'alive', 2)
    d.update()
    assert.equal(d.rejoins, 1, 'restarted: not a rejoin')
  })
})

describe('durable members: the features their releases announce', () => {
  it('names the members alive or suspect whose release lacks a feature (an older one), and none once all have it', () => {
    const members = new Map<string, MemberInfo>()
    const add = (id: string, state: MemberInfo['state'], caps?: number, role: 'durable' | 'ephemeral' = 'durable'): void => {
      members.set(id, { id, state, incarnation: 0, meta: encodeNodeMeta({ role, addrs: [], version: 'test', ...(caps === undefined ? {} : { caps }) }) } as MemberInfo)
    }
    add('new1', 'alive', FEATURES.versions)
    add('old', 'alive')
    add('new2', 'suspect', FEATURES.versions | 2)
    add('gone-old', 'failed')
    add('tab-old', 'alive', undefined, 'ephemeral')
    const membership = { list: () => [...members.values()], get: (id: string) => members.get(id) } as unknown as Membership
    const d = new DurableMembers(membership)
    d.update()
    assert.deepEqual(d.lacking(FEATURES.versions), ['old'], 'a failed member and a tab do not hold versioning back')
    add('old', 'alive', FEATURES.versions)
    assert.deepEqual(d.lacking(FEATURES.versions), [], 'upgraded')
  })
})

describe('durable members: who should hold a version (placed)', () => {
  const ids = ['m1', 'm2', 'm3', 'm4', 'm5']
  /** A key placement (two replicas) leaves `writer` out of, and the order it ranks the members in. */
  const setup = (): { d: DurableMembers, set: (id: string, state: MemberInfo['state']) => void, key: string, ranking: string[], writer: string } => {
    const { membership, set } = mesh(ids)
    const d = new DurableMembers(membership)
    d.update()
    const key = 'photo.jpg'
    const ranking = d.ranking('b', key)
    return { d, set, key, ranking, writer: ranking[4]! }
  }

  it('is placement\'s picks while they hold it, or nobody does yet', () => {
    const { d, key, ranking } = setup()
    assert.deepEqual(d.placed({ bucket: 'b', key, holders: [] }, 2), ranking.slice(0, 2))
    assert.deepEqual(d.placed({ bucket: 'b', key, holders: ranking.slice(0, 3).sort() }, 2), ranking.slice(0, 2), 'a holder beyond them while both hold it: surplus, not placed')
  })

  it('takes a writer placement leaves out in for the lower pick: its copy and the first pick\'s are the two, and the second pick fetches none', () => {
    const { d, key, ranking, writer } = setup()
    assert.ok(!ranking.slice(0, 2).includes(writer), 'placement leaves the writer out (the precondition)')
    assert.deepEqual(d.placed({ bucket: 'b', key, holders: [writer, ranking[0]!].sort() }, 2), [ranking[0], writer])
    assert.deepEqual(d.placed({ bucket: 'b', key, holders: [writer] }, 2), [ranking[0], writer], 'before the first pick has its copy: it fetches, the second does not')
  })

  it('lets a suspect holder stand in still (it may answer), and only as many holders as picks lack it', () => {
    const { d, set, key, ranking, writer } = setup()
    set(writer, 'suspect')
    d.update()
    assert.deepEqual(d.placed({ bucket: 'b', key, holders: [writer, ranking[0]!].sort() }, 2), [ranking[0], writer])
    // Both picks lack it, three holders outside them: two stand in, by the holders' order.
    const outside = ranking.slice(2).sort()
    assert.deepEqual(d.placed({ bucket: 'b', key, holders: outside }, 2), outside.slice(0, 2))
  })

  it('gives the pick back once the holder standing in for it is gone, so it fetches the version', () => {
    const { d, set, key, ranking, writer } = setup()
    set(writer, 'failed')
    d.update()
    assert.deepEqual(d.placed({ bucket: 'b', key, holders: [writer, ranking[0]!].sort() }, 2), ranking.slice(0, 2))
    set(writer, 'alive')
    set(ranking[0]!, 'failed')
    d.update()
    // The first pick gone: placement's picks are now the second and third, and the writer stands in for the third.
    assert.deepEqual(d.placed({ bucket: 'b', key, holders: [writer, ranking[0]!].sort() }, 2), [ranking[1], writer])
  })
})
