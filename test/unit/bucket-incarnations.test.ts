/**
 * A bucket deleted and made again, with what a member cut off from the
 * delete wrote into it meanwhile: the bucket's entry says which bucket of
 * its name it is (born) and which were deleted (ended), each object entry
 * which bucket it was made in (incarnation), and the catalog keeps nothing
 * of a deleted one, whatever order entries arrive in (catalog-entry.ts,
 * `predated`).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { encode } from 'cborg'
import fc from 'fast-check'
import { webHashes } from '../../src/core/hashes.js'
import { MemoryStore } from '../../src/core/memory-store.js'
import { decodeCatalogMessage, encodeCatalogMessage } from '../../src/core/mesh/catalog-codec.js'
import { endedWith, MAX_ENDED, mergeEntries, type CatalogEntry } from '../../src/core/mesh/catalog-entry.js'
import { Catalog } from '../../src/core/mesh/catalog.js'
import { HybridClock, type Version } from '../../src/core/mesh/hlc.js'
import { LocalCopies, StaleVersionError } from '../../src/core/mesh/local-copies.js'
import { Reconciler } from '../../src/core/mesh/reconciler.js'
import { adoptLocal } from '../../src/core/mesh/startup.js'
import { streamOfBytes } from '../../src/core/streams.js'
import type { DroppedMessageError } from '../../src/core/wire/strict-cbor.js'
import { idAt } from '../helpers/catalog-slots.js'
import { until } from '../helpers/until.js'

const at = (ms: number, node = 'n1'): Version => ({ ms, counter: 0, node })
const hex = (s: string): string => createHash('sha256').update(s).digest('hex')
/** An object record whose content `seed` names (or whose SHA-256 is `seed`, 64 hex digits). */
const object = (seed: string): NonNullable<CatalogEntry['object']> => {
  const sha256 = /^[0-9a-f]{64}$/.test(seed) ? seed : hex(seed)
  return { size: 1, etag: sha256.slice(0, 32), sha256, lastModified: 0, metadata: { user: {} }, tags: {} }
}
const put = (key: string, ms: number, incarnation?: Version, node = 'n1'): CatalogEntry =>
  ({ bucket: 'bkt', key, version: at(ms, node), deleted: false, object: object(`${key}${ms}`), holders: [node], ...(incarnation === undefined ? {} : { incarnation }) })

// The first bucket, made at 10; written into at 20 and 30 (by n3, cut off from the delete: at 60, after the delete at 50).
const first: CatalogEntry = { bucket: 'bkt', version: at(10), deleted: false, holders: [], born: at(10) }
const before = put('kept-before', 20, at(10))
const cutOff = put('cut-off', 60, at(10), 'n3')
const deleted: CatalogEntry = { bucket: 'bkt', version: at(50), deleted: true, holders: [], ended: endedWith(first)! }
// Made again at 70 by n2, and written into at 80.
const again: CatalogEntry = { bucket: 'bkt', version: at(70, 'n2'), deleted: false, holders: [], born: at(70, 'n2'), ended: [at(10)] }
const afterwards = put('afterwards', 80, at(70, 'n2'), 'n2')
// Its delete at 40 (before the bucket was deleted), a tombstone of the first bucket.
const beforeGone: CatalogEntry = { ...before, version: at(40), deleted: true, holders: [] }
// An object entry of an older release (no incarnation), written before the delete: kept, as before this rule.
const older = put('older-release', 25)

function catalogOf (entries: CatalogEntry[]): Catalog {
  const c = new Catalog()
  for (const e of entries) c.apply(e)
  return c
}

const snapshot = (c: Catalog): unknown => [[...c.entries('bkt')], c.rangeDigests('bkt'), c.bucketTotals('bkt'), c.versionTotals('bkt')]

describe('a bucket deleted and made again', () => {
  it('keeps nothing made in the deleted bucket, a cut-off member\'s late writes included, whatever order entries arrive in (property)', () => {
    const all = [first, before, beforeGone, cutOff, deleted, again, afterwards, older]
    const expected = catalogOf(all)
    // The precondition: without the rule, the cut-off member's write would be listed in the new bucket.
    assert.ok(cutOff.version.ms > deleted.version.ms && cutOff.version.ms < again.version.ms, 'the cut-off write is after the delete and before the bucket was made again')
    assert.deepEqual(expected.page('bkt', { limit: 10 }).entries.map(e => e.key), ['afterwards', 'older-release'])
    assert.deepEqual([...expected.entries('bkt')].map(e => e.key), [undefined, 'afterwards', 'older-release'], 'the deleted bucket\'s entries, tombstones included, are gone')
    assert.deepEqual(expected.bucketTotals('bkt'), { objects: 2, bytes: 2 })
    fc.assert(fc.property(fc.shuffledSubarray(all, { minLength: all.length }), fc.array(fc.nat({ max: all.length - 1 }), { maxLength: 4 }), (order, again) => {
      const c = catalogOf([...order, ...again.map(i => order[i]!)])
      assert.deepEqual(snapshot(c), snapshot(expected))
    }))
  })

  it('still ends the deleted bucket when a member that never heard of the name makes it afterwards, whatever order (property)', () => {
    // n4 never heard of the name (a member that joined on the other side of the cut): its bucket carries no `ended`.
    const unaware: CatalogEntry = { bucket: 'bkt', version: at(75, 'n4'), deleted: false, holders: [], born: at(75, 'n4') }
    const intoIt = put('into-unaware', 85, at(75, 'n4'), 'n4')
    const all = [first, before, cutOff, deleted, unaware, intoIt]
    const expected = catalogOf(all)
    assert.deepEqual(expected.page('bkt', { limit: 10 }).entries.map(e => e.key), ['into-unaware'])
    assert.deepEqual(expected.get('bkt')?.ended, [at(10)], 'the bucket that won keeps the delete\'s list')
    assert.deepEqual(mergeEntries(deleted, unaware), { ...unaware, ended: [at(10)] })
    // A member that missed the delete and heard only of the bucket made after it learns it from a digest.
    assert.notDeepEqual(catalogOf([unaware]).rangeDigests('bkt'), catalogOf([deleted, unaware]).rangeDigests('bkt'))
    fc.assert(fc.property(fc.shuffledSubarray(all, { minLength: all.length }), order => {
      assert.deepEqual(snapshot(catalogOf(order)), snapshot(expected))
    }))
  })

  it('comes back, as it did before, when a member cut off from the delete changed its settings afterwards, and loses nothing of a bucket made again meanwhile (property)', () => {
    // n3, cut off, set CORS rules on the bucket it still had: at 60, before the bucket was made again at 70, or at 75, after.
    const cors = [{ allowedOrigins: ['*'], allowedMethods: ['GET'], allowedHeaders: [], exposeHeaders: [] }]
    for (const changed of [{ ...first, version: at(60, 'n3'), cors }, { ...first, version: at(75, 'n3'), cors }] as CatalogEntry[]) {
      for (const all of [[first, before, cutOff, deleted, changed], [first, before, cutOff, deleted, changed, again, afterwards]]) {
        // The newest wins whole, as ever: the change, or the bucket made again after it.
        const winner = all.includes(again) && again.version.ms > changed.version.ms ? again : changed
        const expected = catalogOf([winner, ...all, ...all])
        assert.deepEqual(expected.page('bkt', { limit: 10 }).entries.map(e => e.key), winner === again ? ['afterwards'] : all.includes(again) ? ['afterwards', 'cut-off', 'kept-before'] : ['cut-off', 'kept-before'])
        fc.assert(fc.property(fc.shuffledSubarray(all, { minLength: all.length }), order => {
          const c = catalogOf(order)
          assert.deepEqual(c.get('bkt'), { ...winner, ended: [at(10)] })
          // A write into the bucket made again is never dropped, whatever came first.
          if (all.includes(afterwards)) assert.ok(c.page('bkt', { limit: 10 }).entries.some(e => e.key === 'afterwards'))
          // What an order dropped before the change came is taken back when sent again (anti-entropy), so every order ends alike.
          for (const e of all) c.apply(e)
          assert.deepEqual(snapshot(c), snapshot(expected))
          // A write into the bucket as it is now (made in it: its born) is kept.
          assert.notEqual(c.apply(put('written-after', 90, winner.born, 'n2')), undefined)
        }))
      }
    }
    // Written into the bucket brought back (over one made again meanwhile), through a member's copies: kept when a
    // later change to the bucket made again wins.
    {
      const catalog = catalogOf([first, deleted, again, { ...first, version: at(75, 'n3'), cors }])
      const copies = new LocalCopies(new MemoryStore(), { self: 'n2', catalog, clock: new HybridClock(), hashes: webHashes, announce: () => {} })
      assert.equal(catalog.get('bkt')?.born, first.born, 'the precondition: the late change brought the deleted bucket back')
      const written = copies.publish(copies.inBucket({ bucket: 'bkt', key: 'into-back', version: at(80, 'n2'), deleted: false, object: object('into-back'), holders: ['n2'] }))
      assert.equal(written.incarnation, undefined, 'a bucket brought back names no bucket its writes were made in')
      catalog.apply({ ...again, version: at(90, 'n1'), cors })
      assert.equal(catalog.get('bkt')?.born, again.born)
      assert.deepEqual(catalog.page('bkt', { limit: 10 }).entries.map(e => e.key), ['into-back'])
    }
    // The bucket brought back, then deleted by a client: what was left of it goes then.
    const back = catalogOf([first, deleted, { ...first, version: at(60, 'n3'), cors }, before, cutOff])
    assert.deepEqual(back.page('bkt', { limit: 10 }).entries.map(e => e.key), ['cut-off', 'kept-before'])
    back.apply({ bucket: 'bkt', version: at(80), deleted: true, holders: [], ended: endedWith(back.get('bkt')!)! })
    assert.deepEqual([...back.entries('bkt')].map(e => e.key), [undefined])
  })

  it('tells what it took out, once, and refuses a late entry of the deleted bucket', () => {
    const c = catalogOf([first, before, cutOff])
    const taken: CatalogEntry[] = []
    c.addEventListener('predated', evt => { taken.push(evt.detail) })
    assert.notEqual(c.apply(deleted), undefined)
    assert.deepEqual(taken.map(e => e.key).sort(), ['cut-off', 'kept-before'])
    assert.equal(c.get('bkt', 'cut-off'), undefined)
    assert.notEqual(c.apply(again), undefined)
    assert.equal(taken.length, 2, 'the bucket made again names no deleted bucket the tombstone did not')
    assert.equal(c.apply(put('late', 90, at(10), 'n3')), undefined, 'a late write into the deleted bucket is not kept')
    assert.equal(c.get('bkt', 'late'), undefined)
    assert.notEqual(c.apply(afterwards), undefined)
  })

  it('keeps both buckets\' objects when the same name was made twice without either knowing (no delete between)', () => {
    const one: CatalogEntry = { bucket: 'bkt', version: at(10), deleted: false, holders: [], born: at(10) }
    const other: CatalogEntry = { bucket: 'bkt', version: at(12, 'n2'), deleted: false, holders: [], born: at(12, 'n2') }
    const entries = [one, put('a', 11, at(10)), other, put('b', 13, at(12, 'n2'), 'n2')]
    for (const order of [entries, [...entries].reverse()]) {
      assert.deepEqual(catalogOf(order).page('bkt', { limit: 10 }).entries.map(e => e.key), ['a', 'b'])
    }
    // Deleted once merged (empty by then), then made again: only the bucket the delete saw is ended, and a leftover of the other stays.
    assert.deepEqual(endedWith(mergeEntries(one, other)), [at(12, 'n2')])
  })

  it('merges buckets\' entries commutatively, associatively and idempotently, deleted buckets included (property)', () => {
    const pool = [at(1), at(2), at(3, 'n2')]
    const arbBucket: fc.Arbitrary<CatalogEntry> = fc.record({
      ms: fc.integer({ min: 4, max: 6 }), node: fc.constantFrom('n1', 'n2'), deleted: fc.boolean(), born: fc.boolean(),
      ended: fc.subarray(pool),
    }).map(({ ms, node, deleted, born, ended }) => ({
      bucket: 'bkt', version: at(ms, node), deleted, holders: [], ...(born && !deleted ? { born: at(ms - 1, node) } : {}), ...(ended.length === 0 ? {} : { ended }),
    }))
    fc.assert(fc.property(arbBucket, arbBucket, arbBucket, (a, b, c) => {
      assert.deepEqual(mergeEntries(a, b), mergeEntries(b, a))
      assert.deepEqual(mergeEntries(mergeEntries(a, b), c), mergeEntries(a, mergeEntries(b, c)))
      assert.deepEqual(mergeEntries(a, a), a)
    }))
  })

  it('remembers the last MAX_ENDED deleted buckets of a name', () => {
    let e: CatalogEntry = first
    for (let i = 0; i < MAX_ENDED + 3; i++) e = { bucket: 'bkt', version: at(100 + 2 * i), deleted: true, holders: [], ended: endedWith({ ...e, born: at(99 + 2 * i) })! }
    assert.equal(e.ended!.length, MAX_ENDED)
    assert.deepEqual(e.ended!.at(-1), at(99 + 2 * (MAX_ENDED + 2)))
  })

  it('merges an entry told with and without these fields (an older release drops them) to the one with them, both ways', () => {
    for (const [full, bare] of [[again, { ...again, born: undefined, ended: undefined }], [afterwards, { ...afterwards, incarnation: undefined }]] as const) {
      const plain = JSON.parse(JSON.stringify(bare)) as CatalogEntry
      assert.deepEqual(mergeEntries(full, plain), full)
      assert.deepEqual(mergeEntries(plain, full), full)
      assert.notEqual(catalogOf([first, plain]).apply(full), undefined, 'the same version with the fields changes the catalog')
    }
  })

  it('carries the fields on the wire, in both lists, and drops them where malformed', () => {
    const versioned: CatalogEntry = { ...afterwards, versionId: idAt(80, 'n2'), key: 'v' }
    assert.deepEqual(decodeCatalogMessage(encodeCatalogMessage([first, deleted, again, afterwards, versioned])).entries, [first, deleted, again, afterwards, versioned])
    const json = (e: CatalogEntry): Record<string, unknown> => JSON.parse(JSON.stringify(e)) as Record<string, unknown>
    const bad = [
      { ...json(afterwards), born: at(70) },
      { ...json(deleted), born: at(10) },
      { ...json(first), born: at(11) },
      { ...json(deleted), ended: [] },
      { ...json(deleted), ended: Array.from({ length: MAX_ENDED + 1 }, (_, i) => at(i)) },
      { ...json(deleted), ended: at(10) },
      { ...json(deleted), ended: [at(51)] },
      { ...json(afterwards), ended: [at(10)] },
      { ...json(again), incarnation: at(70) },
      { ...json(afterwards), incarnation: { ms: -1, counter: 0, node: 'n1' } },
    ]
    for (const e of bad) {
      assert.throws(() => decodeCatalogMessage(encode({ v: 1, kind: 'catalog', entries: [e] })), (err: DroppedMessageError) => err.reason === 'malformed', JSON.stringify(e))
    }
  })
})

describe('a member\'s copies of a deleted bucket\'s objects', () => {
  const bytes = new TextEncoder().encode('written while cut off')
  /** One member's parts (n3, a memory store), as a mesh node puts them together: stopped by `stopping`. */
  const member = (): { stopping: AbortController, store: MemoryStore, catalog: Catalog, clock: HybridClock, copies: LocalCopies, reconciler: Reconciler } => {
    const stopping = new AbortController()
    const store = new MemoryStore()
    const catalog = new Catalog()
    const clock = new HybridClock()
    const copies = new LocalCopies(store, { self: 'n3', catalog, clock, hashes: webHashes, announce: () => {} })
    const reconciler = new Reconciler({ copies, catalog, clock, tombstoneTtlMs: 86_400_000, onDriftRefused: () => {}, stopping: stopping.signal })
    return { stopping, store, catalog, clock, copies, reconciler }
  }
  const sha = createHash('sha256').update(bytes).digest('hex')

  it('go when the delete is heard, and a copy sent to it afterwards is refused', async () => {
    const { stopping, store, catalog, copies, reconciler } = member()
    try {
      const now = Date.now()
      const bucket: CatalogEntry = { bucket: 'bkt', version: at(now - 1000), deleted: false, holders: [], born: at(now - 1000) }
      reconciler.receive([bucket])
      // Written here (the cut-off member) into the bucket as it knew it: the entry says which bucket.
      await store.createBucket('bkt')
      await store.putObject('bkt', 'k', streamOfBytes(bytes), { metadata: { user: {} }, size: bytes.byteLength })
      const written = copies.publish(copies.inBucket({ bucket: 'bkt', key: 'k', version: copies.version(), deleted: false, object: { ...object(sha), size: bytes.byteLength }, holders: ['n3'] }))
      assert.deepEqual(written.incarnation, bucket.born, 'a version made here is in the bucket as this member knows it')
      // One made elsewhere without it (an older release's, or one made in a bucket brought back), passed on here, is told as its maker told it.
      const elsewhere = copies.publish({ bucket: 'bkt', key: 'elsewhere', version: at(now - 800, 'n4'), deleted: false, object: object('elsewhere'), holders: ['n3', 'n4'] })
      assert.equal(elsewhere.incarnation, undefined)
      assert.equal((await store.headObject('bkt', 'k')).size, bytes.byteLength, 'the precondition: the copy is here')

      reconciler.receive([{ bucket: 'bkt', version: at(now - 500, 'n1'), deleted: true, holders: [], ended: [bucket.born!] }])
      await until('the copy made in the deleted bucket is gone', async () => await store.headObject('bkt', 'k').then(() => false, () => true), 5000)
      assert.equal(catalog.get('bkt', 'k'), undefined)
      await until('the deleted bucket\'s folder is gone after it', async () => !(await store.listBuckets()).some(b => b.name === 'bkt'), 5000)

      // Another member's copy of a write into that bucket, arriving late: refused, nothing stored.
      const late: CatalogEntry = { ...written, key: 'late', version: at(now - 700, 'n4'), holders: ['n4'] }
      assert.equal(await copies.storeVersion(late, streamOfBytes(bytes)), undefined)
      await assert.rejects(store.headObject('bkt', 'late'))
      // The same while its bytes arrive as they are written (a replica's copy of a write in progress).
      await assert.rejects(copies.storeStreamed({ bucket: 'bkt', key: 'late', metadata: { user: {} }, tags: {} }, streamOfBytes(bytes), async () => late), StaleVersionError)
      await assert.rejects(store.headObject('bkt', 'late'))
      assert.ok(!(await store.listBuckets()).some(b => b.name === 'bkt'), 'nor the folder made for it: a start would take it for a bucket made after the delete')
    } finally {
      stopping.abort()
    }
  })

  it('go when the delete is heard while their bytes are on their way: the copy is made, then dropped, and nothing is kept', async () => {
    const { stopping, store, catalog, copies, reconciler } = member()
    try {
      const now = Date.now()
      const bucket: CatalogEntry = { bucket: 'bkt', version: at(now - 1000), deleted: false, holders: [], born: at(now - 1000) }
      reconciler.receive([bucket])
      const pushed: CatalogEntry = { bucket: 'bkt', key: 'k', version: at(now - 900, 'n1'), incarnation: bucket.born!, deleted: false, object: { ...object(sha), size: bytes.byteLength }, holders: ['n1'] }
      let send!: ReadableStreamDefaultController<Uint8Array>
      const body = new ReadableStream<Uint8Array>({ start (c) { send = c } })
      const storing = copies.storeVersion(pushed, body)
      send.enqueue(bytes.slice(0, 4))
      await new Promise(resolve => setTimeout(resolve, 20))
      // Heard straight into the catalog: the reconciler would also take the bucket's folder away, failing the copy sooner.
      catalog.apply({ bucket: 'bkt', version: at(now - 500, 'n1'), deleted: true, holders: [], ended: [bucket.born!] })
      assert.equal(catalog.get('bkt')?.deleted, true, 'the precondition: the delete was heard while the copy was on its way')
      send.enqueue(bytes.slice(4))
      send.close()
      assert.equal(await storing, undefined, 'the copy is refused once made')
      await assert.rejects(store.headObject('bkt', 'k'), 'and not kept')
      assert.equal(catalog.get('bkt', 'k'), undefined)
    } finally {
      stopping.abort()
    }
  })

  it('found in a deleted bucket\'s folder at a start (the node was down when it was deleted) are not taken in, nor deleted', async () => {
    const { stopping, store, catalog, clock, copies, reconciler } = member()
    try {
      await store.createBucket('bkt')
      await store.putObject('bkt', 'left', streamOfBytes(bytes), { metadata: { user: {} }, size: bytes.byteLength })
      // Deleted after its folder was made (a folder made later is a bucket of its own).
      await new Promise(resolve => setTimeout(resolve, 5))
      reconciler.receive([{ bucket: 'bkt', version: at(Date.now(), 'n1'), deleted: true, holders: [], ended: [at(Date.now() - 60_000)] }])
      assert.deepEqual(await adoptLocal({ catalog, clock, copies, reconciler, stopping: stopping.signal }), [], 'nothing of the deleted bucket is taken in')
      assert.equal(catalog.get('bkt', 'left'), undefined)
      // Kept on disk: a catalog that lost its last commits may not know of a bucket made again since that holds it.
      await new Promise(resolve => setTimeout(resolve, 50))
      assert.equal((await store.headObject('bkt', 'left')).size, bytes.byteLength)
    } finally {
      stopping.abort()
    }
  })
})
