/** The catalog's merge (a CRDT: any order, any duplication, same result), the hybrid clock and rendezvous placement. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decode, encode } from 'cborg'
import fc from 'fast-check'
import { encodeMessage } from '../../src/core/membership/codec.js'
import { DroppedMessageError } from '../../src/core/wire/strict-cbor.js'
import { decodeCatalogMessage, decodeListingColumns, decodeWriteHead, encodeCatalogMessage, encodeWriteHead, listingColumns, MAX_SENT_TO } from '../../src/core/mesh/catalog-codec.js'
import { Catalog, rangeOf } from '../../src/core/mesh/catalog.js'
import { createdOf, mergeEntries, unite, type CatalogEntry } from '../../src/core/mesh/catalog-entry.js'
import { ClockDriftError, compareVersions, formatVersion, HybridClock, parseVersion } from '../../src/core/mesh/hlc.js'
import { Placement } from '../../src/core/mesh/placement.js'
import { arbSlot, checkAgainstSlots, idAt, slotView } from '../helpers/catalog-slots.js'

const nodes = ['n1', 'n2', 'n3']
const arbEntry: fc.Arbitrary<CatalogEntry> = fc.record({
  bucket: fc.constantFrom('b1', 'b2'),
  key: fc.option(fc.constantFrom('a', 'a/b', 'c', 'é', 'z'), { nil: undefined }),
  version: fc.record({ ms: fc.integer({ min: 0, max: 4 }), counter: fc.integer({ min: 0, max: 2 }), node: fc.constantFrom(...nodes) }),
  deleted: fc.boolean(),
  sha: fc.constantFrom('aa', 'bb'),
  // One version told with other sizes or chunk trees (a broken writer; an older release without trees) still merges alike.
  size: fc.constantFrom(1, 2),
  tree: fc.constantFrom(undefined, 'c'.repeat(64), 'd'.repeat(64)),
  holders: fc.uniqueArray(fc.constantFrom(...nodes, 'n4')).map(h => h.sort()),
}).map(({ sha, size, tree, ...e }) => ({
  ...e,
  version: { ...e.version }, // a plain object, as decoded messages are
  ...(e.deleted || e.key === undefined ? {} : { object: { size, etag: sha, sha256: sha, lastModified: 0, metadata: { user: {} }, tags: {}, ...(tree === undefined ? {} : { tree }) } }),
}))

/** What a catalog says, as plain data, for comparing catalogs. */
function snapshot (c: Catalog): unknown {
  return c.bucketNames().sort().map(b => [b, [...c.entries(b)]])
}

function catalogOf (entries: CatalogEntry[]): Catalog {
  const c = new Catalog()
  for (const e of entries) c.apply(e)
  return c
}

describe('catalog merge', () => {
  it('is commutative, associative and idempotent (property)', () => {
    const same = (a: CatalogEntry, b: CatalogEntry, c: CatalogEntry): void => {
      assert.deepEqual(mergeEntries(a, b), mergeEntries(b, a))
      assert.deepEqual(mergeEntries(mergeEntries(a, b), c), mergeEntries(a, mergeEntries(b, c)))
      assert.deepEqual(mergeEntries(a, a), a)
    }
    // Entries of one bucket and key, as merge sees them.
    fc.assert(fc.property(arbEntry, arbEntry, arbEntry, (a, b, c) => same(a, { ...b, bucket: a.bucket, key: a.key }, { ...c, bucket: a.bucket, key: a.key })), { numRuns: 2000 })
  })

  it('gives one catalog whatever order and duplication entries arrive in (property)', () => {
    fc.assert(fc.property(fc.array(arbEntry, { maxLength: 30 }), fc.array(fc.nat()), (entries, picks) => {
      const shuffled = [...entries]
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = (picks[i] ?? i) % (i + 1)
        ;[shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]
      }
      const duplicated = [...shuffled, ...entries.filter((_, i) => (picks[i] ?? 0) % 2 === 0)]
      const x = catalogOf(duplicated)
      const y = catalogOf(entries)
      assert.deepEqual(snapshot(x), snapshot(y))
      for (const b of ['b1', 'b2']) assert.deepEqual(x.rangeDigests(b), y.rangeDigests(b), 'digests are kept in step with merges')
    }), { numRuns: 500 })
  })

  it('digests tell exactly which key ranges differ', () => {
    const obj = { size: 1, etag: 'e', sha256: 's', lastModified: 1, metadata: { user: {} }, tags: {} }
    const entries = Array.from({ length: 500 }, (_, i): CatalogEntry => ({ bucket: 'b', key: `k${i}`, version: { ms: 1, counter: 0, node: 'n' }, deleted: false, object: obj, holders: ['n'] }))
    const x = catalogOf(entries)
    const y = catalogOf(entries)
    assert.deepEqual(x.digest('b'), y.digest('b'))
    y.apply({ ...entries[7]!, holders: ['m', 'n'] })
    y.apply({ ...entries[9]!, version: { ms: 2, counter: 0, node: 'n' }, deleted: true, object: undefined, holders: [] })
    assert.notDeepEqual(x.digest('b'), y.digest('b'))
    const dx = x.rangeDigests('b')
    const differing = y.rangeDigests('b').flatMap((d, i) => d.a !== dx[i]!.a || d.b !== dx[i]!.b ? [i] : [])
    assert.deepEqual(differing, [...new Set([rangeOf('b', 'k7'), rangeOf('b', 'k9')])].sort((p, q) => p - q))
    for (const r of differing) for (const e of y.rangeEntries('b', r)) x.apply(e)
    assert.deepEqual(x.digest('b'), y.digest('b'), 'exchanging the differing ranges repairs')
    y.forget('b', 'k9')
    x.forget('b', 'k9')
    assert.deepEqual(x.digest('b'), y.digest('b'))
  })

  it('the newer version wins whole; one version unites holders; tombstones hide objects from listings', () => {
    const c = new Catalog()
    const v = (ms: number, node = 'n1'): CatalogEntry['version'] => ({ ms, counter: 0, node })
    const obj = { size: 3, etag: 'e', sha256: 's', lastModified: 1, metadata: { user: {} }, tags: {} }
    assert.ok(c.apply({ bucket: 'b', version: v(1), deleted: false, holders: [] }))
    assert.ok(c.apply({ bucket: 'b', key: 'k', version: v(2), deleted: false, object: obj, holders: ['n1'] }))
    assert.ok(c.apply({ bucket: 'b', key: 'k', version: v(2), deleted: false, object: obj, holders: ['n2'] }))
    assert.equal(c.apply({ bucket: 'b', key: 'k', version: v(2), deleted: false, object: obj, holders: ['n2'] }), undefined, 'nothing new')
    assert.deepEqual(c.get('b', 'k')!.holders, ['n1', 'n2'])
    assert.equal(c.apply({ bucket: 'b', key: 'k', version: v(1, 'n9'), deleted: true, holders: [] }), undefined, 'an older delete loses')
    assert.deepEqual(c.page('b', { limit: 10 }).entries.map(e => e.key), ['k'])
    c.apply({ bucket: 'b', key: 'k', version: v(3), deleted: true, holders: [] })
    c.apply({ bucket: 'b', key: 'j', version: v(3), deleted: false, object: obj, holders: ['n1'] })
    assert.deepEqual(c.page('b', { limit: 10 }).entries.map(e => e.key), ['j'])
    assert.equal(c.objectCount('b'), 1)
    assert.deepEqual(c.listBuckets().map(e => e.bucket), ['b'])
  })

  it('a tag edit made before a newer write or delete of its key was heard of does not undo it, in whatever order they arrive', () => {
    const v = (ms: number, node = 'n1'): CatalogEntry['version'] => ({ ms, counter: 0, node })
    const obj = (sha: string, tags: Record<string, string> = {}): NonNullable<CatalogEntry['object']> => ({ size: 3, etag: sha, sha256: sha, lastModified: 1, metadata: { user: {} }, tags })
    const bucket = { bucket: 'b', version: v(1), deleted: false, holders: [] }
    const first: CatalogEntry = { bucket: 'b', key: 'k', version: v(2), deleted: false, object: obj('old'), holders: ['n1', 'n2'] }
    // Made on n3 at 4, from the entry it had, while a write at 3 (through n1) was still making its copies.
    const edit: CatalogEntry = { ...first, version: v(4, 'n3'), created: first.version, object: obj('old', { a: 'b' }) }
    const written: CatalogEntry = { bucket: 'b', key: 'k', version: v(3), deleted: false, object: obj('new'), holders: ['n1', 'n2'] }
    const deleted: CatalogEntry = { bucket: 'b', key: 'k', version: v(3), deleted: true, holders: [] }
    assert.deepEqual(mergeEntries(first, edit).object?.tags, { a: 'b' }, 'an edit wins over the version it edits')
    for (const later of [written, deleted]) {
      assert.deepEqual(mergeEntries(edit, later), later)
      assert.deepEqual(mergeEntries(later, edit), later)
      for (const order of [[first, edit, later], [first, later, edit], [edit, later, first], [later, edit]]) {
        const c = new Catalog()
        c.apply(bucket)
        for (const e of order) c.apply(e)
        const now = c.slot('b', 'k', undefined)
        assert.equal(now?.deleted, later.deleted, `${later.deleted ? 'the delete' : 'the write'} stays, in order ${order.map(e => e === edit ? 'edit' : e === first ? 'first' : 'later').join(', ')}`)
        assert.equal(now?.object?.sha256, later.object?.sha256)
      }
    }
  })

  it('keeps each bucket\'s objects and bytes through merges, deletes and a cache\'s evictions, without a scan', () => {
    const c = new Catalog()
    const v = (ms: number): CatalogEntry['version'] => ({ ms, counter: 0, node: 'n1' })
    const obj = (size: number): NonNullable<CatalogEntry['object']> => ({ size, etag: 'e', sha256: `s${size}`, lastModified: 1, metadata: { user: {} }, tags: {} })
    c.apply({ bucket: 'b', version: v(1), deleted: false, holders: [] })
    c.apply({ bucket: 'b', key: 'k', version: v(2), deleted: false, object: obj(10), holders: ['n1'] })
    c.apply({ bucket: 'b', key: 'j', version: v(2), deleted: false, object: obj(5), holders: ['n1'] })
    assert.deepEqual(c.bucketTotals('b'), { objects: 2, bytes: 15 })
    c.apply({ bucket: 'b', key: 'k', version: v(3), deleted: false, object: obj(100), holders: ['n1'] })
    assert.deepEqual(c.bucketTotals('b'), { objects: 2, bytes: 105 }, 'a new version replaces its bytes')
    c.apply({ bucket: 'b', key: 'j', version: v(4), deleted: true, holders: [] })
    assert.deepEqual(c.bucketTotals('b'), { objects: 1, bytes: 100 }, 'a delete takes them away')
    c.evict('b', 'k')
    c.evict('b', 'j')
    assert.deepEqual(c.bucketTotals('b'), { objects: 0, bytes: 0 })
    assert.deepEqual([...c.entries('b')].map(e => e.key), [undefined], 'only the bucket\'s own entry stays')
    const fresh = new Catalog()
    for (const e of c.entries('b')) fresh.apply(e)
    assert.deepEqual(c.rangeDigests('b'), fresh.rangeDigests('b'), 'digests in step')
  })

  it('pages past runs of tombstones', () => {
    const c = new Catalog()
    const obj = { size: 1, etag: 'e', sha256: 's', lastModified: 1, metadata: { user: {} }, tags: {} }
    for (let i = 0; i < 100; i++) c.apply({ bucket: 'b', key: `k${String(i).padStart(3, '0')}`, version: { ms: 1, counter: 0, node: 'n' }, deleted: i % 10 !== 0, ...(i % 10 === 0 ? { object: obj } : {}), holders: [] })
    const first = c.page('b', { limit: 3 })
    assert.deepEqual([first.entries.map(e => e.key), first.isTruncated], [['k000', 'k010', 'k020'], true])
    const rest = c.page('b', { startAfter: 'k020', limit: 100 })
    assert.deepEqual([rest.entries.length, rest.isTruncated], [7, false])
  })

  it('unites sorted holder lists', () => {
    assert.deepEqual(unite(['a', 'c'], ['b', 'c', 'd']), ['a', 'b', 'c', 'd'])
    const a = ['a', 'b']
    assert.equal(unite(a, ['b']), a, 'unchanged input returned as is')
  })
})

describe('hybrid logical clock', () => {
  it('never goes backwards, orders after what it has seen, and refuses a clock far ahead', () => {
    let wall = 1000
    const clock = new HybridClock(() => wall, 60_000)
    const t1 = clock.tick()
    wall = 900 // the wall clock steps back
    const t2 = clock.tick()
    assert.ok(t2.ms === 1000 && t2.counter === 1, 'same ms, counter up')
    clock.observe({ ms: 5000, counter: 7 })
    const t3 = clock.tick()
    assert.deepEqual(t3, { ms: 5000, counter: 8 })
    assert.ok(compareVersions({ ...t1, node: 'z' }, { ...t2, node: 'a' }) < 0)
    assert.throws(() => clock.observe({ ms: wall + 60_001, counter: 0 }), ClockDriftError)
  })

  it('formats versions as strings that sort like versions', () => {
    const vs = [{ ms: 5, counter: 0, node: 'b' }, { ms: 5, counter: 0, node: 'a' }, { ms: 1e12, counter: 3, node: 'a' }, { ms: 5, counter: 1, node: 'a' }]
    const sorted = [...vs].sort(compareVersions).map(formatVersion)
    assert.deepEqual([...sorted].sort(), sorted)
    assert.deepEqual(parseVersion(formatVersion(vs[2]!)), vs[2])
    assert.equal(parseVersion('nope'), undefined)
  })
})

describe('rendezvous placement', () => {
  const members = Array.from({ length: 10 }, (_, i) => `12D3KooWpeer${i}`)
  const keys = Array.from({ length: 5000 }, (_, i) => `photos/${i}.jpg`)

  it('is the same whatever order members are listed in, and spreads objects evenly', () => {
    const p = new Placement(members)
    const q = new Placement([...members].reverse())
    const counts = new Map<string, number>()
    for (const k of keys) {
      const r = p.replicas('b', k, 2)
      assert.deepEqual(q.replicas('b', k, 2), r)
      assert.equal(new Set(r).size, 2)
      for (const m of r) counts.set(m, (counts.get(m) ?? 0) + 1)
    }
    // 10,000 placements over 10 members: 1,000 each, give or take a few percent.
    for (const m of members) assert.ok(Math.abs(counts.get(m)! - 1000) < 120, `${m} holds ${counts.get(m)}`)
  })

  it('moves only what the departed member held when one goes', () => {
    const before = new Placement(members)
    const after = new Placement(members.filter(m => m !== members[3]))
    let moved = 0
    for (const k of keys) {
      const a = before.replicas('b', k, 2)
      const b = after.replicas('b', k, 2)
      if (!a.includes(members[3]!)) assert.deepEqual(b, a)
      else { moved++; assert.deepEqual(b.filter(m => a.includes(m)), a.filter(m => m !== members[3])) }
    }
    assert.ok(moved > 800 && moved < 1200, `${moved} objects had a copy on the departed member`)
    assert.deepEqual(new Placement(['x']).replicas('b', 'k', 3), ['x'], 'fewer members than replicas')
  })
})

describe('catalog wire format', () => {
  const sha = 'ab'.repeat(32)
  const live: CatalogEntry = { bucket: 'photos', key: 'cat.jpg', version: { ms: 1700000000000, counter: 2, node: 'n1' }, deleted: false, object: { size: 3, etag: 'e1', sha256: sha, lastModified: 1, metadata: { contentType: 'image/jpeg', user: { a: 'b' } }, tags: { t: 'v' } }, holders: ['n1', 'n2'] }
  const bucket: CatalogEntry = { bucket: 'photos', version: { ms: 1, counter: 0, node: 'n2' }, deleted: false, holders: [] }
  const tomb: CatalogEntry = { bucket: 'photos', key: 'old', version: { ms: 2, counter: 0, node: 'n2' }, deleted: true, holders: [] }

  const withCors: CatalogEntry = { ...bucket, version: { ms: 3, counter: 0, node: 'n1' }, cors: [{ allowedOrigins: ['https://app.example'], allowedMethods: ['GET'], allowedHeaders: ['*'], exposeHeaders: ['ETag'], maxAgeSeconds: 60 }, { id: 'r2', allowedOrigins: ['*'], allowedMethods: ['PUT'], allowedHeaders: [], exposeHeaders: [] }] }

  it('round-trips entries, a bucket\'s CORS rules included', () => {
    assert.deepEqual(decodeCatalogMessage(encodeCatalogMessage([live, bucket, tomb, withCors])).entries, [live, bucket, tomb, withCors])
  })

  it('carries an announcement\'s recipients; a list too long to be this release\'s is read as none, one that is not a list of strings is malformed', () => {
    const marks = ['abcdefgh', '12345678']
    assert.deepEqual(decodeCatalogMessage(encodeCatalogMessage([live], marks)).sentTo, marks)
    assert.equal(decodeCatalogMessage(encodeCatalogMessage([live])).sentTo, undefined)
    const many = Array.from({ length: MAX_SENT_TO + 1 }, (_, i) => `m${i}`)
    const longer = decodeCatalogMessage(encodeCatalogMessage([live], many))
    assert.deepEqual([longer.sentTo, longer.entries], [undefined, [live]], 'the entries kept, the list dropped')
    assert.equal(decodeCatalogMessage(encodeCatalogMessage([live], ['x'.repeat(17)])).sentTo, undefined)
    for (const sentTo of ['abc', [1, 2], [null]]) {
      assert.throws(() => decodeCatalogMessage(encode({ v: 1, kind: 'catalog', entries: [], sentTo })), (err: DroppedMessageError) => err.reason === 'malformed', JSON.stringify(sentTo))
    }
  })

  it('drops what is malformed, with a reason, and never parses a membership message', () => {
    const wrap = (entries: unknown[], extra: Record<string, unknown> = {}): Uint8Array => encode({ v: 1, kind: 'catalog', entries, ...extra })
    const bad: unknown[] = [
      { ...live, holders: ['n2', 'n1'] }, { ...live, holders: ['n1', 'n1'] }, { ...live, object: undefined }, { ...live, key: '' },
      { ...live, bucket: 'x' }, { ...live, version: { ms: -1, counter: 0, node: 'n' } }, { ...live, object: { ...live.object, sha256: 'zz'.repeat(32) } },
      { ...live, object: { ...live.object, metadata: { user: { a: 1 } } } }, { ...live, deleted: 'no' },
      { ...live, cors: withCors.cors }, { ...withCors, cors: [{ allowedOrigins: 'x' }] }, { ...withCors, cors: [{ ...withCors.cors![0], maxAgeSeconds: -1 }] },
    ]
    for (const e of bad) assert.throws(() => decodeCatalogMessage(wrap([JSON.parse(JSON.stringify(e))])), (err: DroppedMessageError) => err.reason === 'malformed', JSON.stringify(e))
    assert.throws(() => decodeCatalogMessage(encodeMessage({ type: 'ack', seq: 1 })), (err: DroppedMessageError) => err.reason === 'bad-version' || err.reason === 'malformed')
    assert.throws(() => decodeCatalogMessage(encode({ v: 2, kind: 'catalog', entries: [] })), (err: DroppedMessageError) => err.reason === 'bad-version')
    assert.throws(() => decodeCatalogMessage(new Uint8Array(5 * 1024 * 1024)), (err: DroppedMessageError) => err.reason === 'too-large')
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), data => {
      try { decodeCatalogMessage(data) } catch (err) { assert.ok(err instanceof DroppedMessageError) }
    }))
  })
  it('refuses a bucket name S3 would refuse, in an entry and in a write\'s head: a member makes a folder of it', () => {
    const head = { bucket: 'photos', key: 'cat.jpg', metadata: { user: {} }, tags: {} }
    assert.deepEqual(decodeWriteHead(encodeWriteHead(head)), head)
    for (const name of ['../../../etc', '..', 'a/b/c', 'photos/..', 'Photos', '.s3mesh', 'a\\b\\c']) {
      assert.throws(() => decodeCatalogMessage(encode({ v: 1, kind: 'catalog', entries: [JSON.parse(JSON.stringify({ ...live, bucket: name }))] })), (err: DroppedMessageError) => err.reason === 'malformed' && /bucket/.test(err.message), name)
      assert.throws(() => decodeCatalogMessage(encode({ v: 1, kind: 'catalog', entries: [JSON.parse(JSON.stringify({ ...bucket, bucket: name }))] })), (err: DroppedMessageError) => err.reason === 'malformed', name)
      assert.throws(() => decodeWriteHead(encodeWriteHead({ ...head, bucket: name })), (err: DroppedMessageError) => err.reason === 'malformed' && /bucket/.test(err.message), name)
    }
  })

  it('sends a listing page as the columns ListObjects shows, and checks them', () => {
    const second: CatalogEntry = { ...live, key: 'dog.jpg', object: { ...live.object!, size: 9, etag: 'e2', lastModified: 2 } }
    const columns = listingColumns([live, tomb, second])
    assert.deepEqual(columns, { keys: ['cat.jpg', 'dog.jpg'], sizes: [3, 9], etags: ['e1', 'e2'], modified: [1, 2] }, 'tombstones left out')
    const wire = decode(encode(columns)) as Record<string, unknown>
    assert.deepEqual(decodeListingColumns(wire, 1000), [
      { key: 'cat.jpg', size: 3, etag: 'e1', lastModified: new Date(1) },
      { key: 'dog.jpg', size: 9, etag: 'e2', lastModified: new Date(2) },
    ])
    const bad: Array<Record<string, unknown>> = [
      {}, { ...columns, sizes: [3] }, { ...columns, keys: ['dog.jpg', 'cat.jpg'] }, { ...columns, keys: ['cat.jpg', 'cat.jpg'] },
      { ...columns, sizes: [3, -1] }, { ...columns, etags: ['e1', ''] }, { ...columns, modified: [1, 'x'] }, { ...columns, keys: ['cat.jpg', 'k'.repeat(1025)] },
    ]
    for (const b of bad) assert.throws(() => decodeListingColumns(b, 1000), (err: DroppedMessageError) => err.reason === 'malformed', JSON.stringify(b).slice(0, 80))
    assert.throws(() => decodeListingColumns(wire, 1), (err: DroppedMessageError) => err.reason === 'malformed', 'more keys than asked for')
  })
})

describe('catalog slots (S3 versions)', () => {
  const obj = (sha: string, size: number): CatalogEntry['object'] => ({ size, etag: sha, sha256: sha, lastModified: 0, metadata: { user: {} }, tags: {} })
  const at = (ms: number): { ms: number, counter: number, node: string } => ({ ms, counter: 0, node: 'n1' })
  const version = (ms: number, sha: string, size = 1): CatalogEntry => ({ bucket: 'b1', key: 'k', versionId: idAt(ms), version: at(ms), deleted: false, object: obj(sha, size), holders: ['n1'] })

  it('merges each slot on its own: commutative, associative and idempotent (property)', () => {
    fc.assert(fc.property(arbSlot, arbSlot, arbSlot, (a, b, c) => {
      const slot = { key: a.key, ...(a.versionId === undefined ? {} : { versionId: a.versionId }) }
      const same = (e: CatalogEntry): CatalogEntry => { const { versionId: _v, ...rest } = e; return { ...rest, ...slot } }
      const [x, y, z] = [a, same(b), same(c)]
      assert.deepEqual(mergeEntries(x, y), mergeEntries(y, x))
      assert.deepEqual(mergeEntries(mergeEntries(x, y), z), mergeEntries(x, mergeEntries(y, z)))
      assert.deepEqual(mergeEntries(x, x), x)
    }), { numRuns: 2000 })
  })

  it('says the same, heads, listings and counts included, whatever order and duplication slots arrive in (property)', () => {
    fc.assert(fc.property(fc.array(arbSlot, { maxLength: 30 }), fc.array(fc.nat()), fc.array(fc.tuple(fc.constantFrom('a', 'c'), fc.option(fc.constantFrom(1, 2, 3), { nil: undefined }), fc.boolean()), { maxLength: 4 }), (entries, picks, drops) => {
      const shuffled = [...entries]
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = (picks[i] ?? i) % (i + 1)
        ;[shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]
      }
      const x = catalogOf([...shuffled, ...entries.filter((_, i) => (picks[i] ?? 0) % 2 === 0)])
      const y = catalogOf(entries)
      assert.deepEqual(slotView(x), slotView(y))
      checkAgainstSlots(x)
      // Slots taken out (a cache's eviction, a tombstone forgotten): the head moves to what is left.
      for (const [k, id, evict] of drops) {
        if (evict) x.evict('b1', k, id === undefined ? undefined : idAt(id))
        else x.forget('b1', k, id === undefined ? undefined : idAt(id))
      }
      checkAgainstSlots(x)
      assert.deepEqual(x.rangeDigests('b1'), catalogOf([...x.entries('b1')]).rangeDigests('b1'), 'digests follow what is left')
      // The head is the slot that is not a tombstone with the latest created.
      for (const k of ['a', 'a/b', 'c']) {
        const head = x.get('b1', k)
        const rest = x.slots('b1', k).filter(e => e !== head && !e.deleted)
        if (head !== undefined && !head.deleted) for (const e of rest) assert.ok(compareVersions(createdOf(e), createdOf(head)) <= 0)
        if (head?.deleted === true) assert.equal(rest.length, 0, 'a tombstone is the head only when nothing else is left')
      }
    }), { numRuns: 500 })
  })

  it('promotes the previous version when the head goes, keeps the head through a tag edit, and says when it moves', () => {
    const c = new Catalog()
    const moves: Array<[string | undefined, string | undefined]> = []
    c.addEventListener('head', e => moves.push([e.detail.before.versionId, e.detail.after?.versionId]))
    const v1 = version(1, 'aa', 3)
    const v2 = version(2, 'bb', 5)
    c.apply(v1)
    c.apply(v2)
    assert.equal(c.get('b1', 'k')?.versionId, v2.versionId)
    assert.deepEqual(moves, [[v1.versionId, v2.versionId]])
    // A tag edit of v1: a newer version of its slot, the same created.
    c.apply({ ...v1, version: at(3), created: at(1), object: { ...v1.object!, tags: { t: '1' } } })
    assert.equal(c.get('b1', 'k')?.versionId, v2.versionId, 'a tag edit does not make an old version current')
    assert.deepEqual(c.bucketTotals('b1'), { objects: 1, bytes: 5 })
    // v2 removed by its id: v1 is current again, with nothing moved.
    c.apply({ bucket: 'b1', key: 'k', versionId: v2.versionId, version: at(4), deleted: true, holders: [] })
    assert.equal(c.get('b1', 'k')?.versionId, v1.versionId)
    assert.deepEqual(c.get('b1', 'k')?.object?.tags, { t: '1' })
    assert.deepEqual(moves.at(-1), [v2.versionId, v1.versionId])
    assert.deepEqual(c.bucketTotals('b1'), { objects: 1, bytes: 3 })
    assert.deepEqual(c.versionTotals('b1'), { versions: 1, bytes: 3 })
    assert.deepEqual(c.page('b1', { limit: 10 }).entries.map(e => e.versionId), [v1.versionId])
    // A delete marker on top: no current object, listed nowhere but among versions.
    const marker: CatalogEntry = { bucket: 'b1', key: 'k', versionId: idAt(5), version: at(5), marker: true, deleted: false, holders: [] }
    c.apply(marker)
    assert.equal(c.get('b1', 'k')?.marker, true)
    assert.deepEqual(c.bucketTotals('b1'), { objects: 0, bytes: 0 })
    assert.deepEqual(c.versionTotals('b1'), { versions: 2, bytes: 3 }, 'a bucket with a version and a marker is not empty')
    assert.deepEqual(c.page('b1', { limit: 10 }).entries, [])
    assert.deepEqual(c.versionPage('b1', { limit: 10 }).versions.map(r => [r.entry.versionId, r.latest]), [[marker.versionId, true], [v1.versionId, false]])
    // Markers are not tombstones: nothing forgets them.
    c.forget('b1', 'k', marker.versionId)
    assert.equal(c.get('b1', 'k')?.marker, true, 'a marker outlives the tombstone TTL')
    // The tombstone of v2 can go; the digests then match a catalog that never had v2.
    c.forget('b1', 'k', v2.versionId)
    const fresh = catalogOf([c.slot('b1', 'k', v1.versionId)!, marker])
    assert.deepEqual(c.rangeDigests('b1'), fresh.rangeDigests('b1'))
  })

  it('keeps the null slot last-writer-wins among versions, and current when written after them', () => {
    const c = new Catalog()
    const v1 = version(1, 'aa')
    const nullAt = (ms: number, sha: string): CatalogEntry => ({ bucket: 'b1', key: 'k', version: at(ms), deleted: false, object: obj(sha, 2), holders: ['n1'] })
    c.apply(v1)
    c.apply(nullAt(2, 'bb'))
    assert.equal(c.get('b1', 'k')?.versionId, undefined, 'the null slot written after v1 is current')
    c.apply(nullAt(3, 'cc'))
    assert.equal(c.get('b1', 'k')?.object?.sha256, 'cc', 'a suspended write replaces the null slot, once')
    assert.deepEqual(c.versionPage('b1', { limit: 10 }).versions.map(r => r.entry.versionId ?? 'null'), ['null', v1.versionId])
    c.apply({ ...v1, version: at(4), created: at(1), object: { ...v1.object!, tags: { t: 'x' } } })
    assert.equal(c.get('b1', 'k')?.object?.sha256, 'cc', 'the null slot stays current through v1\'s tag edit')
    assert.equal(c.slots('b1', 'k').length, 2)
  })

  it('sends slots other than null in a list of their own that an earlier release ignores (a null slot\'s created goes with it in entries), and checks them', () => {
    const v1 = { ...version(1, 'ab'.repeat(32)), bucket: 'photos' }
    const plain: CatalogEntry = { bucket: 'photos', key: 'k', version: at(1), deleted: false, object: obj('cd'.repeat(32), 1), holders: ['n1'] }
    const marker: CatalogEntry = { bucket: 'photos', key: 'k', versionId: idAt(2), version: at(2), marker: true, deleted: false, holders: [] }
    const suspended: CatalogEntry = { ...plain, version: at(3), created: at(2) }
    const gone: CatalogEntry = { bucket: 'photos', key: 'k', versionId: idAt(1), version: at(4), deleted: true, holders: [] }
    const bucketEntry: CatalogEntry = { bucket: 'photos', version: at(1), deleted: false, versioning: 'Enabled', holders: [] }
    const all = [plain, bucketEntry, v1, marker, suspended, gone]
    assert.deepEqual(decodeCatalogMessage(encodeCatalogMessage(all)).entries, [plain, bucketEntry, suspended, v1, marker, gone])
    const raw = decode(encodeCatalogMessage(all)) as { entries: Array<Record<string, unknown>>, versions: unknown[] }
    assert.deepEqual(raw.entries.map(e => e.key ?? null), ['k', null, 'k'], 'only null slots (an edit\'s with its created) and buckets in entries, as an earlier decoder reads them')
    assert.deepEqual(raw.entries[2]!.created, at(2))
    assert.equal(raw.versions.length, 3)
    assert.throws(() => decodeCatalogMessage(encode({ v: 1, kind: 'catalog', entries: [{ ...JSON.parse(JSON.stringify(bucketEntry)), created: at(0) }] })), (err: DroppedMessageError) => err.reason === 'malformed', 'created on a bucket\'s entry')
    assert.throws(() => decodeCatalogMessage(encode({ v: 1, kind: 'catalog', entries: [{ ...JSON.parse(JSON.stringify(suspended)), created: at(4) }] })), (err: DroppedMessageError) => err.reason === 'malformed', 'created after its version, in entries too')
    assert.equal('versions' in (decode(encodeCatalogMessage([plain, bucketEntry])) as object), false, 'a message without versions is what it always was')
    const wrap = (versions: unknown[]): Uint8Array => encode({ v: 1, kind: 'catalog', entries: [], versions })
    const bad: unknown[] = [
      { ...marker, holders: ['n1'] }, { ...marker, object: v1.object }, { ...marker, deleted: true }, { ...marker, marker: 1 },
      { ...v1, versionId: 'null' }, { ...v1, versionId: 'has space' }, { ...v1, versionId: '' }, { ...v1, object: undefined },
      // A member stores its copy of a slot in a file named by the id: a path is no id.
      { ...v1, versionId: '../../../etc/x' }, { ...v1, versionId: 'a/b' }, { ...v1, versionId: '..' }, { ...v1, versionId: 'x'.repeat(129) },
      { ...v1, created: { ms: -1, counter: 0, node: 'n1' } }, { bucket: 'photos', version: at(1), deleted: false, holders: [], versionId: idAt(1) },
      { ...v1, created: at(2) }, // made after its last change: a clock far ahead would pin the head
    ]
    for (const e of bad) assert.throws(() => decodeCatalogMessage(wrap([JSON.parse(JSON.stringify(e))])), (err: DroppedMessageError) => err.reason === 'malformed', JSON.stringify(e))
    assert.throws(() => decodeCatalogMessage(encode({ v: 1, kind: 'catalog', entries: [{ ...bucketEntry, versioning: 'On' }] })), (err: DroppedMessageError) => err.reason === 'malformed')
    assert.throws(() => decodeCatalogMessage(encode({ v: 1, kind: 'catalog', entries: [{ ...JSON.parse(JSON.stringify(plain)), versioning: 'Enabled' }] })), (err: DroppedMessageError) => err.reason === 'malformed', 'versioning on an object entry')
    // A `created` equal to its version says nothing more: dropped, so every member fingerprints the slot alike.
    assert.deepEqual(decodeCatalogMessage(wrap([{ ...JSON.parse(JSON.stringify(v1)), created: v1.version }])).entries, [v1])
    assert.deepEqual(catalogOf([{ ...v1, created: v1.version }]).rangeDigests('photos'), catalogOf([v1]).rangeDigests('photos'))
    assert.throws(() => decodeCatalogMessage(wrap(Array.from({ length: 10_001 }, () => marker))), (err: DroppedMessageError) => err.reason === 'malformed', 'entries and versions count together')
  })

  it('carries a bucket\'s object lock and a version\'s lock, checked; the same version with its lock wins a merge over one without', () => {
    const v1 = { ...version(1, 'ab'.repeat(32)), bucket: 'vault' }
    const locked: CatalogEntry = { ...v1, object: { ...v1.object!, lock: { mode: 'COMPLIANCE', until: 4_000_000_000_000, legalHold: true } } }
    const held: CatalogEntry = { ...v1, object: { ...v1.object!, lock: { legalHold: false } } }
    const bucketEntry: CatalogEntry = { bucket: 'vault', version: at(1), deleted: false, versioning: 'Enabled', objectLock: { rule: { mode: 'GOVERNANCE', days: 30 } }, holders: [] }
    const bare: CatalogEntry = { ...bucketEntry, objectLock: {} }
    assert.deepEqual(decodeCatalogMessage(encodeCatalogMessage([bucketEntry, bare, locked, held])).entries, [bucketEntry, bare, locked, held])
    const wrap = (entries: unknown[], versions: unknown[] = []): Uint8Array => encode({ v: 1, kind: 'catalog', entries, versions })
    const json = (e: CatalogEntry): Record<string, unknown> => JSON.parse(JSON.stringify(e)) as Record<string, unknown>
    const badVersions = [
      { ...json(locked), object: { ...json(locked).object as object, lock: { mode: 'COMPLIANCE' } } },
      { ...json(locked), object: { ...json(locked).object as object, lock: { until: 5 } } },
      { ...json(locked), object: { ...json(locked).object as object, lock: { mode: 'FOREVER', until: 5 } } },
      { ...json(locked), object: { ...json(locked).object as object, lock: { mode: 'GOVERNANCE', until: -1 } } },
      { ...json(locked), object: { ...json(locked).object as object, lock: { legalHold: 'ON' } } },
      { ...json(locked), object: { ...json(locked).object as object, lock: [] } },
    ]
    for (const e of badVersions) assert.throws(() => decodeCatalogMessage(wrap([], [e])), (err: DroppedMessageError) => err.reason === 'malformed', JSON.stringify(e))
    const badBuckets = [
      { ...json(bucketEntry), objectLock: { rule: { mode: 'GOVERNANCE', days: 1, years: 1 } } },
      { ...json(bucketEntry), objectLock: { rule: { mode: 'GOVERNANCE', days: 0 } } },
      { ...json(bucketEntry), objectLock: { rule: { mode: 'GOVERNANCE', years: 101 } } },
      { ...json(bucketEntry), objectLock: { rule: { mode: 'NONE', days: 1 } } },
      { ...json(bucketEntry), versioning: 'Suspended' },
      { ...json(bare), versioning: undefined },
      { ...json(bucketEntry), key: 'k', object: json(v1).object },
    ]
    for (const e of badBuckets) assert.throws(() => decodeCatalogMessage(wrap([JSON.parse(JSON.stringify(e))])), (err: DroppedMessageError) => err.reason === 'malformed', JSON.stringify(e))
    // A member that dropped the field (an older release, which the caps gate keeps out) never takes the lock away.
    assert.deepEqual(mergeEntries(v1, locked), locked)
    assert.deepEqual(mergeEntries(locked, v1), locked)
    const { objectLock: _dropped, ...unlockedBucket } = bucketEntry
    assert.deepEqual(mergeEntries(unlockedBucket, bucketEntry), bucketEntry)
    assert.deepEqual(mergeEntries(bucketEntry, unlockedBucket), bucketEntry)
    // Told with its chunk tree and without it (even with another size: a broken writer), the tree is kept, in either order.
    const treed: CatalogEntry = { ...v1, object: { ...v1.object!, tree: 'c'.repeat(64) } }
    const bigger: CatalogEntry = { ...v1, holders: ['n2'], object: { ...v1.object!, size: v1.object!.size + 1 } }
    for (const merged of [mergeEntries(treed, bigger), mergeEntries(bigger, treed)]) assert.deepEqual([merged.object?.tree, merged.holders], ['c'.repeat(64), ['n1', 'n2']])
    // Told by two holders, one without the lock: the lock and both holders are kept, in either order.
    const elsewhere: CatalogEntry = { ...v1, holders: ['n2'] }
    assert.deepEqual(mergeEntries(elsewhere, locked), { ...locked, holders: ['n1', 'n2'] })
    assert.deepEqual(mergeEntries(locked, elsewhere), { ...locked, holders: ['n1', 'n2'] })
    // A catalog holding the copy without its lock takes the lock when it arrives, and anti-entropy tells them apart.
    const c = catalogOf([v1])
    assert.notEqual(c.apply(locked), undefined, 'the same version with its lock changes the catalog')
    assert.deepEqual(c.slot('vault', 'k', v1.versionId)?.object?.lock, locked.object!.lock)
    assert.notDeepEqual(catalogOf([v1]).rangeDigests('vault'), catalogOf([locked]).rangeDigests('vault'))
  })
})
