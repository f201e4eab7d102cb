import assert from 'node:assert/strict'
import { existsSync, readdirSync } from 'node:fs'
import { mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { streamOfBytes } from '../../src/core/streams.js'
import type { MetaRecord } from '../../src/node/disk-records.js'
import { DiskLayout } from '../../src/node/disk-layout.js'
import { DiskStore } from '../../src/node/disk-store.js'
import { DurableFolders } from '../../src/node/durable-folders.js'
import { GroupFsync } from '../../src/node/group-fsync.js'
import { MetaDb } from '../../src/node/meta-db.js'
import { compareKeys } from '../../src/core/key-order.js'

describe('GroupFsync (group commit of fsyncs)', () => {
  it('shares fsyncs between concurrent callers, and every caller waits for an fsync that started after it asked', async () => {
    const started: number[] = []
    let clock = 0
    const releases: Array<() => void> = []
    const syncer = new GroupFsync(async () => {
      started.push(clock)
      await new Promise<void>(resolve => releases.push(resolve))
    })
    const asked: Array<{ at: number, done: boolean }> = []
    const ask = (): Promise<void> => {
      const me = { at: ++clock, done: false }
      asked.push(me)
      return syncer.sync('/d').then(() => { me.done = true })
    }
    const all = [ask()]
    await Promise.resolve()
    for (let i = 0; i < 9; i++) all.push(ask())
    assert.equal(started.length, 1, 'one fsync runs; the nine later callers wait for the next round')
    releases.shift()!()
    await new Promise(resolve => setTimeout(resolve, 0))
    assert.equal(asked[0]!.done, true)
    assert.equal(asked.slice(1).some(a => a.done), false, 'the fsync that started before them does not count for them')
    assert.equal(started.length, 2)
    assert.ok(started[1]! >= 10, 'the second fsync started after the last caller asked')
    releases.shift()!()
    await Promise.all(all)
    assert.equal(started.length, 2, 'ten callers, two fsyncs')
  })

  it('passes an fsync failure to every caller of that round', async () => {
    const syncer = new GroupFsync(async () => { throw new Error('EIO') })
    await assert.rejects(Promise.all([syncer.sync('/x'), syncer.sync('/x')]), /EIO/)
    await assert.rejects(syncer.sync('/x'), /EIO/)
  })
})

async function until (check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

/** A MetaDb that fsyncs, and FileHandle's prototype (the log's fsync goes through it) for a test to stand in for its sync. */
async function syncedDb (): Promise<{ dir: string, db: MetaDb, proto: { sync: () => Promise<void> }, realSync: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 's3mesh-metadb-'))
  const db = await MetaDb.open(join(dir, 'meta.db'), { sync: true })
  const probe = await open(join(dir, 'meta.db'), 'r')
  const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> }
  await probe.close()
  return { dir, db, proto, realSync: proto.sync }
}

describe('MetaDb (object metadata in node:sqlite)', () => {
  const meta = (key: string, size = 1): MetaRecord => ({ v: 1, key, size, etag: 'e', sha256: 's', lastModified: 0, metadata: { user: {} }, tags: {}, hidden: false, ino: 1, mtimeMs: 0 })
  const withDb = async (fn: (dir: string, db: MetaDb) => Promise<void>): Promise<void> => {
    const dir = await mkdtemp(join(tmpdir(), 's3mesh-metadb-'))
    const db = await MetaDb.open(join(dir, 'meta.db'), { sync: false })
    try { await fn(dir, db) } finally { db.close(); await rm(dir, { recursive: true, force: true }) }
  }

  it('lists in UTF-8 byte order (S3\'s), pages with prefixes and start-after, and keeps buckets apart', async () => {
    await withDb(async (_dir, db) => {
      // U+FF5E sorts after U+1F600 in UTF-16 (whose surrogates are D8xx) but before it in UTF-8 (EF BD BE < F0 9F 98 80).
      const keys = ['a', 'a/b', 'a.txt', 'b', '\uff5e', '\u{1f600}', 'é', 'z', 'A']
      await Promise.all(keys.map(async k => { await db.put('b1', meta(k)) }))
      await db.put('b2', meta('a'))
      const all = db.page('b1', { limit: 100 }).rows.map(r => r.key)
      assert.deepEqual(all, [...keys].sort(compareKeys))
      assert.notDeepEqual([...keys].sort(compareKeys), [...keys].sort(), 'the test has keys whose UTF-16 and UTF-8 orders differ')
      assert.deepEqual(db.page('b1', { prefix: 'a', limit: 2 }), { rows: db.page('b1', { limit: 100 }).rows.filter(r => r.key.startsWith('a')).slice(0, 2), isTruncated: true })
      assert.deepEqual(db.page('b1', { prefix: 'a', startAfter: 'a.txt', limit: 10 }).rows.map(r => r.key), ['a/b'])
      assert.deepEqual(db.page('b1', { prefix: 'b', startAfter: 'a', limit: 10 }).rows.map(r => r.key), ['b'], 'a start-after before the prefix is ignored')
      assert.equal(db.count('b2'), 1)
      await db.removeBucket('b2')
      assert.equal(db.hasAny('b2'), false)
      assert.equal(db.count('b1'), keys.length)
    })
  })

  it('commits the writes of one turn together, and a failing one fails alone', async () => {
    await withDb(async (_dir, db) => {
      const writes = Array.from({ length: 100 }, async (_, i) => { await db.put('b', meta(`k${i}`, i)) })
      const bad = db.settle('no-such-intent', 'b', { ...meta('x'), size: null as unknown as number })
      await Promise.all(writes)
      await assert.rejects(bad, /NOT NULL/)
      assert.equal(db.count('b'), 100)
      assert.equal(db.get('b', 'k42')?.size, 42)
      assert.equal(db.has('b', 'x'), false)
    })
  })

  it('answers a write only once an fsync of the log that began after its commit has ended; one fsync at a time, shared by the writes committed meanwhile', async () => {
    const { dir, db, proto, realSync } = await syncedDb()
    // The log's fsync is held until the test lets it go.
    const held: Array<() => void> = []
    let running = 0
    let most = 0
    proto.sync = async function (this: unknown) {
      running++
      most = Math.max(most, running)
      await new Promise<void>(resolve => held.push(resolve))
      try { await realSync.call(this) } finally { running-- }
    }
    try {
      const done: string[] = []
      const first = db.put('b', meta('first')).then(() => { done.push('first') })
      await until(() => held.length === 1)
      assert.equal(db.get('b', 'first')?.key, 'first', 'committed (a read sees it) while its fsync runs')
      const second = db.put('b', meta('second')).then(() => { done.push('second') })
      const third = db.put('b', meta('third')).then(() => { done.push('third') })
      await new Promise(resolve => setTimeout(resolve, 30))
      assert.deepEqual(done, [], 'nothing is answered before the fsync ends')
      assert.equal(held.length, 1, 'a second fsync does not start while one runs')
      held.shift()!()
      await first
      await until(() => held.length === 1)
      assert.deepEqual(done, ['first'], 'the writes committed during the first fsync wait for the next')
      held.shift()!()
      await Promise.all([second, third])
      assert.deepEqual(done.sort(), ['first', 'second', 'third'])
      assert.equal(most, 1)
    } finally {
      proto.sync = realSync
      for (const release of held) release()
      db.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses every write once an fsync of the log failed (the kernel may have dropped its pages), until a restart', async () => {
    const { dir, db, proto, realSync } = await syncedDb()
    try {
      await db.put('b', meta('before'))
      proto.sync = async () => { throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }) }
      await assert.rejects(db.put('b', meta('failed')), /could not be synced \(EIO/)
      proto.sync = realSync
      await assert.rejects(db.put('b', meta('after')), /writes are refused until the server restarts/, 'a later fsync would not tell: nothing is answered durable')
      db.close()
      const again = await MetaDb.open(join(dir, 'meta.db'), { sync: true })
      try {
        await again.put('b', meta('after restart'))
        assert.equal(again.get('b', 'before')?.key, 'before')
      } finally { again.close() }
    } finally {
      proto.sync = realSync
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses a write committed while the failing fsync ran, though the fsync after it ends well (a new descriptor does not hear of the lost pages)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 's3mesh-metadb-'))
    // The first fsync fails once the test says so; the ones after it end well.
    let calls = 0
    let failFirst: (() => void) | undefined
    const db = await MetaDb.open(join(dir, 'meta.db'), {
      sync: true,
      logFsync: async () => {
        if (++calls > 1) return
        await new Promise<void>(resolve => { failFirst = resolve })
        throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' })
      },
    })
    try {
      const first = db.put('b', meta('first'))
      await until(() => failFirst !== undefined)
      // Committed while the first fsync runs: it waits for the next one.
      const second = db.put('b', meta('second'))
      await new Promise(resolve => setTimeout(resolve, 20))
      failFirst!()
      await assert.rejects(first, /could not be synced \(EIO/)
      await assert.rejects(second, /could not be synced \(EIO/, 'not answered durable')
      assert.equal(calls, 2, 'precondition: the fsync after the failed one ran, and ended well')
    } finally {
      failFirst?.()
      db.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('moves a damaged file aside and starts a new database, saying it is new', async () => {
    await withDb(async (dir) => {
      const path = join(dir, 'other.db')
      await writeFile(path, Buffer.alloc(8192, 7))
      const db = await MetaDb.open(path, { sync: false })
      try {
        assert.equal(db.created, true)
        assert.equal(db.count('b'), 0)
        assert.ok((await readdir(dir)).some(n => n.startsWith('other.db.damaged-')), 'the damaged file is kept aside')
      } finally { db.close() }
      const again = await MetaDb.open(path, { sync: false })
      try { assert.equal(again.created, false) } finally { again.close() }
    })
  })
})

describe('folders fsynced after a PUT\'s rename', () => {
  it('are the file\'s folder and, when the rename made folders (the first key under a new prefix), each one\'s parent up to the bucket\'s', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-folders-'))
    const synced: string[] = []
    const store = await DiskStore.open(root, { scanIntervalMs: 0, fsyncFolder: async dir => { synced.push(dir) } })
    try {
      await store.createBucket('b')
      const bucket = new DiskLayout(root).bucketDir('b')
      assert.deepEqual(synced, [bucket, root], 'a new bucket\'s folder is fsynced in the data folder')
      const put = async (key: string): Promise<string[]> => {
        synced.length = 0
        await store.putObject('b', key, streamOfBytes(new TextEncoder().encode(key)), { metadata: { user: {} } })
        // Every folder fsynced, the data root's and above included (none should be): relative to the bucket's.
        return synced.map(d => d.startsWith(bucket) ? d.slice(bucket.length) : `outside: ${d}`)
      }
      assert.deepEqual(await put('a/b/c.txt'), ['/a/b', '/a', ''], 'a/ and a/b/ were made: their entries are fsynced too')
      assert.deepEqual(await put('a/b/d.txt'), ['/a/b'], 'nothing made: the file\'s folder alone')
      assert.deepEqual(await put('top.txt'), [''])
      assert.deepEqual(await put('a/x/y/z.txt'), ['/a/x/y', '/a/x', '/a'], 'a/ was there: fsynced for x/, and no further')
      // A key that cannot be a file (it ends in '/') is kept hidden under .s3mesh, its folders made for it the same way.
      const layout = new DiskLayout(root)
      const folder = dirname(layout.hiddenPath('b', 'dir/'))
      const chain: string[] = []
      for (let d = folder; ; d = dirname(d)) { chain.push(d); if (existsSync(d)) break }
      assert.ok(chain.length > 1, 'precondition: the hidden key\'s folder is new')
      synced.length = 0
      await store.putObject('b', 'dir/', streamOfBytes(new TextEncoder().encode('x')), { metadata: { user: {} } })
      // Then the folder shown for it (b/dir/), made durable as any folder (an object put in it next counts on it).
      assert.deepEqual(synced, [...chain, join(bucket, 'dir'), bucket], 'its folder, and each one made up to the one that was there')
    } finally {
      await store.close()
      await rm(root, { recursive: true, force: true })
    }
  })

  it('a PUT into a folder another PUT made answers only once that folder\'s entry is fsynced in its parent', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-folders-'))
    const bucket = new DiskLayout(root).bucketDir('b')
    // The bucket folder's fsync (the one that makes a/ durable) is held until released.
    let release!: () => void
    const held = new Promise<void>(resolve => { release = resolve })
    let holding = false
    const synced: string[] = []
    const store = await DiskStore.open(root, {
      scanIntervalMs: 0,
      fsyncFolder: async dir => {
        synced.push(dir)
        if (holding && dir === bucket) await held
      },
    })
    const running: Array<Promise<void>> = []
    try {
      await store.createBucket('b')
      synced.length = 0
      holding = true
      const done: string[] = []
      const put = (key: string): Promise<void> => {
        const p = store.putObject('b', key, streamOfBytes(new TextEncoder().encode(key)), { metadata: { user: {} } }).then(() => { done.push(key) })
        running.push(p)
        return p
      }
      const first = put('a/b/c.txt')
      const firstDeadline = Date.now() + 10_000
      while (!synced.includes(bucket) && Date.now() < firstDeadline) await new Promise(resolve => setTimeout(resolve, 5))
      assert.ok(existsSync(join(bucket, 'a/b/c.txt')), 'precondition: the first PUT made a/b/ and renamed its file in; it waits for the bucket folder\'s fsync')
      // Same folder (a/b/, made by the first), and a new folder (a/x/) in a/, made by the first.
      const others = [put('a/b/d.txt'), put('a/x/e.txt')]
      const deadline = Date.now() + 10_000
      while (!(existsSync(join(bucket, 'a/b/d.txt')) && existsSync(join(bucket, 'a/x/e.txt'))) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 5))
      assert.ok(existsSync(join(bucket, 'a/b/d.txt')) && existsSync(join(bucket, 'a/x/e.txt')), 'precondition: both are in place')
      // Time for their own folders' fsyncs and rows (they answered by then on the old code).
      await new Promise(resolve => setTimeout(resolve, 150))
      assert.deepEqual(done, [], 'neither answers while a/ may still be lost')
      release()
      await Promise.all([first, ...others])
      assert.deepEqual(done.slice().sort(), ['a/b/c.txt', 'a/b/d.txt', 'a/x/e.txt'])
      // Once a/ is durable a PUT into a/b/ fsyncs its own folder alone.
      synced.length = 0
      await put('a/b/f.txt')
      assert.deepEqual(synced, [join(bucket, 'a/b')])
      assert.deepEqual((store as unknown as { writer: { deps: { folders: DurableFolders } } }).writer.deps.folders.unsureFolders(), [], 'no note left')
    } finally {
      release()
      await Promise.allSettled(running)
      await store.close()
      await rm(root, { recursive: true, force: true })
    }
  })

  it('a versioned key\'s versions folder and the key beside it are fsynced in their parents before anything is moved in', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-folders-'))
    const synced: string[] = []
    const layout = new DiskLayout(root)
    const versions = layout.versionsDir('b', 'k')
    // What the versions folder held when its entry was fsynced in its parent.
    let heldThen: string[] | undefined
    const store = await DiskStore.open(root, {
      scanIntervalMs: 0,
      fsyncFolder: async dir => {
        synced.push(dir)
        if (dir === dirname(versions)) heldThen = readdirSync(versions)
      },
    })
    try {
      await store.createBucket('b')
      await store.setBucketVersioning('b', 'Enabled')
      const put = async (body: string): Promise<void> => { await store.putObject('b', 'k', streamOfBytes(new TextEncoder().encode(body)), { metadata: { user: {} } }) }
      await put('one')
      assert.ok(!existsSync(versions), 'precondition: no version is kept yet')
      const chain: string[] = [versions]
      for (let d = dirname(versions); ; d = dirname(d)) { chain.push(d); if (existsSync(d) || d === layout.root) break }
      synced.length = 0
      await put('two')
      assert.ok(existsSync(versions), 'precondition: the second PUT shelved the first in the key\'s versions folder')
      for (const d of chain.slice(1)) assert.ok(synced.includes(d), `${d.slice(root.length)} fsynced (it holds a new entry)`)
      assert.ok(synced.includes(versions) && synced.indexOf(dirname(versions)) < synced.lastIndexOf(versions), 'the folder\'s entry fsynced, then the folder after the shelving')
      assert.deepEqual(heldThen, [], 'its entry was durable before anything was shelved into it')
      assert.equal(readdirSync(versions).length, 1, 'then the first version was shelved')
    } finally {
      await store.close()
      await rm(root, { recursive: true, force: true })
    }
  })
})
