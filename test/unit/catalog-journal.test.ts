/** The catalog journal on disk: what is recorded comes back after a restart, a torn tail is cut off, compaction keeps everything. */
import assert from 'node:assert/strict'
import { appendFile, copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Catalog } from '../../src/core/mesh/catalog.js'
import type { CatalogEntry } from '../../src/core/mesh/catalog-entry.js'
import { CatalogJournal } from '../../src/node/catalog-journal.js'
import { until } from '../helpers/until.js'

const NODE = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'

/** What a journal file replays to, read by a journal of its own (loading may cut a torn tail). */
async function reread (path: string): Promise<string[]> {
  const j = new CatalogJournal(path)
  try { return catalogOf(await j.load()) } finally { await j.close() }
}

function entry (key: string, ms: number, deleted = false): CatalogEntry {
  return deleted
    ? { bucket: 'photos', key, version: { ms, counter: 0, node: NODE }, deleted: true, holders: [] }
    : { bucket: 'photos', key, version: { ms, counter: 0, node: NODE }, deleted: false, holders: [NODE], object: { size: 3, etag: '"e"', sha256: 'ab'.repeat(32), lastModified: ms, metadata: { user: {} }, tags: {} } }
}

/** What a catalog says after applying `entries`, as comparable rows. */
function catalogOf (entries: CatalogEntry[]): string[] {
  const c = new Catalog()
  for (const e of entries) c.apply(e)
  return [...c.entries('photos')].map(e => `${e.key!}@${e.version.ms}${e.deleted ? ' deleted' : ''}`)
}

describe('catalog journal', () => {
  const dirs: string[] = []
  after(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })
  const fresh = async (): Promise<string> => { const d = await mkdtemp(join(tmpdir(), 's3mesh-journal-')); dirs.push(d); return join(d, 'catalog.journal') }

  it('gives back what was recorded, across close and reopen, newest version winning', async () => {
    const path = await fresh()
    const j = new CatalogJournal(path)
    assert.deepEqual(await j.load(), [], 'a missing file is an empty catalog')
    j.record(entry('a', 1))
    j.record(entry('b', 1))
    await j.flush(true)
    j.record(entry('a', 2, true))
    await j.close()
    assert.deepEqual(await reread(path), ['a@2 deleted', 'b@1'])
  })

  it('writes what was recorded during a write without waiting for another change', async () => {
    const path = await fresh()
    const j = new CatalogJournal(path, false)
    await j.load()
    j.record(entry('first', 1))
    // Recorded while the first record's write is under way.
    j.record(entry('second', 1))
    // Read from a copy: loading cuts a torn tail, and the writer may be mid-record.
    await until('both records are in the file', async () => {
      await copyFile(path, `${path}.copy`)
      return (await reread(`${path}.copy`)).length === 2
    }, 5000)
    await j.close()
  })

  it('cuts a torn or corrupt tail off and appends after the last whole record', async () => {
    const path = await fresh()
    const j = new CatalogJournal(path)
    await j.load()
    j.record(entry('a', 1))
    await j.flush(true)
    j.record(entry('b', 1))
    await j.close()
    const whole = (await stat(path)).size
    // A crash half-way through an append: a header promising more bytes than follow.
    await appendFile(path, Buffer.from([0, 0, 1, 0, 9, 9, 9, 9, 1, 2, 3]))
    const k = new CatalogJournal(path)
    assert.deepEqual(catalogOf(await k.load()), ['a@1', 'b@1'])
    assert.equal((await stat(path)).size, whole, 'the torn record is gone from the file')
    k.record(entry('c', 1))
    await k.close()
    assert.deepEqual(await reread(path), ['a@1', 'b@1', 'c@1'], 'the append after the cut reads back')

    // A flipped byte inside the last record fails its CRC: replay stops before it.
    const bytes = await readFile(path)
    bytes[bytes.length - 2]! ^= 0xff
    await writeFile(path, bytes)
    assert.deepEqual(await reread(path), ['a@1', 'b@1'])
  })

  it('compaction rewrites the file from the catalog, smaller, losing nothing recorded meanwhile', async () => {
    const path = await fresh()
    const j = new CatalogJournal(path, false)
    await j.load()
    const catalog = new Catalog()
    for (let round = 1; round <= 30; round++) {
      for (let i = 0; i < 200; i++) {
        const e = entry(`key-${i}`, round)
        catalog.apply(e)
        j.record(e)
      }
      await j.flush(false)
    }
    assert.ok(j.wantsCompaction(200), 'thirty versions of each entry: worth compacting')
    const before = (await stat(path)).size
    // Recorded just before the rewrite (its write is under way when compaction starts).
    catalog.apply(entry('late', 99))
    j.record(entry('late', 99))
    const compacting = j.compact(catalog.entries('photos'))
    // Changed while the rewrite runs: after its snapshot of the catalog.
    catalog.apply(entry('during', 100))
    j.record(entry('during', 100))
    await compacting
    assert.ok((await stat(path)).size < before / 10, 'the file shrank')
    assert.equal(j.wantsCompaction(202), false)
    await j.close()
    const rows = await reread(path)
    assert.equal(rows.length, 202)
    assert.ok(rows.includes('key-7@30') && rows.includes('late@99') && rows.includes('during@100'))
  })
})
