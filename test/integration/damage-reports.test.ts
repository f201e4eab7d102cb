/**
 * A report that a member's copy is damaged (a reader's verdict after a
 * fetch, or a read here that did not hash right): the copy is read again
 * before anything is dropped, in-process over real libp2p. A member that
 * got it wrong, or lies, cannot make the holders drop good copies.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { MemoryStore } from '../../src/core/memory-store.js'
import { streamOfBytes } from '../../src/core/streams.js'
import { Keyring } from '../../src/core/wire/keyring.js'
import { startInProcessNode, type InProcessNode } from '../helpers/in-process-mesh.js'
import { until } from '../helpers/until.js'

/** A memory store whose reads fail with a system error (EIO, as a disk's bad sector gives) while `failing` is set. */
class FlakyStore extends MemoryStore {
  failing = false
  failedReads = 0
  override async openObject (...args: Parameters<MemoryStore['openObject']>): ReturnType<MemoryStore['openObject']> {
    const handle = await super.openObject(...args)
    if (!this.failing) return handle
    return {
      ...handle,
      stream: () => new ReadableStream<Uint8Array>({
        pull: controller => { this.failedReads++; controller.error(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' })) },
      }),
    }
  }
}

describe('reports of a damaged copy', () => {
  const nodes: InProcessNode[] = []
  after(async () => {
    for (const n of nodes) await n.stop()
  })

  /** Two members of `cluster` (two replicas), each alive to the other, with bucket `bkt`; the first on `store` if given. */
  const twoMembers = async (key: Uint8Array, cluster: string, store?: MemoryStore): Promise<[InProcessNode, InProcessNode]> => {
    const a = await startInProcessNode({ key, cluster, mesh: { replicas: 2 }, ...(store === undefined ? {} : { store }) })
    const b = await startInProcessNode({ key, cluster, mesh: { replicas: 2 } })
    nodes.push(a, b)
    assert.equal(await b.transport.join([a.libp2p.getMultiaddrs()[0]!.toString()]), 1)
    await until('both alive on both', () => [a, b].every(n => n.transport.membership.list().filter(m => m.state === 'alive').length === 2), 20_000)
    await a.mesh.store.createBucket('bkt')
    return [a, b]
  }

  /** Reports `node`'s copy of bkt/k damaged while `store`'s reads fail, until the re-check's read has failed and a while after. */
  const recheckFailing = async (node: InProcessNode, store: FlakyStore, sha256: string): Promise<void> => {
    store.failing = true
    node.mesh.upkeep.corrupt('bkt', 'k', sha256)
    await until('the copy was read again, and the read failed', () => store.failedReads > 0, 5_000)
    await new Promise(resolve => setTimeout(resolve, 500))
    store.failing = false
  }

  it('a copy reported damaged that hashes to its version is kept (and read again once however often it is reported); the holders still list it', async () => {
    const [a] = await twoMembers(Keyring.generateKey(), 'reports')
    const bytes = new TextEncoder().encode('good bytes, reported bad')
    const info = await a.mesh.store.putObject('bkt', 'k', streamOfBytes(bytes), { metadata: { user: {} }, size: bytes.byteLength })
    assert.equal(info.replicas, 2, 'both members hold it (the precondition)')
    const self = a.libp2p.peerId.toString()
    const sha256 = a.mesh.catalog.get('bkt', 'k')!.object!.sha256

    // What the transfer server does with a reader's verdict that the bytes it sent did not hash right (host.onCorrupt).
    for (let i = 0; i < 5; i++) a.mesh.upkeep.corrupt('bkt', 'k', sha256)
    await until('the copy was read again', () => a.mesh.stats.intactReports > 0, 5_000)
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.equal(a.mesh.stats.intactReports, 1, 'read again once for five reports')
    assert.equal(a.mesh.stats.corruptCopies, 0, 'not counted as damaged')
    const handle = await a.mesh.copies.openLocal('bkt', 'k', sha256)
    assert.ok(handle !== undefined, 'the copy is still here')
    assert.equal(await new Response(handle.stream()).text(), 'good bytes, reported bad')
    assert.ok(a.mesh.catalog.get('bkt', 'k')!.holders.includes(self), 'and still listed as held here')
  })

  it('a copy that cannot be read when it is checked (EIO) is not dropped as a damaged one is: the only copy stays, and one another member holds is fetched again over it', async () => {
    const key = Keyring.generateKey()
    const flaky = new FlakyStore()
    const only = await startInProcessNode({ key, cluster: 'unreadable', mesh: { replicas: 1 }, store: flaky })
    nodes.push(only)
    await only.mesh.store.createBucket('bkt')
    const bytes = new TextEncoder().encode('the only copy')
    await only.mesh.store.putObject('bkt', 'k', streamOfBytes(bytes), { metadata: { user: {} }, size: bytes.byteLength })
    const sha256 = only.mesh.catalog.get('bkt', 'k')!.object!.sha256
    await recheckFailing(only, flaky, sha256)
    assert.equal(only.mesh.stats.corruptCopies, 0, 'not counted as damaged')
    const handle = await only.mesh.copies.openLocal('bkt', 'k', sha256)
    assert.ok(handle !== undefined, 'the only copy is still here')
    assert.equal(await new Response(handle.stream()).text(), 'the only copy')

    // Two members hold the version: not dropped (a holder listed may not have it, or be gone), but fetched again over it.
    const flaky2 = new FlakyStore()
    const [a] = await twoMembers(key, 'unreadable-2', flaky2)
    const twice = new TextEncoder().encode('held twice')
    assert.equal((await a.mesh.store.putObject('bkt', 'k', streamOfBytes(twice), { metadata: { user: {} }, size: twice.byteLength })).replicas, 2)
    const sha = a.mesh.catalog.get('bkt', 'k')!.object!.sha256
    const repairedBefore = a.mesh.stats.repaired
    await recheckFailing(a, flaky2, sha)
    assert.equal(a.mesh.stats.corruptCopies, 0, 'not counted as damaged')
    assert.ok(await flaky2.headObject('bkt', 'k').then(() => true, () => false), 'the copy is still here')
    await until('a copy fetched from the other holder over it', () => a.mesh.stats.repaired > repairedBefore, 10_000)
    assert.equal(await new Response((await a.mesh.copies.openLocal('bkt', 'k', sha))!.stream()).text(), 'held twice')
  })
})
