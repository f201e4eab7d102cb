/**
 * A mesh turns versioning on only once every durable member keeps versions:
 * a member of an older release would take a version for the key's only
 * object and delete the other versions' copies. Likewise conditional
 * deletes and If-Match: * wait for every member's arbiter to know them.
 * MeshStore over a real catalog and MemoryStore, the members lacking the
 * feature given.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isS3Error } from '../../src/core/errors.js'
import { webHashes } from '../../src/core/hashes.js'
import { MemoryStore } from '../../src/core/memory-store.js'
import { Catalog } from '../../src/core/mesh/catalog.js'
import { HybridClock } from '../../src/core/mesh/hlc.js'
import { LocalCopies } from '../../src/core/mesh/local-copies.js'
import { MeshStore, type MeshStoreParts } from '../../src/core/mesh/mesh-store.js'

/** The parts meshStore() builds its store of (kept to build another on them). */
const built = new WeakMap<MeshStore, MeshStoreParts>()
const partsOf = (store: MeshStore): MeshStoreParts => built.get(store)!

function meshStore (blocked: string[] | undefined, local = new MemoryStore()): MeshStore {
  const catalog = new Catalog()
  const copies = new LocalCopies(local, { self: 'me', catalog, clock: new HybridClock(), hashes: webHashes, announce: () => {} })
  const unused = async (): Promise<never> => { throw new Error('not used here') }
  const parts: MeshStoreParts = {
    copies, catalog, hashes: webHashes, replicator: { begin: () => { throw new Error('not used here') }, replicate: unused },
    fetch: unused, onCorrupt: () => {}, announced: async () => {}, persist: async () => {},
    ...(blocked === undefined ? {} : { versionsBlockedBy: () => blocked }),
  }
  const store = new MeshStore(parts)
  built.set(store, parts)
  return store
}

describe('the mesh\'s versioning gate', () => {
  it('refuses to set versioning while a durable member keeps no versions, naming it; sets it once none is left', async () => {
    const held = meshStore(['old-member'])
    await held.createBucket('b')
    await assert.rejects(held.setBucketVersioning!('b', 'Enabled'), (err: unknown) => isS3Error(err, 'ServiceUnavailable') && /old-member/.test((err as Error).message) && /Upgrade every node/.test((err as Error).message))
    assert.equal((await held.headBucket('b')).versioning, undefined, 'nothing changed')
    const local = new MemoryStore()
    const open = meshStore([], local)
    await open.createBucket('b')
    await open.setBucketVersioning!('b', 'Enabled')
    assert.equal((await open.headBucket('b')).versioning, 'Enabled')
    assert.equal((await local.headBucket('b')).versioning, 'Enabled', 'the member\'s own store keeps versions from then on')
  })

  it('answers a conditional delete and If-Match: * with 503 while a durable member\'s arbiter would not know them, naming it; asks the arbiter once none is left', async () => {
    const asked: string[] = []
    const arbiter = { acquire: async (_b: string, key: string) => { asked.push(key); return { confirm: async () => {}, release: async () => {} } } }
    const store = (old: string[]): MeshStore => new MeshStore({ ...partsOf(meshStore([])), arbiter, conditionalDeletesBlockedBy: () => old })
    const held = store(['old-member'])
    await held.createBucket('b')
    const refused = (err: unknown): boolean => isS3Error(err, 'ServiceUnavailable') && /old-member/.test((err as Error).message)
    await assert.rejects(held.deleteObject('b', 'k', { ifMatch: '*' }), refused)
    await assert.rejects(held.putObject('b', 'k', new Blob(['y']).stream(), { metadata: { user: {} }, size: 1, condition: { ifMatch: '*' } }), refused)
    assert.deepEqual(asked, [], 'the arbiter was not asked')
    const open = store([])
    await open.createBucket('b')
    await open.deleteObject('b', 'k', { ifMatch: '*' })
    assert.deepEqual(asked, ['k'], 'asked once none is left')
  })

  it('a store that keeps no versions (a guest\'s) offers neither versioning nor a versions listing', () => {
    const guest = meshStore(undefined)
    assert.equal(guest.setBucketVersioning, undefined)
    assert.equal(guest.listObjectVersions, undefined)
  })
})
