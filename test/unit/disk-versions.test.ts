/**
 * DiskStore's versions on disk (docs/plans/versioning.md, increment 3): the
 * folder shows each key's current object or nothing; versions and markers
 * survive a restart; a crash at any step of a versioned write or delete ends
 * in the state before or the state after, never both or neither; files
 * edited or deleted by hand in a versioned bucket; a metadata database of the
 * schema before versions upgraded in place.
 */
import assert from 'node:assert/strict'
import { readdir, readFile, rename, rm, stat, unlink, writeFile, mkdtemp } from 'node:fs/promises'
import { DatabaseSync } from 'node:sqlite'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { isS3Error } from '../../src/core/errors.js'
import { streamOfBytes } from '../../src/core/streams.js'
import { stampAt } from '../../src/core/versioning.js'
import { DiskLayout } from '../../src/node/disk-layout.js'
import type { MetaRecord } from '../../src/node/disk-records.js'
import { DiskStore } from '../../src/node/disk-store.js'
import { DiskVersions } from '../../src/node/disk-versions.js'
import { MetaDb } from '../../src/node/meta-db.js'
import { readStream } from '../compliance/object-store-suite.js'

const enc = new TextEncoder()

async function withRoot (fn: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 's3mesh-versions-'))
  try { await fn(root) } finally { await rm(root, { recursive: true, force: true }) }
}

async function put (store: DiskStore, key: string, body: string): Promise<string | undefined> {
  return (await store.putObject('b', key, streamOfBytes(enc.encode(body)), { metadata: { user: {} } })).versionId
}

async function read (store: DiskStore, key: string, versionId?: string): Promise<string> {
  return new TextDecoder().decode(await readStream((await store.openObject('b', key, versionId === undefined ? undefined : { versionId })).stream()))
}

/** A key's versions as `<body or marker>[*]`, newest first (`*`: the current one), read through the store. */
async function history (store: DiskStore, key: string): Promise<string[]> {
  const out: string[] = []
  for (const v of (await store.listObjectVersions('b', { prefix: key, limit: 100 })).versions) {
    if (v.key !== key) continue
    out.push(`${v.deleteMarker ? 'marker' : await read(store, key, v.versionId)}${v.isLatest ? '*' : ''}`)
  }
  return out
}

/** What `ls` shows of the bucket folder. */
async function listed (root: string): Promise<string[]> {
  return (await readdir(join(root, 'b'), { recursive: true })).sort()
}

async function versionedStore (root: string): Promise<DiskStore> {
  const store = await DiskStore.open(root, { scanIntervalMs: 0 })
  await store.createBucket('b')
  await store.setBucketVersioning!('b', 'Enabled')
  return store
}

describe('DiskStore versions on disk', () => {
  it('shows the current object in the folder and keeps the others apart; all of it survives a restart', async () => {
    await withRoot(async root => {
      const store = await versionedStore(root)
      const v1 = await put(store, 'photos/cat.jpg', 'one')
      await put(store, 'photos/cat.jpg', 'two')
      await put(store, 'notes.txt', 'gone soon')
      await store.deleteObject('b', 'notes.txt')
      assert.deepEqual(await listed(root), ['photos', 'photos/cat.jpg'], 'a key behind a delete marker has no file in the folder')
      assert.equal(await readFile(join(root, 'b', 'photos', 'cat.jpg'), 'utf8'), 'two')
      await store.close()
      const again = await DiskStore.open(root, { scanIntervalMs: 0 })
      try {
        assert.equal((await again.headBucket('b')).versioning, 'Enabled')
        assert.deepEqual(await history(again, 'photos/cat.jpg'), ['two*', 'one'])
        assert.deepEqual(await history(again, 'notes.txt'), ['marker*', 'gone soon'])
        await assert.rejects(again.headObject('b', 'notes.txt'), (err: unknown) => isS3Error(err, 'NoSuchKey') && err.headers?.['x-amz-delete-marker'] === 'true')
        // The newest version deleted: the one before is current where its bytes are, and the folder shows nothing for it.
        const latest = (await again.headObject('b', 'photos/cat.jpg')).versionId!
        await again.deleteObject('b', 'photos/cat.jpg', { versionId: latest })
        assert.equal(await read(again, 'photos/cat.jpg'), 'one')
        assert.equal((await again.headObject('b', 'photos/cat.jpg')).versionId, v1)
        assert.deepEqual((await again.listObjects('b', { limit: 10 })).objects.map(o => o.key), ['photos/cat.jpg'])
        assert.deepEqual(await listed(root), [], 'the current version is not at its path: the folder shows nothing for it')
        // Written again: the new object is at its path, the one before kept.
        await put(again, 'photos/cat.jpg', 'three')
        assert.deepEqual(await history(again, 'photos/cat.jpg'), ['three*', 'one'])
        assert.equal(await readFile(join(root, 'b', 'photos', 'cat.jpg'), 'utf8'), 'three')
        // A folder scan does not take a current version kept apart for a file deleted by hand.
        await again.deleteObject('b', 'photos/cat.jpg', { versionId: (await again.headObject('b', 'photos/cat.jpg')).versionId! })
        await again.scanFolders()
        assert.equal(await read(again, 'photos/cat.jpg'), 'one')
      } finally { await again.close() }
    })
  })

  it('a lost metadata database is rebuilt with every version and delete marker, from their files', async () => {
    await withRoot(async root => {
      const store = await versionedStore(root)
      await put(store, 'k', 'one')
      await put(store, 'k', 'two')
      await put(store, 'gone', 'was here')
      await store.deleteObject('b', 'gone')
      await put(store, 'apart', 'a1')
      await put(store, 'apart', 'a2')
      await store.deleteObject('b', 'apart', { versionId: (await store.headObject('b', 'apart')).versionId! })
      await store.close()
      for (const suffix of ['', '-wal', '-shm']) await rm(join(root, '.s3mesh', `meta.db${suffix}`), { force: true })
      const again = await DiskStore.open(root, { scanIntervalMs: 0, settleMs: 0 })
      try {
        await again.firstScan
        assert.deepEqual(await history(again, 'k'), ['two*', 'one'], 'the file at its path is current, the version before it kept')
        assert.deepEqual(await history(again, 'gone'), ['marker*', 'was here'], 'a deleted key stays deleted')
        assert.deepEqual(await history(again, 'apart'), ['a1*'], 'a current version kept apart is current again')
        assert.deepEqual((await again.listObjects('b', { limit: 10 })).objects.map(o => o.key), ['apart', 'k'])
      } finally { await again.close() }
    })
  })

  it('a bucket with only versions or markers left is not empty, and goes with them once they are deleted', async () => {
    await withRoot(async root => {
      const store = await versionedStore(root)
      try {
        await put(store, 'k', 'x')
        const marker = await store.deleteObject('b', 'k')
        await assert.rejects(store.deleteBucket('b'), (err: unknown) => isS3Error(err, 'BucketNotEmpty'))
        await store.deleteObject('b', 'k', { versionId: marker.versionId! })
        await store.deleteObject('b', 'k', { versionId: (await store.headObject('b', 'k')).versionId! })
        await store.deleteBucket('b')
        assert.deepEqual(await readdir(join(root, '.s3mesh', 'versions')).catch(() => []), [], 'the bucket\'s versions folder goes with it')
      } finally { await store.close() }
    })
  })

  it('a file placed by hand where no row has its bytes is a version of its own before a DELETE or a PUT buries it', async () => {
    await withRoot(async root => {
      const store = await versionedStore(root)
      try {
        await writeFile(join(root, 'b', 'placed.txt'), 'placed by hand')
        await store.deleteObject('b', 'placed.txt')
        assert.deepEqual(await history(store, 'placed.txt'), ['marker*', 'placed by hand'], 'kept under the marker, not left at its path to come back')
        assert.deepEqual(await listed(root), [])
        // Behind a marker, a file placed again, then a PUT: the placed file is kept as a version.
        await writeFile(join(root, 'b', 'placed.txt'), 'placed again')
        await put(store, 'placed.txt', 'written')
        assert.deepEqual(await history(store, 'placed.txt'), ['written*', 'placed again', 'marker', 'placed by hand'])
        // Edited in place, then written: the edit is kept as a version of its own, and the version it overwrote is gone.
        const written = (await store.headObject('b', 'placed.txt')).versionId!
        await new Promise(resolve => setTimeout(resolve, 20))
        await writeFile(join(root, 'b', 'placed.txt'), 'edited in place')
        await put(store, 'placed.txt', 'after the edit')
        assert.deepEqual(await history(store, 'placed.txt'), ['after the edit*', 'edited in place', 'placed again', 'marker', 'placed by hand'])
        await assert.rejects(store.headObject('b', 'placed.txt', { versionId: written }), (err: unknown) => isS3Error(err, 'NoSuchVersion'), 'its bytes were overwritten by hand')
      } finally { await store.close() }
    })
  })

  it('a second DELETE while suspended keeps the null marker\'s file (a rebuild finds the key deleted)', async () => {
    await withRoot(async root => {
      const store = await versionedStore(root)
      await put(store, 'k', 'kept')
      await store.setBucketVersioning!('b', 'Suspended')
      await store.deleteObject('b', 'k')
      await store.deleteObject('b', 'k')
      assert.deepEqual(await history(store, 'k'), ['marker*', 'kept'])
      await stat(store.layout.markerPath('b', 'k', undefined))
      await store.close()
      for (const suffix of ['', '-wal', '-shm']) await rm(join(root, '.s3mesh', `meta.db${suffix}`), { force: true })
      const again = await DiskStore.open(root, { scanIntervalMs: 0, settleMs: 0 })
      try {
        await again.firstScan
        assert.deepEqual(await history(again, 'k'), ['marker*', 'kept'], 'still deleted after a rebuild')
      } finally { await again.close() }
    })
  })

  it('tags a null version behind a delete marker without making it current', async () => {
    await withRoot(async root => {
      const store = await DiskStore.open(root, { scanIntervalMs: 0 })
      try {
        await store.createBucket('b')
        await put(store, 'k', 'from before versioning')
        await store.setBucketVersioning!('b', 'Enabled')
        await store.deleteObject('b', 'k')
        await store.setObjectTags('b', 'k', { t: '1' }, { versionId: 'null' })
        assert.deepEqual((await store.headObject('b', 'k', { versionId: 'null' })).tags, { t: '1' })
        assert.deepEqual(await history(store, 'k'), ['marker*', 'from before versioning'], 'still deleted, one null version')
      } finally { await store.close() }
    })
  })

  it('a folder marker deleted in a bucket never versioned takes its folder with it', async () => {
    await withRoot(async root => {
      const store = await DiskStore.open(root, { scanIntervalMs: 0 })
      try {
        await store.createBucket('b')
        await put(store, 'photos/', '')
        assert.deepEqual(await listed(root), ['photos'])
        await store.deleteObject('b', 'photos/')
        assert.deepEqual(await listed(root), [])
      } finally { await store.close() }
    })
  })

  it('a file edited by hand in a versioned bucket is a new version; one deleted by hand leaves the versions before it', async () => {
    await withRoot(async root => {
      const store = await versionedStore(root)
      try {
        await put(store, 'k', 'one')
        const two = await put(store, 'k', 'two')
        await new Promise(resolve => setTimeout(resolve, 20))
        await writeFile(join(root, 'b', 'k'), 'edited by hand')
        assert.equal(await read(store, 'k'), 'edited by hand')
        const edited = (await store.headObject('b', 'k')).versionId
        assert.ok(edited !== undefined && edited !== two, 'the edit is a version of its own')
        assert.deepEqual(await history(store, 'k'), ['edited by hand*', 'one'], 'the edited version\'s bytes are gone, and so is it')
        await unlink(join(root, 'b', 'k'))
        await assert.rejects(read(store, 'k'), (err: unknown) => isS3Error(err, 'NoSuchKey'))
        assert.deepEqual(await history(store, 'k'), ['one*'], 'the version deleted by hand is gone; the one before is current')
        assert.deepEqual((await store.listObjects('b', { limit: 10 })).objects.map(o => o.key), ['k'])
      } finally { await store.close() }
    })
  })
})

/** Replays a versioned PUT of `body` over key `k` by hand up to step `steps` (1: the intent; 2: the current object shelved; 3: the new data in place; 4: the replaced file removed), as a crash would cut it. */
async function cutPut (root: string, body: string, status: 'Enabled' | 'Suspended', steps: number): Promise<void> {
  const layout = new DiskLayout(root)
  const db = await MetaDb.open(layout.metaDb, { sync: false })
  try {
    const versions = new DiskVersions(layout, db, false)
    const dataTmp = layout.tmpPath('crash-data')
    await writeFile(dataTmp, body)
    const s = await stat(dataTmp)
    const full: MetaRecord = { v: 1, key: 'k', size: s.size, etag: 'e'.repeat(32), sha256: 's'.repeat(64), lastModified: Date.now(), metadata: { user: {} }, tags: {}, hidden: false, ino: s.ino, mtimeMs: s.mtimeMs, ...versions.newVersion(status) }
    const { plan } = versions.planWrite('b', 'k', full, db.get('b', 'k'))
    const dataPath = layout.visiblePath('b', 'k')!
    await db.intend({ id: 'crash', bucket: 'b', record: full, dataTmp, dataPath, plan })
    if (steps >= 2 && plan.shelve !== undefined) { await versions.prepare('b', 'k'); await rename(plan.shelve.from, plan.shelve.to) }
    if (steps >= 3) await rename(dataTmp, dataPath)
    if (steps >= 4 && plan.drop !== undefined) await unlink(plan.drop)
  } finally { db.close() }
}

/** Replays a DELETE (a marker) of key `k` by hand up to step `steps` (1: the intent; 2: the current object shelved; 3: the replaced null version's file removed). */
async function cutDelete (root: string, status: 'Enabled' | 'Suspended', steps: number): Promise<void> {
  const layout = new DiskLayout(root)
  const db = await MetaDb.open(layout.metaDb, { sync: false })
  try {
    const versions = new DiskVersions(layout, db, false)
    const { plan, marker } = versions.planDelete('b', 'k', status)
    await db.intend({ id: 'crash', bucket: 'b', record: marker, dataTmp: '', dataPath: '', plan })
    if (steps >= 2 && plan.shelve !== undefined) { await versions.prepare('b', 'k'); await rename(plan.shelve.from, plan.shelve.to) }
    if (steps >= 3 && plan.drop !== undefined) await unlink(plan.drop)
  } finally { db.close() }
}

/** Every version of `k` but the `atPath` at its path has its own file in the versions folder, and no file is left over. */
async function keptApart (root: string, store: DiskStore, atPath: number): Promise<void> {
  const files = await readdir(store.layout.versionsDir('b', 'k'))
  assert.equal(files.length, (await history(store, 'k')).length - atPath, `one file a version kept apart, none left over: ${files.join(', ')}`)
}

describe('DiskStore versions after a crash', () => {
  /** A bucket with `k` at versions `one`, then `two` (current), or with `null` before them when suspended. */
  const setUp = async (root: string, status: 'Enabled' | 'Suspended'): Promise<void> => {
    const store = await versionedStore(root)
    if (status === 'Suspended') {
      await store.setBucketVersioning!('b', 'Suspended')
      await put(store, 'k', 'null one')
      await store.setBucketVersioning!('b', 'Enabled')
    }
    await put(store, 'k', 'one')
    await put(store, 'k', 'two')
    if (status === 'Suspended') await store.setBucketVersioning!('b', 'Suspended')
    await store.close()
  }

  for (const status of ['Enabled', 'Suspended'] as const) {
    const before = status === 'Enabled' ? ['two*', 'one'] : ['two*', 'one', 'null one']
    const after = status === 'Enabled' ? ['three*', 'two', 'one'] : ['three*', 'two', 'one']
    for (const steps of [1, 2, 3, 4]) {
      it(`a PUT (${status}) cut after step ${steps} of 4 ends ${steps < 3 ? 'as before it' : 'as after it'}`, async () => {
        await withRoot(async root => {
          await setUp(root, status)
          await cutPut(root, 'three', status, steps)
          const store = await DiskStore.open(root, { scanIntervalMs: 0 })
          try {
            assert.deepEqual(await history(store, 'k'), steps < 3 ? before : after)
            assert.equal(await readFile(join(root, 'b', 'k'), 'utf8'), steps < 3 ? 'two' : 'three', 'the folder shows the current object')
            assert.deepEqual(await readdir(store.layout.tmp), [])
            await keptApart(root, store, 1)
          } finally { await store.close() }
        })
      })
    }
    for (const steps of [1, 2, 3]) {
      it(`a DELETE (${status}) cut after step ${steps} of 3 ends ${steps < 2 ? 'as before it' : 'as after it'}`, async () => {
        await withRoot(async root => {
          await setUp(root, status)
          await cutDelete(root, status, steps)
          const store = await DiskStore.open(root, { scanIntervalMs: 0 })
          try {
            assert.deepEqual(await history(store, 'k'), steps < 2 ? before : ['marker*', 'two', 'one'])
            assert.deepEqual(await listed(root), steps < 2 ? ['k'] : [])
            await keptApart(root, store, steps < 2 ? 1 : 0)
            if (steps >= 2) {
              const marker = (await store.listObjectVersions('b', { limit: 1 })).versions[0]!
              await stat(store.layout.markerPath('b', 'k', marker.versionId === 'null' ? undefined : marker.versionId))
            }
          } finally { await store.close() }
        })
      })
    }
  }
})

describe('DiskStore versions after a crash, deleting by id', () => {
  it('a delete of the current version by its id cut after its intent is finished: the version is gone, its file too, the one before current', async () => {
    await withRoot(async root => {
      const store = await versionedStore(root)
      await put(store, 'k', 'one')
      const two = await put(store, 'k', 'two')
      await store.close()
      // The intent of DELETE ?versionId=<two>, as runPlan writes it, and then the crash.
      const layout = new DiskLayout(root)
      const db = await MetaDb.open(layout.metaDb, { sync: false })
      try {
        const versions = new DiskVersions(layout, db, false)
        const list = versions.list('b', 'k')
        const target = list.find(v => v.versionId === two)!
        await db.intend({ id: 'crash', bucket: 'b', record: target, dataTmp: '', dataPath: '', plan: { drop: versions.filePath('b', 'k', target), rows: versions.rowsWithout(list, target, db.get('b', 'k')) } })
      } finally { db.close() }
      const again = await DiskStore.open(root, { scanIntervalMs: 0, settleMs: 0 })
      try {
        await again.scanFolders()
        assert.deepEqual(await history(again, 'k'), ['one*'], 'not brought back by a scan of the folder')
        assert.deepEqual(await listed(root), [])
      } finally { await again.close() }
    })
  })
})

describe('DiskStore versions after a crash, keeping an older copy', () => {
  // A mesh's copy of a version older than the key's current one (VersionAs) goes straight to the versions folder:
  // 1, the intent; 2, the data in place there; then the rows.
  for (const steps of [1, 2]) {
    it(`a named older version cut after step ${steps} of 2 ends ${steps < 2 ? 'as before it' : 'as after it'}, the current object untouched`, async () => {
      await withRoot(async root => {
        const store = await versionedStore(root)
        await put(store, 'k', 'current')
        await store.close()
        const layout = new DiskLayout(root)
        const db = await MetaDb.open(layout.metaDb, { sync: false })
        try {
          const versions = new DiskVersions(layout, db, false)
          const dataTmp = layout.tmpPath('crash-data')
          await writeFile(dataTmp, 'older')
          const s = await stat(dataTmp)
          const full: MetaRecord = { v: 1, key: 'k', size: s.size, etag: 'e'.repeat(32), sha256: 's'.repeat(64), lastModified: Date.now(), metadata: { user: {} }, tags: {}, hidden: false, ino: s.ino, mtimeMs: s.mtimeMs, versionId: 'vold', stamp: stampAt(Date.now() - 60_000, 0) }
          const plan = versions.planOlder('b', 'k', full)
          assert.ok(plan !== undefined, 'older than the current version: kept apart')
          const dataPath = versions.dataPath('b', 'k', full)
          await versions.prepare('b', 'k')
          await db.intend({ id: 'crash', bucket: 'b', record: full, dataTmp, dataPath, plan })
          if (steps >= 2) await rename(dataTmp, dataPath)
        } finally { db.close() }
        const again = await DiskStore.open(root, { scanIntervalMs: 0 })
        try {
          assert.deepEqual(await history(again, 'k'), steps < 2 ? ['current*'] : ['current*', 'older'])
          assert.equal(await readFile(join(root, 'b', 'k'), 'utf8'), 'current')
          assert.deepEqual(await readdir(again.layout.tmp), [])
          await keptApart(root, again, 1)
        } finally { await again.close() }
      })
    })
  }
})

describe('DiskStore metadata database before versions', () => {
  it('is upgraded in place: objects keep their metadata and tags (nothing rebuilt), and the bucket takes versions', async () => {
    await withRoot(async root => {
      const first = await DiskStore.open(root, { scanIntervalMs: 0 })
      await first.createBucket('b')
      await first.putObject('b', 'k', streamOfBytes(enc.encode('kept')), { metadata: { contentType: 'text/x', user: { who: 'me' } }, tags: { t: '1' } })
      await first.close()
      // The database as the release before versions left it.
      const db = new DatabaseSync(join(root, '.s3mesh', 'meta.db'))
      db.exec("DROP TABLE versions; ALTER TABLE intents DROP COLUMN plan; ALTER TABLE intents DROP COLUMN upload; UPDATE info SET value = '1' WHERE name = 'schema';")
      db.close()
      const store = await DiskStore.open(root, { scanIntervalMs: 0 })
      try {
        assert.deepEqual((await readdir(join(root, '.s3mesh'))).filter(n => n.includes('damaged')), [], 'not moved aside')
        const head = await store.headObject('b', 'k')
        assert.deepEqual([head.metadata.contentType, head.metadata.user, head.tags], ['text/x', { who: 'me' }, { t: '1' }], 'what only the database knew is still there')
        await store.setBucketVersioning!('b', 'Enabled')
        await put(store, 'k', 'new')
        assert.deepEqual(await history(store, 'k'), ['new*', 'kept'])
      } finally { await store.close() }
    })
  })
})
