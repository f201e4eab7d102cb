/** Membership over real libp2p nodes (TCP, Noise, yamux) in this process, with the cluster key. */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { LOCAL, type MembershipConfig } from '../../src/core/membership/config.js'
import { Keyring } from '../../src/core/wire/keyring.js'
import { MembershipTransport } from '../../src/core/membership/libp2p-transport.js'
import { decodeNodeMeta } from '../../src/core/membership/node-meta.js'
import { until } from '../helpers/until.js'

// LOCAL with shorter intervals, so that a test sees failures in seconds.
const FAST: MembershipConfig = { ...LOCAL, probeIntervalMs: 300, probeTimeoutMs: 150, gossipIntervalMs: 100, pushPullIntervalMs: 3_000, reconnectIntervalMs: 2_000 }

async function member (key: Uint8Array, cluster = 'test'): Promise<MembershipTransport> {
  const libp2p = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
  const t = new MembershipTransport({
    libp2p, keyring: await Keyring.create([key], cluster), config: FAST,
    meta: { role: 'durable', addrs: libp2p.getMultiaddrs().map(String), version: 'test' },
  })
  await t.start()
  return t
}

describe('membership over libp2p', () => {
  const all: MembershipTransport[] = []
  after(async () => {
    for (const t of all) { await t.stop().catch(() => {}); await (t as unknown as { libp2p: { stop: () => Promise<void> } }).libp2p.stop().catch(() => {}) }
  })

  it('five members join through one seed; a crash is "failed", a leave is "left"; a node without the key is never listed', async () => {
    const key = Keyring.generateKey()
    const seed = await member(key)
    all.push(seed)
    const seedAddr = (seed as unknown as { libp2p: { getMultiaddrs: () => unknown[] } }).libp2p.getMultiaddrs()[0]!.toString()
    for (let i = 0; i < 4; i++) {
      const t = await member(key)
      all.push(t)
      assert.equal(await t.join([seedAddr]), 1)
    }
    const ids = all.map(t => t.membership.id)
    const sees = (t: MembershipTransport, id: string, state: string): boolean => t.membership.get(id)?.state === state
    await until('every member sees all five alive', () => all.every(t => ids.every(id => sees(t, id, 'alive'))))
    const meta = decodeNodeMeta(all[1]!.membership.get(ids[2]!)!.meta)
    assert.equal(meta?.role, 'durable')
    assert.match(meta!.addrs[0]!, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+/)

    const stranger = await member(Keyring.generateKey())
    all.push(stranger)
    await stranger.join([seedAddr])
    await new Promise(resolve => setTimeout(resolve, 1500))
    assert.ok(all.slice(0, 5).every(t => t.membership.get(stranger.membership.id) === undefined), 'the keyless node is in nobody\'s list')
    assert.ok(seed.stats.dropped['wrong-key'] > 0, 'its messages were dropped and counted')
    assert.equal(stranger.membership.list().filter(m => !m.self).length, 0, 'and it learned nothing')

    // kill: stop the libp2p node without leaving.
    const crashed = all[3]!
    await crashed.stop()
    await (crashed as unknown as { libp2p: { stop: () => Promise<void> } }).libp2p.stop()
    const survivors = [all[0]!, all[1]!, all[2]!, all[4]!]
    await until('every survivor marks the stopped node failed', () => survivors.every(t => sees(t, crashed.membership.id, 'failed')))

    await all[4]!.leave(500)
    await until('every remaining member marks the leaver left', () => survivors.slice(0, 3).every(t => sees(t, all[4]!.membership.id, 'left')))
    assert.ok(survivors.slice(0, 3).every(t => t.membership.get(all[4]!.membership.id)!.state !== 'failed'))
  })
})
