/**
 * A partition of the object mesh, in-process over real libp2p (TCP, Noise,
 * yamux, gossipsub): a connection gater cuts two halves apart, both halves
 * take writes (one key on both sides), the partition heals, and every node
 * converges to the same catalog and the same bytes.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { Keyring } from '../../src/core/wire/keyring.js'
import { streamOfBytes } from '../../src/core/streams.js'
import { startInProcessNode, type InProcessNode as TestNode } from '../helpers/in-process-mesh.js'
import { until } from '../helpers/until.js'

const node = async (key: Uint8Array): Promise<TestNode> => await startInProcessNode({ key, cluster: 'part' })

const put = async (n: TestNode, key: string, text: string): Promise<void> => {
  const bytes = new TextEncoder().encode(text)
  await n.mesh.store.putObject('bkt', key, streamOfBytes(bytes), { metadata: { user: {} }, size: bytes.byteLength })
}
const read = async (n: TestNode, key: string): Promise<string> => {
  const handle = await n.mesh.store.openObject('bkt', key)
  return await new Response(handle.stream()).text()
}
const digestOf = (n: TestNode): string => JSON.stringify(n.mesh.catalog.rangeDigests('bkt'))

describe('object mesh partition', () => {
  const nodes: TestNode[] = []
  after(async () => {
    for (const n of nodes) await n.stop()
  })

  it('both sides take writes while cut apart, and converge to one catalog when the partition heals', async () => {
    const key = Keyring.generateKey()
    for (let i = 0; i < 4; i++) nodes.push(await node(key))
    const seed = nodes[0]!.libp2p.getMultiaddrs()[0]!.toString()
    for (const n of nodes.slice(1)) assert.equal(await n.transport.join([seed]), 1)
    const ids = nodes.map(n => n.libp2p.peerId.toString())
    await until('four alive everywhere', () => nodes.every(n => n.transport.membership.list().filter(m => m.state === 'alive').length === 4), 20_000)
    await nodes[0]!.mesh.store.createBucket('bkt')
    await put(nodes[0]!, 'before', 'written before the cut')
    // Four durable members: three own bkt's part of the catalog; the fourth reads it through them.
    await until('every owner has the bucket and the first object', () => nodes.every(n => n.mesh.catalog.get('bkt') !== undefined && (!n.mesh.partition.owns('bkt') || n.mesh.catalog.get('bkt', 'before') !== undefined)), 20_000)
    assert.equal(nodes.filter(n => n.mesh.partition.owns('bkt')).length, 3, 'three owners')

    // The cut: nodes 0-1 and 2-3 refuse each other, and their connections are closed.
    const [a, b] = [nodes.slice(0, 2), nodes.slice(2)]
    for (const x of a) for (const y of b) { x.blocked.add(y.libp2p.peerId.toString()); y.blocked.add(x.libp2p.peerId.toString()) }
    for (const x of nodes) for (const y of nodes) if (x.blocked.has(y.libp2p.peerId.toString())) await x.libp2p.hangUp(y.libp2p.peerId).catch(() => {})
    await until('each side sees the other failed', () =>
      a.every(x => b.every(y => x.transport.membership.get(y.libp2p.peerId.toString())?.state === 'failed')) &&
      b.every(x => a.every(y => x.transport.membership.get(y.libp2p.peerId.toString())?.state === 'failed')), 20_000)

    for (let i = 0; i < 10; i++) await put(a[i % 2]!, `left-${i}`, `left ${i}`)
    for (let i = 0; i < 10; i++) await put(b[i % 2]!, `right-${i}`, `right ${i}`)
    await put(a[0]!, 'contested', 'the left side wrote this')
    await new Promise(resolve => setTimeout(resolve, 5))
    await put(b[0]!, 'contested', 'the right side wrote this later')
    await nodes[3]!.mesh.store.deleteObject('bkt', 'before')
    assert.notEqual(digestOf(a[0]!), digestOf(b[0]!), 'the halves disagree while cut (each half of two owns every bucket)')
    assert.equal(await read(a[1]!, 'left-0'), 'left 0', 'each side reads its own writes')
    await assert.rejects(read(a[0]!, 'right-0'), /NoSuchKey|not exist/i)

    // Heal: the gates open; reconnecting members refute their failure and anti-entropy repairs the catalogs.
    for (const n of nodes) n.blocked.clear()
    await until('everyone alive everywhere again', () => nodes.every(n => ids.every(id => n.transport.membership.get(id)?.state === 'alive')), 30_000)
    const owners = (): TestNode[] => nodes.filter(n => n.mesh.partition.owns('bkt'))
    await until('every owner has the same catalog', () => owners().length === 3 && owners().every(n => digestOf(n) === digestOf(owners()[0]!)), 30_000)
    // A member that holds a key of the bucket without owning it hears of the later write, or of the delete, when it
    // hands its entries to the owners again (the heal brought members back from a cut): soon after the owners agree.
    await until('every member knows the later write and the delete', async () => {
      for (const n of nodes) {
        if (await read(n, 'contested').catch(() => '') !== 'the right side wrote this later') return false
        if (await read(n, 'before').then(() => true, () => false)) return false
      }
      return true
    }, 15_000)
    // Every key, on every node: the same bytes.
    const expected = new Map<string, string>([['contested', 'the right side wrote this later']])
    for (let i = 0; i < 10; i++) { expected.set(`left-${i}`, `left ${i}`); expected.set(`right-${i}`, `right ${i}`) }
    for (const n of nodes) {
      const listed = (await n.mesh.store.listObjects('bkt', { limit: 100 })).objects.map(o => o.key)
      assert.deepEqual(listed, [...expected.keys()].sort(), 'every node lists the same keys, the deleted one gone')
      for (const [k, text] of expected) assert.equal(await read(n, k), text, `${k} on ${n.libp2p.peerId.toString()}${k === 'contested' ? ': the later write wins everywhere' : ''}`)
      await assert.rejects(read(n, 'before'), /NoSuchKey|not exist/i, 'the delete made on one side holds everywhere')
    }
    await until('no object under-replicated', () => nodes.every(n => n.mesh.stats.underReplicated === 0), 20_000)
  })

  it('drops tombstones after their time on every member, and the catalogs still agree', async () => {
    const key = Keyring.generateKey()
    const pair = [await startInProcessNode({ key, cluster: 'gc', mesh: { tombstoneTtlMs: 1_500 } }), await startInProcessNode({ key, cluster: 'gc', mesh: { tombstoneTtlMs: 1_500 } })]
    nodes.push(...pair)
    assert.equal(await pair[1]!.transport.join([pair[0]!.libp2p.getMultiaddrs()[0]!.toString()]), 1)
    await pair[0]!.mesh.store.createBucket('bkt')
    await put(pair[0]!, 'doomed', 'soon gone')
    await until('both know it', () => pair.every(n => n.mesh.catalog.get('bkt', 'doomed') !== undefined), 20_000)
    await pair[1]!.mesh.store.deleteObject('bkt', 'doomed')
    await until('both hold the tombstone', () => pair.every(n => n.mesh.catalog.get('bkt', 'doomed')?.deleted === true), 20_000)
    await until('both dropped it', () => pair.every(n => n.mesh.catalog.get('bkt', 'doomed') === undefined), 10_000)
    await new Promise(resolve => setTimeout(resolve, 2_500)) // anti-entropy rounds: nobody brings it back
    assert.ok(pair.every(n => n.mesh.catalog.get('bkt', 'doomed') === undefined))
    assert.equal(digestOf(pair[0]!), digestOf(pair[1]!))
  })
})
