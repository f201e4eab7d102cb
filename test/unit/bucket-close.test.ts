/**
 * BucketCloser's own side of a bucket's delete (bucket-close.ts), with no
 * other member to ask: what makes a closed bucket busy, and writes held
 * while it is closed. The answers of other members over libp2p are
 * covered by test/integration/bucket-delete-race.test.ts.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Libp2p } from '@libp2p/interface'
import { BucketCloser } from '../../src/core/mesh/bucket-close.js'
import type { CatalogEntry } from '../../src/core/mesh/catalog-entry.js'
import { Catalog } from '../../src/core/mesh/catalog.js'
import type { Keyring } from '../../src/core/wire/keyring.js'

const object = { size: 1, etag: '"e"', sha256: 'ab', lastModified: 0, metadata: { user: {} }, tags: {} }
const put = (key: string, ms: number, node = 'n1'): CatalogEntry => ({ bucket: 'b', key, version: { ms, counter: 0, node }, deleted: false, object, holders: [node] })
const del = (key: string, ms: number, node = 'n1'): CatalogEntry => ({ bucket: 'b', key, version: { ms, counter: 0, node }, deleted: true, holders: [] })

/** A closer with no other durable member (the network is never used). */
function alone (catalog = new Catalog()): BucketCloser {
  return new BucketCloser({ libp2p: undefined as unknown as Libp2p, keyring: undefined as unknown as Keyring, catalog, members: () => [], receive: () => {} })
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
})
