/**
 * A guest's feed, on a fake host: what a guest that names many buckets, or
 * changes its addresses again and again, can make the member do. It follows
 * only buckets that exist and that the guest may see (each is a gossip topic
 * the member subscribes to), at most MAX_WATCHED; and the other guests hear of
 * one guest's new addresses at most every few seconds, however often they
 * change; a guest that stops reading is cut off, not queued for without
 * end. (The feed against real nodes: test/integration/guests.test.ts.)
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Catalog } from '../../src/core/mesh/catalog.js'
import type { CatalogEntry } from '../../src/core/mesh/catalog-entry.js'
import type { Guest, GuestGate } from '../../src/core/mesh/guest-gate.js'
import { GuestHoldings } from '../../src/core/mesh/guest-holdings.js'
import { MAX_FEEDS_PER_USER, MAX_WAITING_CHANGES, MAX_WATCHED, MOST_WAITING_CHANGES, STALLED_MS, serveFeed, type FeedHost } from '../../src/core/mesh/guest-feed.js'
import type { GuestServiceOptions, GuestStats } from '../../src/core/mesh/guest-service.js'
import type { SealedFrames } from '../../src/core/wire/sealed-frames.js'
import { decodeCatalogMessage } from '../../src/core/mesh/catalog-codec.js'

const version = { ms: 1, counter: 0, node: 'n' }

/**
 * Frames whose guest sends `later` one by one (then holds the stream open
 * until `end`, or an abort), and whose sends are kept; `stuck`: after the
 * first, no send completes (a guest that stopped reading); or a function
 * whose promise a send waits for, given the message and those sent so far.
 */
function frames (later: Array<Record<string, unknown>>, stuck: boolean | ((m: Record<string, unknown>, sent: Array<Record<string, unknown>>) => Promise<unknown> | undefined) = false): { f: SealedFrames, sent: Array<Record<string, unknown>>, end: () => void, aborted: () => Error | undefined } {
  const sent: Array<Record<string, unknown>> = []
  let end = (): void => {}
  let aborted: Error | undefined
  const ended = new Promise<never>((_resolve, reject) => { end = () => { reject(new Error('ended')) } })
  ended.catch(() => {})
  const f = {
    send: async (m: Record<string, unknown>) => {
      sent.push(m)
      if (typeof stuck === 'function') await stuck(m, sent)
      else if (stuck && sent.length > 1) await ended
    },
    receive: async () => later.length > 0 ? later.shift()! : await ended,
    close: async () => {},
    abort: (err: Error) => { aborted ??= err; end() },
  } as unknown as SealedFrames
  return { f, sent, end, aborted: () => aborted }
}

function host (buckets: string[], mayList: (bucket: string) => boolean): { h: FeedHost, followed: Set<string>, told: () => number, asked: () => number } {
  const catalog = new Catalog()
  for (const b of buckets) catalog.apply({ bucket: b, version, deleted: false, holders: [] } as CatalogEntry)
  const followed = new Set<string>()
  let told = 0
  let asked = 0
  const h: FeedHost = {
    o: {
      catalog, heard: new EventTarget(), membership: new EventTarget(),
      partition: { entries: async () => [] },
      copies: { versioned: () => false },
      follow: (b: string) => { followed.add(b); return () => { followed.delete(b) } },
      gate: { mayList: (_g: Guest, b: string) => { asked++; return mayList(b) }, who: async (_id: string, _a: unknown) => guest } as unknown as GuestGate,
    } as unknown as GuestServiceOptions,
    stats: { entriesFiltered: 0, entriesSent: 0, feeds: 0, feedsOpened: 0 } as unknown as GuestStats,
    holdings: new GuestHoldings(),
    feeds: new Map(), feedsByUser: new Map(), guests: new Map(),
    directoryListeners: new Set([() => { told++ }]),
    holdingListeners: new Set(),
    peers: () => [], relayed: addrs => addrs, shown: (_g, e) => e,
  }
  return { h, followed, told: () => told, asked: () => asked }
}

const guest = { id: 'guest-1', admission: { expires: Date.now() + 60_000 }, principal: { kind: 'root' } } as unknown as Guest
/** A tab of user `user` (by id), with peer id `id`. */
const tabOf = (user: string, id: string): Guest => ({ id, admission: { expires: Date.now() + 60_000 }, principal: { kind: 'user', user: { id: user } } }) as unknown as Guest

describe('a guest\'s feed', () => {
  it('follows only buckets that exist and that the guest may see, at most MAX_WATCHED, however many it names', async () => {
    const real = Array.from({ length: MAX_WATCHED + 40 }, (_, i) => `b-${String(i).padStart(4, '0')}`)
    const { h, followed } = host(real, b => b !== 'b-0001')
    const held = [...real, ...Array.from({ length: 2000 }, (_, i) => `nowhere-${i}`)].map(b => [b, 'k'])
    const { f, end } = frames([])
    const served = serveFeed(h, f, guest, { admission: 'a', follow: true, held, buckets: ['nowhere-x', 'b-0000'] })
    try {
      await new Promise(resolve => setTimeout(resolve, 50))
      assert.equal(followed.size, MAX_WATCHED)
      assert.ok([...followed].every(b => real.includes(b)), 'no bucket that does not exist')
      assert.ok(!followed.has('b-0001'), 'nor one the guest may not see')
    } finally {
      end()
      await served.catch(() => {})
    }
    assert.equal(followed.size, 0, 'let go with the feed')
  })

  it('follows a bucket the guest names once it is made (heard after the feed opened), and no longer once it is deleted', async () => {
    const { h, followed, asked } = host(['kept'], () => true)
    const { f, end } = frames([])
    const served = serveFeed(h, f, guest, { admission: 'a', follow: true, buckets: ['later', 'kept'] })
    try {
      await new Promise(resolve => setTimeout(resolve, 20))
      assert.deepEqual([...followed], ['kept'], 'the precondition: later does not exist yet')
      h.o.catalog.apply({ bucket: 'later', version: { ms: 5, counter: 0, node: 'n' }, deleted: false, holders: [] } as CatalogEntry)
      assert.deepEqual([...followed].sort(), ['kept', 'later'])
      h.o.catalog.apply({ bucket: 'later', version: { ms: 6, counter: 0, node: 'n' }, deleted: true, holders: [] } as CatalogEntry)
      assert.deepEqual([...followed], ['kept'], 'let go once deleted')
      // A bucket the feed does not name costs it nothing (no walk of its buckets).
      const before = asked()
      h.o.catalog.apply({ bucket: 'unrelated', version: { ms: 7, counter: 0, node: 'n' }, deleted: false, holders: [] } as CatalogEntry)
      assert.equal(asked(), before)
    } finally {
      end()
      await served.catch(() => {})
    }
  })

  it('a feed that replaces the guest\'s older one tells its new addresses, and one that ends tells a change it held back', async () => {
    const { h, told } = host([], () => true)
    const a = frames([{ addrs: ['/relay/p2p-circuit/a2'] }])
    // Ends when the second replaces it: its end is awaited below.
    const first = serveFeed(h, a.f, guest, { admission: 'a', follow: true, addrs: ['/relay/p2p-circuit/a1'] }).catch(() => {})
    await new Promise(resolve => setTimeout(resolve, 50))
    assert.equal(told(), 1, 'a1 told; a2, within 2 s, held back')
    const b = frames([])
    const second = serveFeed(h, b.f, guest, { admission: 'a', follow: true, addrs: ['/relay/p2p-circuit/b1'] })
    try {
      await new Promise(resolve => setTimeout(resolve, 50))
      a.end()
      await first
      assert.deepEqual(h.guests.get('guest-1')?.addrs, ['/relay/p2p-circuit/b1'])
      // a1; then b1, told by the newer feed as it opens; and a2, which the older one held back, told as it ended.
      assert.equal(told(), 3)
    } finally {
      b.end()
      await second.catch(() => {})
    }
  })

  it('keeps at most MAX_FEEDS_PER_USER of one user\'s tabs following: a newer one ends the one that opened its feed longest ago, and other users\' are untouched', { timeout: 10_000 }, async () => {
    const { h } = host([], () => true)
    const open: Array<{ f: ReturnType<typeof frames>, served: Promise<void> }> = []
    const follow = (g: Guest): void => {
      const f = frames([])
      open.push({ f, served: serveFeed(h, f.f, g, { admission: 'a', follow: true }).catch(() => {}) })
    }
    try {
      follow(tabOf('AIDABOB', 'bob-tab'))
      for (let i = 0; i < MAX_FEEDS_PER_USER; i++) follow(tabOf('AIDAALICE', `alice-${i}`))
      await new Promise(resolve => setTimeout(resolve, 20))
      assert.equal(h.feeds.size, MAX_FEEDS_PER_USER + 1, 'the precondition: every feed open')
      assert.ok(open.every(o => o.f.aborted() === undefined))
      // One more of alice's tabs: her oldest goes, bob's stays.
      follow(tabOf('AIDAALICE', 'alice-new'))
      await open[1]!.served
      assert.match(String(open[1]!.f.aborted()), /newer tabs/, 'alice-0\'s feed ended')
      assert.ok(!h.feeds.has('alice-0') && h.feeds.has('alice-new') && h.feeds.has('bob-tab'))
      assert.equal(h.feeds.size, MAX_FEEDS_PER_USER + 1)
      assert.ok(open.filter((_, i) => i !== 1).every(o => o.f.aborted() === undefined), 'no other feed ended')
      // A tab whose feed ends leaves room: the next of alice's ends none.
      open[2]!.f.end()
      await open[2]!.served
      follow(tabOf('AIDAALICE', 'alice-newer'))
      await new Promise(resolve => setTimeout(resolve, 20))
      assert.equal(open.filter(o => o.f.aborted() !== undefined).length, 1, 'only alice-0 was ended for room')
      assert.equal(h.feedsByUser.get('user:AIDAALICE')?.size, MAX_FEEDS_PER_USER)
    } finally {
      for (const o of open) o.f.end()
      await Promise.all(open.map(async o => { await o.served }))
    }
    assert.equal(h.feeds.size, 0)
    assert.equal(h.feedsByUser.size, 0, 'forgotten with the feeds')
  })

  it('cuts off a guest that stops reading its feed once MAX_WAITING_CHANGES wait and it took none for STALLED_MS, rather than queue every change for it', async () => {
    const { h } = host(['watched'], () => true)
    const { f, sent, end, aborted } = frames([], true)
    const served = serveFeed(h, f, guest, { admission: 'a', follow: true, buckets: ['watched'] })
    try {
      await new Promise(resolve => setTimeout(resolve, 20))
      const before = sent.length
      // Changes of the bucket it follows, each a turn of the event loop apart, while its first frame is not taken.
      for (let i = 0; i < MAX_WAITING_CHANGES && aborted() === undefined; i++) {
        h.o.catalog.apply({ bucket: 'watched', key: `k${i}`, version: { ms: 10 + i, counter: 0, node: 'n' }, deleted: true, holders: [] })
        if (i % 64 === 0) await new Promise(resolve => setImmediate(resolve))
      }
      assert.equal(aborted(), undefined, 'the precondition: fewer waiting changes are kept')
      assert.ok(sent.length <= before + 1, `and wait unsent: ${sent.length - before} frames went`)
      h.o.catalog.apply({ bucket: 'watched', key: 'one-more', version: { ms: 100_000, counter: 0, node: 'n' }, deleted: true, holders: [] })
      assert.equal(aborted(), undefined, 'a frame was taken a moment ago: it may yet read')
      await new Promise(resolve => setTimeout(resolve, STALLED_MS + 100))
      h.o.catalog.apply({ bucket: 'watched', key: 'and-more', version: { ms: 100_001, counter: 0, node: 'n' }, deleted: true, holders: [] })
      assert.match(String(aborted()?.message), new RegExp(`${MAX_WAITING_CHANGES} changes waited for it`))
    } finally {
      end()
      await served.catch(() => {})
    }
  })

  it('does not cut off a guest that reads when one burst brings more than MAX_WAITING_CHANGES at once (a catalog catching up): they go out a batch a frame', async () => {
    const { h } = host(['watched'], () => true)
    const { f, sent, end, aborted } = frames([])
    const served = serveFeed(h, f, guest, { admission: 'a', follow: true, buckets: ['watched'] })
    try {
      // Idle for longer than a stall first: a burst is no stall.
      await new Promise(resolve => setTimeout(resolve, STALLED_MS + 100))
      const before = sent.length
      const burst = MAX_WAITING_CHANGES + 3000
      for (let i = 0; i < burst; i++) h.o.catalog.apply({ bucket: 'watched', key: `k${i}`, version: { ms: 10 + i, counter: 0, node: 'n' }, deleted: true, holders: [] })
      await new Promise(resolve => setTimeout(resolve, 200))
      assert.equal(aborted(), undefined)
      const keys = sent.slice(before).flatMap(m => decodeCatalogMessage(m.entries as Uint8Array).entries.map(e => e.key))
      assert.equal(new Set(keys).size, burst, 'every change reached it')
    } finally {
      end()
      await served.catch(() => {})
    }
  })

  it('cuts off a guest that takes frames but more slowly than the changes come, once MOST_WAITING_CHANGES wait', async () => {
    const { h } = host(['watched'], () => true)
    // A frame of changes taken every 1.5 s: never stalled for STALLED_MS.
    const { f, end, aborted } = frames([], m => m.synced !== true && m.entries !== undefined ? new Promise(resolve => setTimeout(resolve, STALLED_MS * 0.75)) : undefined)
    const served = serveFeed(h, f, guest, { admission: 'a', follow: true, buckets: ['watched'] })
    try {
      await new Promise(resolve => setTimeout(resolve, 20))
      for (let i = 0; i < MOST_WAITING_CHANGES + 10 && aborted() === undefined; i++) {
        h.o.catalog.apply({ bucket: 'watched', key: `k${i}`, version: { ms: 10 + i, counter: 0, node: 'n' }, deleted: true, holders: [] })
        if (i === MAX_WAITING_CHANGES + 10) assert.equal(aborted(), undefined, 'the precondition: past MAX_WAITING_CHANGES, a guest that takes frames is kept')
        if (i % 1024 === 0) await new Promise(resolve => setImmediate(resolve))
      }
      assert.match(String(aborted()?.message), /reads more slowly than the changes come/)
    } finally {
      end()
      await served.catch(() => {})
    }
  })

  it('sends the changes that waited while the guest read slowly together, a batch a frame, however many turns they came in', async () => {
    const { h } = host(['watched'], () => true)
    let release = (): void => {}
    const slow = new Promise<void>(resolve => { release = resolve })
    // A guest that takes its snapshot, then reads nothing until released.
    const { f, sent, end, aborted } = frames([], (m, all) => m.synced !== true && all.some(x => x.synced === true) ? slow : undefined)
    const served = serveFeed(h, f, guest, { admission: 'a', follow: true, buckets: ['watched'] })
    try {
      await new Promise(resolve => setTimeout(resolve, 20))
      assert.ok(sent.some(m => m.synced === true), 'the precondition: the snapshot went')
      const afterSnapshot = sent.length
      // 5,000 changes, each a turn apart (more than the 4,096 frames that used to cut a guest off).
      for (let i = 0; i < 5000; i++) {
        h.o.catalog.apply({ bucket: 'watched', key: `k${i}`, version: { ms: 10 + i, counter: 0, node: 'n' }, deleted: true, holders: [] })
        await new Promise(resolve => setImmediate(resolve))
      }
      assert.equal(sent.length, afterSnapshot + 1, 'one frame taken (and stuck), the rest waiting')
      release()
      await new Promise(resolve => setTimeout(resolve, 50))
      assert.equal(aborted(), undefined, 'not cut off')
      const frames = sent.slice(afterSnapshot)
      const keys = frames.flatMap(m => decodeCatalogMessage(m.entries as Uint8Array).entries.map(e => e.key))
      assert.deepEqual(new Set(keys), new Set(Array.from({ length: 5000 }, (_, i) => `k${i}`)), 'every change reached it')
      assert.ok(frames.length <= 1 + Math.ceil(4999 / 500), `in ${frames.length} frames`)
    } finally {
      end()
      await served.catch(() => {})
    }
  })

  it('tells the other guests of one guest\'s new addresses at most every few seconds, the latest then', async () => {
    const { h, told } = host([], () => true)
    const changes = Array.from({ length: 50 }, (_, i) => ({ addrs: [`/ip4/10.0.0.1/tcp/1/p2p/relay/p2p-circuit/x${i}`] }))
    const { f, end } = frames([...changes])
    const served = serveFeed(h, f, guest, { admission: 'a', follow: true, addrs: ['/ip4/10.0.0.1/tcp/1/p2p/relay/p2p-circuit'] })
    try {
      await new Promise(resolve => setTimeout(resolve, 100))
      assert.equal(told(), 1, 'its first addresses, at once; the 50 changes after them not yet')
      assert.deepEqual(h.guests.get('guest-1')?.addrs, changes.at(-1)!.addrs, 'though kept, the latest')
      await new Promise(resolve => setTimeout(resolve, 2100))
      assert.equal(told(), 2, 'then once')
    } finally {
      end()
      await served.catch(() => {})
    }
  })
})
