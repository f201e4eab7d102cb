import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { streamOfBytes } from '../../src/core/streams.js'
import { BlockedKeys } from '../../src/node/blocked-keys.js'
import { KeyedLock } from '../../src/core/keyed-lock.js'
import { DiskLayout } from '../../src/node/disk-layout.js'
import { DiskStore, type DiskStoreOptions } from '../../src/node/disk-store.js'
import { ServerMetrics } from '../../src/node/metrics.js'
import { readStream } from '../compliance/object-store-suite.js'
import { folderFsyncFault, metaDbOf, putWhoseRowsFail, unavailable, versionedChangeWhoseShelvingFails } from '../helpers/disk-faults.js'
import { until } from '../helpers/until.js'

const enc = new TextEncoder()

async function read (store: DiskStore, key: string): Promise<string> {
  return new TextDecoder().decode(await readStream((await store.openObject('b', key)).stream()))
}

/** A store in a new folder (options given), removed after `fn`; `logs` has what it logged. */
async function withStore (options: DiskStoreOptions, fn: (store: DiskStore, root: string, logs: string[]) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 's3mesh-blocked-'))
  const logs: string[] = []
  try {
    const store = await DiskStore.open(root, { scanIntervalMs: 0, log: line => { logs.push(line) }, ...options })
    try { await fn(store, root, logs) } finally { await store.close() }
  } finally { await rm(root, { recursive: true, force: true }) }
}

describe('DiskStore changes that failed half-way, tried again while it runs', () => {
  it('a PUT whose rows failed after its data rename is finished by a retry, without a restart; a retry that fails again leaves the key waiting', async () => {
    await withStore({ retryBlockedMs: 0 }, async (store, root, logs) => {
      await store.createBucket('b')
      const old = await store.putObject('b', 'k', streamOfBytes(enc.encode('old')), { metadata: { user: { v: 'old' } } })
      await putWhoseRowsFail(store)
      await assert.rejects(store.headObject('b', 'k'), unavailable, 'precondition: the key waits')
      const metrics = new ServerMetrics()
      metrics.attachStore(store)
      const blockedKeys = async (): Promise<string | undefined> => /^s3mesh_blocked_keys (\d+)$/m.exec(await metrics.registry.metrics())?.[1]
      assert.equal(await blockedKeys(), '1', '/metrics counts it')
      const db = metaDbOf(store)
      assert.equal(db.intents().length, 1, 'precondition: its intent is left')

      // The disk still fails: the key goes on waiting, its intent kept.
      const settle = db.settle.bind(db)
      db.settle = async () => { throw new Error('disk I/O error') }
      try {
        assert.deepEqual(await store.blocked.retry({ all: true }), [])
      } finally { db.settle = settle }
      await assert.rejects(store.headObject('b', 'k'), unavailable)
      assert.equal(db.intents().length, 1)
      assert.ok(logs.some(l => l.includes('b/k') && l.includes('still cannot be finished') && l.includes('disk I/O error')), logs.join('\n'))

      assert.deepEqual(await store.blocked.retry({ all: true }), ['b/k'])
      const head = await store.headObject('b', 'k')
      assert.equal(head.etag, createHash('md5').update('new!').digest('hex'))
      assert.notEqual(head.etag, old.etag)
      assert.equal(head.metadata.user.v, 'new')
      assert.equal(await read(store, 'k'), 'new!')
      assert.deepEqual(db.intents(), [])
      assert.ok(logs.some(l => l.includes('b/k') && l.includes('served again')), logs.join('\n'))
      assert.equal(await blockedKeys(), '0')
      await store.putObject('b', 'k', streamOfBytes(enc.encode('next')), { metadata: { user: {} } })
      assert.equal(await readFile(join(root, 'b', 'k'), 'utf8'), 'next', 'and written again')
    })
  })

  it('a retry that finishes a PUT moving a key from .s3mesh/objects to its path removes the hidden copy, as the PUT would have', async () => {
    await withStore({ retryBlockedMs: 0 }, async (store, root) => {
      const layout = new DiskLayout(root)
      await store.createBucket('b')
      // a/b is a folder (of a/b/c) when a/b is first written: its bytes are kept hidden.
      await store.putObject('b', 'a/b/c', streamOfBytes(enc.encode('c')), { metadata: { user: {} } })
      await store.putObject('b', 'a/b', streamOfBytes(enc.encode('old')), { metadata: { user: {} } })
      const hidden = layout.hiddenPath('b', 'a/b')
      assert.ok(existsSync(hidden) && existsSync(layout.hiddenKeyPath('b', 'a/b')), 'precondition: a/b is kept hidden')
      await store.deleteObject('b', 'a/b/c')
      assert.ok(!existsSync(join(root, 'b', 'a', 'b')), 'precondition: the folder a/b is gone')

      // The next PUT of a/b goes to its path; its rows fail, so the hidden copy is not removed yet.
      await putWhoseRowsFail(store, 'a/b')
      assert.equal(await readFile(join(root, 'b', 'a', 'b'), 'utf8'), 'new!', 'precondition: the new bytes are at the path')
      assert.ok(existsSync(hidden), 'precondition: the old hidden copy is still there')

      assert.deepEqual(await store.blocked.retry({ all: true }), ['b/a/b'])
      assert.equal(await read(store, 'a/b'), 'new!')
      assert.equal((await store.headObject('b', 'a/b')).size, 4)
      assert.ok(!existsSync(hidden), 'the old hidden copy is removed')
      assert.ok(!existsSync(layout.hiddenKeyPath('b', 'a/b')), 'and its key file')
      assert.deepEqual((await store.listObjects('b', { limit: 10 })).objects.map(o => o.key), ['a/b'])
    })
  })

  it('tries a waiting change by itself after retryBlockedMs', async () => {
    await withStore({ retryBlockedMs: 200 }, async store => {
      await store.createBucket('b')
      await store.putObject('b', 'k', streamOfBytes(enc.encode('old')), { metadata: { user: {} } })
      await putWhoseRowsFail(store)
      // Checked before any timer can run: the failed PUT's key waits.
      assert.ok(store.blocked.has('b/k'), 'precondition: the key waits')
      await until('the key is served again', async () => (await store.headObject('b', 'k')).size === 4, 10_000)
      assert.equal(await read(store, 'k'), 'new!')
      assert.equal(store.blocked.size, 0)
    })
  })

  it('keeps the bucket of a waiting change from being deleted: its bytes may be where no row lists them yet', async () => {
    await withStore({ retryBlockedMs: 0 }, async store => {
      await store.createBucket('b')
      // A key kept under .s3mesh/objects (two slashes): with its rows not written, nothing in the bucket's folder or rows shows it.
      await putWhoseRowsFail(store, 'x//y')
      assert.equal(metaDbOf(store).get('b', 'x//y'), undefined, 'precondition: no row lists it')
      await assert.rejects(store.deleteBucket('b'), (err: Error & { code?: string }) => err.code === 'BucketNotEmpty' && /failed half-way/.test(err.message))
      assert.deepEqual(await store.blocked.retry({ all: true }), ['b/x//y'])
      assert.equal(await read(store, 'x//y'), 'new!')
      await assert.rejects(store.deleteBucket('b'), (err: Error & { code?: string }) => err.code === 'BucketNotEmpty')
      await store.deleteObject('b', 'x//y')
      await store.deleteBucket('b')
    })
  })

  it('tries a key that starts waiting before another whose tries have backed off for longer', async () => {
    const logs: string[] = []
    const blocked = new BlockedKeys({
      retryMs: 100,
      locks: new KeyedLock(),
      log: line => { logs.push(line) },
      heal: async (bucket, key) => { if (key === 'stuck') throw new Error('still failing') },
    })
    try {
      blocked.add('b/stuck')
      // Backed off: 100 ms, doubled five times.
      for (let i = 0; i < 5; i++) assert.deepEqual(await blocked.retry({ all: true }), [])
      assert.ok(logs.at(-1)?.includes('tried again in 3 s'), logs.join('\n'))
      // The first timer (100 ms after the add) has fired by then, and found nothing due: the next is set for that try.
      await new Promise(resolve => setTimeout(resolve, 300))
      blocked.add('b/new')
      await until('the new key is tried', () => !blocked.has('b/new'), 2000, undefined, 20)
      assert.ok(blocked.has('b/stuck'))
    } finally { await blocked.stop() }
  })

  it('keeps track of more waiting keys than a call takes arguments (a full disk under a load of new keys)', { timeout: 30_000 }, async () => {
    const blocked = new BlockedKeys({ retryMs: 60_000, locks: new KeyedLock(), log: () => {}, heal: async () => {} })
    try {
      for (let i = 0; i < 200_000; i++) blocked.add(`b/k${i}`)
      assert.equal(blocked.size, 200_000)
      // A pass with none due walks them all, and sets its timer from the earliest.
      assert.deepEqual(await blocked.retry(), [])
      assert.ok(blocked.has('b/k0') && blocked.anyIn('b') && !blocked.anyIn('c'))
    } finally { await blocked.stop() }
  })

  for (const change of ['delete', 'PUT'] as const) {
    it(`a versioned ${change} whose shelving could not be made durable (its folder's fsync failed) is finished by a retry once the fsync works, without a restart`, async () => {
      const fault = folderFsyncFault()
      await withStore({ retryBlockedMs: 0, fsyncFolder: fault.fsyncFolder }, async (store, root) => {
        await versionedChangeWhoseShelvingFails(store, root, change, fault)
        await assert.rejects(store.headObject('b', 'k'), unavailable, 'precondition: the key waits')
        // Still failing: still waiting.
        assert.deepEqual(await store.blocked.retry({ all: true }), [])
        await assert.rejects(store.headObject('b', 'k'), unavailable)

        fault.failing = false
        fault.synced.length = 0
        assert.deepEqual(await store.blocked.retry({ all: true }), ['b/k'])
        assert.ok(fault.synced.includes(fault.target!), 'the versions folder fsynced by the retry')
        if (change === 'delete') {
          await assert.rejects(store.headObject('b', 'k'), (err: Error & { code?: string }) => err.code === 'NoSuchKey')
          assert.ok(!existsSync(join(root, 'b', 'k')))
        } else assert.equal(await read(store, 'k'), 'three')
        const versions = (await store.listObjectVersions('b', { limit: 10 })).versions
        assert.deepEqual(versions.map(v => [v.deleteMarker, v.isLatest]), [[change === 'delete', true], [false, false], [false, false]], 'the new version or marker, then both older versions')
        assert.deepEqual(metaDbOf(store).intents(), [])
      })
    })
  }
})
