/**
 * Several tabs of one origin in a real Chromium (one service worker, one
 * IndexedDB) against a real `s3mesh server`: one tab runs the page node (two
 * would fetch, announce and sweep the same IndexedDB), the others register
 * without one and are answered through it, and when that tab closes a
 * waiting tab takes over, joins, and answers in turn. A tab stopped while it
 * waits never takes over. A tab of another user is refused while that
 * node runs, rather than act with its user's rights.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { launchChromium } from '../helpers/chromium.js'
import { freePorts } from '../helpers/free-ports.js'
import { iamCall, userWithPolicy } from '../helpers/iam.js'
import { signer } from '../helpers/s3-client.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { until } from '../helpers/until.js'

const sign = signer()

interface Member { id: string, state: string, role?: string }
async function guests (node: ServerProcess): Promise<string[]> {
  const { members } = await (await sign.fetch(`${node.url}/_s3mesh/v1/members`)).json() as { members: Member[] }
  return members.filter(m => m.role === 'guest' && m.state === 'alive').map(m => m.id)
}

/** What a tab's registration says of its node: its peer id, or undefined; and whether it waits to run one. */
type TabState = { peer?: string, waiting: boolean }

describe('tabs of one origin', () => {
  let node: ServerProcess
  let browser: Browser
  let context: BrowserContext
  const pages: Page[] = []

  const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
  /** Fixed ports: the node comes back at the same addresses (and the pages' origin is its console). */
  let args: string[]
  before(async () => {
    const [s3, mesh, ui] = await freePorts()
    args = ['--membership', 'local', '--replicas', '1', '--address', `127.0.0.1:${s3}`, '--mesh-address', `127.0.0.1:${mesh}`, '--console-address', `127.0.0.1:${ui}`]
    node = await startServerProcess({ env, args })
    assert.equal((await sign.fetch(`${node.url}/tabs`, { method: 'PUT' })).status, 200)
    browser = await launchChromium()
    context = await browser.newContext()
    await context.addInitScript('globalThis.__name = f => f')
  })
  after(async () => { await browser?.close(); await node?.stop().catch(() => {}) })

  const open = async (): Promise<Page> => {
    const page = await context.newPage()
    await page.goto(node.consoleUrl!)
    await page.evaluate(async ([accessKeyId, secretAccessKey]) => {
      // Counts the tab's warnings of a take-over that failed and will be tried again.
      const warn = console.warn
      console.warn = (...a: unknown[]) => { if (String(a[0]).includes('could not take over')) (globalThis as { warned?: number }).warned = ((globalThis as { warned?: number }).warned ?? 0) + 1; warn(...a) }
      const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
      const tab = await register({ accessKeyId, secretAccessKey })
      ;(globalThis as { s3meshTab?: unknown }).s3meshTab = tab
      ;(globalThis as { tookOver?: Promise<string> }).tookOver = tab.nodeStarted?.then(n => n.libp2p.peerId.toString(), (err: Error) => `failed: ${err.name}`)
    }, [ACCESS_KEY, SECRET_KEY])
    pages.push(page)
    return page
  }
  const state = async (page: Page): Promise<TabState> => await page.evaluate(() => {
    const tab = (globalThis as { s3meshTab?: { node?: { libp2p: { peerId: { toString: () => string } } }, nodeStarted?: Promise<unknown> } }).s3meshTab
    return { ...(tab?.node === undefined ? {} : { peer: tab.node.libp2p.peerId.toString() }), waiting: tab?.nodeStarted !== undefined && tab.node === undefined }
  })
  const roundTrip = async (page: Page, key: string): Promise<[number, number, string]> => await page.evaluate(async key => {
    const put = await fetch(`/s3/tabs/${key}`, { method: 'PUT', body: `written by a tab as ${key}` })
    const get = await fetch(`/s3/tabs/${key}`)
    return [put.status, get.status, await get.text()]
  }, key)

  it('the first tab runs the node; a second and third register without one, and are answered through the first', async () => {
    const first = await open()
    const a = await state(first)
    assert.ok(a.peer !== undefined && !a.waiting, 'the first tab runs a node')
    await until('the node lists the first tab', async () => (await guests(node)).includes(a.peer!), 20_000)
    const [second, third] = [await open(), await open()]
    assert.deepEqual(await state(second), { waiting: true }, 'the second tab runs no node: it waits')
    assert.deepEqual(await state(third), { waiting: true })
    assert.deepEqual(await guests(node), [a.peer], 'one tab of the origin in the mesh')
    // What the worker hands the first tab's node.
    await first.evaluate(() => {
      const g = globalThis as { asked?: string[] }
      g.asked = []
      navigator.serviceWorker.addEventListener('message', e => { const d = e.data as { type?: string, method?: string, url?: string }; if (d?.type === 's3mesh:request') g.asked!.push(`${d.method!} ${new URL(d.url!).pathname}`) })
    })
    assert.deepEqual(await roundTrip(second, 'from-second.txt'), [200, 200, 'written by a tab as from-second.txt'])
    assert.deepEqual(await first.evaluate(() => (globalThis as { asked?: string[] }).asked), ['PUT /s3/tabs/from-second.txt', 'GET /s3/tabs/from-second.txt'], 'the second tab\'s requests went to the first tab\'s node')
    assert.equal(await (await sign.fetch(`${node.url}/tabs/from-second.txt`)).text(), 'written by a tab as from-second.txt', 'the write reached the node')
  })

  it('when the tab running the node closes, the next tab waiting takes over and joins; one stopped while it waits does not', async () => {
    const [first, second, third] = pages
    const gone = (await state(first!)).peer!
    // The second tab waits first in line: stopped, it leaves the node to the third.
    await second!.evaluate(async () => { await (globalThis as { s3meshTab?: { stop: () => Promise<void> } }).s3meshTab?.stop() })
    assert.equal(await second!.evaluate(async () => await (globalThis as { tookOver?: Promise<string> }).tookOver), 'failed: AbortError', 'the stopped tab\'s wait ended')
    await first!.close()
    const peer = await third!.evaluate(async () => await (globalThis as { tookOver?: Promise<string> }).tookOver)
    assert.ok(peer !== undefined && !peer.startsWith('failed'), `the third tab took over: ${peer}`)
    assert.deepEqual(await state(third!), { peer, waiting: false })
    await until('the node lists the third tab, and no longer the first', async () => { const g = await guests(node); return g.includes(peer!) && !g.includes(gone) }, 30_000)
    assert.deepEqual(await roundTrip(third!, 'after-take-over.txt'), [200, 200, 'written by a tab as after-take-over.txt'])
    assert.equal(await (await sign.fetch(`${node.url}/tabs/after-take-over.txt`)).text(), 'written by a tab as after-take-over.txt')
    assert.equal((await state(second!)).peer, undefined, 'the stopped tab never ran a node')
    assert.deepEqual(await guests(node), [peer], 'still one tab of the origin in the mesh')
  })

  it('when the tab running the node stops (a log out), a tab waiting takes over', async () => {
    const third = pages[2]!
    const fourth = await open()
    assert.deepEqual(await state(fourth), { waiting: true })
    const before = (await state(third)).peer!
    await third.evaluate(async () => { await (globalThis as { s3meshTab?: { stop: () => Promise<void> } }).s3meshTab?.stop() })
    assert.equal((await state(third)).peer, undefined, 'the stopped tab no longer names a node')
    const peer = await fourth.evaluate(async () => await (globalThis as { tookOver?: Promise<string> }).tookOver)
    assert.ok(peer !== undefined && !peer.startsWith('failed') && peer !== before, `the fourth tab took over: ${peer}`)
    await until('the node lists the fourth tab, and no longer the third', async () => { const g = await guests(node); return g.includes(peer!) && !g.includes(before) }, 30_000)
    assert.deepEqual(await roundTrip(fourth, 'after-a-stop.txt'), [200, 200, 'written by a tab as after-a-stop.txt'])
  })

  it('a tab taking over while the node is out of reach tries again until it joins; stopped while it tries, the next tab tries at once', async () => {
    const fourth = pages[3]!
    const [fifth, sixth] = [await open(), await open()]
    assert.deepEqual(await state(fifth), { waiting: true })
    const warned = async (p: Page): Promise<number> => await p.evaluate(() => (globalThis as { warned?: number }).warned ?? 0)
    assert.equal(await node.stop({ remove: false, signal: 'SIGKILL' }), null, 'the node was killed')
    await fourth.close()
    // Its tries fail (nothing answers the join): it keeps the lock and waits to try again, 2 s then 4 s.
    await until('the fifth tab has tried and failed twice', async () => await warned(fifth) >= 2, 20_000)
    assert.ok(await fifth.evaluate(() => (globalThis as { s3meshTab?: { takeOverError?: string } }).s3meshTab?.takeOverError !== undefined), 'the registration says why it is trying again')
    assert.equal(await fifth.evaluate(() => (globalThis as { s3meshTab?: { node?: unknown } }).s3meshTab?.node === undefined), true, 'precondition: no node while the node is down')
    assert.equal(await warned(sixth), 0, 'precondition: the sixth tab has not tried')
    // Stopped during its 4 s wait: the lock goes to the sixth tab now, not when the wait would have ended.
    await fifth.evaluate(async () => { await (globalThis as { s3meshTab?: { stop: () => Promise<void> } }).s3meshTab?.stop() })
    await until('the sixth tab tries at once', async () => await warned(sixth) >= 1, 2_500)
    assert.equal(await fifth.evaluate(async () => await (globalThis as { tookOver?: Promise<string> }).tookOver), 'failed: AbortError')
    node = await startServerProcess({ dataDir: node.dataDir, env, args })
    const peer = await sixth.evaluate(async () => await (globalThis as { tookOver?: Promise<string> }).tookOver)
    assert.ok(peer !== undefined && !peer.startsWith('failed'), `the sixth tab took over once the node was back: ${peer}`)
    assert.equal(await sixth.evaluate(() => (globalThis as { s3meshTab?: { takeOverError?: string } }).s3meshTab?.takeOverError), undefined, 'joined: no error left')
    await until('the returned node lists the sixth tab', async () => (await guests(node)).includes(peer!), 30_000)
    assert.deepEqual(await roundTrip(sixth, 'after-the-return.txt'), [200, 200, 'written by a tab as after-the-return.txt'])
  })
})

describe('tabs of one origin, two users', () => {
  let node: ServerProcess
  let browser: Browser
  let context: BrowserContext
  let reader: [string, string]

  before(async () => {
    node = await startServerProcess({ env: { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }, args: ['--membership', 'local', '--replicas', '1'] })
    assert.equal((await sign.fetch(`${node.url}/two`, { method: 'PUT' })).status, 200)
    reader = await userWithPolicy(iamCall(node.url), 'reader', [
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: ['arn:aws:s3:::two', 'arn:aws:s3:::two/*'] },
    ])
    browser = await launchChromium()
    context = await browser.newContext()
    await context.addInitScript('globalThis.__name = f => f')
  })
  after(async () => { await browser?.close(); await node?.stop().catch(() => {}) })

  /** Registers a tab with these keys (joining unless `join` is false): whether it runs a node, or the error it got. */
  const registerAs = async (page: Page, [accessKeyId, secretAccessKey]: [string, string], join = true): Promise<string> => await page.evaluate(async ([accessKeyId, secretAccessKey, join]) => {
    const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
    try {
      const tab = await register({ accessKeyId, secretAccessKey, join })
      ;(globalThis as { s3meshTab?: unknown }).s3meshTab = tab
      return tab.node !== undefined ? 'runs the node' : join ? 'waits' : 'registered'
    } catch (err) {
      return `${(err as Error).name}: ${(err as Error).message}`
    }
  }, [accessKeyId, secretAccessKey, join] as const)
  const tab = async (): Promise<Page> => {
    const page = await context.newPage()
    await page.goto(node.consoleUrl!)
    return page
  }
  /** Opens a tab of the console's origin that registers with these keys. */
  const open = async (keys: [string, string], join = true): Promise<{ page: Page, outcome: string }> => {
    const page = await tab()
    return { page, outcome: await registerAs(page, keys, join) }
  }
  /** The console's log out: the tab's node stops (its locks let go by then) and the worker forgets the keys. */
  const logOut = async (page: Page): Promise<void> => {
    const held = await page.evaluate(async () => {
      await (globalThis as { s3meshTab?: { stop: () => Promise<void> } }).s3meshTab?.stop()
      const held = (await navigator.locks.query()).held?.map(l => l.name) ?? []
      const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
      await register({ forgetCredentials: true })
      return held
    })
    assert.deepEqual(held.filter(n => n?.startsWith('s3mesh:')), [], 'no lock of the tab is left once stop() resolves')
  }
  const put = async (page: Page, key: string, headers: Record<string, string> = {}): Promise<number> =>
    await page.evaluate(async ([key, headers]) => (await fetch(`/s3/two/${key}`, { method: 'PUT', body: key, headers })).status, [key, headers] as const)

  it('a tab of another user is refused while the first user\'s tab runs the node; once that tab logs out, it runs the node with its own rights', async () => {
    const root = await open([ACCESS_KEY, SECRET_KEY])
    assert.equal(root.outcome, 'runs the node')
    assert.equal(await put(root.page, 'by-root.txt'), 200)
    const refused = await open(reader)
    assert.match(refused.outcome, /^OtherUserError: .*signed in to the mesh as the root user/)
    // The worker kept the root's keys: a write with an ACL, which it signs and sends to the node itself, is the root's.
    assert.equal(await put(root.page, 'by-root-with-acl.txt', { 'x-amz-acl': 'private' }), 200)
    await logOut(root.page)
    const second = await open(reader)
    assert.equal(second.outcome, 'runs the node', 'the other user\'s tab runs the node once the first signed out')
    // With the reader's rights, in its own tab and in the root's old one: it reads, and may not write.
    assert.equal(await put(second.page, 'by-reader.txt'), 403)
    assert.equal(await put(root.page, 'by-reader-in-the-old-tab.txt'), 403)
    assert.equal(await second.page.evaluate(async () => await (await fetch('/s3/two/by-root.txt')).text()), 'by-root.txt')
    await logOut(second.page)
    for (const p of [root.page, refused.page, second.page]) await p.close()
  })

  it('after a log out, nothing the tab kept in IndexedDB is answered to an unsigned request (403) until a page gives keys again', async () => {
    const root = await open([ACCESS_KEY, SECRET_KEY])
    assert.equal(root.outcome, 'runs the node')
    assert.equal(await put(root.page, 'kept.txt'), 200)
    const get = async (page: Page): Promise<string> => await page.evaluate(async () => { const r = await fetch('/s3/two/kept.txt'); return `${r.status} ${r.status === 200 ? await r.text() : ''}`.trim() })
    assert.equal(await get(root.page), '200 kept.txt')
    // The precondition: the tab's IndexedDB holds the object (read there by the worker when no page node is open).
    const kept = async (page: Page): Promise<boolean> => await page.evaluate(async () => await new Promise<boolean>((resolve, reject) => {
      const open = indexedDB.open('s3mesh')
      open.onerror = () => { reject(open.error) }
      open.onsuccess = () => {
        const all = open.result.transaction('records').objectStore('records').getAllKeys()
        all.onsuccess = () => { open.result.close(); resolve(all.result.some(k => JSON.stringify(k).includes('two'))) }
        all.onerror = () => { reject(all.error) }
      }
    }))
    await until('the object is kept in IndexedDB', async () => await kept(root.page))
    await logOut(root.page)
    const fresh = await tab()
    assert.equal(await get(fresh), '403', 'a page of the origin with no keys')
    assert.equal(await get(root.page), '403', 'the logged-out tab')
    assert.equal(await registerAs(fresh, [ACCESS_KEY, SECRET_KEY]), 'runs the node')
    assert.equal(await get(fresh), '200 kept.txt', 'keys given again')
    await logOut(fresh)
    for (const p of [root.page, fresh]) await p.close()
  })

  it('a tab that only registered (no node) holds the origin for its user too: a tab of another user is refused until it stops', async () => {
    const readerTab = await open(reader, false)
    assert.equal(readerTab.outcome, 'registered')
    const rootTab = await tab()
    assert.match(await registerAs(rootTab, [ACCESS_KEY, SECRET_KEY]), /^OtherUserError: .*as the user reader/)
    await logOut(readerTab.page)
    assert.equal(await registerAs(rootTab, [ACCESS_KEY, SECRET_KEY]), 'runs the node', 'once the reader\'s tab stopped')
    await logOut(rootTab)
    for (const p of [readerTab.page, rootTab]) await p.close()
  })

  it('of two users registering at the same moment, one runs the node and the other is refused; the first, logged out, registers again as the other at once', async () => {
    for (let round = 0; round < 4; round++) {
      const pages = [await tab(), await tab()]
      const keys: Array<[string, string]> = round % 2 === 0 ? [[ACCESS_KEY, SECRET_KEY], reader] : [reader, [ACCESS_KEY, SECRET_KEY]]
      // Both joins are answered together, so that the two tabs look for a running node at the same moment.
      let arrived = 0
      let go = (): void => {}
      const both = new Promise<void>(resolve => { go = resolve })
      const joins = '**/_s3mesh/v1/browser-join*'
      await context.route(joins, async route => { if (++arrived === 2) go(); await both; await route.continue() })
      const outcomes = await Promise.all(pages.map(async (p, i) => await registerAs(p, keys[i]!)))
      await context.unroute(joins)
      assert.equal(arrived, 2, 'precondition: both joins were held until both had been asked')
      const winner = outcomes.indexOf('runs the node')
      assert.ok(winner >= 0, `round ${round}: one tab runs the node: ${outcomes.join('; ')}`)
      assert.match(outcomes[1 - winner]!, /^OtherUserError: /, `round ${round}: the other is refused: ${outcomes.join('; ')}`)
      // Its locks are let go by the time stop() resolves: the same tab, as the other user, runs the node.
      await logOut(pages[winner]!)
      assert.equal(await registerAs(pages[winner]!, keys[1 - winner]!), 'runs the node', `round ${round}`)
      await logOut(pages[winner]!)
      for (const p of pages) await p.close()
    }
  })
})
