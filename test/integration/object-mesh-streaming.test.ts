/**
 * A replicated write streams to its replicas while it is written locally
 * (Replicator.begin): the replica has bytes before the writer's body has
 * ended, nothing is read back from the writer's store, a write that fails
 * half-way leaves nothing anywhere, and a replica lost mid-write is replaced
 * by the next member in placement order. Whole members over real libp2p in
 * this process, memory stores.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { isS3Error } from '../../src/core/errors.js'
import { MemoryStore } from '../../src/core/memory-store.js'
import type { ObjectHandle } from '../../src/core/object-store.js'
import { Keyring } from '../../src/core/wire/keyring.js'
import { startInProcessNode, type InProcessNode } from '../helpers/in-process-mesh.js'
import { until } from '../helpers/until.js'

/** A memory store that counts whole-object reads (what a read-back for replication would do). */
class CountingStore extends MemoryStore {
  opened = 0
  override async openObject (bucket: string, key: string): Promise<ObjectHandle> {
    this.opened++
    return await super.openObject(bucket, key)
  }
}

/** A body that yields `first`, then waits for `release()`, then yields `rest` (or fails instead). */
function gatedBody (first: Uint8Array, rest: Uint8Array): { body: ReadableStream<Uint8Array>, release: (fail?: Error) => void } {
  let release!: (fail?: Error) => void
  const gate = new Promise<Error | undefined>(resolve => { release = resolve })
  let step = 0
  return {
    body: new ReadableStream<Uint8Array>({
      async pull (c) {
        if (step === 0) { step = 1; c.enqueue(first); return }
        if (step === 1) {
          step = 2
          const fail = await gate
          if (fail !== undefined) { c.error(fail); return }
          c.enqueue(rest)
          return
        }
        c.close()
      },
    }, { highWaterMark: 0 }),
    release,
  }
}

describe('a write streamed to its replicas', () => {
  const nodes: InProcessNode[] = []
  after(async () => { for (const n of nodes) await n.stop() })

  async function cluster (n: number, stores: MemoryStore[]): Promise<InProcessNode[]> {
    const key = Keyring.generateKey()
    const started: InProcessNode[] = []
    for (let i = 0; i < n; i++) started.push(await startInProcessNode({ key, cluster: `stream${nodes.length}`, store: stores[i], mesh: { replicas: 2, writeQuorum: 2 } }))
    nodes.push(...started)
    const seed = started[0]!.libp2p.getMultiaddrs()[0]!.toString()
    for (const x of started.slice(1)) assert.equal(await x.transport.join([seed]), 1)
    await until(`${n} members alive everywhere`, () => started.every(x => x.transport.membership.list().filter(m => m.state === 'alive').length === n), 20_000)
    await started[0]!.mesh.store.createBucket('bkt')
    await until('every member knows the bucket', () => started.every(x => x.mesh.catalog.get('bkt') !== undefined))
    return started
  }

  /** The member placement picks, besides `writer`, for bkt/<key>. */
  const replicaOf = async (writer: InProcessNode, key: string, all: InProcessNode[]): Promise<InProcessNode> => {
    const id = (await writer.mesh.locate('bkt', key)).placement.find(p => p !== writer.libp2p.peerId.toString())!
    return all.find(x => x.libp2p.peerId.toString() === id)!
  }

  it('reaches the replica before the writer\'s body has ended, and reads nothing back from the writer\'s store', async () => {
    const stores = [new CountingStore(), new CountingStore()]
    const [a, b] = await cluster(2, stores)
    const [first, rest] = [randomBytes(300_000), randomBytes(300_000)]
    const { body, release } = gatedBody(first, rest)
    const writing = a!.mesh.store.putObject('bkt', 'k', body, { metadata: { user: {} } })
    await until('the replica received the first bytes while the body is still open', () => b!.mesh.transfer.stats.bytesReceived >= first.byteLength, 10_000)
    assert.equal(b!.mesh.catalog.get('bkt', 'k'), undefined, 'precondition: the write has no version yet')
    release()
    const info = await writing
    assert.equal(info.replicas, 2)
    const held = await stores[1]!.openObject('bkt', 'k')
    assert.deepEqual(Buffer.from(await new Response(held.stream()).arrayBuffer()), Buffer.concat([first, rest]))
    assert.equal(held.info.sha256, info.sha256)
    assert.equal(held.info.etag, info.etag)
    assert.equal(held.info.lastModified.getTime(), info.lastModified.getTime(), 'the replica keeps the write\'s time')
    assert.equal(stores[0]!.opened, 0, 'nothing was read back from the writer\'s store')
  })

  it('leaves nothing on the replica when the write fails half-way', async () => {
    const stores = [new MemoryStore(), new MemoryStore()]
    const [a, b] = await cluster(2, stores)
    const { body, release } = gatedBody(randomBytes(200_000), randomBytes(10))
    const writing = a!.mesh.store.putObject('bkt', 'gone', body, { metadata: { user: {} } })
    await until('the replica received bytes', () => b!.mesh.transfer.stats.bytesReceived > 0, 10_000)
    release(new Error('the client went away'))
    await assert.rejects(writing, /the client went away/)
    await new Promise(resolve => setTimeout(resolve, 300))
    for (const [i, store] of stores.entries()) {
      await assert.rejects(store.headObject('bkt', 'gone'), (err: unknown) => isS3Error(err, 'NoSuchKey'), `store ${i} kept nothing`)
    }
    assert.equal(b!.mesh.catalog.get('bkt', 'gone'), undefined)
    assert.equal(a!.mesh.catalog.get('bkt', 'gone'), undefined)
  })

  it('replaces a replica lost mid-write by the next member in placement order, which gets the bytes from the local copy', async () => {
    const stores = [new MemoryStore(), new MemoryStore(), new MemoryStore()]
    const all = await cluster(3, stores)
    const writer = all[0]!
    const lost = await replicaOf(writer, 'moved', all)
    const spare = all.find(x => x !== writer && x !== lost)!
    const { body, release } = gatedBody(randomBytes(200_000), randomBytes(200_000))
    const writing = writer.mesh.store.putObject('bkt', 'moved', body, { metadata: { user: {} } })
    await until('the replica received bytes', () => lost.mesh.transfer.stats.bytesReceived > 0, 10_000)
    // The replica is cut off mid-write.
    writer.blocked.add(lost.libp2p.peerId.toString())
    await writer.libp2p.hangUp(lost.libp2p.peerId)
    release()
    const info = await writing
    assert.equal(info.replicas, 2, 'two copies: the writer\'s and the spare\'s')
    const entry = writer.mesh.catalog.get('bkt', 'moved')!
    assert.ok(entry.holders.includes(spare.libp2p.peerId.toString()), 'the spare holds it')
    assert.ok(!entry.holders.includes(lost.libp2p.peerId.toString()), 'the lost replica does not')
    await assert.rejects(stores[all.indexOf(lost)]!.headObject('bkt', 'moved'), (err: unknown) => isS3Error(err, 'NoSuchKey'), 'the cut-off replica kept nothing')
    assert.equal((await stores[all.indexOf(spare)]!.headObject('bkt', 'moved')).sha256, info.sha256)
  })
})
