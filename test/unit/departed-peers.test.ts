import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { forgetDeparted } from '../../src/node/departed-peers.js'
import { until } from '../helpers/until.js'

const node = async (): Promise<Libp2p> => await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify() },
})

describe('forgetDeparted', () => {
  it('forgets the peer store\'s record of a peer whose last connection closed, but a kept one\'s (a member); one written back after it left goes at a sweep; a returning peer is learned again', async () => {
    const hub = await node()
    const peers = [await node(), await node(), await node()]
    const kept = peers[0]!.peerId.toString()
    const stop = forgetDeparted(hub, peer => peer === kept, { delayMs: 50, sweepMs: 300 })
    try {
      for (const p of peers) await p.dial(hub.getMultiaddrs()[0]!)
      // The precondition: identify filled the hub's store with each of them (protocols and all).
      await until('the hub knows each peer\'s protocols', async () => (await Promise.all(peers.map(async p => await hub.peerStore.get(p.peerId).then(r => r.protocols.length > 0, () => false)))).every(Boolean))
      const before = (await hub.peerStore.all()).length
      assert.ok(before >= 3)
      for (const p of peers) await p.stop()
      await until('the hub saw them go', () => hub.getConnections().length === 0)
      await until('the departed are forgotten', async () => !await hub.peerStore.has(peers[1]!.peerId) && !await hub.peerStore.has(peers[2]!.peerId))
      assert.ok(await hub.peerStore.has(peers[0]!.peerId), 'the kept one is remembered')
      assert.equal((await hub.peerStore.all()).length, before - 2)
      // Written back after its peer left (as an identify answer that lands late writes it): the sweep finds it twice, and forgets it.
      await hub.peerStore.merge(peers[2]!.peerId, { multiaddrs: peers[2]!.getMultiaddrs(), metadata: { late: new Uint8Array([1]) } })
      assert.ok(await hub.peerStore.has(peers[2]!.peerId), 'the precondition: the record is back')
      await until('the sweep forgets the record written back', async () => !await hub.peerStore.has(peers[2]!.peerId))
      assert.ok(await hub.peerStore.has(peers[0]!.peerId), 'and keeps the kept one')
      // One that comes back is learned again.
      await peers[1]!.start()
      await peers[1]!.dial(hub.getMultiaddrs()[0]!)
      await until('a returning peer is known again', async () => await hub.peerStore.get(peers[1]!.peerId).then(r => r.protocols.length > 0, () => false))
    } finally {
      stop()
      for (const p of [hub, ...peers]) await p.stop()
    }
  })
})
