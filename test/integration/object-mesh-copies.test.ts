/**
 * How many copies a write makes, in-process over real libp2p: the writer's
 * copy is one of the replicas, so an object has exactly `replicas` copies
 * even where placement leaves its writer out (it used to have one more: the
 * writer's, kept as a surplus, beside placement's two). Once the writer is
 * gone, the member its copy stood in for fetches the version; one whose copy
 * is deleted by hand fetches it back, as does one whose copy went without a
 * word, once another member's fetch finds it missing.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { MemoryStore } from '../../src/core/memory-store.js'
import { Placement } from '../../src/core/mesh/placement.js'
import { removedByHand } from '../../src/core/mesh/startup.js'
import { streamOfBytes } from '../../src/core/streams.js'
import { Keyring } from '../../src/core/wire/keyring.js'
import { startInProcessNode, type InProcessNode } from '../helpers/in-process-mesh.js'
import { until } from '../helpers/until.js'

/** The keys written, chosen once the members' ids are known: eight that placement gives the writer (four with b, four with c) and four it leaves it out of. */
const KEYS: string[] = []

/** A memory store that says, as a DiskStore does, which keys it keeps something under, and counts the reads of each key. */
class CountingStore extends MemoryStore {
  readonly kept = new Set<string>()
  readonly opened = new Map<string, number>()
  override async putObject (...args: Parameters<MemoryStore['putObject']>): ReturnType<MemoryStore['putObject']> {
    const info = await super.putObject(...args)
    this.kept.add(`${args[0]}/${args[1]}`)
    return info
  }

  recorded (bucket: string, key: string): boolean { return this.kept.has(`${bucket}/${key}`) }

  override async openObject (...args: Parameters<MemoryStore['openObject']>): ReturnType<MemoryStore['openObject']> {
    this.opened.set(args[1], (this.opened.get(args[1]) ?? 0) + 1)
    return await super.openObject(...args)
  }
}

describe('the copies a write makes (three members, two replicas)', () => {
  const nodes: InProcessNode[] = []
  const stores = [new MemoryStore(), new MemoryStore(), new CountingStore()]
  after(async () => {
    for (const n of nodes) await n.stop()
  })
  const has = async (store: MemoryStore, key: string): Promise<boolean> => await store.headObject('bkt', key).then(() => true, () => false)
  const copies = async (key: string, among = stores): Promise<number> => (await Promise.all(among.map(async s => await has(s, key)))).filter(Boolean).length

  it('two copies of each object, where placement leaves the writer out too; none fetched later (walks every 1.5 s)', async () => {
    const key = Keyring.generateKey()
    for (const store of stores) nodes.push(await startInProcessNode({ key, cluster: 'copies', mesh: { walkIntervalMs: 1_500 }, store }))
    const seed = nodes[0]!.libp2p.getMultiaddrs()[0]!.toString()
    for (const n of nodes.slice(1)) assert.equal(await n.transport.join([seed]), 1)
    await until('three durable members everywhere', () => nodes.every(n => n.mesh.durableMembers().length === 3), 20_000)
    const [a] = nodes
    await a!.mesh.store.createBucket('bkt')
    await until('every member has the bucket', () => nodes.every(n => n.mesh.catalog.get('bkt') !== undefined), 10_000)
    const ids = nodes.map(n => n.libp2p.peerId.toString())
    const placement = new Placement(ids)
    // By the ids (random each run): 12 keys taken as they come left the writer out of fewer than two about one run in twenty.
    const candidates = Array.from({ length: 200 }, (_, i) => `obj-${i}`)
    const picks = (k: string): string[] => placement.replicas('bkt', k, 2)
    const writerIn = (k: string): boolean => picks(k).includes(ids[0]!)
    // Four each with the writer and b, with the writer and c (c holds no copy of the first four), and without the writer.
    KEYS.push(...[ids[1]!, ids[2]!].flatMap(other => candidates.filter(k => writerIn(k) && picks(k).includes(other)).slice(0, 4)), ...candidates.filter(k => !writerIn(k)).slice(0, 4))
    const leftOut = KEYS.filter(k => !writerIn(k))
    assert.ok(leftOut.length >= 2, `placement leaves the writer out of some keys (the precondition): ${leftOut.length} of ${KEYS.length}`)
    for (const k of KEYS) {
      const bytes = new TextEncoder().encode(`bytes of ${k}`)
      const info = await a!.mesh.store.putObject('bkt', k, streamOfBytes(bytes), { metadata: { user: {} }, size: bytes.byteLength })
      assert.equal(info.replicas, 2, `${k}: acknowledged with two copies`)
    }
    // Settled (a write on its way is looked at again 5 s after it), and walked again since.
    await new Promise(resolve => setTimeout(resolve, 8_000))
    for (const k of KEYS) {
      assert.equal(await copies(k), 2, `${k}: two copies${leftOut.includes(k) ? ' (placement leaves the writer out)' : ''}`)
      assert.ok(await has(stores[0]!, k), `${k}: one of them the writer's`)
      for (const n of nodes) assert.equal(n.mesh.catalog.get('bkt', k)?.holders.length, 2, `${k}: two holders in ${ids[nodes.indexOf(n)]}'s catalog`)
    }
    // The other copy of a key placement leaves the writer out of is its first pick's.
    for (const k of leftOut) assert.ok(await has(stores[ids.indexOf(placement.replicas('bkt', k, 2)[0]!)]!, k), `${k}: at placement's first pick`)
  })

  it('a read through a member that holds no copy and keeps nothing under the key gets the bytes from a holder without looking in its own store', async () => {
    const c = nodes[2]!
    const store = stores[2] as CountingStore
    const self = c.libp2p.peerId.toString()
    const lacking = KEYS.find(k => !c.mesh.catalog.get('bkt', k)!.holders.includes(self))!
    const holding = KEYS.find(k => c.mesh.catalog.get('bkt', k)!.holders.includes(self))!
    assert.ok(lacking !== undefined && holding !== undefined && !store.recorded('bkt', lacking), 'c holds some keys and not others (the precondition)')
    const read = async (k: string): Promise<string> => new TextDecoder().decode(await new Response((await c.mesh.store.openObject('bkt', k)).stream()).arrayBuffer())
    assert.equal(await read(lacking), `bytes of ${lacking}`)
    assert.equal(store.opened.get(lacking), undefined, 'c did not look in its store for a key it keeps nothing under')
    assert.ok(!store.recorded('bkt', lacking), 'and keeps nothing of it after the read')
    assert.equal(await read(holding), `bytes of ${holding}`)
    assert.ok((store.opened.get(holding) ?? 0) > 0, 'a key it holds is read from its store')
  })

  it('a writer whose copy stands in for a placement pick and is deleted by hand fetches it back (the others still list it: nobody else would)', async () => {
    const [a] = nodes
    const ids = nodes.map(n => n.libp2p.peerId.toString())
    const k = KEYS.find(k => !new Placement(ids).replicas('bkt', k, 2).includes(ids[0]!))!
    await stores[0]!.deleteObject('bkt', k)
    assert.equal(await copies(k), 1, 'one copy left (the precondition)')
    // What a Node node does when a file goes from its bucket folder (DiskStore.onRemoved).
    await removedByHand({ catalog: a!.mesh.catalog, copies: a!.mesh.copies, stopping: new AbortController().signal, lost: e => { a!.mesh.upkeep.lost(e) } }, 'bkt', k)
    assert.ok(nodes.slice(1).every(n => n.mesh.catalog.get('bkt', k)!.holders.includes(ids[0]!)), 'the others still list the writer (the precondition)')
    await until('the writer has its copy back', async () => await has(stores[0]!, k), 10_000)
    assert.equal(await copies(k), 2)
  })

  it('a member whose copy went without a word (a data folder put back, a file removed while stopped) drops its claim and fetches the copy again once another member\'s fetch finds it missing; its own GET fetches it back too', async () => {
    const [a, , c] = nodes
    const ids = nodes.map(n => n.libp2p.peerId.toString())
    // Keys the writer stands in for a placement pick with, whose copy it still has (the test above took one of them).
    const standIns = []
    for (const k of KEYS) if (!new Placement(ids).replicas('bkt', k, 2).includes(ids[0]!) && await has(stores[0]!, k)) standIns.push(k)
    assert.ok(standIns.length >= 2, 'two keys the writer stands in for a pick with (the precondition)')
    const [own, asked] = standIns as [string, string]
    const lostBefore = a!.mesh.stats.lostClaims
    for (const k of [own, asked]) {
      // Gone from the store, and nothing told: the catalogs, this member's too, still list it.
      await stores[0]!.deleteObject('bkt', k)
      assert.equal(await copies(k), 1, `${k}: one copy left (the precondition)`)
      assert.ok(nodes.every(n => n.mesh.catalog.get('bkt', k)!.holders.includes(ids[0]!)), `${k}: every catalog lists the writer (the precondition)`)
    }
    await new Promise(resolve => setTimeout(resolve, 2_000))
    assert.equal(await copies(own) + await copies(asked), 2, 'no walk (every 1.5 s) finds them: the claims stand (the precondition)')
    // Another member asks it for the version: refused (not found), and the claim found false.
    const e = c!.mesh.catalog.get('bkt', asked)!
    await assert.rejects(c!.mesh.transfer.get(ids[0]!, { bucket: 'bkt', key: asked, sha256: e.object!.sha256, size: e.object!.size }, AbortSignal.timeout(5_000)).then(async body => await new Response(body).arrayBuffer()))
    await until('the writer has its copy of the key asked of it back', async () => await has(stores[0]!, asked), 10_000)
    assert.equal(a!.mesh.stats.lostClaims - lostBefore, 1)
    assert.equal(await copies(asked), 2)
    // Its own GET: placement counts its copy, so the read fetches the copy (and keeps it) as it serves it.
    const handle = await a!.mesh.store.openObject('bkt', own)
    assert.equal((await new Response(handle.stream()).arrayBuffer()).byteLength, handle.info.size)
    await until('the writer has its copy of the key it read back', async () => await has(stores[0]!, own), 10_000)
    assert.equal(await copies(own), 2)
  })

  it('once the writer is gone, every object gets its second copy back on the two members left', async () => {
    const [a, b, c] = nodes
    await a!.stop()
    await until('the two left see two durable members', () => [b!, c!].every(n => n.mesh.durableMembers().length === 2), 20_000)
    await until('every object has a copy on both members left', async () => (await Promise.all(KEYS.map(async k => await copies(k, stores.slice(1))))).every(n => n === 2), 20_000)
  })
})
