/**
 * Several tabs of one origin in a real Chromium (one service worker, one
 * IndexedDB) against a real `s3mesh server`: one tab runs the page node (two
 * would fetch, announce and sweep the same IndexedDB), the others register
 * without one and are answered through it, and when that tab closes a
 * waiting tab takes over, joins, and answers in turn. A tab stopped while it
 * waits never takes over.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { launchChromium } from '../helpers/chromium.js'
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

  before(async () => {
    node = await startServerProcess({ env: { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }, args: ['--membership', 'local', '--replicas', '1'] })
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

  it('when the tab running the node closes, a waiting tab takes over and joins; one stopped while it waits does not', async () => {
    const [first, second, third] = pages
    const gone = (await state(first!)).peer!
    await third!.evaluate(async () => { await (globalThis as { s3meshTab?: { stop: () => Promise<void> } }).s3meshTab?.stop() })
    assert.equal(await third!.evaluate(async () => await (globalThis as { tookOver?: Promise<string> }).tookOver), 'failed: AbortError', 'the stopped tab\'s wait ended')
    await first!.close()
    const peer = await second!.evaluate(async () => await (globalThis as { tookOver?: Promise<string> }).tookOver)
    assert.ok(peer !== undefined && !peer.startsWith('failed'), `the second tab took over: ${peer}`)
    assert.deepEqual(await state(second!), { peer, waiting: false })
    await until('the node lists the second tab, and no longer the first', async () => { const g = await guests(node); return g.includes(peer!) && !g.includes(gone) }, 30_000)
    assert.deepEqual(await roundTrip(second!, 'after-take-over.txt'), [200, 200, 'written by a tab as after-take-over.txt'])
    assert.equal(await (await sign.fetch(`${node.url}/tabs/after-take-over.txt`)).text(), 'written by a tab as after-take-over.txt')
    assert.deepEqual(await state(third!), { waiting: true }, 'the stopped tab never ran a node')
    assert.deepEqual(await guests(node), [peer], 'still one tab of the origin in the mesh')
  })
})
