/** Lifecycle rules (core/lifecycle.ts) and the runner that acts on them (core/lifecycle-runner.ts), over a MemoryStore (and a DiskStore for versions) with a clock the test moves. */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { afterDays, expiryOf, uploadExpiryOf, type LifecycleRule } from '../../src/core/lifecycle.js'
import { LifecycleRunner } from '../../src/core/lifecycle-runner.js'
import { MemoryStore } from '../../src/core/memory-store.js'
import type { ObjectStore } from '../../src/core/object-store.js'
import { streamOfBytes } from '../../src/core/streams.js'
import { DiskStore } from '../../src/node/disk-store.js'

const DAY = 86_400_000
const at = (iso: string): Date => new Date(iso)

describe('lifecycle rules', () => {
  it('days count to the next midnight UTC after the object was written, as S3 counts them', () => {
    assert.equal(afterDays(at('2026-03-01T10:20:00Z'), 1).toISOString(), '2026-03-03T00:00:00.000Z')
    assert.equal(afterDays(at('2026-03-01T00:00:00Z'), 1).toISOString(), '2026-03-02T00:00:00.000Z', 'already at midnight: one day on')
    assert.equal(afterDays(at('2026-12-31T23:59:59Z'), 30).toISOString(), '2027-01-31T00:00:00.000Z')
  })

  it('the earliest enabled rule that matches decides; filters by prefix, every tag, and size (strictly)', () => {
    const rules: LifecycleRule[] = [
      { id: 'logs', enabled: true, filter: { prefix: 'logs/' }, expiration: { days: 7 } },
      { id: 'tmp-big', enabled: true, filter: { prefix: 'logs/', tags: { tmp: 'yes', team: 'a' }, sizeGreaterThan: 100 }, expiration: { days: 1 } },
      { id: 'off', enabled: false, filter: {}, expiration: { days: 1 } },
      { id: 'date', enabled: true, filter: { sizeLessThan: 10 }, expiration: { date: '2026-06-01T00:00:00.000Z' } },
    ]
    const o = { key: 'logs/a', size: 101, lastModified: at('2026-03-01T12:00:00Z') }
    assert.deepEqual(expiryOf(rules, o), { date: at('2026-03-09T00:00:00Z'), ruleId: 'logs' }, 'no tags: only the prefix rule')
    assert.deepEqual(expiryOf(rules, { ...o, tags: { tmp: 'yes', team: 'a', other: 'x' } }), { date: at('2026-03-03T00:00:00Z'), ruleId: 'tmp-big' })
    assert.equal(expiryOf(rules, { ...o, tags: { tmp: 'yes' } })?.ruleId, 'logs', 'every tag the filter names')
    assert.equal(expiryOf(rules, { ...o, size: 100, tags: { tmp: 'yes', team: 'a' } })?.ruleId, 'logs', 'greater than, not equal')
    assert.deepEqual(expiryOf(rules, { key: 'x', size: 9, lastModified: at('2026-03-01T00:00:00Z') }), { date: at('2026-06-01T00:00:00Z'), ruleId: 'date' })
    assert.equal(expiryOf(rules, { key: 'x', size: 10, lastModified: at('2026-03-01T00:00:00Z') }), undefined)
    assert.equal(expiryOf(undefined, o), undefined)
  })

  it('uploads are aborted by prefix, DaysAfterInitiation after they began', () => {
    const rules: LifecycleRule[] = [{ enabled: true, filter: { prefix: 'up/' }, abortIncompleteMultipartUpload: { daysAfterInitiation: 2 } }]
    assert.equal(uploadExpiryOf(rules, 'up/x', at('2026-03-01T05:00:00Z'))?.toISOString(), '2026-03-04T00:00:00.000Z')
    assert.equal(uploadExpiryOf(rules, 'down/x', at('2026-03-01T05:00:00Z')), undefined)
  })
})

describe('the lifecycle runner', () => {
  async function setup (): Promise<{ store: MemoryStore, now: { t: number } }> {
    const store = new MemoryStore()
    await store.createBucket('b')
    const put = async (key: string, body: string, tags?: Record<string, string>): Promise<void> => {
      await store.putObject('b', key, streamOfBytes(new TextEncoder().encode(body)), { metadata: { user: {} }, ...(tags === undefined ? {} : { tags }) })
    }
    await put('logs/1', 'one')
    await put('logs/2', 'two', { keep: 'yes' })
    await put('data/1', 'data')
    await store.setBucketLifecycle('b', [
      { id: 'logs', enabled: true, filter: { prefix: 'logs/' }, expiration: { days: 1 } },
      { id: 'kept', enabled: true, filter: { tags: { keep: 'yes' } }, expiration: { days: 100 } },
      { id: 'uploads', enabled: true, filter: {}, abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } },
    ])
    return { store, now: { t: Date.now() } }
  }

  it('deletes what a rule expires once its day has come, and nothing before; aborts old uploads', async () => {
    const { store, now } = await setup()
    await store.createMultipartUpload('b', 'up/x', { metadata: { user: {} } })
    const runner = new LifecycleRunner({ store, decides: () => true, intervalMs: 1000, firstPassAfterMs: 0, now: () => now.t })
    assert.deepEqual(await runner.pass(), { expired: 0, aborted: 0, versions: 0 }, 'today: nothing is due')
    assert.deepEqual((await store.listObjects('b', { limit: 10 })).objects.map(o => o.key), ['data/1', 'logs/1', 'logs/2'])
    now.t += 2 * DAY
    assert.deepEqual(await runner.pass(), { expired: 2, aborted: 1, versions: 0 })
    assert.deepEqual((await store.listObjects('b', { limit: 10 })).objects.map(o => o.key), ['data/1'], 'both logs/ objects: the earliest rule decides, the tag rule is later')
    assert.deepEqual(await store.listMultipartUploads('b'), [])
    const { lastPassSeconds, ...counts } = runner.stats
    assert.deepEqual(counts, { passes: 2, checked: 6, expired: 2, aborted: 1, versionsExpired: 0 })
    assert.ok(lastPassSeconds > 0 && lastPassSeconds < 5)
    assert.deepEqual(await runner.pass(), { expired: 0, aborted: 0, versions: 0 }, 'once')
  })

  it('a member that does not decide for the bucket deletes nothing (it still aborts its own uploads)', async () => {
    const { store, now } = await setup()
    await store.createMultipartUpload('b', 'up/x', { metadata: { user: {} } })
    now.t += 2 * DAY
    const runner = new LifecycleRunner({ store, decides: () => false, intervalMs: 1000, firstPassAfterMs: 0, now: () => now.t })
    assert.deepEqual(await runner.pass(), { expired: 0, aborted: 1, versions: 0 })
    assert.equal((await store.listObjects('b', { limit: 10 })).objects.length, 3)
  })

  it('a disabled rule and a removed configuration do nothing', async () => {
    const { store, now } = await setup()
    now.t += 2 * DAY
    const runner = new LifecycleRunner({ store, decides: () => true, intervalMs: 1000, firstPassAfterMs: 0, now: () => now.t })
    await store.setBucketLifecycle('b', [{ id: 'logs', enabled: false, filter: { prefix: 'logs/' }, expiration: { days: 1 } }])
    assert.deepEqual(await runner.pass(), { expired: 0, aborted: 0, versions: 0 })
    await store.setBucketLifecycle('b', undefined)
    assert.equal((await store.headBucket('b')).lifecycle, undefined)
    assert.deepEqual(await runner.pass(), { expired: 0, aborted: 0, versions: 0 })
  })

  it('a bucket that cannot be walked is reported, and the others are walked all the same', async () => {
    const { store, now } = await setup()
    await store.createBucket('a-broken')
    await store.setBucketLifecycle('a-broken', [{ id: 'all', enabled: true, filter: {}, expiration: { days: 1 } }])
    const listObjects = store.listObjects.bind(store)
    store.listObjects = async (bucket, options) => {
      if (bucket === 'a-broken') throw new Error('the owners cannot be reached')
      return await listObjects(bucket, options)
    }
    now.t += 2 * DAY
    const failed: Array<string | undefined> = []
    const runner = new LifecycleRunner({ store, decides: () => true, intervalMs: 1000, firstPassAfterMs: 0, now: () => now.t, onError: (_err, bucket) => { failed.push(bucket) } })
    assert.deepEqual(await runner.pass(), { expired: 2, aborted: 0, versions: 0 })
    assert.deepEqual(failed, ['a-broken'])
  })

  it('runs on its interval once started, and stops', async () => {
    const { store, now } = await setup()
    now.t += 2 * DAY
    const runner = new LifecycleRunner({ store, decides: () => true, intervalMs: 20, firstPassAfterMs: 0, now: () => now.t })
    runner.start()
    for (let i = 0; i < 100 && runner.stats.passes < 3; i++) await new Promise(resolve => setTimeout(resolve, 10))
    await runner.stop()
    assert.ok(runner.stats.passes >= 3, `passes: ${runner.stats.passes}`)
    assert.equal(runner.stats.expired, 2)
    const passes = runner.stats.passes
    await new Promise(resolve => setTimeout(resolve, 60))
    assert.equal(runner.stats.passes, passes, 'no pass after stop')
  })
})

describe('the lifecycle runner on versions', () => {
  const stores: Array<[string, () => Promise<{ store: ObjectStore & Required<Pick<ObjectStore, 'setBucketVersioning' | 'listObjectVersions'>>, close: () => Promise<void> }>]> = [
    ['MemoryStore', async () => ({ store: new MemoryStore(), close: async () => {} })],
    ['DiskStore', async () => {
      const root = await mkdtemp(join(tmpdir(), 's3mesh-lifecycle-'))
      const store = await DiskStore.open(root, { scanIntervalMs: 0 })
      return { store: store as DiskStore & Required<Pick<ObjectStore, 'setBucketVersioning'>>, close: async () => { await store.close(); await rm(root, { recursive: true, force: true }) } }
    }],
  ]
  for (const [name, open] of stores) {
    it(`${name}: a noncurrent version goes NoncurrentDays after its successor was made, the newest kept; a delete marker left alone goes`, async () => {
      const { store, close } = await open()
      try {
        await store.createBucket('v')
        await store.setBucketVersioning('v', 'Enabled')
        const put = async (key: string, body: string): Promise<void> => { await store.putObject('v', key, streamOfBytes(new TextEncoder().encode(body)), { metadata: { user: {} } }) }
        for (const body of ['1', '22', '333', '4444']) await put('keep/k', body)
        await put('gone/g', 'g')
        await store.deleteObject('v', 'gone/g')
        await put('other/o', 'o1')
        await put('other/o', 'o2')
        await store.setBucketLifecycle('v', [
          { id: 'keep one', enabled: true, filter: { prefix: 'keep/' }, noncurrentVersionExpiration: { noncurrentDays: 1, newerNoncurrentVersions: 1 } },
          { id: 'gone', enabled: true, filter: { prefix: 'gone/' }, noncurrentVersionExpiration: { noncurrentDays: 1 } },
          { id: 'markers', enabled: true, filter: {}, expiration: { expiredObjectDeleteMarker: true } },
        ])
        const now = { t: Date.now() }
        const runner = new LifecycleRunner({ store, decides: () => true, intervalMs: 1000, firstPassAfterMs: 0, now: () => now.t })
        const versions = async (): Promise<string[]> => (await store.listObjectVersions('v', { limit: 100 })).versions.map(v => `${v.key}:${v.deleteMarker ? 'marker' : v.size!}${v.isLatest ? '*' : ''}`)
        const all = await versions()
        assert.deepEqual(await runner.pass(), { expired: 0, aborted: 0, versions: 0 }, 'today: nothing is due')
        assert.deepEqual(await versions(), all)
        now.t += 2 * DAY
        assert.deepEqual(await runner.pass(), { expired: 0, aborted: 0, versions: 4 })
        assert.deepEqual(await versions(), ['keep/k:4*', 'keep/k:3', 'other/o:2*', 'other/o:2'], 'the newest noncurrent version of keep/k is kept; gone/g\'s version went, then its marker, left alone; no rule for other/')
        assert.equal(runner.stats.versionsExpired, 4)
        assert.deepEqual(await runner.pass(), { expired: 0, aborted: 0, versions: 0 }, 'once')
      } finally { await close() }
    })

    it(`${name}: an Expiration by days deletes the current object (a marker), then the marker once it is the only version left; a tag filter never matches a marker`, async () => {
      const { store, close } = await open()
      try {
        await store.createBucket('v')
        await store.setBucketVersioning('v', 'Enabled')
        await store.putObject('v', 'a', streamOfBytes(new TextEncoder().encode('x')), { metadata: { user: {} } })
        await store.putObject('v', 'tagged', streamOfBytes(new TextEncoder().encode('y')), { metadata: { user: {} }, tags: { t: 'x' } })
        await store.deleteObject('v', 'tagged')
        await store.setBucketLifecycle('v', [
          { id: 'a', enabled: true, filter: { prefix: 'a' }, expiration: { days: 1 }, noncurrentVersionExpiration: { noncurrentDays: 1 } },
          { id: 'tags', enabled: true, filter: { tags: { t: 'x' } }, noncurrentVersionExpiration: { noncurrentDays: 1 } },
        ])
        const now = { t: Date.now() + 2 * DAY }
        const runner = new LifecycleRunner({ store, decides: () => true, intervalMs: 1000, firstPassAfterMs: 0, now: () => now.t })
        const versions = async (): Promise<string[]> => (await store.listObjectVersions('v', { limit: 100 })).versions.map(v => `${v.key}:${v.deleteMarker ? 'marker' : v.size!}${v.isLatest ? '*' : ''}`)
        assert.deepEqual(await runner.pass(), { expired: 1, aborted: 0, versions: 1 }, 'a: a marker now; tagged: its noncurrent version (tags t=x) goes, its marker does not match the tag rule')
        assert.deepEqual(await versions(), ['a:marker*', 'a:1', 'tagged:marker*'])
        now.t += 2 * DAY
        assert.deepEqual(await runner.pass(), { expired: 0, aborted: 0, versions: 2 }, 'a\'s version, noncurrent for two days, then its marker, alone')
        assert.deepEqual(await versions(), ['tagged:marker*'])
      } finally { await close() }
    })
  }
})
