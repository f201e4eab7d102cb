/**
 * ReadThroughStore's rules (a service worker with no page node: IndexedDB,
 * then its gateway), on two MemoryStores that keep versions: what it reads
 * through, what it does not, and which store's not-found it answers.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isS3Error } from '../../src/core/errors.js'
import { MemoryStore } from '../../src/core/memory-store.js'
import { streamOfBytes } from '../../src/core/streams.js'
import { ReadThroughStore } from '../../src/gateway/read-through-store.js'
import { readStream } from '../compliance/object-store-suite.js'

const put = async (store: MemoryStore, bucket: string, key: string, text: string): Promise<string | undefined> =>
  (await store.putObject(bucket, key, streamOfBytes(new TextEncoder().encode(text)), { metadata: { user: {} }, size: text.length })).versionId

async function setup (): Promise<{ local: MemoryStore, remote: MemoryStore, store: ReadThroughStore }> {
  const local = new MemoryStore()
  const remote = new MemoryStore()
  const store = new ReadThroughStore({ local, remote: async () => ({ store: remote, name: 'the remote' }) })
  for (const s of [local, remote]) {
    await s.createBucket('both')
    await s.setBucketVersioning!('both', 'Enabled')
  }
  await remote.createBucket('remote-only')
  await remote.setBucketVersioning!('remote-only', 'Enabled')
  await local.createBucket('local-only')
  await local.setBucketVersioning!('local-only', 'Enabled')
  return { local, remote, store }
}

const text = async (store: ReadThroughStore, bucket: string, key: string, versionId?: string): Promise<string> =>
  new TextDecoder().decode(await readStream((await store.openObject(bucket, key, versionId === undefined ? {} : { versionId })).stream()))

describe('ReadThroughStore', () => {
  it('reads a bucket, a key or a version the local store lacks from the remote one, and lists a bucket only the remote has', async () => {
    const { remote, store } = await setup()
    const old = await put(remote, 'remote-only', 'k', 'old')
    await put(remote, 'remote-only', 'k', 'new')
    assert.equal(await text(store, 'remote-only', 'k'), 'new')
    assert.equal(await text(store, 'remote-only', 'k', old), 'old')
    assert.deepEqual((await store.listObjectVersions!('remote-only', { limit: 10 })).versions.map(v => v.versionId).at(-1), old)
    const there = await put(remote, 'both', 'k', 'remote')
    await assert.rejects(store.openObject('both', 'k', { versionId: 'nosuchversion' }), (err: unknown) => isS3Error(err, 'NoSuchVersion'))
    assert.equal(await text(store, 'both', 'k', there), 'remote', 'a version by id the local store lacks')
  })

  it('does not read through a key behind a delete marker here: the remote copy is older', async () => {
    const { local, remote, store } = await setup()
    await put(remote, 'both', 'gone', 'stale')
    await put(local, 'both', 'gone', 'was here')
    const marker = await local.deleteObject('both', 'gone')
    assert.equal(marker?.deleteMarker, true, 'the precondition: a marker is current here')
    await assert.rejects(store.openObject('both', 'gone'), (err: unknown) => isS3Error(err, 'NoSuchKey') && err.headers?.['x-amz-delete-marker'] === 'true')
    await assert.rejects(store.headObject('both', 'gone'), (err: unknown) => isS3Error(err, 'NoSuchKey') && err.headers?.['x-amz-delete-marker'] === 'true')
  })

  it('answers the local store\'s not-found where it says more than the remote one\'s', async () => {
    const { local, store } = await setup()
    await put(local, 'local-only', 'k', 'here')
    // The remote store has no such bucket: the local store has it, and the key.
    await assert.rejects(store.openObject('local-only', 'k', { versionId: 'nosuchversion' }), (err: unknown) => isS3Error(err, 'NoSuchVersion'))
    await assert.rejects(store.openObject('local-only', 'nothing'), (err: unknown) => isS3Error(err, 'NoSuchKey'))
    // Neither has the bucket.
    await assert.rejects(store.openObject('nowhere', 'k'), (err: unknown) => isS3Error(err, 'NoSuchBucket'))
  })

  it('refuses a conditional write while it reads through to another store, and leaves it to the local store when there is none', async () => {
    const { store } = await setup()
    const body = (): ReadableStream<Uint8Array> => streamOfBytes(new TextEncoder().encode('x'))
    await assert.rejects(store.putObject('both', 'c', body(), { metadata: { user: {} }, condition: { ifNoneMatch: '*' } }), (err: unknown) => isS3Error(err, 'NotImplemented'))
    const local = new MemoryStore()
    await local.createBucket('alone')
    const alone = new ReadThroughStore({ local, remote: async () => undefined })
    await alone.putObject('alone', 'c', body(), { metadata: { user: {} }, condition: { ifNoneMatch: '*' } })
    await assert.rejects(alone.putObject('alone', 'c', body(), { metadata: { user: {} }, condition: { ifNoneMatch: '*' } }), (err: unknown) => isS3Error(err, 'PreconditionFailed'), 'checked by the local store')
  })

  it('keeps versions as the local store does: versioning and writes are the local store\'s', async () => {
    const { local, remote, store } = await setup()
    await store.createBucket('mine')
    await store.setBucketVersioning!('mine', 'Enabled')
    assert.equal((await local.headBucket('mine')).versioning, 'Enabled')
    await assert.rejects(remote.headBucket('mine'), (err: unknown) => isS3Error(err, 'NoSuchBucket'))
    const v1 = (await store.putObject('mine', 'k', streamOfBytes(new TextEncoder().encode('one')), { metadata: { user: {} }, size: 3 })).versionId
    await store.putObject('mine', 'k', streamOfBytes(new TextEncoder().encode('two')), { metadata: { user: {} }, size: 3 })
    assert.equal(await text(store, 'mine', 'k', v1), 'one')
    assert.deepEqual(await store.deleteObject('mine', 'k', { versionId: v1! }), { versionId: v1 })
  })
})
