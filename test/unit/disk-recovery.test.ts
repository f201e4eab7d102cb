import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { describe, it } from 'node:test'
import { streamOfBytes } from '../../src/core/streams.js'
import type { MetaRecord, PendingMeta } from '../../src/node/disk-records.js'
import { DiskLayout } from '../../src/node/disk-layout.js'
import { MetaDb } from '../../src/node/meta-db.js'
import { DiskStore } from '../../src/node/disk-store.js'
import { readStream } from '../compliance/object-store-suite.js'
import { until } from '../helpers/until.js'
import { folderFsyncFault, metaDbOf, putWhoseRowsFail, unavailable, versionedChangeWhoseShelvingFails } from '../helpers/disk-faults.js'

const enc = new TextEncoder()

/**
 * Replays a commit by hand up to the point a crash would cut it: the intent
 * made durable in the metadata database, and the data rename done or not.
 * `upload`: the folder of the multipart upload it completes.
 */
async function interruptedCommit (root: string, key: string, body: string, dataRenamed: boolean, upload?: string): Promise<void> {
  const layout = new DiskLayout(root)
  const dataTmp = layout.tmpPath('crash-data')
  await writeFile(dataTmp, body)
  const s = await stat(dataTmp)
  const dataPath = layout.visiblePath('b', key)!
  const record: MetaRecord = {
    v: 1, key, size: s.size, etag: 'e'.repeat(32), sha256: 's'.repeat(64), lastModified: Date.now(), metadata: { user: { v: 'new' } }, tags: {},
    hidden: false, ino: s.ino, mtimeMs: s.mtimeMs,
  }
  const db = await MetaDb.open(layout.metaDb, { sync: false })
  try { await db.intend({ id: 'crash', bucket: 'b', record, dataTmp, dataPath, ...(upload === undefined ? {} : { upload }) }) } finally { db.close() }
  if (dataRenamed) await rename(dataTmp, dataPath)
}

async function read2 (store: DiskStore, bucket: string, key: string): Promise<string> {
  return new TextDecoder().decode(await readStream((await store.openObject(bucket, key)).stream()))
}

async function read (store: DiskStore, key: string): Promise<string> {
  return new TextDecoder().decode(await readStream((await store.openObject('b', key)).stream()))
}

/** Runs `fn` with a new data folder, removed after it. */
async function inFolder (fn: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 's3mesh-crash-'))
  try { await fn(root) } finally { await rm(root, { recursive: true, force: true }) }
}

describe('DiskStore crash recovery', () => {
  it('finishes a commit cut between its data rename and its metadata rename', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-crash-'))
    try {
      const first = await DiskStore.open(root)
      await first.createBucket('b')
      await first.putObject('b', 'k', streamOfBytes(enc.encode('old')), { metadata: { user: { v: 'old' } } })
      await first.close()
      await interruptedCommit(root, 'k', 'new!', true)
      const store = await DiskStore.open(root)
      assert.equal(await read(store, 'k'), 'new!')
      assert.equal((await store.headObject('b', 'k')).metadata.user.v, 'new')
      assert.deepEqual(await readdir(store.layout.tmp), [])
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('a plain PUT whose rows cannot be written after its data rename is not served half made (new bytes, old ETag), and is finished by the next start', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-crash-'))
    try {
      let store = await DiskStore.open(root)
      await store.createBucket('b')
      const old = await store.putObject('b', 'k', streamOfBytes(enc.encode('old')), { metadata: { user: { v: 'old' } } })
      await putWhoseRowsFail(store)
      assert.equal(await readFile(join(root, 'b', 'k'), 'utf8'), 'new!', 'the new bytes are in place')
      const unavailable = (err: Error & { code?: string }): boolean => err.code === 'ServiceUnavailable'
      await assert.rejects(store.headObject('b', 'k'), unavailable)
      await assert.rejects(store.openObject('b', 'k'), unavailable)
      await store.close()
      store = await DiskStore.open(root)
      try {
        assert.equal(await read(store, 'k'), 'new!')
        const head = await store.headObject('b', 'k')
        assert.equal(head.metadata.user.v, 'new')
        assert.notEqual(head.etag, old.etag)
        assert.equal(head.etag, createHash('md5').update('new!').digest('hex'))
      } finally { await store.close() }
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
  it('a start that cannot make an interrupted PUT durable (its folder\'s fsync fails) leaves the key waiting (503) and starts; a later start finishes it', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-crash-'))
    try {
      let store = await DiskStore.open(root)
      await store.createBucket('b')
      await store.putObject('b', 'k', streamOfBytes(enc.encode('old')), { metadata: { user: {} } })
      await putWhoseRowsFail(store)
      await store.close()
      const bucket = join(root, 'b')
      let failed = 0
      store = await DiskStore.open(root, { fsyncFolder: async dir => { if (dir === bucket) { failed++; throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }) } } })
      try {
        assert.ok(failed > 0, 'precondition: the start tried to fsync the bytes\' folder, and failed')
        await assert.rejects(store.headObject('b', 'k'), (err: Error & { code?: string }) => err.code === 'ServiceUnavailable')
      } finally { await store.close() }
      store = await DiskStore.open(root)
      try {
        // Finished from the intent (not adopted by a read as a file put by hand): no intent left, the new row.
        const again = (store as unknown as { db: MetaDb }).db
        assert.deepEqual(again.intents(), [])
        assert.equal(again.get('b', 'k')?.size, 4)
        assert.equal(await read(store, 'k'), 'new!')
      } finally { await store.close() }
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('opens a database of the release before (its intents name no upload) in place, and finishes the commit it was cut in', async () => {
    await inFolder(async root => {
    const first = await DiskStore.open(root)
    await first.createBucket('b')
    await first.putObject('b', 'k', streamOfBytes(enc.encode('old')), { metadata: { user: { v: 'old' } } })
    await first.close()
    await interruptedCommit(root, 'k', 'new!', true)
    // The database as the release before left it: the same schema number, without the column.
    const db = new DatabaseSync(join(root, '.s3mesh', 'meta.db'))
    db.exec('ALTER TABLE intents DROP COLUMN upload;')
    db.close()
    const store = await DiskStore.open(root)
    try {
      assert.deepEqual((await readdir(join(root, '.s3mesh'))).filter(n => n.includes('damaged')), [], 'not moved aside')
      assert.equal(await read(store, 'k'), 'new!')
      assert.equal((await store.headObject('b', 'k')).metadata.user.v, 'new')
    } finally { await store.close() }
    })
  })

  it('rolls back a commit cut before its data rename, and cleans temp files', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-crash-'))
    try {
      const first = await DiskStore.open(root)
      await first.createBucket('b')
      await first.putObject('b', 'k', streamOfBytes(enc.encode('old')), { metadata: { user: {} } })
      await first.close()
      await interruptedCommit(root, 'k', 'new!', false)
      await writeFile(join(first.layout.tmp, 'half-written-upload'), 'partial')
      const store = await DiskStore.open(root)
      assert.equal(await read(store, 'k'), 'old')
      assert.deepEqual(await readdir(store.layout.tmp), [])
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('does not finish a commit whose destination holds other bytes in the intent\'s inode (one reused), and serves those bytes as they are', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-crash-'))
    try {
      const first = await DiskStore.open(root)
      await first.createBucket('b')
      await first.putObject('b', 'k', streamOfBytes(enc.encode('old')), { metadata: { user: { v: 'old' } } })
      await first.close()
      await interruptedCommit(root, 'k', 'new!', true)
      const path = join(root, 'b', 'k')
      const ino = (await stat(path)).ino
      const other = 'other bytes, not the commit\'s'
      await writeFile(path, other)
      assert.equal((await stat(path)).ino, ino, 'the same inode holds other bytes')
      const store = await DiskStore.open(root)
      try {
        const h = await store.openObject('b', 'k')
        assert.equal(new TextDecoder().decode(await readStream(h.stream())), other)
        assert.equal(h.info.etag, createHash('md5').update(other).digest('hex'), 'the ETag is of the bytes served, not the interrupted commit\'s')
        assert.equal(h.info.metadata.user.v, 'old', 'the interrupted commit\'s metadata was not taken')
      } finally { await store.close() }
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('serves a file edited by hand with its new bytes and ETag, and forgets a file deleted by hand', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-crash-'))
    try {
      const store = await DiskStore.open(root)
      await store.createBucket('b')
      await store.putObject('b', 'edited', streamOfBytes(enc.encode('original')), { metadata: { contentType: 'text/x-notes', user: { a: '1' } }, checksum: () => ({ algorithm: 'CRC32', value: 'bfJ9vQ==' }) })
      assert.equal((await store.headObject('b', 'edited')).metadata.checksum?.value, 'bfJ9vQ==')
      await store.putObject('b', 'gone', streamOfBytes(enc.encode('x')), { metadata: { user: {} } })
      await writeFile(join(root, 'b', 'edited'), 'changed by hand!')
      const h = await store.openObject('b', 'edited')
      assert.equal(new TextDecoder().decode(await readStream(h.stream())), 'changed by hand!')
      assert.equal(h.info.etag, createHash('md5').update('changed by hand!').digest('hex'))
      assert.deepEqual(h.info.metadata, { contentType: 'text/x-notes', user: { a: '1' } }, 'an edit keeps the object\'s metadata, not the checksum of the bytes before it')
      assert.equal((await store.listObjects('b', { limit: 10 })).objects.find(o => o.key === 'edited')?.size, 16)
      await rm(join(root, 'b', 'gone'))
      await assert.rejects(store.openObject('b', 'gone'), /NoSuchKey|does not exist/)
      assert.deepEqual((await store.listObjects('b', { limit: 10 })).objects.map(o => o.key), ['edited'])
      await store.close()
      const reopened = await DiskStore.open(root)
      assert.equal((await reopened.headObject('b', 'edited')).etag, h.info.etag, 'the edit\'s new ETag was saved')
      await reopened.close()
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('adopts files put into a bucket folder by hand: at start, on read, and deletes them', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-adopt-'))
    try {
      await mkdir(join(root, 'photos', '2024'), { recursive: true })
      await writeFile(join(root, 'photos', 'cat.jpg'), 'jpeg bytes')
      await writeFile(join(root, 'photos', '2024', 'dog.png'), 'png bytes')
      await writeFile(join(tmpdir(), 's3mesh-outside.txt'), 'secret')
      await symlink(join(tmpdir(), 's3mesh-outside.txt'), join(root, 'photos', 'link.txt'))
      const store = await DiskStore.open(root, { settleMs: 0 })
      assert.deepEqual((await store.listBuckets()).map(b => b.name), ['photos'], 'a folder with a bucket name is a bucket')
      await store.firstScan
      assert.deepEqual((await store.listObjects('photos', { limit: 10 })).objects.map(o => o.key), ['2024/dog.png', 'cat.jpg'], 'files are objects; symlinks are not')
      const cat = await store.headObject('photos', 'cat.jpg')
      assert.equal(cat.etag, createHash('md5').update('jpeg bytes').digest('hex'))
      assert.equal(cat.metadata.contentType, 'image/jpeg')
      await writeFile(join(root, 'photos', 'late.txt'), 'copied in while running')
      assert.equal(await read2(store, 'photos', 'late.txt'), 'copied in while running')
      await assert.rejects(store.openObject('photos', 'link.txt'), /does not exist/)
      await writeFile(join(root, 'photos', 'never-read.txt'), 'x')
      await store.deleteObject('photos', 'never-read.txt')
      await assert.rejects(store.headObject('photos', 'never-read.txt'), /does not exist/)
      assert.deepEqual((await readdir(join(root, 'photos'))).sort(), ['2024', 'cat.jpg', 'late.txt', 'link.txt'])
    } finally {
      await rm(root, { recursive: true, force: true })
      await rm(join(tmpdir(), 's3mesh-outside.txt'), { force: true })
    }
  })
})

describe('DiskStore commits and the metadata log\'s fsync', () => {
  it('answers a commit\'s settle once committed, before the log\'s fsync (a crash before it is finished from the durable intent: the test above); a write after it waits for an fsync that covers it', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-settle-'))
    // A log fsync that ends only when the test says so.
    const running: Array<() => void> = []
    const db = await MetaDb.open(join(root, 'meta.db'), { sync: true, logFsync: async () => { await new Promise<void>(resolve => { running.push(resolve) }) } })
    try {
      const record: MetaRecord = { v: 1, key: 'k', size: 3, etag: 'e'.repeat(32), sha256: 's'.repeat(64), lastModified: Date.now(), metadata: { user: {} }, tags: {}, hidden: false, ino: 1, mtimeMs: 1 }
      let intended = false
      const intent = db.intend({ id: 'w', bucket: 'b', record, dataTmp: join(root, 'tmp'), dataPath: join(root, 'k') }).then(() => { intended = true })
      await until('the intent\'s fsync runs', () => running.length === 1, 5000)
      assert.equal(intended, false, 'an intent is answered only once durable')
      running.shift()!()
      await intent
      // With no fsync let to end, the settle is still answered, and what it wrote is read back.
      await db.settleCommitted('w', 'b', record)
      assert.equal(db.get('b', 'k')?.etag, record.etag)
      assert.deepEqual(db.intents(), [])
      let put = false
      const later = db.put('b', { ...record, key: 'k2' }).then(() => { put = true })
      await until('the log is fsynced behind the settle', () => running.length === 1, 5000)
      await new Promise(resolve => setTimeout(resolve, 20))
      assert.equal(put, false, 'a later write waits for an fsync begun after it committed')
      running.shift()!()
      await until('the write after the settle gets its own fsync', () => running.length === 1, 5000)
      running.shift()!()
      await later
    } finally {
      for (const r of running) r()
      db.close()
      await rm(root, { recursive: true, force: true })
    }
  })
})

describe('DiskStore metadata database', () => {
  it('starts on a disk too full to note the start: reads are served, the format file is not written again, and the start is noted with the first write', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-full-'))
    const setInfo = MetaDb.prototype.setInfo
    try {
      let store = await DiskStore.open(root, { scanIntervalMs: 0 })
      await store.createBucket('b')
      await store.putObject('b', 'k', streamOfBytes(enc.encode('kept')), { metadata: { user: {} } })
      await store.close()
      store = await DiskStore.open(root, { scanIntervalMs: 0 })
      const before = store.session
      await store.close()
      assert.notEqual(before.previous, undefined, 'precondition: a start names the one before it')
      const format = await stat(new DiskLayout(root).formatFile)
      let refused = 0
      MetaDb.prototype.setInfo = async () => { refused++; throw Object.assign(new Error('The metadata database cannot grow: database or disk is full'), { code: 'ENOSPC' }) }
      // (Only the note alone fails: the writes after it go through the same database.)
      const lines: string[] = []
      store = await DiskStore.open(root, { scanIntervalMs: 0, log: line => { lines.push(line) } })
      try {
        assert.equal(refused, 1, 'precondition: noting the start failed')
        assert.equal(await read(store, 'k'), 'kept')
        assert.ok(lines.some(l => /could not note this start/.test(l)), lines.join('\n'))
        const after = await stat(new DiskLayout(root).formatFile)
        assert.deepEqual([after.ino, after.mtimeMs], [format.ino, format.mtimeMs], 'the format file was left as it was')
        // Room again: the first write (the start's folder scan's, or this delete) notes the start with it, so a later
        // start knows this run changed the store.
        await store.deleteObject('b', 'k')
        assert.equal(metaDbOf(store).info('session'), store.session.current)
        assert.notEqual(store.session.current, before.current)
      } finally { await store.close() }
    } finally {
      MetaDb.prototype.setInfo = setInfo
      await rm(root, { recursive: true, force: true })
    }
  })

  const listAll = async (store: DiskStore, bucket: string): Promise<Array<[string, string]>> =>
    (await store.listObjects(bucket, { limit: 1000 })).objects.map(o => [o.key, o.etag])

  /** Objects of every kind: plain paths, nested ones, and keys kept hidden (a folder marker, `a//b`, a path taken by another key). */
  async function filled (root: string): Promise<DiskStore> {
    const store = await DiskStore.open(root, { fsync: false })
    await store.createBucket('b')
    for (const key of ['plain.txt', 'dir/nested.txt', 'dir/', 'a//b', 'x', 'x/y']) {
      await store.putObject('b', key, streamOfBytes(enc.encode(`body of ${key}`)), { metadata: { user: {} } })
    }
    return store
  }

  for (const damage of ['deleted', 'overwritten with garbage'] as const) {
    it(`rebuilds the same listing from the folder when the database was ${damage}`, async () => {
      const root = await mkdtemp(join(tmpdir(), 's3mesh-rebuild-'))
      try {
        const store = await filled(root)
        const before = await listAll(store, 'b')
        assert.equal(before.length, 6)
        await store.close()
        const layout = new DiskLayout(root)
        for (const suffix of ['', '-wal', '-shm']) await rm(layout.metaDb + suffix, { force: true })
        if (damage === 'overwritten with garbage') await writeFile(layout.metaDb, Buffer.alloc(64 * 1024, 0x5a))
        const lines: string[] = []
        const rebuilt = await DiskStore.open(root, { fsync: false, settleMs: 0, log: line => lines.push(line) })
        assert.deepEqual(await listAll(rebuilt, 'b'), [], 'open does not wait for the rebuild')
        await rebuilt.firstScan
        assert.deepEqual(await listAll(rebuilt, 'b'), before)
        assert.equal(await read2(rebuilt, 'b', 'a//b'), 'body of a//b', 'a hidden object is found by the key kept beside it')
        assert.ok(lines.some(l => /rebuilding it from the bucket folders/.test(l)), lines.join('\n'))
        await until('the log says the rebuild is done', () => lines.some(l => /is rebuilt/.test(l)), 2000)
        if (damage === 'overwritten with garbage') assert.ok((await readdir(layout.system)).some(n => n.startsWith('meta.db.damaged-')), 'the damaged file is kept aside')
        await rebuilt.close()
      } finally {
        await rm(root, { recursive: true, force: true })
      }
    })
  }

  it('imports a format-1 folder (a JSON file per object), keeping metadata, hidden objects and an interrupted commit', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-format1-'))
    try {
      const layout = new DiskLayout(root)
      await mkdir(join(root, 'b', 'docs'), { recursive: true })
      await mkdir(layout.bucketsMeta, { recursive: true })
      await mkdir(layout.tmp, { recursive: true })
      await writeFile(layout.bucketMeta('b'), JSON.stringify({ name: 'b', created: 1 }))
      const legacy = async (key: string, body: string, hidden: boolean, where: 'meta' | 'journal' = 'meta'): Promise<void> => {
        const dataPath = hidden ? layout.hiddenPath('b', key) : layout.visiblePath('b', key)!
        await mkdir(join(dataPath, '..'), { recursive: true })
        await writeFile(dataPath, body)
        const s = await stat(dataPath)
        const record = {
          v: 1, key, size: s.size, etag: createHash('md5').update(body).digest('hex'), sha256: createHash('sha256').update(body).digest('hex'),
          lastModified: 5, metadata: { contentType: 'text/x-kept', user: { kept: key } }, tags: { t: '1' }, hidden, ino: s.ino, mtimeMs: s.mtimeMs,
        }
        await mkdir(join(layout.legacyMetaPath('b', key), '..'), { recursive: true })
        if (where === 'meta') {
          await writeFile(layout.legacyMetaPath('b', key), JSON.stringify(record))
        } else {
          // Cut after the data rename, before the metadata rename: format 1 finishes it from the journal.
          const pending: PendingMeta = { ...record, v: 1, commit: { dataTmp: layout.tmpPath('gone'), dataPath, metaPath: layout.legacyMetaPath('b', key) } }
          await writeFile(layout.tmpPath('cut', '.meta.json'), JSON.stringify(pending))
        }
      }
      await legacy('docs/a.txt', 'a', false)
      await legacy('dir/', '', true)
      await legacy('journaled.txt', 'j', false, 'journal')
      const lines: string[] = []
      const store = await DiskStore.open(root, { fsync: false, log: line => lines.push(line) })
      assert.ok(lines.some(l => /moved the metadata of 3 objects/.test(l)), lines.join('\n'))
      assert.deepEqual((await listAll(store, 'b')).map(([k]) => k), ['dir/', 'docs/a.txt', 'journaled.txt'], 'listed at once, before any scan')
      const head = await store.headObject('b', 'docs/a.txt')
      assert.deepEqual([head.metadata, head.tags], [{ contentType: 'text/x-kept', user: { kept: 'docs/a.txt' } }, { t: '1' }])
      assert.equal((await store.headObject('b', 'journaled.txt')).metadata.user.kept, 'journaled.txt')
      await assert.rejects(stat(layout.legacyMetaRoot), /ENOENT/, 'the old files are gone')
      assert.equal(await readFile(layout.hiddenKeyPath('b', 'dir/'), 'utf8'), 'dir/', 'a hidden object\'s key is kept beside it now')
      assert.equal(JSON.parse(await readFile(layout.formatFile, 'utf8')).version, 2)
      await store.close()
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('adopts files placed by hand in the background: open does not wait, a file placed while running is found by the next scan', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-scan-'))
    try {
      await mkdir(join(root, 'photos', 'y'), { recursive: true })
      for (let i = 0; i < 300; i++) await writeFile(join(root, 'photos', 'y', `f${i}.txt`), `file ${i}`)
      const adopted: string[] = []
      const store = await DiskStore.open(root, { fsync: false, scanIntervalMs: 200, settleMs: 0, log: () => {} })
      store.onAdopted((bucket, info) => { adopted.push(`${bucket}/${info.key}`) })
      let scanned = false
      void store.firstScan.then(() => { scanned = true })
      assert.equal(scanned, false, 'open returned before the first scan finished')
      await store.firstScan
      assert.equal((await store.listObjects('photos', { limit: 1000 })).objects.length, 300)
      assert.equal(store.scanCounters.adopted, 300)
      await writeFile(join(root, 'photos', 'y', 'late.txt'), 'placed while running')
      await until('the late file is listed', async () => (await store.listObjects('photos', { prefix: 'y/late', limit: 1 })).objects.length === 1, 5000)
      assert.ok(adopted.includes('photos/y/late.txt'), 'listeners hear of it (the mesh announces it)')
      // The scan that adopted it may have seen the folder still changing (a loaded CI machine did): one more may look again.
      const adoptedAt = store.scanCounters.scans
      await until('one more scan', () => store.scanCounters.scans >= adoptedAt + 1, 5000)
      const checkedBefore = store.scanCounters.checked
      const scansBefore = store.scanCounters.scans
      await until('two more scans', () => store.scanCounters.scans >= scansBefore + 2, 5000)
      assert.equal(store.scanCounters.checked, checkedBefore, 'a scan of unchanged folders looks up no file')
      await store.close()
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('drops objects whose files or folders were deleted by hand, found by a scan, and keeps the rest', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-removed-'))
    try {
      const store = await DiskStore.open(root, { fsync: false, scanIntervalMs: 0, settleMs: 0, log: () => {} })
      await store.firstScan
      await store.createBucket('photos')
      const put = async (key: string): Promise<void> => { await store.putObject('photos', key, streamOfBytes(enc.encode(key)), { metadata: { user: {} } }) }
      for (const key of ['top.txt', 'keep.txt', 'a/1.txt', 'a/2.txt', 'a/b/3.txt', 'gone/x.txt', 'gone/deep/y.txt', 'odd/..hidden', 'folder/']) await put(key)
      const removed: string[] = []
      store.onRemoved((bucket, key) => { removed.push(`${bucket}/${key}`) })
      await store.scanFolders()
      assert.deepEqual(removed, [], 'nothing removed: nothing dropped')
      await rm(join(root, 'photos', 'top.txt'))
      await rm(join(root, 'photos', 'a', '2.txt'))
      await rm(join(root, 'photos', 'a', 'b', '3.txt'))
      await rm(join(root, 'photos', 'gone'), { recursive: true })
      await store.scanFolders()
      assert.deepEqual(removed.sort(), ['photos/a/2.txt', 'photos/a/b/3.txt', 'photos/gone/deep/y.txt', 'photos/gone/x.txt', 'photos/top.txt'])
      assert.deepEqual((await store.listObjects('photos', { limit: 100 })).objects.map(o => o.key), ['a/1.txt', 'folder/', 'keep.txt', 'odd/..hidden'], 'the rest stays, hidden objects and folder markers included')
      assert.equal(store.scanCounters.removed, 5)
      assert.equal(await read2(store, 'photos', 'keep.txt'), 'keep.txt')
      // A file deleted and written again through S3 before the scan: kept.
      await rm(join(root, 'photos', 'keep.txt'))
      await put('keep.txt')
      await store.scanFolders()
      assert.equal(await read2(store, 'photos', 'keep.txt'), 'keep.txt')
      assert.equal(store.scanCounters.removed, 5)
      await store.close()
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('leaves a file that is still being written for a later scan', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-settle-'))
    try {
      await mkdir(join(root, 'photos'), { recursive: true })
      const store = await DiskStore.open(root, { fsync: false, scanIntervalMs: 0, settleMs: 1500, log: () => {} })
      await store.firstScan
      await writeFile(join(root, 'photos', 'copying.bin'), 'first half')
      await store.scanFolders()
      assert.equal((await store.listObjects('photos', { limit: 10 })).objects.length, 0, 'not adopted while it may still grow')
      // With scans at start only (interval 0), a scan comes again once the file should have settled, and takes it.
      await until('the settled file is adopted', async () => (await store.listObjects('photos', { limit: 10 })).objects.length === 1, 4000)
      assert.deepEqual((await store.listObjects('photos', { limit: 10 })).objects.map(o => o.key), ['copying.bin'])
      await store.close()
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})

describe('DiskStore paths', () => {
  it('refuses a bucket name that is not one folder name, and makes nothing outside the data folder', async () => {
    const parent = await mkdtemp(join(tmpdir(), 's3mesh-paths-'))
    const root = join(parent, 'data')
    try {
      const store = await DiskStore.open(root)
      try {
        for (const name of ['../outside', '..', 'a/b', '.s3mesh', 'a\\b']) {
          await assert.rejects(store.createBucket(name), (err: Error & { code?: string }) => err.code === 'InvalidBucketName', name)
          await assert.rejects(store.putObject(name, 'k', streamOfBytes(enc.encode('x')), { metadata: { user: {} } }), (err: Error & { code?: string }) => err.code === 'InvalidBucketName' || err.code === 'NoSuchBucket', name)
        }
        assert.deepEqual((await readdir(parent)).sort(), ['data'])
        assert.deepEqual((await readdir(root)).sort(), ['.s3mesh'])
      } finally { await store.close() }
    } finally { await rm(parent, { recursive: true, force: true }) }
  })
})

/** Runs `fn` on a DiskStore in a new data folder, closed and removed after. */
/** A PUT of `new!` over `b/k` whose rows cannot be written after its data rename: the key is left half made, for a start to finish. */
async function withStore (fn: (store: DiskStore, root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 's3mesh-store-'))
  try {
    const store = await DiskStore.open(root)
    try { await fn(store, root) } finally { await store.close() }
  } finally { await rm(root, { recursive: true, force: true }) }
}

describe('DiskStore deletes', () => {
  it('a versioned delete fsyncs the folder its current object left, before its rows: a power cut must not bring the file back there', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-store-'))
    try {
      const seen: Array<{ dir: string, rowThere: boolean }> = []
      let db: MetaDb | undefined
      const store = await DiskStore.open(root, { scanIntervalMs: 0, fsyncFolder: async dir => { seen.push({ dir, rowThere: db?.get('b', 'dir/k') !== undefined }) } })
      try {
        db = (store as unknown as { db: MetaDb }).db
        await store.createBucket('b')
        await store.setBucketVersioning('b', 'Enabled')
        await store.putObject('b', 'dir/k', streamOfBytes(enc.encode('bytes')), { metadata: { user: {} } })
        seen.length = 0
        await store.deleteObject('b', 'dir/k')
        assert.ok(!existsSync(join(root, 'b', 'dir', 'k')), 'precondition: the object was shelved')
        assert.deepEqual(seen.filter(s => s.dir === join(root, 'b', 'dir')), [{ dir: join(root, 'b', 'dir'), rowThere: true }], 'its folder fsynced, while the current row is still the object')
        assert.equal(db.get('b', 'dir/k'), undefined, 'then the object\'s row gives way to the marker')
      } finally { await store.close() }
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('a versioned PUT refused before its shelving, whose intent cannot be dropped either, leaves its key waiting: a delete meanwhile would be undone by that intent', async () => {
    await inFolder(async root => {
    const layout = new DiskLayout(root)
    let store = await DiskStore.open(root, { scanIntervalMs: 0, retryBlockedMs: 0 })
    await store.createBucket('b')
    await store.setBucketVersioning('b', 'Enabled')
    const one = await store.putObject('b', 'k', streamOfBytes(enc.encode('one')), { metadata: { user: {} } })
    // The key's versions folder cannot be made (a file holds its path), and the database refuses the intent's removal.
    await mkdir(join(layout.versionsDir('b', 'k'), '..'), { recursive: true })
    await writeFile(layout.versionsDir('b', 'k'), 'in the way')
    const db = metaDbOf(store)
    const settle = db.settle.bind(db)
    let refused = 0
    db.settle = async () => { refused++; throw new Error('disk I/O error') }
    await assert.rejects(store.putObject('b', 'k', streamOfBytes(enc.encode('two')), { metadata: { user: {} } }))
    db.settle = settle
    assert.equal(refused, 1, 'precondition: the intent could not be dropped')
    assert.equal(db.intents().length, 1, 'precondition: the intent is left')
    await assert.rejects(store.headObject('b', 'k'), unavailable, 'the key waits for its intent')
    await assert.rejects(store.deleteObject('b', 'k'), unavailable)
    await store.close()
    await rm(layout.versionsDir('b', 'k'))
    store = await DiskStore.open(root, { scanIntervalMs: 0 })
    try {
      assert.equal(await read(store, 'k'), 'one', 'the next start undid the PUT')
      await store.deleteObject('b', 'k')
      await store.close()
      store = await DiskStore.open(root, { scanIntervalMs: 0 })
      await assert.rejects(store.headObject('b', 'k'), (err: Error & { code?: string }) => err.code === 'NoSuchKey', 'the delete stays')
      assert.equal(new TextDecoder().decode(await readStream((await store.openObject('b', 'k', { versionId: one.versionId! })).stream())), 'one')
    } finally { await store.close() }
    })
  })

  for (const change of ['delete', 'PUT'] as const) {
  it(`a versioned ${change} whose shelving cannot be made durable (its folder's fsync fails) is not answered as done: the key is left alone until the next start finishes it`, async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-store-'))
    try {
      const layout = new DiskLayout(root)
      const fault = folderFsyncFault()
      let store = await DiskStore.open(root, { scanIntervalMs: 0, fsyncFolder: fault.fsyncFolder })
      await versionedChangeWhoseShelvingFails(store, root, change, fault)
      if (change === 'delete') assert.ok(!existsSync(join(root, 'b', 'k')), 'precondition: the current object was shelved')
      else assert.equal(await readFile(join(root, 'b', 'k'), 'utf8'), 'three', 'precondition: the new bytes are in place')
      await assert.rejects(store.headObject('b', 'k'), (err: Error & { code?: string }) => err.code === 'ServiceUnavailable')
      await store.close()
      fault.failing = false
      const synced: string[] = []
      store = await DiskStore.open(root, { scanIntervalMs: 0, fsyncFolder: async dir => { synced.push(dir) } })
      try {
        // The start that finishes it fsyncs what it counts on, the folder whose fsync failed among them.
        assert.ok(synced.includes(layout.versionsDir('b', 'k')), 'the versions folder fsynced by the start')
        if (change === 'PUT') assert.ok(synced.includes(join(layout.root, 'b')), 'and the new bytes\' folder')
        if (change === 'delete') await assert.rejects(store.headObject('b', 'k'), (err: Error & { code?: string }) => err.code === 'NoSuchKey')
        else assert.equal(await read(store, 'k'), 'three')
        const versions = (await store.listObjectVersions('b', { limit: 10 })).versions
        assert.deepEqual(versions.map(v => [v.deleteMarker, v.isLatest]), [[change === 'delete', true], [false, false], [false, false]], 'the new version or marker, then both older versions')
      } finally { await store.close() }
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
  }

  it('makes a delete\'s unlink durable (its folder fsynced) before the row that forgets the file goes: a crash never brings the object back as a file put by hand', async () => {
    await withStore(async (store, root) => {
      await store.createBucket('b')
      await store.putObject('b', 'dir/k', streamOfBytes(enc.encode('bytes')), { metadata: { user: {} } })
      const file = join(root, 'b', 'dir', 'k')
      const internals = store as unknown as { writer: { deps: { folders: { sync: (dir: string) => Promise<void> } } }, db: MetaDb }
      const syncer = internals.writer.deps.folders
      const seen: Array<{ dir: string, fileThere: boolean, rowThere: boolean }> = []
      const sync = syncer.sync.bind(syncer)
      syncer.sync = async (dir: string) => {
        seen.push({ dir, fileThere: await stat(file).then(() => true, () => false), rowThere: internals.db.get('b', 'dir/k') !== undefined })
        await sync(dir)
      }
      await store.deleteObject('b', 'dir/k')
      assert.deepEqual(seen, [{ dir: join(root, 'b', 'dir'), fileThere: false, rowThere: true }], 'the folder fsynced after the unlink, while the row still says the object is there')
      assert.equal(internals.db.get('b', 'dir/k'), undefined)
      await assert.rejects(store.headObject('b', 'dir/k'), (err: Error & { code?: string }) => err.code === 'NoSuchKey')
    })
  })

  it('makes the delete of a file put by hand and not yet read durable (its folder fsynced after the unlink) before answering', async () => {
    await withStore(async (store, root) => {
      await store.createBucket('b')
      await store.putObject('b', 'dir/other', streamOfBytes(enc.encode('keeps the folder')), { metadata: { user: {} } })
      const file = join(root, 'b', 'dir', 'by-hand')
      await writeFile(file, 'placed')
      const internals = store as unknown as { writer: { deps: { folders: { sync: (dir: string) => Promise<void> } } }, db: MetaDb }
      assert.equal(internals.db.get('b', 'dir/by-hand'), undefined, 'precondition: the store has not read the file yet')
      const syncer = internals.writer.deps.folders
      const seen: Array<{ dir: string, fileThere: boolean }> = []
      const sync = syncer.sync.bind(syncer)
      syncer.sync = async (dir: string) => {
        seen.push({ dir, fileThere: await stat(file).then(() => true, () => false) })
        await sync(dir)
      }
      await store.deleteObject('b', 'dir/by-hand')
      assert.deepEqual(seen, [{ dir: join(root, 'b', 'dir'), fileThere: false }])
    })
  })

  it('deletes keys of one folder at once: the folder removed by one delete while another fsyncs it fails neither', async () => {
    await withStore(async (store, root) => {
      await store.createBucket('b')
      for (let round = 0; round < 10; round++) {
        const keys = Array.from({ length: 8 }, (_, i) => `logs/${round}/${i}`)
        for (const k of keys) await store.putObject('b', k, streamOfBytes(enc.encode(k)), { metadata: { user: {} } })
        const outcomes = await Promise.allSettled(keys.map(async k => await store.deleteObject('b', k)))
        assert.deepEqual(outcomes.filter(o => o.status === 'rejected').map(o => String((o as PromiseRejectedResult).reason)), [], `round ${round}`)
      }
      assert.deepEqual((await store.listObjects('b', { limit: 100 })).objects, [])
      assert.deepEqual(await readdir(join(root, 'b')), [], 'the emptied folders removed')
    })
  })
})

describe('DiskStore bucket deletes', () => {
  it('a DeleteBucket whose metadata rows cannot be dropped keeps the bucket, its settings and its record, now and after a restart', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-store-'))
    try {
      let store = await DiskStore.open(root)
      await store.createBucket('b')
      await store.setBucketVersioning('b', 'Enabled')
      const db = (store as unknown as { db: MetaDb }).db
      db.removeBucket = async () => { throw new Error('disk I/O error') }
      await assert.rejects(store.deleteBucket('b'), /disk I\/O error|delete the bucket/)
      assert.equal((await store.headBucket('b')).versioning, 'Enabled', 'still served, settings and all')
      await store.close()
      store = await DiskStore.open(root)
      try {
        assert.equal((await store.headBucket('b')).versioning, 'Enabled', 'and still there after a restart')
        await store.deleteBucket('b')
        await assert.rejects(store.headBucket('b'), (err: Error & { code?: string }) => err.code === 'NoSuchBucket')
      } finally { await store.close() }
    } finally { await rm(root, { recursive: true, force: true }) }
  })
})

describe('DiskStore multipart uploads', () => {
  it('a folder a cut-off CreateMultipartUpload left without its record keeps the bucket from being deleted only while it may still be under way', async () => {
    await withStore(async (store, root) => {
      await store.createBucket('b')
      const half = join(root, '.s3mesh', 'multipart', 'b', 'ab'.repeat(16))
      await mkdir(half, { recursive: true })
      await assert.rejects(store.deleteBucket('b'), (err: Error & { code?: string }) => err.code === 'BucketNotEmpty', 'one being made now counts')
      const old = new Date(Date.now() - 5 * 60_000)
      await utimes(half, old, old)
      await store.deleteBucket('b')
      await assert.rejects(stat(half), 'the half-made folder went with the bucket')
    })
  })

  /** An upload of b/k with one part; returns its id and the part. */
  async function upload (store: DiskStore): Promise<{ id: string, part: { partNumber: number, etag: string } }> {
    await store.createBucket('b')
    const id = await store.createMultipartUpload('b', 'k', { metadata: { user: {} } })
    const part = await store.uploadPart('b', 'k', id, 1, streamOfBytes(enc.encode('parts')))
    return { id, part }
  }

  it('a completion cut off right after its rows were written leaves no upload to be listed or completed again', async () => {
    await inFolder(async root => {
    let store = await DiskStore.open(root)
    const { id, part } = await upload(store)
    // The work stops just after the rows are committed, as a crash there stops it.
    const db = metaDbOf(store)
    const settleCommitted = db.settleCommitted.bind(db)
    db.settleCommitted = async (...args) => { await settleCommitted(...args); throw new Error('crashed') }
    await assert.rejects(store.completeMultipartUpload('b', 'k', id, [part]), /crashed|store the object/)
    db.settleCommitted = settleCommitted
    await store.close()
    store = await DiskStore.open(root)
    try {
      assert.equal(await read(store, 'k'), 'parts', 'precondition: the completion committed')
      assert.deepEqual(await store.listMultipartUploads('b'), [])
      await assert.rejects(store.completeMultipartUpload('b', 'k', id, [part]), (err: Error & { code?: string }) => err.code === 'NoSuchUpload')
    } finally { await store.close() }
    })
  })

  it('a completion cut off after its data rename is finished by the next start, and its upload removed', async () => {
    await inFolder(async root => {
    let store = await DiskStore.open(root)
    const { id } = await upload(store)
    await store.close()
    // The commit's intent, durable, and its data renamed into place; nothing after.
    const layout = new DiskLayout(root)
    await interruptedCommit(root, 'k', 'joined', true, layout.uploadDir('b', id))
    assert.ok(existsSync(layout.uploadDir('b', id)), 'precondition: the upload is still there')
    store = await DiskStore.open(root)
    try {
      assert.equal(await read(store, 'k'), 'joined')
      assert.deepEqual(await store.listMultipartUploads('b'), [])
      assert.equal(existsSync(layout.uploadDir('b', id)), false)
    } finally { await store.close() }
    })
  })

  it('a completion cut off before its data rename is rolled back: the upload stays, and completes', async () => {
    await inFolder(async root => {
    let store = await DiskStore.open(root)
    const { id, part } = await upload(store)
    await store.close()
    await interruptedCommit(root, 'k', 'joined', false, new DiskLayout(root).uploadDir('b', id))
    store = await DiskStore.open(root)
    try {
      await assert.rejects(store.headObject('b', 'k'), (err: Error & { code?: string }) => err.code === 'NoSuchKey')
      assert.deepEqual((await store.listMultipartUploads('b')).map(u => u.uploadId), [id])
      await store.completeMultipartUpload('b', 'k', id, [part])
      assert.equal(await read(store, 'k'), 'parts')
    } finally { await store.close() }
    })
  })
})
