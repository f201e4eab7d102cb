/**
 * MemberStats: a member's figures, asked for by another member over real
 * libp2p (what lets the console chart any node through the one it talks
 * to); a peer without the cluster key gets nothing. And a member's meta
 * change (a Node node's free disk space) reaches the others.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { MemberStats } from '../../src/core/mesh/member-stats.js'
import { decodeNodeMeta } from '../../src/core/membership/node-meta.js'
import { Keyring } from '../../src/core/wire/keyring.js'
import { nodeAead } from '../../src/node/node-aead.js'
import { startInProcessNode, type InProcessNode } from '../helpers/in-process-mesh.js'
import { until } from '../helpers/until.js'

describe('MemberStats', () => {
  const key = randomBytes(32)
  const nodes: InProcessNode[] = []
  after(async () => { for (const n of nodes) await n.stop() })

  it('answers a member with the cluster key, and refuses one without it', async () => {
    const a = await startInProcessNode({ key })
    const b = await startInProcessNode({ key })
    const stranger = await startInProcessNode({ key: randomBytes(32) })
    nodes.push(a, b, stranger)
    const keyring = await Keyring.create([key], 'test', nodeAead)
    let asked = 0
    const served = new MemberStats(b.libp2p, keyring, async what => { asked++; return what === 'metrics' ? [{ name: 's3mesh_http_requests_total', values: [{ value: 7 }] }] : { peer: ['tcp'] } })
    await served.start()
    await a.libp2p.dial(b.libp2p.getMultiaddrs())
    await stranger.libp2p.dial(b.libp2p.getMultiaddrs())
    const asking = new MemberStats(a.libp2p, keyring, async () => [])
    assert.deepEqual(await asking.ask(b.libp2p.peerId.toString(), 'metrics'), [{ name: 's3mesh_http_requests_total', values: [{ value: 7 }] }])
    assert.deepEqual(await asking.ask(b.libp2p.peerId.toString(), 'connections'), { peer: ['tcp'] })
    assert.equal(asked, 2)

    const wrong = new MemberStats(stranger.libp2p, await Keyring.create([randomBytes(32)], 'test', nodeAead), async () => [])
    await assert.rejects(wrong.ask(b.libp2p.peerId.toString(), 'metrics'))
    assert.equal(asked, 2, 'the figures were not computed for a peer without the key')
    await served.stop()
  })

  it('spreads a member\'s changed meta to the others', async () => {
    const a = await startInProcessNode({ key })
    const b = await startInProcessNode({ key })
    nodes.push(a, b)
    assert.ok(await b.transport.join(a.libp2p.getMultiaddrs()) > 0)
    const id = a.libp2p.peerId.toString()
    await until('b knows a', async () => b.transport.membership.get(id)?.state === 'alive', 10_000)
    assert.equal(decodeNodeMeta(b.transport.membership.get(id)!.meta)?.free, undefined, 'precondition: no free space told yet')
    assert.ok((decodeNodeMeta(b.transport.membership.get(id)!.meta)?.started ?? 0) > 0, 'every member tells when it started')
    a.transport.updateMeta({ free: 5_000_000_000 })
    await until('b sees a\'s free space', async () => decodeNodeMeta(b.transport.membership.get(id)!.meta)?.free === 5_000_000_000, 10_000)
  })
})
