import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { streamOfBytes } from '../../src/core/streams.js'
import type { PendingMeta } from '../../src/node/disk-records.js'
import { DiskStore } from '../../src/node/disk-store.js'
import { readStream } from '../compliance/object-store-suite.js'

const enc = new TextEncoder()

/**
 * Replays a commit by hand up to the point a crash would cut it: the journal
 * (metadata temp file) written, and the data rename done or not.
 */
async function interruptedCommit (root: string, key: string, body: string, dataRenamed: boolean): Promise<void> {
  const store = await DiskStore.open(root)
  const { layout } = store
  const dataTmp = layout.tmpPath('crash-data')
  await writeFile(dataTmp, body)
  const s = await stat(dataTmp)
  const dataPath = layout.visiblePath('b', key)!
  const pending: PendingMeta = {
    v: 1, key, size: s.size, etag: 'e'.repeat(32), sha256: 's'.repeat(64), lastModified: Date.now(), metadata: { user: { v: 'new' } }, tags: {},
    hidden: false, ino: s.ino, mtimeMs: s.mtimeMs, commit: { dataTmp, dataPath, metaPath: layout.metaPath('b', key) },
  }
  await writeFile(layout.tmpPath('crash', '.meta.json'), JSON.stringify(pending))
  if (dataRenamed) await rename(dataTmp, dataPath)
}

async function read2 (store: DiskStore, bucket: string, key: string): Promise<string> {
  return new TextDecoder().decode(await readStream((await store.openObject(bucket, key)).stream()))
}

async function read (store: DiskStore, key: string): Promise<string> {
  return new TextDecoder().decode(await readStream((await store.openObject('b', key)).stream()))
}

describe('DiskStore crash recovery', () => {
  it('finishes a commit cut between its data rename and its metadata rename', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-crash-'))
    try {
      const first = await DiskStore.open(root)
      await first.createBucket('b')
      await first.putObject('b', 'k', streamOfBytes(enc.encode('old')), { metadata: { user: { v: 'old' } } })
      await interruptedCommit(root, 'k', 'new!', true)
      const store = await DiskStore.open(root)
      assert.equal(await read(store, 'k'), 'new!')
      assert.equal((await store.headObject('b', 'k')).metadata.user.v, 'new')
      assert.deepEqual(await readdir(store.layout.tmp), [])
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('rolls back a commit cut before its data rename, and cleans temp files', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-crash-'))
    try {
      const first = await DiskStore.open(root)
      await first.createBucket('b')
      await first.putObject('b', 'k', streamOfBytes(enc.encode('old')), { metadata: { user: {} } })
      await interruptedCommit(root, 'k', 'new!', false)
      await writeFile(join(first.layout.tmp, 'half-written-upload'), 'partial')
      const store = await DiskStore.open(root)
      assert.equal(await read(store, 'k'), 'old')
      assert.deepEqual(await readdir(store.layout.tmp), [])
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('serves a file edited by hand with its new bytes and ETag, and forgets a file deleted by hand', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-crash-'))
    try {
      const store = await DiskStore.open(root)
      await store.createBucket('b')
      await store.putObject('b', 'edited', streamOfBytes(enc.encode('original')), { metadata: { contentType: 'text/x-notes', user: { a: '1' } } })
      await store.putObject('b', 'gone', streamOfBytes(enc.encode('x')), { metadata: { user: {} } })
      await writeFile(join(root, 'b', 'edited'), 'changed by hand!')
      const h = await store.openObject('b', 'edited')
      assert.equal(new TextDecoder().decode(await readStream(h.stream())), 'changed by hand!')
      assert.equal(h.info.etag, createHash('md5').update('changed by hand!').digest('hex'))
      assert.deepEqual(h.info.metadata, { contentType: 'text/x-notes', user: { a: '1' } }, 'an edit keeps the object\'s metadata')
      assert.equal((await store.listObjects('b', { limit: 10 })).objects.find(o => o.key === 'edited')?.size, 16)
      await rm(join(root, 'b', 'gone'))
      await assert.rejects(store.openObject('b', 'gone'), /NoSuchKey|does not exist/)
      assert.deepEqual((await store.listObjects('b', { limit: 10 })).objects.map(o => o.key), ['edited'])
      assert.equal(JSON.parse(await readFile(store.layout.metaPath('b', 'edited'), 'utf8')).key, 'edited')
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
      const store = await DiskStore.open(root)
      assert.deepEqual((await store.listBuckets()).map(b => b.name), ['photos'], 'a folder with a bucket name is a bucket')
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
