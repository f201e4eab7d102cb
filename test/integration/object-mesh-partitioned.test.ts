/**
 * The catalog partitioned by bucket, in-process over real libp2p: five
 * durable members, each bucket's part of the catalog kept by three of them.
 * Every member lists and reads every object (through the owners when it is
 * not one), keeps only what it owns, holds or should hold, and when owners
 * crash (gone with what they held), the members that become owners take the
 * partition from the remaining one before they answer for it: no entry lost.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { bucketTopic } from '../../src/core/mesh/announcer.js'
import type { CatalogEntry } from '../../src/core/mesh/catalog-entry.js'
import { isS3Error } from '../../src/core/errors.js'
import { versionIdOf } from '../../src/core/versioning.js'
import { Keyring } from '../../src/core/wire/keyring.js'
import { streamOfBytes } from '../../src/core/streams.js'
import { startInProcessNode, type InProcessNode as TestNode } from '../helpers/in-process-mesh.js'
import { until } from '../helpers/until.js'

const BUCKETS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot']
const PER_BUCKET = 30
/** How long a gone owner keeps its buckets (MeshConfig.ownerGraceMs; a minute by default). */
const GRACE_MS = 4_000

const idOf = (n: TestNode): string => n.libp2p.peerId.toString()
const put = async (n: TestNode, bucket: string, key: string): Promise<void> => {
  const bytes = new TextEncoder().encode(`${bucket}/${key}`)
  await n.mesh.store.putObject(bucket, key, streamOfBytes(bytes), { metadata: { user: {} }, size: bytes.byteLength })
}
const listed = async (n: TestNode, bucket: string): Promise<string[]> => (await n.mesh.store.listObjects(bucket, { limit: 1000 })).objects.map(o => o.key)
const objectsIn = (n: TestNode, bucket: string): string[] => [...n.mesh.catalog.entries(bucket)].filter(e => e.key !== undefined && !e.deleted).map(e => e.key!)

describe('the catalog partitioned by bucket', () => {
  const nodes: TestNode[] = []
  after(async () => { for (const n of nodes) await n.stop() })
  const live = (): TestNode[] => nodes.filter(n => !dead.has(n))
  const dead = new Set<TestNode>()
  const keys = Array.from({ length: PER_BUCKET }, (_, i) => `k${String(i).padStart(3, '0')}`)

  it('five members, three owners a bucket: every member lists and reads everything, and keeps only its part', async () => {
    const key = Keyring.generateKey()
    // Three copies of each object: two members crashing together below leave every object a copy.
    for (let i = 0; i < 5; i++) nodes.push(await startInProcessNode({ key, cluster: 'parted', mesh: { replicas: 3, writeQuorum: 2, ownerGraceMs: GRACE_MS } }))
    const seed = nodes[0]!.libp2p.getMultiaddrs()[0]!.toString()
    for (const n of nodes.slice(1)) assert.equal(await n.transport.join([seed]), 1)
    await until('five alive everywhere', () => nodes.every(n => n.transport.membership.list().filter(m => m.state === 'alive').length === 5), 20_000)
    await until('every member sees five durable members', () => nodes.every(n => n.mesh.durableMembers().length === 5 && n.mesh.partition.partitioned), 10_000)
    for (const b of BUCKETS) await nodes[0]!.mesh.store.createBucket(b)
    await until('every member has every bucket', () => nodes.every(n => BUCKETS.every(b => n.mesh.catalog.get(b) !== undefined)), 10_000)
    for (const b of BUCKETS) for (const [i, k] of keys.entries()) await put(nodes[i % 5]!, b, k)

    for (const b of BUCKETS) {
      const owners = nodes.filter(n => n.mesh.partition.owns(b))
      assert.equal(owners.length, 3, `${b}: three owners`)
      assert.ok(nodes.every(n => n.mesh.partition.owners(b).join() === nodes[0]!.mesh.partition.owners(b).join()), `${b}: every member names the same owners`)
      await until(`${b}: every owner keeps every entry`, () => owners.every(o => objectsIn(o, b).length === PER_BUCKET), 20_000)
      const summaries = (await owners[0]!.mesh.store.listObjects(b, { limit: 1000 })).objects
      assert.ok(summaries.every(o => o.size > 0 && o.etag.length === 32 && o.lastModified.getTime() > 0), `${b}: an owner lists sizes, ETags and dates`)
      for (const n of nodes) {
        assert.deepEqual(await listed(n, b), keys, `${b} listed whole by ${idOf(n)}${n.mesh.partition.owns(b) ? ' (an owner)' : ' (through the owners)'}`)
        assert.deepEqual((await n.mesh.store.listObjects(b, { limit: 1000 })).objects, summaries, `${b}: ${idOf(n)} lists what an owner does, sizes, ETags and dates included`)
        assert.equal(new TextDecoder().decode(await new Response((await n.mesh.store.openObject(b, 'k007')).stream()).arrayBuffer()), `${b}/k007`)
      }
    }
    // A non-owner keeps a part: what it holds, or placement gives it. Never all of a bucket it does not own.
    let kept = 0
    let notOwned = 0
    for (const n of nodes) {
      for (const b of BUCKETS) {
        if (n.mesh.partition.owns(b)) continue
        notOwned++
        for (const e of n.mesh.catalog.entries(b)) {
          if (e.key === undefined) continue
          kept++
          assert.ok(n.mesh.partition.keeps(e), `${idOf(n)} keeps ${b}/${e.key} only as a holder or a placement target`)
        }
      }
    }
    assert.ok(notOwned > 0)
    assert.ok(kept < notOwned * PER_BUCKET, `the non-owners keep ${kept} entries of the ${notOwned * PER_BUCKET} in buckets they do not own`)
  })

  it('a locate that heard of an entry the owners have not taken in yet answers with it; a newer one at the owners wins', async () => {
    const nonOwner = nodes.find(n => !n.mesh.partition.owns('alpha'))!
    const object = { size: 1, etag: '"e"', sha256: 'a'.repeat(64), lastModified: Date.now(), metadata: { user: {} }, tags: {} }
    const heard = { bucket: 'alpha', key: 'heard-only', version: { ms: Date.now(), counter: 0, node: idOf(nonOwner) }, deleted: false, holders: [idOf(nonOwner)], object }
    assert.equal((await nonOwner.mesh.locate('alpha', 'heard-only')).entry, undefined, 'the owners do not know it')
    assert.deepEqual((await nonOwner.mesh.locate('alpha', 'heard-only', undefined, heard)).entry, heard, 'what was heard answers')
    const older = { ...heard, key: keys[0]!, version: { ms: 1, counter: 0, node: idOf(nonOwner) } }
    const found = (await nonOwner.mesh.locate('alpha', keys[0]!, undefined, older)).entry
    assert.ok(found !== undefined && found.version.ms > 1, 'the owners\' newer version wins over an older one heard')
  })

  it('what a member keeps of buckets it does not own goes to the owners once, then only when it changes; handed again after a cut, it goes by fingerprint', async () => {
    // The catalog here is small: a repair cycle is one pass (a second), so three seconds are three cycles.
    // A member may own every bucket (three owners of five, six buckets): it has nothing to hand over.
    const handing = nodes.filter(n => BUCKETS.some(b => !n.mesh.partition.owns(b) && objectsIn(n, b).length > 0))
    assert.ok(handing.length > 0, 'precondition: some members keep entries of buckets they do not own')
    await until('each member that keeps some has handed its entries over once', () => handing.every(n => n.mesh.stats.handedOver > 0), 10_000)
    await new Promise(resolve => setTimeout(resolve, 2_500))
    const before = nodes.map(n => n.mesh.stats.handedOver)
    await new Promise(resolve => setTimeout(resolve, 3_000))
    assert.deepEqual(nodes.map(n => n.mesh.stats.handedOver), before, 'nothing changed: nothing handed over again')
    // Back from a cut (counted by its durable members, as a rejoin without a restart), a member hands over all it
    // keeps again, as after a start: by fingerprint. The owners have its entries, so nearly none goes whole (one may
    // differ in its holders: a non-owner does not hear every claim of a copy made elsewhere).
    const bucket = BUCKETS[0]!
    const writer = nodes.find(n => !n.mesh.partition.owns(bucket))!
    const kept = BUCKETS.filter(b => !writer.mesh.partition.owns(b)).reduce((n, b) => n + [...writer.mesh.catalog.entries(b)].filter(e => e.key !== undefined).length, 0)
    assert.ok(kept > 0, 'precondition: the member keeps entries of buckets it does not own')
    const [handed, whole] = [writer.mesh.stats.handedOver, writer.mesh.stats.handedWhole]
    Reflect.get(writer.mesh, 'durable').rejoins++
    await until('everything kept handed over again', () => writer.mesh.stats.handedOver >= handed + kept, 10_000)
    const sentWhole = writer.mesh.stats.handedWhole - whole
    assert.ok(sentWhole * 10 <= kept, `the owners had the ${kept} entries: ${sentWhole} went whole, the rest as fingerprints`)
    await new Promise(resolve => setTimeout(resolve, 1_500))
    // A new version of an object a non-owner holds: that one entry goes to the owners.
    const baseline = writer.mesh.stats.handedOver
    await put(writer, bucket, 'k001')
    await until('the changed entry handed over', () => writer.mesh.stats.handedOver > baseline, 10_000)
    await new Promise(resolve => setTimeout(resolve, 2_500))
    assert.ok(writer.mesh.stats.handedOver - baseline <= 2, `one changed entry (and the claim that follows it), not the ${objectsIn(writer, bucket).length} kept`)
  })

  it('an owner compares fingerprints: it names the entries it has otherwise or not at all; a member that does not own the bucket refuses', async () => {
    const bucket = BUCKETS[1]!
    const asker = nodes.find(n => !n.mesh.partition.owns(bucket))!
    const owner = nodes.find(n => n.mesh.partition.owns(bucket))!
    const same = owner.mesh.catalog.get(bucket, keys[3]!)!
    const other = { ...owner.mesh.catalog.get(bucket, keys[4]!)!, holders: ['12D3KooWnobody'] }
    const unknown = { ...same, key: 'never-written' }
    const differ = await asker.mesh.query.differing(idOf(owner), bucket, [same, other, unknown])
    assert.deepEqual(differ.map(e => e.key), [keys[4], 'never-written'], 'the same entry is left out; other holders and an unknown key are named')
    const otherNonOwner = nodes.find(n => n !== asker && !n.mesh.partition.owns(bucket))!
    await assert.rejects(asker.mesh.query.differing(idOf(otherNonOwner), bucket, [same]), /does not own/)
  })

  it('a write is announced to its bucket\'s owners and followers only; a member holding a key of a bucket it does not own hears of its delete from the leading owner', async () => {
    // A bucket of its own: the test after this one counts the others' objects.
    const bucket = 'golf'
    await nodes[0]!.mesh.store.createBucket(bucket)
    await until('every member has the bucket', () => nodes.every(n => n.mesh.catalog.get(bucket) !== undefined), 10_000)
    const owners = nodes.filter(n => n.mesh.partition.owns(bucket))
    const others = nodes.filter(n => !n.mesh.partition.owns(bucket))
    assert.equal(others.length, 2, 'precondition: two members do not own the bucket')
    const topic = bucketTopic('parted', bucket)
    const everyone = nodes[0]!.mesh.announcer.topic
    // What each member's gossipsub delivers, by topic (it delivers only topics the member subscribes to).
    const heard = nodes.map(() => ({ bucket: 0, everyone: 0 }))
    const listeners = nodes.map((n, i) => {
      const l = (e: CustomEvent<{ topic: string }>): void => { if (e.detail.topic === topic) heard[i]!.bucket++; else if (e.detail.topic === everyone) heard[i]!.everyone++ }
      n.libp2p.services.pubsub.addEventListener('message', l)
      return () => { n.libp2p.services.pubsub.removeEventListener('message', l) }
    })
    try {
      const writer = owners[0]!
      const subscribers = (n: TestNode): Set<string> => new Set(n.libp2p.services.pubsub.getSubscribers(topic).map(p => p.toString()))
      await until('the writer knows every other owner listens to the bucket\'s topic', () => owners.every(o => o === writer || subscribers(writer).has(idOf(o))), 10_000)
      assert.ok(others.every(n => !n.mesh.announcer.hears(bucket) && !subscribers(writer).has(idOf(n))), 'the other members do not listen to it')
      for (let i = 0; i < 10; i++) await put(writer, bucket, `fresh-${i}`)
      await until('every other owner heard the writes on the bucket\'s topic', () => owners.every(o => o === writer || heard[nodes.indexOf(o)]!.bucket > 0), 10_000)
      await until('every owner keeps the ten entries', () => owners.every(o => Array.from({ length: 10 }, (_, i) => o.mesh.catalog.get(bucket, `fresh-${i}`)).every(e => e?.deleted === false)), 10_000)
      await new Promise(resolve => setTimeout(resolve, 500))
      for (const n of others) assert.deepEqual(heard[nodes.indexOf(n)], { bucket: 0, everyone: 0 }, `${idOf(n)} (not an owner) heard none of the writes`)

      // A member that follows the bucket (a guest's page, a blocking locate) hears its writes, and stops when it unfollows.
      const follower = others[0]!
      const unfollow = follower.mesh.follow(bucket)
      await until('the writer knows the follower listens', () => subscribers(writer).has(idOf(follower)), 10_000)
      await put(writer, bucket, 'fresh-10')
      await until('the follower heard the write', () => heard[nodes.indexOf(follower)]!.bucket > 0, 10_000)
      unfollow()
      assert.equal(follower.mesh.announcer.hears(bucket), false, 'unfollowed')

      // A key of the bucket held by a member that does not own it: deleted through an owner, it goes from that member too.
      const all = Array.from({ length: 11 }, (_, i) => `fresh-${i}`)
      const held = others.flatMap(n => all.filter(k => n.mesh.catalog.get(bucket, k)?.holders.includes(idOf(n)) === true).map(k => ({ n, k })))[0]
      assert.ok(held !== undefined, 'precondition: a member that does not own the bucket holds one of its keys')
      const { n: holder, k } = held
      await holder.mesh.copies.store.headObject(bucket, k)
      const leader = owners.find(o => o.mesh.partition.leads(bucket))!
      const noticesBefore = leader.mesh.notices.stats.sent
      const heardBefore = { ...heard[nodes.indexOf(holder)]! }
      await owners[owners.length - 1]!.mesh.store.deleteObject(bucket, k)
      await until('the holder\'s catalog has the delete', () => holder.mesh.catalog.get(bucket, k)?.deleted === true, 10_000)
      await until('the holder\'s copy is gone', async () => await holder.mesh.copies.store.headObject(bucket, k).then(() => false, () => true), 10_000)
      assert.ok(leader.mesh.notices.stats.sent > noticesBefore, 'the leading owner told it')
      assert.equal(heard[nodes.indexOf(holder)]!.everyone, heardBefore.everyone, 'not an announcement to every member')
    } finally {
      for (const stop of listeners) stop()
    }
  })

  it('a member that does not own a bucket lists its versions and delete markers as an owner does, through the owners', async () => {
    const bucket = 'hotel'
    await nodes[0]!.mesh.store.createBucket(bucket)
    await until('every member has hotel', () => nodes.every(n => n.mesh.catalog.get(bucket) !== undefined), 10_000)
    const owners = nodes.filter(n => n.mesh.partition.owns(bucket))
    const asker = nodes.find(n => !n.mesh.partition.owns(bucket))!
    const t = Date.now()
    const slot = (key: string, ms: number, deleted = false): CatalogEntry => ({ bucket, key, versionId: versionIdOf(t + ms, 0, 'n1'), version: { ms: t + ms, counter: 0, node: idOf(asker) }, deleted, ...(deleted ? {} : { marker: true as const }), holders: [] })
    const entries = [slot('gone', 1), slot('gone', 2, true), slot('gone', 3), slot('also', 4)]
    // Handed to each owner over the wire, as a hand-over would: the slots travel in their own list, and the answer is per slot.
    for (const o of owners) assert.deepEqual(await asker.mesh.query.merge(idOf(o), entries), entries, `${idOf(o)} answers with each slot as it now has it`)
    const whole = owners[0]!.mesh.catalog.versionPage(bucket, { limit: 100 })
    assert.deepEqual(whole.versions.map(r => [r.entry.key, r.entry.versionId, r.latest]), [['also', entries[3]!.versionId, true], ['gone', entries[2]!.versionId, true], ['gone', entries[0]!.versionId, false]], 'the owner lists markers newest first, the removed version left out')
    assert.ok(owners.every(o => JSON.stringify(o.mesh.catalog.versionPage(bucket, { limit: 100 })) === JSON.stringify(whole)), 'every owner lists the same')
    const asked = asker.mesh.query.stats.asked
    assert.deepEqual(await asker.mesh.partition.versionPage(bucket, { limit: 100 }), whole, 'the asker lists what an owner does')
    assert.equal(asker.mesh.query.stats.asked, asked + 1, 'asked of an owner')
    assert.deepEqual(await asker.mesh.partition.versionPage(bucket, { limit: 2 }), { versions: whole.versions.slice(0, 2), isTruncated: true })
    assert.deepEqual(await asker.mesh.partition.versionPage(bucket, { keyMarker: 'gone', versionIdMarker: entries[2]!.versionId, limit: 10 }), { versions: whole.versions.slice(2), isTruncated: false })
    assert.deepEqual((await asker.mesh.store.listObjects(bucket, { limit: 100 })).objects, [], 'delete markers are not objects')
  })

  it('a versioned bucket: versions written by members that do not own it are read by id, listed and deleted through the owners by every member', async () => {
    const bucket = 'india'
    await nodes[0]!.mesh.store.createBucket(bucket)
    await until('every member has the bucket', () => live().every(n => n.mesh.catalog.get(bucket) !== undefined), 10_000)
    await nodes[0]!.mesh.store.setBucketVersioning!(bucket, 'Enabled')
    await until('every member hears versioning is on', () => live().every(n => n.mesh.catalog.get(bucket)?.versioning === 'Enabled'), 10_000)
    const outsiders = live().filter(n => !n.mesh.partition.owns(bucket))
    assert.equal(outsiders.length, 2, 'precondition: two members do not own the bucket')
    const text = async (n: TestNode, key: string, versionId?: string): Promise<string> =>
      new TextDecoder().decode(await new Response((await n.mesh.store.openObject(bucket, key, versionId === undefined ? undefined : { versionId })).stream()).arrayBuffer())
    const write = async (n: TestNode, key: string, body: string): Promise<string> =>
      (await n.mesh.store.putObject(bucket, key, streamOfBytes(new TextEncoder().encode(body)), { metadata: { user: {} }, size: body.length })).versionId!
    const v1 = await write(outsiders[0]!, 'doc', 'one')
    const v2 = await write(outsiders[1]!, 'doc', 'two!')
    for (const n of live()) {
      await until(`${idOf(n)} reads the newest version`, async () => await text(n, 'doc') === 'two!', 10_000)
      assert.equal(await text(n, 'doc', v1), 'one', `${idOf(n)} reads the older one by its id`)
      assert.deepEqual((await n.mesh.store.listObjectVersions!(bucket, { limit: 10 })).versions.map(v => [v.versionId, v.isLatest]), [[v2, true], [v1, false]])
    }
    const marker = (await outsiders[0]!.mesh.store.deleteObject(bucket, 'doc'))!
    const behindMarker = async (n: TestNode): Promise<boolean> => await n.mesh.store.headObject(bucket, 'doc').then(() => false, (err: unknown) => isS3Error(err, 'NoSuchKey') && err.headers?.['x-amz-delete-marker'] === 'true')
    for (const n of live()) await until(`${idOf(n)} finds the key behind its marker`, async () => await behindMarker(n), 10_000)
    await assert.rejects(outsiders[1]!.mesh.store.deleteBucket(bucket), (err: unknown) => isS3Error(err, 'BucketNotEmpty'), 'versions and a marker are left')
    for (const id of [marker.versionId!, v2, v1]) await outsiders[1]!.mesh.store.deleteObject(bucket, 'doc', { versionId: id })
    await until('the owners count no version left', () => live().filter(n => n.mesh.partition.owns(bucket)).every(n => n.mesh.catalog.versionTotals(bucket).versions === 0), 10_000)
    await outsiders[0]!.mesh.store.deleteBucket(bucket)
  })

  it('object lock: a member that holds a version of a bucket it does not own checks a delete, a lock change and a tag edit against the owners\' entry, not its own', async () => {
    const bucket = 'juliett'
    await nodes[0]!.mesh.store.createBucket(bucket)
    await until('every member has the bucket', () => live().every(n => n.mesh.catalog.get(bucket) !== undefined), 10_000)
    await nodes[0]!.mesh.store.setBucketVersioning!(bucket, 'Enabled')
    await nodes[0]!.mesh.store.setBucketObjectLock!(bucket, {})
    await until('every member hears of the lock', () => live().every(n => n.mesh.catalog.get(bucket)?.objectLock !== undefined), 10_000)
    const outsider = live().find(n => !n.mesh.partition.owns(bucket))!
    const owner = live().find(n => n.mesh.partition.owns(bucket))!
    // Written through a member that does not own the bucket: it holds the version.
    const body = new TextEncoder().encode('evidence')
    const v = (await outsider.mesh.store.putObject(bucket, 'held', streamOfBytes(body), { metadata: { user: {} }, size: body.byteLength })).versionId!
    assert.ok(outsider.mesh.catalog.slot(bucket, 'held', v)?.holders.includes(idOf(outsider)), 'precondition: the outsider holds the version')
    const owners = live().filter(n => n.mesh.partition.owns(bucket))
    await until('the owners have the version', () => owners.every(o => o.mesh.catalog.slot(bucket, 'held', v) !== undefined), 10_000)
    // Its last copy made (three copies: `replicas` above) and handed to the owners: a hand-over still to come would
    // bring back the owners' newer entry.
    await until('the outsider has handed its final entry to the owners', () => (outsider.mesh.catalog.slot(bucket, 'held', v)?.holders.length ?? 0) >= 3 && !outsider.mesh.upkeep.handingOver, 10_000)
    // A legal hold the owners have and the outsider has not heard of yet (a non-owner holder hears of a replaced
    // version, not of every change to it): a new entry version of the slot, with the same holders, handed to the owners only.
    const mine = outsider.mesh.catalog.slot(bucket, 'held', v)!
    const held: CatalogEntry = { ...mine, version: { ...mine.version, ms: mine.version.ms + 1, node: idOf(owner) }, created: mine.created ?? mine.version, object: { ...mine.object!, lock: { legalHold: true } } }
    for (const o of owners) await outsider.mesh.query.merge(idOf(o), [held])
    assert.ok(owners.every(o => o.mesh.catalog.slot(bucket, 'held', v)?.object?.lock?.legalHold === true), 'precondition: the owners have the hold')
    assert.equal(outsider.mesh.catalog.slot(bucket, 'held', v)?.object?.lock, undefined, 'precondition: the outsider\'s own entry has not heard of it')
    await assert.rejects(outsider.mesh.store.deleteObject(bucket, 'held', { versionId: v }), (err: unknown) => isS3Error(err, 'AccessDenied'), 'the delete is checked against the owners\' entry')
    await outsider.mesh.store.setObjectTags(bucket, 'held', { case: '42' }, { versionId: v })
    await outsider.mesh.store.setObjectLock!(bucket, 'held', { retention: { mode: 'GOVERNANCE', until: new Date(Date.now() + 86_400_000) } }, { versionId: v })
    // One change after the other at the outsider, each from the latest entry: the owner ends with all three.
    const atOwner = async (): Promise<unknown[]> => { const h = await owner.mesh.store.headObject(bucket, 'held', { versionId: v }); return [h.lock?.legalHold, h.lock?.retention?.mode, h.tags] }
    await until('the owner has the outsider\'s changes', async () => (await atOwner())[1] === 'GOVERNANCE', 10_000)
    assert.deepEqual(await atOwner(), [true, 'GOVERNANCE', { case: '42' }], 'the tag edit and the retention kept the hold, and the retention the tags')
  })

  it('owners crash and are gone with their data: the new owners take each partition from the one left, and nothing is lost', async () => {
    // Two of alpha's three owners crash at once (a node lost with its disk, and another during the rebalance that follows).
    const owners = nodes.filter(n => n.mesh.partition.owns('alpha'))
    const [first, second] = owners
    const newcomers = nodes.filter(n => !owners.includes(n))
    assert.ok(newcomers.every(n => objectsIn(n, 'alpha').length < PER_BUCKET), 'precondition: the members that will own alpha keep only a part of it now')
    await first!.stop()
    dead.add(first!)
    await new Promise(resolve => setTimeout(resolve, 300))
    await second!.stop()
    dead.add(second!)
    await until('the others see both failed', () => live().every(n => [first!, second!].every(d => n.transport.membership.get(idOf(d))?.state === 'failed')), 20_000)
    const seen = Date.now()
    // Within the grace nothing moves (they may only be restarting): alpha is read through the one owner left.
    for (const n of newcomers) {
      assert.ok(!n.mesh.partition.owns('alpha') && n.mesh.partition.owners('alpha').includes(idOf(first!)), 'within the grace, the gone owners still own alpha')
      assert.deepEqual(await listed(n, 'alpha'), keys, `alpha listed whole by ${idOf(n)} through the owner left`)
    }
    assert.ok(Date.now() - seen < GRACE_MS, 'precondition: those checks ran within the grace')
    // Three durable members left: every member owns every bucket now, and those that did not take the partitions first.
    for (const b of BUCKETS) {
      await until(`${b}: every member left keeps every entry`, () => live().every(n => n.mesh.partition.owns(b) && objectsIn(n, b).length === PER_BUCKET), 30_000)
      for (const n of live()) assert.deepEqual(await listed(n, b), keys, `${b} listed whole by ${idOf(n)}`)
    }
    // And every object still has its bytes somewhere live (the repair loop brings them to two copies).
    await until('no object under-replicated', () => live().every(n => n.mesh.stats.underReplicated === 0), 30_000)
    for (const b of BUCKETS) for (const n of live()) assert.equal(new TextDecoder().decode(await new Response((await n.mesh.store.openObject(b, 'k013')).stream()).arrayBuffer()), `${b}/k013`)
  })

  it('a page of versions asked of an owner comes back in the owner\'s order and flags, a null slot among the others', async () => {
    // Last: the null slot's object has no bytes anywhere, which the repair loop would chase.
    const bucket = 'hotel'
    const [asker, ...others] = live()
    const t = Date.now()
    const object = { size: 1, etag: 'e'.repeat(32), sha256: 'a'.repeat(64), lastModified: t, metadata: { user: {} }, tags: {} }
    const at = (ms: number): { ms: number, counter: number, node: string } => ({ ms: t + ms, counter: 0, node: idOf(asker!) })
    const entries: CatalogEntry[] = [
      { bucket, key: 'mixed', versionId: versionIdOf(t + 10, 0, 'n1'), version: at(10), deleted: false, object, holders: [] },
      { bucket, key: 'mixed', version: at(11), deleted: false, object, holders: [] }, // the null slot: in the message's plain list
      { bucket, key: 'mixed', versionId: versionIdOf(t + 12, 0, 'n1'), version: at(12), marker: true, deleted: false, holders: [] },
    ]
    for (const o of others) await asker!.mesh.query.merge(idOf(o), entries)
    const page = await asker!.mesh.query.versions(bucket, { prefix: 'mixed', limit: 10 })
    assert.deepEqual(page.versions.map(r => [r.entry.versionId ?? 'null', r.latest]), [[entries[2]!.versionId, true], ['null', false], [entries[0]!.versionId, false]], 'newest first, the marker current')
    assert.deepEqual(page, others[0]!.mesh.catalog.versionPage(bucket, { prefix: 'mixed', limit: 10 }))
  })
})
