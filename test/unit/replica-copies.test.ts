/**
 * A replica's copy of a write in progress (LocalCopies.storeStreamed over a
 * real DiskStore): the bytes end before their version comes, and the store
 * has written all of them by then (so it can make them durable while the
 * writer commits its own copy); the copy commits once they match the
 * version, and a copy whose bytes do not match stores nothing.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { webHashes } from '../../src/core/hashes.js'
import type { CatalogEntry } from '../../src/core/mesh/catalog-entry.js'
import { Catalog } from '../../src/core/mesh/catalog.js'
import { HybridClock } from '../../src/core/mesh/hlc.js'
import { LocalCopies, StaleVersionError, type WriteHead } from '../../src/core/mesh/local-copies.js'
import { ContentMismatchError } from '../../src/core/mesh/verify-stream.js'
import { streamOfBytes } from '../../src/core/streams.js'
import { DiskStore } from '../../src/node/disk-store.js'
import { readStream } from '../compliance/object-store-suite.js'
import { until } from '../helpers/until.js'

const bytes = (n: number, seed: number): Uint8Array<ArrayBuffer> => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

function entryOf (key: string, body: Uint8Array, sha256 = sha(body)): CatalogEntry {
  return {
    bucket: 'b', key, version: { ms: Date.now(), counter: 0, node: 'writer' }, deleted: false, holders: ['writer'],
    object: { size: body.byteLength, etag: 'e'.repeat(32), sha256, lastModified: Date.now(), metadata: { user: {} }, tags: {} },
  }
}

/** What the store's temp folder holds now: the sizes of its files. */
async function temps (store: DiskStore): Promise<number[]> {
  return await Promise.all((await readdir(store.layout.tmp)).map(async f => (await stat(join(store.layout.tmp, f))).size))
}

describe('a replica\'s copy of a write in progress', () => {
  it('has every byte written before the version comes, commits once they match it, and stores nothing when they do not', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-replica-'))
    const store = await DiskStore.open(root)
    try {
      const copies = new LocalCopies(store, { self: 'me', catalog: new Catalog(), clock: new HybridClock(), hashes: webHashes, announce: () => {} })
      const head: WriteHead = { bucket: 'b', key: 'k', metadata: { user: {} }, tags: {} }
      // Four pieces: a store that only saw the body end with its version would not have the last one yet.
      const body = bytes(256 * 1024, 1)
      let version!: (e: CatalogEntry) => void
      const stored = copies.storeStreamed(head, streamOfBytes(body, 64 * 1024), async () => await new Promise<CatalogEntry>(resolve => { version = resolve }))
      await until('the store has written every byte while the version is still on its way', async () => (await temps(store)).includes(body.byteLength), 5000)
      assert.equal((await store.headObject('b', 'k').catch(() => undefined)), undefined, 'nothing is committed before the version')
      version(entryOf('k', body))
      const held = await stored
      assert.deepEqual(held.holders, ['me', 'writer'])
      assert.deepEqual(new Uint8Array(await readStream((await store.openObject('b', 'k')).stream())), body)
      assert.equal((await store.headObject('b', 'k')).sha256, sha(body))

      // Bytes that are not the version's: refused, the copy before stays, and no temp file is left.
      const other = bytes(256 * 1024, 2)
      const refused = copies.storeStreamed(head, streamOfBytes(other, 64 * 1024), async () => entryOf('k', other, sha(body)))
      await assert.rejects(refused, ContentMismatchError)
      assert.deepEqual(new Uint8Array(await readStream((await store.openObject('b', 'k')).stream())), body)
      assert.deepEqual(await temps(store), [])
    } finally {
      await store.close()
      await rm(root, { recursive: true, force: true })
    }
  })

  it('takes the hash its caller already has of the same bytes (a tab\'s write, hashed as it was sent) instead of hashing them again', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-replica-'))
    const store = await DiskStore.open(root)
    try {
      let hashedHere = 0
      // Hashes that can hash a whole body at once (a browser's), as a tab's copy keeps it in memory to.
      const counting = { ...webHashes, sha256Of: async (b: Uint8Array) => { hashedHere++; return new Uint8Array(createHash('sha256').update(b).digest()) } }
      const copies = new LocalCopies(store, { self: 'me', catalog: new Catalog(), clock: new HybridClock(), hashes: counting, announce: () => {} })
      const head: WriteHead = { bucket: 'b', key: 'k', metadata: { user: {} }, tags: {} }
      const body = bytes(256 * 1024, 3)
      await copies.storeStreamed(head, streamOfBytes(body, 64 * 1024), async () => entryOf('k', body), undefined, () => sha(body))
      assert.equal(hashedHere, 0, 'not hashed a second time')
      assert.deepEqual(new Uint8Array(await readStream((await store.openObject('b', 'k')).stream())), body)
      // The caller's hash is not the version's: refused, as bytes that hash otherwise are.
      const refused = copies.storeStreamed(head, streamOfBytes(bytes(256 * 1024, 4), 64 * 1024), async () => entryOf('k', body, 'f'.repeat(64)), undefined, () => sha(body))
      await assert.rejects(refused, ContentMismatchError)
      assert.deepEqual(new Uint8Array(await readStream((await store.openObject('b', 'k')).stream())), body)
      // Without one, the copy is hashed as before.
      await copies.storeStreamed(head, streamOfBytes(body, 64 * 1024), async () => entryOf('k', body))
      assert.equal(hashedHere, 1)
    } finally {
      await store.close()
      await rm(root, { recursive: true, force: true })
    }
  })
  it('keeps a body given as a Blob (a tab\'s upload) by its size and hash, and stores nothing when either is not the version\'s', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-replica-'))
    const store = await DiskStore.open(root)
    try {
      // Hashes with a one-call SHA-256 (as a browser's WebCrypto), counted: what it is given, it was given whole.
      const oneCall: number[] = []
      const hashes = { ...webHashes, sha256Of: async (data: Uint8Array) => { oneCall.push(data.byteLength); return new Uint8Array(createHash('sha256').update(data).digest()) } }
      const copies = new LocalCopies(store, { self: 'me', catalog: new Catalog(), clock: new HybridClock(), hashes, announce: () => {} })
      const head: WriteHead = { bucket: 'b', key: 'k', metadata: { user: {} }, tags: {} }
      const body = bytes(300 * 1024, 5)
      // With the caller's hash, and without one (the Blob is read and hashed here).
      await copies.storeStreamed(head, new Blob([body]), async () => entryOf('k', body), undefined, () => sha(body))
      assert.deepEqual(new Uint8Array(await readStream((await store.openObject('b', 'k')).stream())), body)
      const second = bytes(300 * 1024, 6)
      await copies.storeStreamed(head, new Blob([second]), async () => entryOf('k', second))
      assert.deepEqual(new Uint8Array(await readStream((await store.openObject('b', 'k')).stream())), second)
      // A Blob of other bytes, or of another size, than the version: refused, and the copy held stays.
      await assert.rejects(copies.storeStreamed(head, new Blob([bytes(300 * 1024, 7)]), async () => entryOf('k', body)), ContentMismatchError)
      await assert.rejects(copies.storeStreamed(head, new Blob([body.subarray(1)]), async () => entryOf('k', body), undefined, () => sha(body)), ContentMismatchError)
      assert.deepEqual(new Uint8Array(await readStream((await store.openObject('b', 'k')).stream())), second)
      assert.deepEqual(await temps(store), [], 'nothing left in the temp folder')
      assert.deepEqual(oneCall, [300 * 1024, 300 * 1024], 'the two Blobs of the right size that came without a hash were hashed whole, in one call')
      // Over 8 MiB and no hash given: hashed as a stream (never whole in memory), right and wrong alike.
      const large = bytes(9 * 1024 * 1024, 8)
      await assert.rejects(copies.storeStreamed(head, new Blob([large]), async () => entryOf('k', large, sha(body))), ContentMismatchError)
      await copies.storeStreamed(head, new Blob([large]), async () => entryOf('k', large))
      assert.equal(sha(new Uint8Array(await readStream((await store.openObject('b', 'k')).stream()))), sha(large))
      assert.equal(oneCall.length, 2, 'the 9 MiB Blobs were not hashed in one call')
    } finally {
      await store.close()
      await rm(root, { recursive: true, force: true })
    }
  })

  it('merges the version into the catalog once, with this member among its holders, once the copy has committed; refuses a copy of an older version than the catalog knows, storing nothing', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-replica-'))
    const store = await DiskStore.open(root)
    try {
      const catalog = new Catalog()
      const copies = new LocalCopies(store, { self: 'me', catalog, clock: new HybridClock(), hashes: webHashes, announce: () => {} })
      const head: WriteHead = { bucket: 'b', key: 'k', metadata: { user: {} }, tags: {} }
      const changes: string[][] = []
      catalog.addEventListener('change', ({ detail: e }) => { if (e.key === 'k') changes.push(e.holders) })
      const body = bytes(128 * 1024, 5)
      const entry = entryOf('k', body)
      await copies.storeStreamed(head, streamOfBytes(body, 64 * 1024), async () => entry)
      // One merge, holders and all: a first merge of the writer's entry alone (as before) was a catalog write, its
      // commit, and a look by the repair loop, for each copy a replica takes.
      assert.deepEqual(changes, [['me', 'writer']])
      assert.deepEqual(catalog.get('b', 'k')?.holders, ['me', 'writer'])

      // The catalog knows a newer version (heard by gossip): an older one arriving late is refused, and the newer one's copy stays.
      const older = { ...entryOf('k', bytes(64 * 1024, 6)), version: { ms: entry.version.ms - 1000, counter: 0, node: 'writer' } }
      await assert.rejects(copies.storeStreamed(head, streamOfBytes(bytes(64 * 1024, 6), 64 * 1024), async () => older), (err: unknown) => err instanceof StaleVersionError)
      assert.equal((await store.headObject('b', 'k')).sha256, sha(body))
      assert.deepEqual(await temps(store), [])
      assert.equal(changes.length, 1, 'the refused version was not merged')

      // A delete heard while the bytes were on their way (the version not come yet): the copy is refused once it comes.
      const late = bytes(64 * 1024, 7)
      let come: ((e: CatalogEntry) => void) | undefined
      const pending = copies.storeStreamed(head, streamOfBytes(late, 64 * 1024), async () => await new Promise<CatalogEntry>(resolve => { come = resolve }))
      await until('the late copy\'s bytes are written', async () => (await temps(store)).includes(late.byteLength), 5000)
      // Its bytes all in the temp file, the copy asks for its version a moment later (a slower machine showed the gap).
      await until('the late copy waits for its version', () => come !== undefined, 5000)
      const lateEntry = { ...entryOf('k', late), version: { ms: Date.now() + 1, counter: 0, node: 'writer' } }
      catalog.apply({ bucket: 'b', key: 'k', version: { ...lateEntry.version, counter: 1 }, deleted: true, holders: [] })
      come!(lateEntry)
      await assert.rejects(pending, (err: unknown) => err instanceof StaleVersionError)
      assert.equal((await store.headObject('b', 'k')).sha256, sha(body), 'the refused copy stored nothing')
      assert.deepEqual(await temps(store), [])
    } finally {
      await store.close()
      await rm(root, { recursive: true, force: true })
    }
  })
})
