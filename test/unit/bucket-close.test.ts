/**
 * BucketCloser's own side of a bucket's delete (bucket-close.ts), with no
 * other member to ask: what makes a closed bucket busy, and writes held
 * while it is closed; and how the deleter reads several members' answers.
 * The answers of other members over libp2p are covered by
 * test/integration/bucket-delete-race.test.ts.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Libp2p } from '@libp2p/interface'
import { BucketCloser } from '../../src/core/mesh/bucket-close.js'
import { busyOf, closedOf, type Closed } from '../../src/core/mesh/close-answers.js'
import type { CatalogEntry } from '../../src/core/mesh/catalog-entry.js'
import { Catalog } from '../../src/core/mesh/catalog.js'
import { compareTimestamps, HybridClock } from '../../src/core/mesh/hlc.js'
import type { Keyring } from '../../src/core/wire/keyring.js'

const object = { size: 1, etag: '"e"', sha256: 'ab', lastModified: 0, metadata: { user: {} }, tags: {} }
const put = (key: string, ms: number, node = 'n1'): CatalogEntry => ({ bucket: 'b', key, version: { ms, counter: 0, node }, deleted: false, object, holders: [node] })
const del = (key: string, ms: number, node = 'n1'): CatalogEntry => ({ bucket: 'b', key, version: { ms, counter: 0, node }, deleted: true, holders: [] })

/** A closer with no other durable member (the network is never used). */
function alone (catalog = new Catalog(), clock = new HybridClock()): BucketCloser {
  const libp2p = { unhandle: async () => {} } as unknown as Libp2p
  return new BucketCloser({ libp2p, keyring: undefined as unknown as Keyring, catalog, clock, members: () => [], receive: () => {} })
}

describe('BucketCloser on its own', () => {
  it('is not busy for a bucket with no writes made here', async () => {
    const c = alone()
    const closed = await c.close('b')
    assert.equal(closed.busy, false)
    assert.equal(closed.inTime(), true)
    await closed.open()
  })

  it('is busy while a write to the bucket is under way, and not once it is done', async () => {
    const c = alone()
    const leave = await c.enter('b')
    const other = await c.enter('other')
    let closed = await c.close('b')
    assert.equal(closed.busy, true, 'a write under way')
    await closed.open()
    leave()
    leave()
    closed = await c.close('b')
    assert.equal(closed.busy, false, 'the write done (left twice counts once), another bucket\'s does not count')
    await closed.open()
    other()
  })

  it('counts a late write as live until a newer delete of its key, made here or heard of', async () => {
    const catalog = new Catalog()
    const c = alone(catalog)
    c.wrote(put('k', 1000))
    let closed = await c.close('b')
    assert.equal(closed.busy, true, 'a PUT made here lately, which the owners may not have yet')
    await closed.open()
    c.wrote(del('k', 2000))
    closed = await c.close('b')
    assert.equal(closed.busy, false, 'deleted here since')
    await closed.open()
    c.wrote(put('j', 3000))
    catalog.apply({ bucket: 'b', version: { ms: 1, counter: 0, node: 'n2' }, deleted: false, holders: [] })
    catalog.apply(del('j', 4000, 'n2'))
    closed = await c.close('b')
    assert.equal(closed.busy, false, 'a newer delete heard from another member')
    await closed.open()
    c.wrote({ ...put('m', 5000), versionId: 'v1', marker: true, object: undefined as unknown as CatalogEntry['object'] })
    closed = await c.close('b')
    assert.equal(closed.busy, true, 'a delete marker is a version: the bucket is not empty')
    await closed.open()
  })

  it('holds writes while closed, and lets them go when it opens', async () => {
    const c = alone()
    const closed = await c.close('b')
    let entered = false
    const held = c.enter('b').then(leave => { entered = true; return leave })
    const elsewhere = await c.enter('other')
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.equal(entered, false, 'a write to the closed bucket waits')
    await closed.open()
    ;(await held)()
    assert.equal(entered, true)
    elsewhere()
  })

  it('lets a held write go when its request is aborted', async () => {
    const c = alone()
    const closed = await c.close('b')
    const gone = new AbortController()
    const held = c.enter('b', gone.signal)
    gone.abort(new Error('the client went away'))
    await assert.rejects(held, /the client went away/)
    await closed.open()
  })

  it('stays closed until every delete that closed it has opened it', async () => {
    const c = alone()
    const first = await c.close('b')
    const second = await c.close('b')
    await first.open()
    let entered = false
    const held = c.enter('b').then(leave => { entered = true; return leave })
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.equal(entered, false, 'the second delete is still deciding')
    await second.open()
    ;(await held)()
  })

  it('reports a late write by the newest version it knows of the slot', async () => {
    const catalog = new Catalog()
    catalog.apply({ bucket: 'b', version: { ms: 1, counter: 0, node: 'n2' }, deleted: false, holders: [] })
    const c = alone(catalog)
    c.wrote(put('k', 1000))
    catalog.apply(put('k', 3000, 'n3'))
    const said = (c as unknown as { answer: (b: string) => Closed }).answer('b')
    assert.deepEqual(said.recent, [['k', null, 3000, 0, 'n3', true]], 'the newer write heard of, so that another member\'s delete at 2000 does not beat it')
    assert.equal(busyOf([said, { writing: 0, recent: [['k', null, 2000, 0, 'n2', false]] }]), true)
  })

  it('forgets the oldest past its limit, and is busy until what it forgot would have been forgotten anyway', async () => {
    const c = alone()
    for (let i = 0; i < 100_001; i++) c.wrote(del(`k${i}`, i + 1))
    const closed = await c.close('b')
    await closed.open()
    assert.equal(closed.busy, true, 'deletes only, yet one write it can no longer say anything of')
  })

  it('takes in the clock reading of the bucket\'s entry, so that the tombstone made next is newer than a change of the bucket made by a clock ahead', async () => {
    const catalog = new Catalog()
    const ahead = { ms: Date.now() + 30_000, counter: 7 }
    catalog.apply({ bucket: 'b', version: { ...ahead, node: 'n2' }, deleted: false, holders: [] })
    const clock = new HybridClock()
    const closed = await alone(catalog, clock).close('b')
    await closed.open()
    assert.ok(compareTimestamps(clock.tick(), ahead) > 0)
  })

  it('once stopped, refuses to close, and lets the writes it held go with 503 rather than into a bucket that may be gone', async () => {
    const c = alone()
    const closed = await c.close('b')
    const held = c.enter('b')
    await c.stop()
    await assert.rejects(held, /stopping/)
    await closed.open()
    await assert.rejects(c.close('other'), /stopping/)
  })

  it('ignores a close that comes after its own open, and does not hold a bucket longer for the same close twice', async () => {
    const c = alone()
    const closeHere = (bucket: string, token: string): Closed => (c as unknown as { closeHere: (b: string, t: string) => Closed }).closeHere(bucket, token)
    const openHere = (bucket: string, token: string): void => { (c as unknown as { openHere: (b: string, t: string) => void }).openHere(bucket, token) }
    openHere('b', 'late')
    closeHere('b', 'late')
    const leave = await c.enter('b', AbortSignal.timeout(1000))
    leave()
    closeHere('b', 'twice')
    closeHere('b', 'twice')
    openHere('b', 'twice')
    ;(await c.enter('b', AbortSignal.timeout(1000)))()
  })
})

describe('a deleter reading the members\' answers', () => {
  const slot = (key: string, ms: number, live: boolean, node = 'n1'): [string, null, number, number, string, boolean] => [key, null, ms, 0, node, live]

  it('takes each slot\'s newest write among all members: a delete made elsewhere after a write, or a write after a delete', () => {
    assert.equal(busyOf([{ writing: 0, recent: [slot('k', 1000, true)] }, { writing: 0, recent: [slot('k', 2000, false, 'n2')] }]), false, 'written, then deleted elsewhere')
    assert.equal(busyOf([{ writing: 0, recent: [slot('k', 3000, true)] }, { writing: 0, recent: [slot('k', 2000, false, 'n2')] }]), true, 'deleted, then written again')
    assert.equal(busyOf([{ writing: 0, recent: [slot('k', 1000, false)] }, { writing: 0, recent: [slot('j', 500, true, 'n2')] }]), true, 'another key live')
    assert.equal(busyOf([{ writing: 0, recent: [] }, { writing: 1, recent: [] }]), true, 'a write under way at one member')
    assert.equal(busyOf([{ writing: 0, recent: [], overflow: true }]), true, 'a member that could not list its writes')
    assert.equal(busyOf([{ writing: 0, recent: [] }, { writing: 0, recent: [] }]), false)
  })

  it('refuses an answer that is no close\'s, and takes a slot it cannot read as unknown (busy)', () => {
    assert.throws(() => closedOf({ type: 'opened' }), /something else/)
    assert.throws(() => closedOf({ type: 'closed', writing: '0', recent: [] }), /something else/)
    const odd = closedOf({ type: 'closed', writing: 0, recent: [slot('k', 1000, false), ['k', null, 'soon', 0, 'n1', true]] })
    assert.equal(odd.recent.length, 1)
    assert.equal(busyOf([odd]), true)
    assert.equal(busyOf([closedOf({ type: 'closed', writing: 0, recent: [slot('k', 1000, false)] })]), false)
  })
})
