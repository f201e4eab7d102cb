/**
 * A bucket deleted through one node while clients write into it through the
 * others, with real `s3mesh server` processes: no PUT may be acknowledged
 * into a bucket that is then gone (bucket-close.ts).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { isS3Error } from '../../src/core/errors.js'
import { MemoryStore } from '../../src/core/memory-store.js'
import { streamOfBytes } from '../../src/core/streams.js'
import { Keyring } from '../../src/core/wire/keyring.js'
import { startInProcessNode, type InProcessNode } from '../helpers/in-process-mesh.js'
import { startMeshProcesses } from '../helpers/mesh-processes.js'
import { errorCode, signer } from '../helpers/s3-client.js'
import type { ServerProcess } from '../helpers/server-process.js'
import { until } from '../helpers/until.js'

const sign = signer()

/** Rounds of create, delete while written, and check: the writes start from a little before the delete to a little after. */
const ROUNDS = 16

/** PUTs fired at the delete in each round, through the two nodes that do not delete. */
const WRITES = 8

const status = async (res: Response): Promise<string> => res.status < 300 ? String(res.status) : `${res.status} ${errorCode(await res.text()) ?? ''}`

describe('a bucket deleted while written through other nodes', () => {
  let nodes: ServerProcess[] = []
  before(async () => { nodes = await startMeshProcesses(3) })
  after(async () => { for (const n of nodes) await n.stop().catch(() => {}) })

  const everywhere = async (what: string, bucket: string, code: number): Promise<void> => {
    await until(what, async () => {
      for (const n of nodes) if ((await sign.fetch(`${n.url}/${bucket}`, { method: 'HEAD' })).status !== code) return false
      return true
    })
  }

  /**
   * Rounds of: a bucket made (versioned or not), WRITES writes through the two
   * nodes that do not delete fired at a DeleteBucket through the first, from
   * 4 ms before it to 11 ms after it by round, and what came of each checked.
   * `write` makes the i-th write (a PUT, or a DELETE: a marker when versioned;
   * `?uploads`: a multipart upload begun).
   */
  const race = async (t: { diagnostic: (m: string) => void }, name: string, versioned: boolean, write: (i: number) => { method: 'PUT' | 'DELETE' | 'POST', body?: string, query?: string }): Promise<void> => {
    const [n1, n2, n3] = nodes as [ServerProcess, ServerProcess, ServerProcess]
    const outcomes = { deleteWon: 0, writesWon: 0 }
    for (let round = 0; round < ROUNDS; round++) {
      const bucket = `${name}-${round}`
      assert.equal((await sign.fetch(`${n1.url}/${bucket}`, { method: 'PUT' })).status, 200)
      if (versioned) assert.equal((await sign.fetch(`${n1.url}/${bucket}?versioning`, { method: 'PUT', body: '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>' })).status, 200)
      await until(`${bucket} is known everywhere${versioned ? ', versioned' : ''}`, async () => {
        for (const n of nodes) {
          if ((await sign.fetch(`${n.url}/${bucket}`, { method: 'HEAD' })).status !== 200) return false
          if (versioned && !(await (await sign.fetch(`${n.url}/${bucket}?versioning`)).text()).includes('Enabled')) return false
        }
        return true
      })
      const offset = round - 4
      const one = async (i: number): Promise<string> => {
        await new Promise(resolve => setTimeout(resolve, Math.max(0, offset)))
        const { query, ...init } = write(i)
        return await status(await sign.fetch(`${(i % 2 === 0 ? n2 : n3).url}/${bucket}/k${i}${query ?? ''}`, init))
      }
      if (offset < 0) await new Promise(resolve => setTimeout(resolve, 0))
      const writes = Array.from({ length: WRITES }, async (_, i) => await one(i))
      if (offset < 0) await new Promise(resolve => setTimeout(resolve, -offset))
      const deleted = await status(await sign.fetch(`${n1.url}/${bucket}`, { method: 'DELETE' }))
      const written = await Promise.all(writes)
      const ok = (s: string): boolean => s === '200' || s === '204'
      const acked = written.map((s, i) => ok(s) ? `k${i}` : undefined).filter(k => k !== undefined)
      for (const s of written) assert.ok(ok(s) || s === '404 NoSuchBucket', `a write answered ${s}`)
      if (deleted === '204') {
        assert.deepEqual(acked, [], `${bucket} was deleted, yet writes into it were acknowledged`)
        outcomes.deleteWon++
        // Gone everywhere; made again, it holds nothing of before on any node.
        await everywhere(`${bucket} is gone everywhere`, bucket, 404)
        assert.equal((await sign.fetch(`${n3.url}/${bucket}`, { method: 'PUT' })).status, 200)
        await everywhere(`${bucket} is made again everywhere`, bucket, 200)
        for (const n of nodes) assert.doesNotMatch(await (await sign.fetch(`${n.url}/${bucket}?versions`)).text(), /<Key>/, `${bucket} made again is empty at ${n.url}`)
        for (const n of nodes) assert.doesNotMatch(await (await sign.fetch(`${n.url}/${bucket}?uploads`)).text(), /<Upload>/, `${bucket} made again has no upload at ${n.url}`)
      } else if (write(0).query !== undefined) {
        assert.equal(deleted, '409 BucketNotEmpty')
        assert.ok(acked.length > 0, 'the delete was refused as not empty, and no upload was begun')
        outcomes.writesWon++
        // Each upload begun is listed on the node it began on.
        for (const [i, k] of acked.map(k => [Number(k!.slice(1)), k] as const)) assert.match(await (await sign.fetch(`${(i % 2 === 0 ? n2 : n3).url}/${bucket}?uploads`)).text(), new RegExp(`<Key>${k}</Key>`))
      } else {
        assert.equal(deleted, '409 BucketNotEmpty')
        assert.ok(acked.length > 0, 'the delete was refused as not empty, and no write was acknowledged')
        outcomes.writesWon++
        // Every acknowledged write is there (an object, or a marker), as the deleting node lists the bucket's versions.
        await until(`every acknowledged write in ${bucket} is listed through the deleting node`, async () => {
          const listed = await (await sign.fetch(`${n1.url}/${bucket}?versions`)).text()
          return acked.every(k => listed.includes(`<Key>${k}</Key>`))
        })
      }
    }
    // The precondition: the rounds raced both ways.
    t.diagnostic(`${name}: ${ROUNDS} rounds: the delete went through ${outcomes.deleteWon} times (its racing writes refused), the writes ${outcomes.writesWon} times`)
    assert.ok(outcomes.deleteWon > 0, 'in some round the delete went through while writes raced it')
    assert.ok(outcomes.writesWon > 0, 'in some round the writes went through and the delete was refused')
  }

  it('acknowledges no PUT into a bucket a racing delete removes: the delete counts it (BucketNotEmpty) or it is refused (NoSuchBucket)', async (t) => {
    await race(t, 'race', false, i => ({ method: 'PUT', body: `data of k${i}` }))
  })

  it('no multipart upload is begun into a bucket a racing delete removes: the delete counts it (BucketNotEmpty) or it is refused (NoSuchBucket)', async (t) => {
    await race(t, 'mrace', false, () => ({ method: 'POST', query: '?uploads' }))
  })

  it('in a versioned bucket, neither a PUT nor a delete marker (each a version) is acknowledged into a bucket a racing delete removes', async (t) => {
    await race(t, 'vrace', true, i => i % 4 < 2 ? { method: 'PUT', body: `data of k${i}` } : { method: 'DELETE' })
  })
})

describe('a bucket delete with a member that cannot be asked', () => {
  const nodes: InProcessNode[] = []
  after(async () => { for (const n of nodes) await n.stop() })

  it('is refused with 503 while the member is not yet failed, leaves the bucket open, and goes through once it is', async () => {
    const key = Keyring.generateKey()
    for (let i = 0; i < 3; i++) nodes.push(await startInProcessNode({ key, cluster: 'close' }))
    const [a, b, c] = nodes as [InProcessNode, InProcessNode, InProcessNode]
    const seed = a.libp2p.getMultiaddrs()[0]!.toString()
    for (const n of [b, c]) assert.equal(await n.transport.join([seed]), 1)
    await until('three alive everywhere', () => nodes.every(n => n.transport.membership.list().filter(m => m.state === 'alive').length === 3), 20_000)
    await a.mesh.store.createBucket('cut')
    await until('every node has the bucket', () => nodes.every(n => n.mesh.catalog.get('cut')?.deleted === false), 10_000)

    // Node c is cut off: a still counts it as a member for a while, and cannot ask it.
    const cId = c.libp2p.peerId.toString()
    for (const n of [a, b]) {
      n.blocked.add(cId)
      c.blocked.add(n.libp2p.peerId.toString())
      await n.libp2p.hangUp(c.libp2p.peerId).catch(() => {})
    }
    assert.notEqual(a.transport.membership.get(cId)?.state, 'failed', 'the precondition: a has not found c failed yet')
    await assert.rejects(a.mesh.store.deleteBucket('cut'), (err: unknown) => isS3Error(err, 'ServiceUnavailable') && /did not answer/.test(err.message))
    assert.notEqual(a.transport.membership.get(cId)?.state, 'failed', 'c was still a member when the delete was refused')
    assert.equal(a.mesh.catalog.get('cut')?.deleted, false, 'the bucket is not deleted')

    // Opened again at the members that were closed, the deleter too: writes through a and b go through (one held would wait 60 s).
    for (const [n, key] of [[a, 'after-a'], [b, 'after-b']] as const) {
      const bytes = new TextEncoder().encode(`written through ${key} after the refused delete`)
      await n.mesh.store.putObject('cut', key, streamOfBytes(bytes), { metadata: { user: {} }, size: bytes.byteLength, signal: AbortSignal.timeout(10_000) })
      await a.mesh.store.deleteObject('cut', key)
    }

    // Once a has found c failed, c is not asked: the delete goes through.
    await until('a finds c failed', () => a.transport.membership.get(cId)?.state === 'failed', 20_000)
    await until('the object\'s delete has reached every owner', async () => {
      try {
        await a.mesh.store.deleteBucket('cut')
        return true
      } catch (err) {
        if (isS3Error(err, 'BucketNotEmpty')) return false
        throw err
      }
    }, 10_000)
    assert.equal(a.mesh.catalog.get('cut')?.deleted, true)
  })
})

describe('a bucket deleted and made again while a member cut off from the delete writes into it', () => {
  const nodes: InProcessNode[] = []
  after(async () => { for (const n of nodes) await n.stop() })

  it('lists nothing the cut-off member wrote into the deleted bucket once the cut heals, on any node, and its copy there is gone', async () => {
    const key = Keyring.generateKey()
    const cutOffStore = new MemoryStore()
    for (let i = 0; i < 3; i++) nodes.push(await startInProcessNode({ key, cluster: 'again', ...(i === 2 ? { store: cutOffStore } : {}) }))
    const [a, b, c] = nodes as [InProcessNode, InProcessNode, InProcessNode]
    const seed = a.libp2p.getMultiaddrs()[0]!.toString()
    for (const n of [b, c]) assert.equal(await n.transport.join([seed]), 1)
    const ids = nodes.map(n => n.libp2p.peerId.toString())
    await until('three alive everywhere', () => nodes.every(n => ids.every(id => n.transport.membership.get(id)?.state === 'alive')), 20_000)
    await a.mesh.store.createBucket('again')
    await until('every node has the bucket', () => nodes.every(n => n.mesh.catalog.get('again')?.deleted === false), 10_000)
    const put = async (n: InProcessNode, k: string): Promise<void> => {
      const bytes = new TextEncoder().encode(`${k}, written through ${n.libp2p.peerId.toString()}`)
      await n.mesh.store.putObject('again', k, streamOfBytes(bytes), { metadata: { user: {} }, size: bytes.byteLength, signal: AbortSignal.timeout(10_000) })
    }
    const listed = async (n: InProcessNode): Promise<string[]> => (await n.mesh.store.listObjects('again', { limit: 100 })).objects.map(o => o.key)

    // Node c is cut off, until each side finds the other failed: the delete does not ask c, and c writes on its own.
    const cId = c.libp2p.peerId.toString()
    for (const n of [a, b]) {
      n.blocked.add(cId)
      c.blocked.add(n.libp2p.peerId.toString())
      await n.libp2p.hangUp(c.libp2p.peerId).catch(() => {})
    }
    await until('each side finds the other failed', () => [a, b].every(n => n.transport.membership.get(cId)?.state === 'failed' && c.transport.membership.get(n.libp2p.peerId.toString())?.state === 'failed'), 20_000)
    await a.mesh.store.deleteBucket('again')
    await put(c, 'cut-off')
    assert.deepEqual(await listed(c), ['cut-off'], 'the precondition: the cut-off member took a write into the bucket deleted elsewhere')
    assert.equal(a.mesh.catalog.get('again')?.deleted, true)
    await a.mesh.store.createBucket('again')
    await put(a, 'fresh')

    // Healed: c hears of the delete and of the bucket made again; what it wrote goes, here and there.
    for (const n of nodes) n.blocked.clear()
    await until('everyone alive everywhere again', () => nodes.every(n => ids.every(id => n.transport.membership.get(id)?.state === 'alive')), 30_000)
    await until('every node lists only what was written into the bucket made again, and the cut-off copy is gone', async () => {
      for (const n of nodes) if ((await listed(n)).join() !== 'fresh') return false
      return await cutOffStore.headObject('again', 'cut-off').then(() => false, () => true)
    }, 30_000)
    // Anti-entropy rounds (every second here, push-pull every three) bring nothing back.
    await new Promise(resolve => setTimeout(resolve, 3_500))
    for (const n of nodes) {
      assert.deepEqual(await listed(n), ['fresh'])
      assert.equal(n.mesh.catalog.get('again', 'cut-off'), undefined, `nothing of the cut-off write in ${n.libp2p.peerId.toString()}'s catalog`)
    }
  })
})
