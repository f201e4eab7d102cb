import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
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

  it('refuses to serve a file edited outside s3mesh with stale metadata, and forgets a file deleted by hand', async () => {
    const root = await mkdtemp(join(tmpdir(), 's3mesh-crash-'))
    try {
      const store = await DiskStore.open(root)
      await store.createBucket('b')
      await store.putObject('b', 'edited', streamOfBytes(enc.encode('original')), { metadata: { user: {} } })
      await store.putObject('b', 'gone', streamOfBytes(enc.encode('x')), { metadata: { user: {} } })
      await writeFile(join(root, 'b', 'edited'), 'changed by hand!')
      await assert.rejects(store.openObject('b', 'edited'), /changed outside s3mesh/)
      await rm(join(root, 'b', 'gone'))
      await assert.rejects(store.openObject('b', 'gone'), /NoSuchKey|does not exist/)
      assert.deepEqual((await store.listObjects('b', { limit: 10 })).objects.map(o => o.key), ['edited'])
      assert.equal(JSON.parse(await readFile(store.layout.metaPath('b', 'edited'), 'utf8')).key, 'edited')
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})
