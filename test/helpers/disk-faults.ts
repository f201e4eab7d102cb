import assert from 'node:assert/strict'
import { streamOfBytes } from '../../src/core/streams.js'
import { DiskLayout } from '../../src/node/disk-layout.js'
import type { DiskStore } from '../../src/node/disk-store.js'
import type { MetaDb } from '../../src/node/meta-db.js'

/** The store's metadata database, for tests that make its writes fail. */
export function metaDbOf (store: DiskStore): MetaDb {
  return (store as unknown as { db: MetaDb }).db
}

/** PUTs 'new!' to b/`key` with rows that fail after the data rename: the bytes are in place, the rows not written (the key is then blocked). */
export async function putWhoseRowsFail (store: DiskStore, key = 'k'): Promise<void> {
  const db = metaDbOf(store)
  const settleCommitted = db.settleCommitted.bind(db)
  let failed = 0
  db.settleCommitted = async () => { failed++; throw new Error('disk I/O error') }
  try {
    await assert.rejects(store.putObject('b', key, streamOfBytes(new TextEncoder().encode('new!')), { metadata: { user: { v: 'new' } } }), /disk I\/O error|store the object/)
  } finally { db.settleCommitted = settleCommitted }
  assert.equal(failed, 1, 'the rows failed after the data rename')
}

/** Whether `err` is S3's ServiceUnavailable (a blocked key's answer). */
export const unavailable = (err: Error & { code?: string }): boolean => err.code === 'ServiceUnavailable'

/** An fsyncFolder for DiskStore.open that fails with EIO for folder `target` while `failing` (counted in `failed`), and lists the folders it fsynced. */
export function folderFsyncFault (): { target: string | undefined, failing: boolean, failed: number, synced: string[], fsyncFolder: (dir: string) => Promise<void> } {
  const fault = {
    target: undefined as string | undefined,
    failing: false,
    failed: 0,
    synced: [] as string[],
    fsyncFolder: async (dir: string): Promise<void> => {
      if (fault.failing && dir === fault.target) { fault.failed++; throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }) }
      fault.synced.push(dir)
    },
  }
  return fault
}

/**
 * b/k with two versions in a versioned bucket, then a third change (a
 * delete, or a PUT of 'three') while `fault` fails the fsync of the key's
 * versions folder (its target): refused, after the shelving.
 */
export async function versionedChangeWhoseShelvingFails (store: DiskStore, root: string, change: 'delete' | 'PUT', fault: ReturnType<typeof folderFsyncFault>): Promise<void> {
  fault.target = new DiskLayout(root).versionsDir('b', 'k')
  await store.createBucket('b')
  await store.setBucketVersioning('b', 'Enabled')
  await store.putObject('b', 'k', streamOfBytes(new TextEncoder().encode('one')), { metadata: { user: {} } })
  await store.putObject('b', 'k', streamOfBytes(new TextEncoder().encode('two')), { metadata: { user: {} } })
  fault.failing = true
  if (change === 'delete') await assert.rejects(store.deleteObject('b', 'k'), /EIO|delete the object/)
  else await assert.rejects(store.putObject('b', 'k', streamOfBytes(new TextEncoder().encode('three')), { metadata: { user: {} } }), /EIO|store the object/)
  assert.ok(fault.failed > 0, 'precondition: the versions folder\'s fsync failed after the shelving')
}
