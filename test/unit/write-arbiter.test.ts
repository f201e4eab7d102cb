/**
 * The write arbiter's decisions, on a clock the test moves: one conditional
 * write of a key at a time, holds that pass when a writer dies, writes let
 * commit remembered even after their hold had passed, conditions against the
 * catalog's entry (tombstones included), and 503 when the arbiter cannot be
 * reached. Across real processes: test/integration/conditional-writes.test.ts.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Libp2p } from '@libp2p/interface'
import { isS3Error, type S3ErrorCode } from '../../src/core/errors.js'
import type { CatalogEntry } from '../../src/core/mesh/catalog-entry.js'
import { WriteArbiter } from '../../src/core/mesh/write-arbiter.js'
import type { Keyring } from '../../src/core/wire/keyring.js'

const LEASE = 1000

function arbiter (current: (key: string) => CatalogEntry | undefined = () => undefined, slot: (key: string, slot: string) => CatalogEntry | undefined = () => undefined): { a: WriteArbiter, clock: { t: number } } {
  const clock = { t: 1_000_000 }
  // Its own arbiter: no question leaves the process.
  const a = new WriteArbiter({ libp2p: {} as Libp2p, keyring: {} as Keyring, self: 'me', arbiterOf: () => 'me', current: async (_b, k) => current(k), slot: (_b, k, s) => slot(k, s), leaseMs: LEASE, now: () => clock.t })
  return { a, clock }
}

async function refused (p: Promise<unknown>, code: S3ErrorCode): Promise<void> {
  await assert.rejects(p, (err: unknown) => isS3Error(err) && err.code === code)
}

const version = (ms: number): CatalogEntry['version'] => ({ ms, counter: 0, node: 'me' })

describe('write arbiter', () => {
  it('one conditional write of a key at a time; once it is written, the next If-None-Match: * is refused though the catalog has not heard', async () => {
    const { a } = arbiter()
    const first = await a.acquire('b', 'k', { ifNoneMatch: '*' })
    await refused(a.acquire('b', 'k', { ifNoneMatch: '*' }), 'ConditionalRequestConflict')
    await a.acquire('b', 'other', { ifNoneMatch: '*' })
    await first.confirm()
    await first.release({ etag: 'e1', version: version(5), slot: '' })
    await refused(a.acquire('b', 'k', { ifNoneMatch: '*' }), 'PreconditionFailed')
    const swap = await a.acquire('b', 'k', { ifMatch: 'e1' })
    await swap.release()
    await refused(a.acquire('b', 'k', { ifMatch: 'e0' }), 'PreconditionFailed')
  })

  it('a writer that fails lets the key go at once; one that dies lets it go when its hold passes, and then cannot commit', async () => {
    const { a, clock } = arbiter()
    const failed = await a.acquire('b', 'k', { ifNoneMatch: '*' })
    await failed.release()
    const died = await a.acquire('b', 'k', { ifNoneMatch: '*' })
    await refused(a.acquire('b', 'k', { ifNoneMatch: '*' }), 'ConditionalRequestConflict')
    clock.t += LEASE + 1
    const next = await a.acquire('b', 'k', { ifNoneMatch: '*' })
    await refused(died.confirm(), 'ConditionalRequestConflict')
    await next.confirm()
  })

  it('a write that commits after its hold passed is remembered all the same: the write that took the hold then fails its condition', async () => {
    const { a, clock } = arbiter()
    const slow = await a.acquire('b', 'k', { ifNoneMatch: '*' })
    clock.t += LEASE + 1
    const late = await a.acquire('b', 'k', { ifNoneMatch: '*' })
    await slow.release({ etag: 'slow', version: version(9), slot: '' })
    await refused(late.confirm(), 'PreconditionFailed')
  })

  it('conditions hold against the catalog\'s newest entry: If-Match on a tombstone is NoSuchKey, and If-None-Match: * may create it again', async () => {
    const object = { size: 1, etag: 'cat', sha256: 'a'.repeat(64), lastModified: 1, metadata: { user: {} }, tags: {} }
    const entries: Record<string, CatalogEntry> = {
      live: { bucket: 'b', key: 'live', version: version(3), deleted: false, object, holders: ['me'] },
      gone: { bucket: 'b', key: 'gone', version: version(4), deleted: true, holders: [] },
    }
    const { a } = arbiter(k => entries[k])
    await refused(a.acquire('b', 'live', { ifNoneMatch: '*' }), 'PreconditionFailed')
    await refused(a.acquire('b', 'live', { ifMatch: 'other' }), 'PreconditionFailed')
    await (await a.acquire('b', 'live', { ifMatch: 'cat' })).release()
    await refused(a.acquire('b', 'gone', { ifMatch: 'cat' }), 'NoSuchKey')
    await (await a.acquire('b', 'gone', { ifNoneMatch: '*' })).release()
    // A conditional write remembered here, older than the catalog's entry, does not stand in for it.
    const old = await a.acquire('b', 'none', { ifNoneMatch: '*' })
    await old.release({ etag: 'old', version: version(1), slot: '' })
    entries.none = { bucket: 'b', key: 'none', version: version(2), deleted: true, holders: [] }
    await (await a.acquire('b', 'none', { ifNoneMatch: '*' })).release()
  })

  it('a conditional delete leaves the key with no object, though the catalog has not heard; a later change of the slot it wrote sets that aside', async () => {
    const object = { size: 1, etag: 'cat', sha256: 'a'.repeat(64), lastModified: 1, metadata: { user: {} }, tags: {} }
    const live: CatalogEntry = { bucket: 'b', key: 'k', versionId: 'v3', version: version(3), deleted: false, object, holders: ['me'] }
    const slots: Record<string, CatalogEntry> = { v3: live }
    // The catalog keeps the key's head at v3 throughout: it hears of neither the delete nor the marker's removal.
    const { a } = arbiter(k => k === 'k' ? live : undefined, (_k, s) => slots[s])
    const del = await a.acquire('b', 'k', { ifMatch: 'cat' })
    await del.release({ version: version(5), slot: 'v5' })
    await refused(a.acquire('b', 'k', { ifMatch: 'cat' }), 'NoSuchKey')
    await refused(a.acquire('b', 'k', { ifMatch: '*' }), 'NoSuchKey')
    await (await a.acquire('b', 'k', { ifNoneMatch: '*' })).release()
    // The marker (slot v5) deleted by its id: v3 is current again, as the catalog says.
    slots.v5 = { bucket: 'b', key: 'k', versionId: 'v5', version: version(6), deleted: true, holders: [] }
    await (await a.acquire('b', 'k', { ifMatch: 'cat' })).release()
    await refused(a.acquire('b', 'k', { ifNoneMatch: '*' }), 'PreconditionFailed')
  })

  it('an arbiter that cannot be reached answers 503 (never two winners)', async () => {
    const unreachable = { getConnections: () => [], dialProtocol: async () => { throw new Error('no route') } } as unknown as Libp2p
    const a = new WriteArbiter({ libp2p: unreachable, keyring: {} as Keyring, self: 'me', arbiterOf: () => '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA', current: async () => undefined })
    await refused(a.acquire('b', 'k', { ifNoneMatch: '*' }), 'ServiceUnavailable')
  })

  it('a member that is no longer a bucket\'s arbiter confirms none of the holds it gave; one that has just become it takes no new hold for a lease\'s length', async () => {
    const clock = { t: 1_000_000 }
    const view = { arbiter: 'me' }
    const a = new WriteArbiter({ libp2p: {} as Libp2p, keyring: {} as Keyring, self: 'me', arbiterOf: () => view.arbiter, current: async () => undefined, leaseMs: LEASE, now: () => clock.t })
    a.membersChanged(['b'])
    const given = await a.acquire('b', 'k', { ifNoneMatch: '*' })
    // The members changed: another member orders the bucket now (by this member's view too).
    view.arbiter = 'other'
    a.membersChanged(['b'])
    await refused(given.confirm(), 'ServiceUnavailable')
    // And back: this member may not know what 'other' let through meanwhile.
    view.arbiter = 'me'
    a.membersChanged(['b'])
    await refused(a.acquire('b', 'k2', { ifNoneMatch: '*' }), 'ServiceUnavailable')
    clock.t += LEASE
    await (await a.acquire('b', 'k2', { ifNoneMatch: '*' })).release()
    // A bucket first seen with this member as its arbiter (a start, a new bucket) has no predecessor to wait for.
    a.membersChanged(['fresh'])
    await (await a.acquire('fresh', 'k', { ifNoneMatch: '*' })).release()
  })
})
