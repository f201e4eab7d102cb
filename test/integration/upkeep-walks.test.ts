/**
 * The repair loop's walks through the whole catalog, in-process over real
 * libp2p (TCP, Noise, yamux, gossipsub): a quiet member does not walk at
 * every pass (it used to, reading up to 5,000 entries a second again), yet a
 * version it should hold and lacks is fetched at the next pass, without
 * waiting for a walk.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { CatalogQuery } from '../../src/core/mesh/catalog-query.js'
import type { MeshConfig } from '../../src/core/mesh/config.js'
import { Placement } from '../../src/core/mesh/placement.js'
import { MemoryStore } from '../../src/core/memory-store.js'
import type { ObjectInfo, PutOptions } from '../../src/core/object-store.js'
import { streamOfBytes } from '../../src/core/streams.js'
import { Keyring } from '../../src/core/wire/keyring.js'
import { startInProcessNode, type InProcessNode } from '../helpers/in-process-mesh.js'
import { until } from '../helpers/until.js'

/** A store whose next copies made for the mesh fail, as a full disk would fail them, or take long, as a slow disk would. */
class FailingCopies extends MemoryStore {
  failCopies = 0
  /** When each copy was refused (ms). */
  readonly refused: number[] = []
  /** The next copies wait this long (ms) before they are made. */
  slowCopies = 0
  slowMs = 0
  /** Copies begun. */
  begun = 0
  /** Slow copies running now, the most that ran at once, and when each was made (ms). */
  slowRunning = 0
  slowMost = 0
  readonly slowMade: number[] = []
  override async putObject (bucket: string, key: string, body: ReadableStream<Uint8Array>, options: PutOptions): Promise<ObjectInfo> {
    const copy = options.copyOf !== undefined || options.copyOfAtEnd !== undefined
    if (copy) this.begun++
    if (copy && this.failCopies === 0 && this.slowCopies > 0) {
      this.slowCopies--
      this.slowMost = Math.max(this.slowMost, ++this.slowRunning)
      try {
        // The bytes are taken first (a transfer that stalls is cut short): the disk is slow, not the holder.
        const bytes = new Uint8Array(await new Response(body).arrayBuffer())
        await new Promise(resolve => setTimeout(resolve, this.slowMs))
        const info = await super.putObject(bucket, key, streamOfBytes(bytes), options)
        this.slowMade.push(Date.now())
        return info
      } finally {
        this.slowRunning--
      }
    }
    if (this.failCopies > 0 && copy) {
      this.failCopies--
      this.refused.push(Date.now())
      await body.cancel().catch(() => {})
      throw new Error('no space left on the device')
    }
    return await super.putObject(bucket, key, body, options)
  }
}

/** Counts the walks a member's repair loop starts (each begins with the catalog's `all()`). */
function countWalks (n: InProcessNode): () => number {
  const catalog = n.mesh.catalog
  const all = catalog.all.bind(catalog)
  let walks = 0
  catalog.all = () => { walks++; return all() }
  return () => walks
}

/** Two members joined in `cluster`, alive on both, with bucket `bkt` made through a; b keeps its copies in `store`. */
async function twoMembers (key: Uint8Array, cluster: string, mesh: Partial<MeshConfig> & { walkIntervalMs: number }, store: FailingCopies, nodes: InProcessNode[]): Promise<[InProcessNode, InProcessNode]> {
  const a = await startInProcessNode({ key, cluster, mesh })
  const b = await startInProcessNode({ key, cluster, mesh, store })
  nodes.push(a, b)
  assert.equal(await b.transport.join([a.libp2p.getMultiaddrs()[0]!.toString()]), 1)
  await until('both alive on both', () => [a, b].every(n => n.transport.membership.list().filter(m => m.state === 'alive').length === 2), 20_000)
  await a.mesh.store.createBucket('bkt')
  return [a, b]
}

/** Whether `n` lists itself as holding bkt/`key`, and its `store` has the copy. */
const holdsCopy = async (n: InProcessNode, store: MemoryStore, key: string): Promise<boolean> =>
  n.mesh.catalog.get('bkt', key)?.holders.includes(n.libp2p.peerId.toString()) === true && await store.headObject('bkt', key).then(() => true, () => false)

const put = async (n: InProcessNode, key: string, text: string): Promise<ObjectInfo> => {
  const bytes = new TextEncoder().encode(text)
  return await n.mesh.store.putObject('bkt', key, streamOfBytes(bytes), { metadata: { user: {} }, size: bytes.byteLength })
}

describe('the repair loop\'s walks', () => {
  const nodes: InProcessNode[] = []
  const key = Keyring.generateKey()
  /** b's store. */
  const store = new FailingCopies()
  after(async () => {
    for (const n of nodes) await n.stop()
  })

  it('a quiet member does not walk its catalog at every pass (walkIntervalMs of a minute); a version it lacks is fetched at the next passes all the same, again after a fetch that failed', async () => {
    // Passes every 300 ms (the in-process default); a walk at most once a minute while nothing is to be done.
    const [a, b] = await twoMembers(key, 'walks', { walkIntervalMs: 60_000 }, store, nodes)
    for (let i = 0; i < 20; i++) await put(a, `k${i}`, `object ${i}`)
    const self = b.libp2p.peerId.toString()
    await until('b holds all twenty', () => Array.from({ length: 20 }, (_, i) => b.mesh.catalog.get('bkt', `k${i}`)).every(e => e?.holders.includes(self) === true), 20_000)

    // Quiet once the writes have settled (a walk that met them on their way is followed by one 5 s after the
    // newest): from then on no walk starts for a minute, though passes go on every 300 ms.
    await new Promise(resolve => setTimeout(resolve, 6_000))
    const walks = countWalks(b)
    await new Promise(resolve => setTimeout(resolve, 3_000))
    assert.equal(walks(), 0, `no walk began in 3 s of passes (${walks()} did)`)

    // A copy pushed to b fails, and so does b's first fetch of it (as a full disk would fail both): the write is
    // acknowledged with a's copy alone, b hears of it by gossip, and fetches it again at a later pass.
    store.failCopies = 2
    const written = await put(a, 'missed', 'b did not take this copy')
    assert.equal(written.replicas, 1, 'b refused the copy (the precondition)')
    const before = walks()
    await until('b fetched the version it lacks', async () => await holdsCopy(b, store, 'missed'), 5_000)
    assert.equal(store.failCopies, 0, 'the push and a first fetch failed (the precondition)')
    assert.equal(walks(), before, 'fetched from what changed, and again after a failed fetch, not found by a walk')
    const handle = await b.mesh.store.openObject('bkt', 'missed')
    assert.equal(await new Response(handle.stream()).text(), 'b did not take this copy')
  })

  it('a change of members starts a walk at once, however recent the last', async () => {
    const a = nodes[0]!
    const walks = countWalks(a)
    await new Promise(resolve => setTimeout(resolve, 1_500))
    const before = walks()
    await new Promise(resolve => setTimeout(resolve, 1_500))
    assert.equal(walks(), before, 'a is quiet: no walk began in 1.5 s of passes (the precondition)')
    const c = await startInProcessNode({ key, cluster: 'walks', mesh: { walkIntervalMs: 60_000 } })
    nodes.push(c)
    assert.equal(await c.transport.join([a.libp2p.getMultiaddrs()[0]!.toString()]), 1)
    await until('a walks again once c has joined', () => walks() > before, 5_000)
  })
})

describe('the repair loop\'s retries', () => {
  const nodes: InProcessNode[] = []
  const key = Keyring.generateKey()
  after(async () => {
    for (const n of nodes) await n.stop()
  })

  it('a fetch that keeps failing (a full disk) is tried again after 1 s, then 1.5 s (walkIntervalMs), not at every pass; neither member walks at every pass meanwhile; the version is fetched once it can be', async () => {
    const store = new FailingCopies()
    // Passes every 300 ms; quiet walks every 1.5 s, which also caps the wait between tries.
    const [a, b] = await twoMembers(key, 'retries', { walkIntervalMs: 1_500 }, store, nodes)
    await put(a, 'first', 'settles the bucket')
    await new Promise(resolve => setTimeout(resolve, 6_000))
    const walksA = countWalks(a)
    const walksB = countWalks(b)
    store.failCopies = 1_000
    const written = await put(a, 'full', 'b has no room for this yet')
    assert.equal(written.replicas, 1, 'b refused the copy (the precondition)')
    // A try at every pass would be about twenty in 6.5 s; waits of 1 s, then 1.5 s, allow five or six.
    await new Promise(resolve => setTimeout(resolve, 6_500))
    const tries = store.refused
    assert.ok(tries.length >= 5 && tries.length <= 6, `the push, then fetches 1 s, 1.5 s, 1.5 s... apart (${tries.length} tries: ${tries.map(t => t - tries[0]!).join(', ')} ms)`)
    const gaps = tries.slice(2).map((t, i) => t - tries[i + 1]!)
    assert.ok(gaps[0]! >= 950 && gaps[0]! < 1_400 && gaps.slice(1).every(g => g >= 1_450 && g < 2_400), `a wait of 1 s, then of 1.5 s (doubled, but no more than walkIntervalMs): ${gaps.join(', ')} ms`)
    // b lacks a version placement gives it and a has too few copies of it (two replicas of two), and neither can do
    // more about it: each walks every 1.5 s (four or five in 6.5 s), not at every pass.
    assert.ok(walksB() >= 2 && walksB() <= 6, `b walked every 1.5 s, not at every pass (${walksB()} walks in 6.5 s)`)
    assert.ok(walksA() >= 2 && walksA() <= 6, `a walked every 1.5 s, not at every pass (${walksA()} walks in 6.5 s)`)
    // The disk has room again: the next try (at most 1.5 s off) fetches it.
    store.failCopies = 0
    await until('b fetched the version once it could', async () => await holdsCopy(b, store, 'full'), 5_000)
  })
})

describe('the repair loop\'s waits', () => {
  const nodes: InProcessNode[] = []
  const key = Keyring.generateKey()
  after(async () => {
    for (const n of nodes) await n.stop()
  })

  it('a change of the live members ends a wait at once (a fetch that failed five times in a row tries again when a member joins, not 16 s later)', async () => {
    const store = new FailingCopies()
    // Quiet walks every 30 s: waits double up to that, so the fifth is 16 s.
    const mesh = { walkIntervalMs: 30_000 }
    const [a, b] = await twoMembers(key, 'waits', mesh, store, nodes)
    const c = await startInProcessNode({ key, cluster: 'waits', mesh })
    nodes.push(c)
    const self = b.libp2p.peerId.toString()
    // A key placement gives b both before c joins (two members, two replicas) and after, ranked first (so b still
    // fetches it: a's copy stands in for the lower pick when placement leaves a out).
    const after3 = new Placement([a, b, c].map(n => n.libp2p.peerId.toString()))
    const name = Array.from({ length: 64 }, (_, i) => `w${i}`).find(k => after3.replicas('bkt', k, 1)[0] === self)!
    store.failCopies = 1_000
    const written = await put(a, name, 'b has no room for this yet')
    assert.equal(written.replicas, 1, 'b refused the copy (the precondition)')
    // The push, then fetches 1 s, 2 s, 4 s and 8 s apart: the next waits 16 s.
    await until('the push and five fetches failed', () => store.refused.length >= 6, 25_000)
    const tries = store.refused
    const gaps = tries.slice(2).map((t, i) => t - tries[i + 1]!)
    assert.ok(gaps[0]! >= 950 && gaps[1]! >= 1_950 && gaps[2]! >= 3_950 && gaps[3]! >= 7_950, `waits of 1 s, 2 s, 4 s, 8 s (the precondition: the next is 16 s): ${gaps.join(', ')} ms`)
    const failed = tries[5]!
    store.failCopies = 0
    assert.equal(await c.transport.join([a.libp2p.getMultiaddrs()[0]!.toString()]), 1)
    await until('b fetched the version', async () => await holdsCopy(b, store, name), 10_000)
    const took = Date.now() - failed
    assert.ok(took < 10_000, `fetched ${took} ms after the last failure: the join ended the 16 s wait`)
    assert.equal(store.refused.length, 6, 'no try failed in between')
  })

  it('a fetch that runs long is not started again by the walks that meet it meanwhile (counted repaired once)', async () => {
    const store = new FailingCopies()
    // Quiet walks every 1.5 s: two or three meet the fetch while it runs for 4 s.
    const [a, b] = await twoMembers(key, 'slow', { walkIntervalMs: 1_500 }, store, nodes)
    await put(a, 'first', 'settles the bucket')
    await new Promise(resolve => setTimeout(resolve, 6_000))
    const walks = countWalks(b)
    const repaired = b.mesh.stats.repaired
    // The push is refused; b's first fetch then takes 4 s.
    store.failCopies = 1
    store.slowCopies = 1
    store.slowMs = 4_000
    const begun = store.begun
    const written = await put(a, 'slow', 'b takes long to store this')
    assert.equal(written.replicas, 1, 'b refused the copy (the precondition)')
    await until('b fetched the version', async () => await holdsCopy(b, store, 'slow'), 10_000)
    assert.equal(store.slowCopies, 0, 'the fetch was slow (the precondition)')
    assert.ok(walks() >= 2, `walks met the fetch while it ran (the precondition): ${walks()}`)
    assert.equal(store.begun - begun, 2, 'the push and one fetch')
    assert.equal(b.mesh.stats.repaired - repaired, 1, 'one fetch, counted once')
  })
})

describe('the repair loop\'s owed fetches', () => {
  const nodes: InProcessNode[] = []
  const key = Keyring.generateKey()
  after(async () => {
    for (const n of nodes) await n.stop()
  })

  /**
   * Two members, b fetching one copy at a time and running no pass of its own (repairIntervalMs of ten minutes):
   * six writes through a whose pushes b refuses (`store` set up for them), once b has heard of all six. Returns a
   * pass of b's that is not counted, and a count of the passes run otherwise from then on.
   */
  async function sixRefused (cluster: string, store: FailingCopies): Promise<{ b: InProcessNode, keys: string[], held: () => Promise<number>, pass: () => void, passes: () => number }> {
    const [a, b] = await twoMembers(key, cluster, { walkIntervalMs: 60_000, repairIntervalMs: 600_000, repairConcurrency: 1 }, store, nodes)
    const keys = Array.from({ length: 6 }, (_, i) => `${cluster}${i}`)
    for (const k of keys) assert.equal((await put(a, k, `${cluster} ${k}`)).replicas, 1, `b refused the copy of ${k} (the precondition)`)
    await until('b heard of all six', () => keys.every(k => b.mesh.catalog.get('bkt', k) !== undefined), 10_000)
    const upkeep = b.mesh.upkeep
    const pass = upkeep.pass.bind(upkeep)
    let passes = 0
    upkeep.pass = () => { passes++; pass() }
    const held = async (): Promise<number> => (await Promise.all(keys.map(async k => await holdsCopy(b, store, k)))).filter(Boolean).length
    return { b, keys, held, pass, passes: () => passes }
  }

  it('fetches beyond repairConcurrency start as each one before ends, with no pass or walk to start them', async () => {
    const store = new FailingCopies()
    // b refuses the six pushes; its fetches of them then take 300 ms each.
    store.failCopies = 6
    store.slowCopies = 6
    store.slowMs = 300
    const { b, held, pass, passes } = await sixRefused('owed', store)
    assert.equal(store.failCopies, 0, 'all six pushes were refused (the precondition)')
    assert.equal(store.slowCopies, 6, 'no fetch began before the pass (the precondition)')
    // The one pass: it starts one fetch and owes the other five.
    pass()
    const walks = countWalks(b)
    await until('b fetched all six', async () => await held() === 6, 15_000)
    assert.equal(store.slowMost, 1, 'one fetch at a time (repairConcurrency)')
    const made = store.slowMade
    assert.equal(made.length, 6, 'six fetches')
    const gaps = made.slice(1).map((t, i) => t - made[i]!)
    assert.ok(gaps.every(g => g < 5_000), `each fetch started as the one before ended (300 ms each): ${gaps.join(', ')} ms apart`)
    assert.equal(passes(), 0, 'no other pass ran: the owed fetches started as fetches ended')
    assert.equal(walks(), 0, 'no walk looked for them')
  })

  it('an owed fetch that fails does not hold up the rest: the next starts a tenth of a second later, with no pass', async () => {
    const store = new FailingCopies()
    // b refuses the six pushes and its first fetch; the next fetches take 100 ms each.
    store.failCopies = 7
    store.slowCopies = 5
    store.slowMs = 100
    const { held, pass, passes } = await sixRefused('failing', store)
    pass()
    await until('b fetched five of the six', async () => await held() === 5, 10_000)
    assert.equal(store.refused.length, 7, 'the six pushes and one fetch were refused (the precondition)')
    assert.equal(passes(), 0, 'no other pass ran: the fetches after the failed one started by themselves')
    // The failed one waits for its retry (1 s), which a pass starts.
    pass()
    await new Promise(resolve => setTimeout(resolve, 1_100))
    pass()
    await until('b fetched the sixth once its wait ended', async () => await held() === 6, 10_000)
  })
})

describe('an owner telling a member of a copy it lacks (the catalog partitioned: four members, three owners a bucket)', () => {
  const nodes: InProcessNode[] = []
  const key = Keyring.generateKey()
  // d's disk is full until a test says otherwise.
  const store = new FailingCopies()
  let d: InProcessNode
  /** The others' stores: they refuse copies while a write is made, so that no spare takes d's (it would stand in for d's). */
  const others = [new FailingCopies(), new FailingCopies(), new FailingCopies()]
  /** Writes `name` with d lacking its copy and no spare taking it: the writer's copy alone. */
  const putWithoutSpare = async (writer: InProcessNode, name: string, text: string): Promise<void> => {
    for (const o of others) o.failCopies = 1_000
    try {
      assert.equal((await put(writer, name, text)).replicas, 1, 'd and the spares refused the copy (the precondition)')
    } finally {
      for (const o of others) o.failCopies = 0
    }
  }
  /** A key placement gives d (two replicas), and the other member it gives it to. */
  const placedOnD = (prefix: string): { name: string, writer: InProcessNode } => {
    const ids = nodes.map(n => n.libp2p.peerId.toString())
    const placement = new Placement(ids)
    const name = Array.from({ length: 64 }, (_, i) => `${prefix}${i}`).find(k => placement.replicas('bkt', k, 2).includes(ids[3]!))!
    return { name, writer: nodes[ids.indexOf(placement.replicas('bkt', name, 2).find(id => id !== ids[3])!)]! }
  }
  after(async () => {
    for (const n of nodes) await n.stop()
  })

  it('a member that cannot take its copy (a full disk) is not told at every pass: the owners stay quiet; it fetches the copy once it can', async () => {
    // Quiet walks every 30 s: telling d at every walk used to make the owners walk at every pass (300 ms).
    const mesh = { walkIntervalMs: 30_000 }
    store.failCopies = 1_000
    for (const o of others) nodes.push(await startInProcessNode({ key, cluster: 'told', mesh, store: o }))
    d = await startInProcessNode({ key, cluster: 'told', mesh, store })
    nodes.push(d)
    const seed = nodes[0]!.libp2p.getMultiaddrs()[0]!.toString()
    for (const n of nodes.slice(1)) assert.equal(await n.transport.join([seed]), 1)
    await until('four alive everywhere, the catalog partitioned', () => nodes.every(n => n.transport.membership.list().filter(m => m.state === 'alive').length === 4 && n.mesh.durableMembers().length === 4 && n.mesh.partition.partitioned), 20_000)
    await nodes[0]!.mesh.store.createBucket('bkt')
    await until('every member has the bucket', () => nodes.every(n => n.mesh.catalog.get('bkt') !== undefined), 10_000)
    const self = d.libp2p.peerId.toString()
    const { name, writer } = placedOnD('t')
    await putWithoutSpare(writer, name, 'd has no room for this')
    const owners = nodes.filter(n => n !== d && n.mesh.partition.owns('bkt'))
    assert.ok(owners.length >= 2, 'two owners or three besides d')
    // Settled (a write on its way calls for a walk 5 s after it), then watched for 4.5 s.
    await new Promise(resolve => setTimeout(resolve, 6_000))
    const walks = owners.map(countWalks)
    const refused = store.refused.length
    await new Promise(resolve => setTimeout(resolve, 4_500))
    assert.ok(owners.every(o => !o.mesh.catalog.get('bkt', name)!.holders.includes(self)), 'd still lacks its copy (the precondition)')
    assert.ok(store.refused.length - refused >= 1, `d kept trying by itself meanwhile (the precondition): ${store.refused.length - refused} tries`)
    // A walk at every pass (300 ms) would be about fifteen in 4.5 s.
    for (const w of walks) assert.ok(w() <= 2, `an owner did not walk at every pass (${walks.map(x => x()).join(', ')} walks in 4.5 s)`)
    store.failCopies = 0
    await until('d fetched its copy once it could', async () => owners.every(o => o.mesh.catalog.get('bkt', name)?.holders.includes(self) === true) && (await store.headObject('bkt', name).then(() => true, () => false)), 15_000)
  })

  it('a member that does not answer is told again after 1 s, 2 s, 4 s (not dropped until the next walk, 30 s off)', async () => {
    store.failCopies = 1_000
    const self = d.libp2p.peerId.toString()
    const { name, writer } = placedOnD('u')
    // Every owner's tellings of d of this key fail, as they would to a member that does not answer (a non-owner's
    // hand-over to d, if d owns the bucket, is neither refused nor counted).
    const owners = new Set(nodes.filter(n => n !== d && n.mesh.partition.owns('bkt')).map(n => n.mesh.query))
    const merge = CatalogQuery.prototype.merge
    const calls = new Map<CatalogQuery, number[]>()
    CatalogQuery.prototype.merge = async function (this: CatalogQuery, peer, entries, signal) {
      if (peer !== self || !owners.has(this) || !entries.some(e => e.key === name)) return await merge.call(this, peer, entries, signal)
      calls.set(this, [...(calls.get(this) ?? []), Date.now()])
      throw new Error('no answer')
    }
    try {
      await putWithoutSpare(writer, name, 'd is told of this')
      // Told at once, then after 1 s, 2 s and 4 s (and the passes between): about 8 s.
      await until('an owner told d four times', () => [...calls.values()].some(t => t.length >= 4), 15_000)
      for (const times of calls.values()) {
        if (times.length < 4) continue
        const gaps = times.slice(1).map((t, i) => t - times[i]!)
        // Without the waits: once when the write arrived, once more at the walk 5 s after it, then not for 30 s.
        assert.ok(gaps[0]! >= 950 && gaps[1]! >= 1_950 && gaps[2]! >= 3_950, `told again after 1 s, 2 s, 4 s: ${gaps.join(', ')} ms`)
      }
    } finally {
      CatalogQuery.prototype.merge = merge
      store.failCopies = 0
    }
  })
})
