import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { MetaRecord } from '../../src/node/disk-records.js'
import { DirSyncer } from '../../src/node/dir-syncer.js'
import { MetaCache } from '../../src/node/meta-cache.js'

describe('DirSyncer (group commit of folder fsyncs)', () => {
  it('shares fsyncs between concurrent callers, and every caller waits for an fsync that started after it asked', async () => {
    const started: number[] = []
    let clock = 0
    const releases: Array<() => void> = []
    const syncer = new DirSyncer(async () => {
      started.push(clock)
      await new Promise<void>(resolve => releases.push(resolve))
    })
    const asked: Array<{ at: number, done: boolean }> = []
    const ask = (): Promise<void> => {
      const me = { at: ++clock, done: false }
      asked.push(me)
      return syncer.sync('/d').then(() => { me.done = true })
    }
    const all = [ask()]
    await Promise.resolve()
    for (let i = 0; i < 9; i++) all.push(ask())
    assert.equal(started.length, 1, 'one fsync runs; the nine later callers wait for the next round')
    releases.shift()!()
    await new Promise(resolve => setTimeout(resolve, 0))
    assert.equal(asked[0]!.done, true)
    assert.equal(asked.slice(1).some(a => a.done), false, 'the fsync that started before them does not count for them')
    assert.equal(started.length, 2)
    assert.ok(started[1]! >= 10, 'the second fsync started after the last caller asked')
    releases.shift()!()
    await Promise.all(all)
    assert.equal(started.length, 2, 'ten callers, two fsyncs')
  })

  it('passes an fsync failure to every caller of that round', async () => {
    const syncer = new DirSyncer(async () => { throw new Error('EIO') })
    await assert.rejects(Promise.all([syncer.sync('/x'), syncer.sync('/x')]), /EIO/)
    await assert.rejects(syncer.sync('/x'), /EIO/)
  })
})

describe('MetaCache', () => {
  const meta = (key: string): MetaRecord => ({ v: 1, key, size: 1, etag: 'e', sha256: 's', lastModified: 0, metadata: { user: {} }, tags: {}, hidden: false, ino: 1, mtimeMs: 0 })
  it('evicts the least recently used entry and forgets buckets', () => {
    const c = new MetaCache(2)
    c.set('b/a', meta('a'))
    c.set('b/b', meta('b'))
    assert.equal(c.get('b/a')?.key, 'a')
    c.set('b/c', meta('c'))
    assert.equal(c.get('b/b'), undefined, 'b was least recently used')
    assert.equal(c.get('b/a')?.key, 'a')
    c.set('other/x', meta('x'))
    c.deleteBucket('b')
    assert.equal(c.get('b/a'), undefined)
    assert.equal(c.get('other/x')?.key, 'x')
  })
})
