/**
 * HolderNotices: the leading owner tells a member that holds an old copy of
 * a key in a bucket it does not own that the key was replaced, and tells it
 * again, after a wait, when it did not answer.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { CatalogEntry } from '../../src/core/mesh/catalog-entry.js'
import type { CatalogPartition } from '../../src/core/mesh/catalog-partition.js'
import type { CatalogQuery } from '../../src/core/mesh/catalog-query.js'
import { Catalog } from '../../src/core/mesh/catalog.js'
import type { DurableMembers } from '../../src/core/mesh/durable-members.js'
import { HolderNotices } from '../../src/core/mesh/holder-notices.js'
import { until } from '../helpers/until.js'

const v = (ms: number): CatalogEntry['version'] => ({ ms, counter: 0, node: 'n1' })
const object = (sha: string): NonNullable<CatalogEntry['object']> => ({ size: 1, etag: sha, sha256: sha, lastModified: 1, metadata: { user: {} }, tags: {} })

/** Notices on a real catalog in which n1 leads bucket b (owned by n1 and n2); `merge` is the query's send to a member. */
function setup (merge: (member: string, entries: CatalogEntry[]) => Promise<void>, durable = (id: string): boolean => id !== 'gone'): { catalog: Catalog, notices: HolderNotices, stopping: AbortController } {
  const catalog = new Catalog()
  catalog.apply({ bucket: 'b', version: v(1), deleted: false, holders: [] })
  const stopping = new AbortController()
  const notices = new HolderNotices({
    self: 'n1',
    catalog,
    partition: { partitioned: true, leads: () => true, owners: () => ['n1', 'n2'] } as unknown as CatalogPartition,
    durable: { has: durable } as unknown as DurableMembers,
    query: { merge: async (member: string, entries: CatalogEntry[]) => { await merge(member, entries) } } as unknown as CatalogQuery,
    stopping: stopping.signal,
    retryMs: 20,
  })
  notices.start()
  return { catalog, notices, stopping }
}

describe('HolderNotices', () => {
  it('tells a holder of an old copy that the key was replaced, again after a wait when it did not answer, with the newest entry', async () => {
    const calls: Array<[string, string[]]> = []
    let failing = 2
    const { catalog, notices } = setup(async (member, entries) => {
      calls.push([member, entries.map(e => e.object?.sha256 ?? 'deleted')])
      if (failing-- > 0) throw new Error('no answer')
    })
    try {
      catalog.apply({ bucket: 'b', key: 'k', version: v(2), deleted: false, object: object('old'), holders: ['h', 'n1'] })
      catalog.apply({ bucket: 'b', key: 'k', version: v(3), deleted: false, object: object('new'), holders: ['n1', 'n2'] })
      await until('the holder took the notice', async () => notices.stats.sent === 1, 5_000)
      assert.deepEqual(calls, [['h', ['new']], ['h', ['new']], ['h', ['new']]], 'sent, then twice again')
      assert.equal(notices.stats.failed, 2)
      assert.equal(notices.waiting, 0, 'nothing waits once it answered')
    } finally { await notices.stop() }
  })

  it('sends to each member on its own: one that does not answer holds up no notice to another', async () => {
    const told: string[] = []
    let release = (): void => {}
    const held = new Promise<void>(resolve => { release = resolve })
    const { catalog, notices } = setup(async member => {
      if (member === 'slow') await held
      told.push(member)
    })
    try {
      catalog.apply({ bucket: 'b', key: 'one', version: v(2), deleted: false, object: object('old'), holders: ['n1', 'slow'] })
      catalog.apply({ bucket: 'b', key: 'one', version: v(3), deleted: false, object: object('new'), holders: ['n1', 'n2'] })
      await new Promise(resolve => setTimeout(resolve, 20))
      catalog.apply({ bucket: 'b', key: 'two', version: v(2), deleted: false, object: object('old'), holders: ['fast', 'n1'] })
      catalog.apply({ bucket: 'b', key: 'two', version: v(3), deleted: false, object: object('new'), holders: ['n1', 'n2'] })
      await until('the other member was told while the first has not answered', async () => told.includes('fast'), 2_000)
      assert.deepEqual(told, ['fast'])
    } finally {
      release()
      await notices.stop()
    }
  })

  it('keeps only the newest entry of a slot for the next try, and gives up on a member that is no longer durable', async () => {
    const calls: Array<[string, string[]]> = []
    const alive = new Set(['h'])
    const { catalog, notices } = setup(async (member, entries) => {
      calls.push([member, entries.map(e => e.deleted ? 'deleted' : e.object!.sha256)])
      throw new Error('no answer')
    }, id => alive.has(id))
    try {
      catalog.apply({ bucket: 'b', key: 'k', version: v(2), deleted: false, object: object('old'), holders: ['h', 'n1'] })
      catalog.apply({ bucket: 'b', key: 'k', version: v(3), deleted: false, object: object('new'), holders: ['n1', 'n2'] })
      // h holds the next version too (a spare took it), which is then deleted: two notices of one slot for h.
      catalog.apply({ bucket: 'b', key: 'k', version: v(4), deleted: false, object: object('newer'), holders: ['h', 'n1'] })
      catalog.apply({ bucket: 'b', key: 'k', version: v(5), deleted: true, holders: [] })
      await until('tried again', async () => calls.length >= 2, 5_000)
      assert.deepEqual(calls[0], ['h', ['new', 'deleted']])
      assert.deepEqual(calls[1], ['h', ['deleted']], 'again with the delete alone, not the write it replaced')
      alive.delete('h')
      const tries = calls.length
      await until('given up', async () => notices.waiting === 0, 5_000)
      await new Promise(resolve => setTimeout(resolve, 300))
      assert.ok(calls.length <= tries + 1, 'no more tries once it left')
    } finally { await notices.stop() }
  })
})
