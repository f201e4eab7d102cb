/** The mesh catalog kept in SQLite on a Node node: the same catalog as in memory, kept across restarts, a journal imported once. */
import assert from 'node:assert/strict'
import { DatabaseSync } from 'node:sqlite'
import { execFileSync } from 'node:child_process'
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { Catalog, DIGEST_RANGES, rangeOf } from '../../src/core/mesh/catalog.js'
import type { CatalogEntry } from '../../src/core/mesh/catalog-entry.js'
import { CatalogDb } from '../../src/node/catalog-db.js'
import { CatalogJournal } from '../../src/node/catalog-journal.js'
import { arbSlot, checkAgainstSlots, idAt, slotView } from '../helpers/catalog-slots.js'

const nodes = ['n1', 'n2', 'n3']
const arbEntry: fc.Arbitrary<CatalogEntry> = fc.record({
  bucket: fc.constantFrom('b1', 'b2'),
  key: fc.option(fc.constantFrom('a', 'a/b', 'a.txt', 'c', 'é', '\uff5e', '\u{1f600}', 'z'), { nil: undefined }),
  version: fc.record({ ms: fc.integer({ min: 0, max: 4 }), counter: fc.integer({ min: 0, max: 2 }), node: fc.constantFrom(...nodes) }),
  deleted: fc.boolean(),
  sha: fc.constantFrom('aa', 'bb'),
  holders: fc.uniqueArray(fc.constantFrom(...nodes, 'n4')).map(h => h.sort()),
}).map(({ sha, key, ...e }) => ({
  ...e,
  version: { ...e.version }, // a plain object, as decoded messages are
  // Absent, not undefined, for a bucket's own entry: as decoded from the wire (and from JSON).
  ...(key === undefined ? {} : { key }),
  ...(e.deleted || key === undefined ? {} : { object: { size: 1, etag: sha, sha256: sha, lastModified: 0, metadata: { user: {} }, tags: {} } }),
}))

/** Everything a catalog answers, as plain data. */
function said (c: Catalog): unknown {
  return c.bucketNames().sort().map(b => ({
    bucket: b,
    entries: [...c.entries(b)],
    digests: c.rangeDigests(b),
    ranges: Array.from({ length: DIGEST_RANGES + 1 }, (_, r) => c.rangeEntries(b, r)),
    live: c.objectCount(b),
    totals: c.bucketTotals(b),
    pages: [c.page(b, { limit: 2 }), c.page(b, { prefix: 'a', limit: 10 }), c.page(b, { startAfter: 'a/b', limit: 3 })],
  }))
}

async function withDir (fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 's3mesh-catalogdb-'))
  try { await fn(dir) } finally { await rm(dir, { recursive: true, force: true }) }
}

describe('catalog kept in SQLite (CatalogDb)', () => {
  it('says what the in-memory catalog says, and the same after a restart (property)', async () => {
    await withDir(async dir => {
      let run = 0
      await fc.assert(fc.asyncProperty(fc.array(arbEntry, { maxLength: 40 }), fc.array(fc.constantFrom('a', 'c', 'z')), async (entries, forgets) => {
        const path = join(dir, `c${run++}.db`)
        const memory = new Catalog()
        const store = await CatalogDb.open(path, join(dir, 'none.journal'))
        const disk = new Catalog(store.table)
        for (const e of entries) assert.deepEqual(disk.apply(e), memory.apply(e), 'apply says the same')
        for (const k of forgets) { memory.forget('b1', k); disk.forget('b1', k) }
        assert.deepEqual(said(disk), said(memory))
        await store.close()
        const again = await CatalogDb.open(path, join(dir, 'none.journal'))
        try {
          const back = said(new Catalog(again.table)) as Array<Record<string, unknown>>
          const want = said(memory) as Array<Record<string, unknown>>
          for (const [i, b] of want.entries()) for (const k of Object.keys(b)) assert.deepEqual(back[i]?.[k], b[k], `a restart reads back the same catalog: ${String(b.bucket)} ${k}`)
          assert.equal(back.length, want.length)
        } finally { await again.close() }
      }), { numRuns: 60 })
    })
  })

  it('keeps slots, heads, version listings and counts as the in-memory catalog does, and the same after a restart (property)', async () => {
    await withDir(async dir => {
      let run = 0
      await fc.assert(fc.asyncProperty(fc.array(arbSlot, { maxLength: 40 }), fc.array(fc.tuple(fc.constantFrom('a', 'c'), fc.option(fc.constantFrom(1, 2, 3), { nil: undefined }), fc.boolean())), async (entries, drops) => {
        const path = join(dir, `s${run++}.db`)
        const memory = new Catalog()
        const store = await CatalogDb.open(path, join(dir, 'none.journal'))
        const disk = new Catalog(store.table)
        for (const e of entries) assert.deepEqual(disk.apply(e), memory.apply(e), 'apply says the same')
        // Tombstones forgotten and slots evicted, by slot.
        for (const [k, id, evict] of drops) {
          const versionId = id === undefined ? undefined : idAt(id)
          if (evict) { memory.evict('b1', k, versionId); disk.evict('b1', k, versionId) } else { memory.forget('b1', k, versionId); disk.forget('b1', k, versionId) }
        }
        assert.deepEqual(slotView(disk), slotView(memory))
        checkAgainstSlots(disk)
        await store.close()
        const again = await CatalogDb.open(path, join(dir, 'none.journal'))
        try {
          assert.deepEqual(slotView(new Catalog(again.table)), slotView(memory), 'a restart reads back the same slots and heads')
        } finally { await again.close() }
      }), { numRuns: 60 })
    })
  })

  it('lists versions in key order, newest first, the null slot among them by its time, a page at a time', async () => {
    await withDir(async dir => {
      const store = await CatalogDb.open(join(dir, 'c.db'), join(dir, 'none.journal'))
      for (const c of [new Catalog(), new Catalog(store.table)]) {
        const at = (ms: number): { ms: number, counter: number, node: string } => ({ ms, counter: 0, node: 'n1' })
        const object = { size: 1, etag: 'e', sha256: 's', lastModified: 1, metadata: { user: {} }, tags: {} }
        const v = (key: string, ms: number, extra: Partial<CatalogEntry> = {}): CatalogEntry => ({ bucket: 'b1', key, versionId: idAt(ms), version: at(ms), deleted: false, object, holders: ['n1'], ...extra })
        c.apply(v('a', 1))
        c.apply({ bucket: 'b1', key: 'a', version: at(2), deleted: false, object, holders: ['n1'] }) // the null slot, between v1 and v3
        c.apply(v('a', 3))
        c.apply(v('a', 4, { marker: true, object: undefined, holders: [] }))
        c.apply(v('a', 5))
        c.apply({ bucket: 'b1', key: 'a', versionId: idAt(5), version: at(6), deleted: true, holders: [] }) // v5 removed
        c.apply(v('b', 1))
        c.apply(v('c', 7, { deleted: true, object: undefined, holders: [] })) // only a tombstone: nothing to list
        c.apply(v('d', 2))
        const ids = (p: { versions: Array<{ entry: CatalogEntry, latest: boolean }>, isTruncated: boolean }): unknown => [p.versions.map(r => `${r.entry.key} ${r.entry.versionId === undefined ? 'null' : r.entry.versionId === idAt(4) ? 'marker' : r.entry.versionId}${r.latest ? ' latest' : ''}`), p.isTruncated]
        assert.deepEqual(ids(c.versionPage('b1', { limit: 10 })), [['a marker latest', `a ${idAt(3)}`, 'a null', `a ${idAt(1)}`, `b ${idAt(1)} latest`, `d ${idAt(2)} latest`], false])
        assert.deepEqual(ids(c.versionPage('b1', { limit: 3 })), [['a marker latest', `a ${idAt(3)}`, 'a null'], true])
        assert.deepEqual(ids(c.versionPage('b1', { keyMarker: 'a', versionIdMarker: 'null', limit: 2 })), [[`a ${idAt(1)}`, `b ${idAt(1)} latest`], true], 'on from the null slot')
        assert.deepEqual(ids(c.versionPage('b1', { keyMarker: 'a', versionIdMarker: idAt(5), limit: 2 })), [['a marker latest', `a ${idAt(3)}`], true], 'a marker since removed still places the page')
        assert.deepEqual(ids(c.versionPage('b1', { keyMarker: 'a', limit: 10 })), [[`b ${idAt(1)} latest`, `d ${idAt(2)} latest`], false], 'after a key')
        assert.deepEqual(ids(c.versionPage('b1', { prefix: 'c', limit: 10 })), [[], false])
        assert.deepEqual(ids(c.versionPage('b1', { prefix: 'd', keyMarker: 'a', limit: 10 })), [[`d ${idAt(2)} latest`], false], 'a key marker before the prefix')
        assert.deepEqual(c.page('b1', { limit: 10 }).entries.map(e => e.key), ['b', 'd'], 'a key whose head is a marker is not listed')
        assert.deepEqual(c.versionTotals('b1'), { versions: 6, bytes: 5 })
      }
      await store.close()
    })
  })

  it('upgrades a catalog of the first schema in place: every entry becomes its key\'s null slot, digests and counts unchanged', async () => {
    await withDir(async dir => {
      const path = join(dir, 'c.db')
      const entries: CatalogEntry[] = [
        { bucket: 'bkt', version: { ms: 1, counter: 0, node: 'n1' }, deleted: false, holders: [] },
        ...Array.from({ length: 50 }, (_, i): CatalogEntry => ({ bucket: 'bkt', key: `k${i}`, version: { ms: 2 + i, counter: 0, node: 'n1' }, deleted: i % 5 === 0, ...(i % 5 === 0 ? {} : { object: { size: i, etag: 'e', sha256: 's', lastModified: 1, metadata: { user: {} }, tags: {} } }), holders: i % 5 === 0 ? [] : ['n1'] })),
      ]
      const memory = new Catalog()
      for (const e of entries) memory.apply(e)
      // The file as the first schema kept it, written as that release did.
      const db = new DatabaseSync(path)
      db.exec(`PRAGMA journal_mode = WAL;
        CREATE TABLE catalog_objects (bucket TEXT NOT NULL, key TEXT NOT NULL, range INTEGER NOT NULL, deleted INTEGER NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (bucket, key)) WITHOUT ROWID;
        CREATE INDEX catalog_ranges ON catalog_objects (bucket, range, key);
        CREATE TABLE catalog_buckets (name TEXT PRIMARY KEY, state TEXT NOT NULL);
        CREATE TABLE info (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO info (name, value) VALUES ('schema', '1');`)
      const state = { entry: entries[0], live: memory.objectCount('bkt'), bytes: memory.bucketTotals('bkt').bytes, ranges: memory.rangeDigests('bkt') }
      db.prepare('INSERT INTO catalog_buckets (name, state) VALUES (?, ?)').run('bkt', JSON.stringify(state))
      for (const e of entries.slice(1)) db.prepare('INSERT INTO catalog_objects (bucket, key, range, deleted, entry) VALUES (?, ?, ?, ?, ?)').run('bkt', e.key!, rangeOf('bkt', e.key!), e.deleted ? 1 : 0, JSON.stringify(e))
      db.close()
      const store = await CatalogDb.open(path, join(dir, 'none.journal'))
      try {
        assert.equal(store.fresh, false, 'upgraded, not moved aside and made again')
        assert.deepEqual((await readdir(dir)).filter(n => n.includes('damaged')), [])
        const c = new Catalog(store.table)
        assert.deepEqual(said(c), said(memory), 'every entry is there, digests, pages and counts as before')
        const fromRows = new Catalog()
        for (const e of c.entries('bkt')) fromRows.apply(e)
        assert.deepEqual(c.rangeDigests('bkt'), fromRows.rangeDigests('bkt'), 'the digests kept are those of the rows')
        assert.deepEqual(c.versionTotals('bkt'), { versions: 40, bytes: memory.bucketTotals('bkt').bytes }, 'a bucket\'s versions are its live objects')
        assert.deepEqual(c.slots('bkt', 'k1').map(e => e.versionId), [undefined])
        c.apply({ bucket: 'bkt', key: 'k1', versionId: idAt(100), version: { ms: 100, counter: 0, node: 'n1' }, deleted: false, object: { size: 7, etag: 'e', sha256: 't', lastModified: 1, metadata: { user: {} }, tags: {} }, holders: ['n1'] })
        assert.equal(c.get('bkt', 'k1')?.versionId, idAt(100), 'an upgraded key takes versions')
      } finally { await store.close() }
      const check = new DatabaseSync(path)
      assert.equal((check.prepare("SELECT value FROM info WHERE name = 'schema'").get() as { value: string }).value, '2')
      check.close()
    })
  })

  it('drops a holder outside the merge, keeping digests in step', async () => {
    await withDir(async dir => {
      const store = await CatalogDb.open(join(dir, 'c.db'), join(dir, 'none.journal'))
      const c = new Catalog(store.table)
      const obj = { size: 1, etag: 'e', sha256: 's', lastModified: 1, metadata: { user: {} }, tags: {} }
      const e: CatalogEntry = { bucket: 'b', key: 'k', version: { ms: 1, counter: 0, node: 'n1' }, deleted: false, object: obj, holders: ['n1', 'n2'] }
      c.apply(e)
      c.dropHolder('b', 'k', 'n1')
      assert.deepEqual(c.get('b', 'k')!.holders, ['n2'])
      const fresh = new Catalog()
      fresh.apply({ ...e, holders: ['n2'] })
      assert.deepEqual(c.rangeDigests('b'), fresh.rangeDigests('b'))
      await store.close()
    })
  })

  it('imports a journal left by an older s3mesh once, then removes it', async () => {
    await withDir(async dir => {
      const journalPath = join(dir, 'catalog.journal')
      const journal = new CatalogJournal(journalPath)
      await journal.load()
      const entries: CatalogEntry[] = Array.from({ length: 3000 }, (_, i) => ({ bucket: 'bkt', key: `k${i}`, version: { ms: i, counter: 0, node: 'n1' }, deleted: i % 3 === 0, ...(i % 3 === 0 ? {} : { object: { size: 1, etag: 'e'.repeat(32), sha256: 'a'.repeat(64), lastModified: 1, metadata: { user: {} }, tags: {} } }), holders: ['n1'] }))
      for (const e of entries) journal.record(e)
      await journal.close()
      const store = await CatalogDb.open(join(dir, 'c.db'), journalPath)
      const loaded = await store.load()
      assert.equal(loaded.length, 3000)
      const c = new Catalog(store.table)
      for (const e of loaded) c.apply(e)
      await store.flush(true)
      await assert.rejects(stat(journalPath), /ENOENT/, 'removed once the entries are committed')
      await store.close()
      const again = await CatalogDb.open(join(dir, 'c.db'), journalPath)
      assert.deepEqual(await again.load(), [], 'nothing to import the second time')
      assert.equal(new Catalog(again.table).get('bkt', 'k2999')?.version.ms, 2999)
      await again.close()
    })
  })

  it('counts a bucket\'s bytes once from its rows when its state was saved before they were kept', async () => {
    await withDir(async dir => {
      const path = join(dir, 'c.db')
      const first = await CatalogDb.open(path, join(dir, 'none.journal'))
      const c = new Catalog(first.table)
      c.apply({ bucket: 'b', version: { ms: 1, counter: 0, node: 'n1' }, deleted: false, holders: [] })
      for (let i = 0; i < 5; i++) c.apply({ bucket: 'b', key: `k${i}`, version: { ms: 2, counter: 0, node: 'n1' }, deleted: false, object: { size: 10 + i, etag: 'e', sha256: 's', lastModified: 1, metadata: { user: {} }, tags: {} }, holders: ['n1'] })
      await first.flush(true)
      await first.close()
      // The state as an older s3mesh saved it: no bytes.
      const db = new DatabaseSync(path)
      const row = db.prepare('SELECT state FROM catalog_buckets WHERE name = ?').get('b') as { state: string }
      const { bytes: _bytes, ...older } = JSON.parse(row.state) as Record<string, unknown>
      db.prepare('UPDATE catalog_buckets SET state = ? WHERE name = ?').run(JSON.stringify(older), 'b')
      db.close()
      const again = await CatalogDb.open(path, join(dir, 'none.journal'))
      assert.deepEqual(new Catalog(again.table).bucketTotals('b'), { objects: 5, bytes: 60 })
      await again.close()
    })
  })

  it('moves a damaged file aside and starts empty (the mesh fills it again)', async () => {
    await withDir(async dir => {
      const path = join(dir, 'c.db')
      await writeFile(path, Buffer.alloc(16384, 0x33))
      const store = await CatalogDb.open(path, join(dir, 'none.journal'))
      assert.deepEqual(new Catalog(store.table).bucketNames(), [])
      assert.ok((await readdir(dir)).some(n => n.startsWith('c.db.damaged-')))
      await store.close()
    })
  })

  it('keeps what it committed when the process is killed before any durable flush', async () => {
    await withDir(async dir => {
      const path = join(dir, 'killed.db')
      // A child applies entries, lets the turn's commit happen, and is killed: no close, no durable flush.
      const child = `
        import { CatalogDb } from ${JSON.stringify(new URL('../../src/node/catalog-db.ts', import.meta.url).href)}
        import { Catalog } from ${JSON.stringify(new URL('../../src/core/mesh/catalog.ts', import.meta.url).href)}
        const store = await CatalogDb.open(${JSON.stringify(path)}, ${JSON.stringify(join(dir, 'none.journal'))})
        const c = new Catalog(store.table)
        for (let i = 0; i < 100; i++) c.apply({ bucket: 'bkt', key: 'k' + i, version: { ms: 1, counter: 0, node: 'n1' }, deleted: false, holders: ['n1'], object: { size: 1, etag: 'e', sha256: 'a', lastModified: 1, metadata: { user: {} }, tags: {} } })
        await new Promise(resolve => setTimeout(resolve, 50))
        process.kill(process.pid, 'SIGKILL')`
      assert.throws(() => execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child], { stdio: 'pipe' }), (e: { signal?: string }) => e.signal === 'SIGKILL', 'the child was killed')
      const again = await CatalogDb.open(path, join(dir, 'none.journal'))
      try {
        assert.equal(new Catalog(again.table).objectCount('bkt'), 100, 'every committed entry is there after the kill')
      } finally { await again.close() }
    })
  })

  it('on a full disk, a durable flush fails and the digests say what the table holds', { skip: process.getuid?.() !== 0 ? 'needs root to mount a small tmpfs' : false }, async () => {
    const mnt = await mkdtemp(join(tmpdir(), 's3mesh-full-'))
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt])
    try {
      const store = await CatalogDb.open(join(mnt, 'c.db'), join(mnt, 'none.journal'))
      const c = new Catalog(store.table)
      const obj = { size: 1, etag: 'e'.repeat(32), sha256: 'a'.repeat(64), lastModified: 1, metadata: { user: { pad: 'x'.repeat(200) } }, tags: {} }
      let failed: unknown
      for (let round = 0; round < 200 && failed === undefined; round++) {
        for (let i = 0; i < 50; i++) c.apply({ bucket: 'bkt', key: `r${round}-k${i}`, version: { ms: 1, counter: 0, node: 'n1' }, deleted: false, object: obj, holders: ['n1'] })
        await store.flush(true).catch((err: unknown) => { failed = err })
      }
      assert.ok(failed !== undefined, 'the disk filled up and a durable flush said so')
      const rows = new Catalog()
      for (const e of c.entries('bkt')) rows.apply(e)
      assert.deepEqual(c.rangeDigests('bkt'), rows.rangeDigests('bkt'), 'the digests were recounted from the rows that are there')
      assert.equal(c.objectCount('bkt'), rows.objectCount('bkt'))
      await store.close()
    } finally {
      execFileSync('umount', [mnt])
      await rm(mnt, { recursive: true, force: true })
    }
  })
})
