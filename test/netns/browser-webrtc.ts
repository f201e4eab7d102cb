/**
 * Run inside a network namespace with a veth pair (see browser-webrtc.test.ts):
 * Chromium offers no ICE candidate on loopback, so two tabs only connect over
 * WebRTC where the machine has another address. Two tabs in separate browser
 * contexts join through one Node relay, connect to each other over WebRTC,
 * and with the Node node gone one reads the other's object and hears its gossip.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../helpers/chromium.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { until } from '../helpers/until.js'

type Tab = { node: { libp2p: { peerId: { toString: () => string }, getConnections: () => Array<{ remotePeer: { toString: () => string }, remoteAddr: { toString: () => string }, limits?: unknown }> }, transport: { membership: { list: () => Array<{ id: string, state: string }> } } } }

describe('two browser tabs over WebRTC', () => {
  let browser: Browser
  let node: ServerProcess
  after(async () => { await browser?.close(); await node?.stop().catch(() => {}) })

  it('connect directly through one relay, then gossip and read each other\'s objects (both ways) without it', async () => {
    node = await startServerProcess({ env: { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }, args: ['--membership', 'local', '--replicas', '1'] })
    browser = await launchChromium()
    const open = async (): Promise<Page> => {
      const context = await browser.newContext()
      await context.addInitScript('globalThis.__name = f => f')
      const page = await context.newPage()
      await page.goto(node.consoleUrl!)
      await page.evaluate(async ([accessKeyId, secretAccessKey]) => {
        const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
        ;(globalThis as { s3meshTab?: unknown }).s3meshTab = await register({ accessKeyId, secretAccessKey })
      }, [ACCESS_KEY, SECRET_KEY])
      return page
    }
    const [a, b] = [await open(), await open()]
    const id = async (p: Page): Promise<string> => await p.evaluate(() => (globalThis as unknown as { s3meshTab: Tab }).s3meshTab.node.libp2p.peerId.toString())
    const [idA, idB] = [await id(a), await id(b)]
    const direct = async (p: Page, other: string): Promise<boolean> => await p.evaluate(o => (globalThis as unknown as { s3meshTab: Tab }).s3meshTab.node.libp2p.getConnections()
      .some(c => c.remotePeer.toString() === o && c.limits === undefined && c.remoteAddr.toString().includes('/webrtc')), other)
    await until('each tab has a direct WebRTC connection to the other', async () => await direct(a, idB) && await direct(b, idA), 60_000)
    await a.evaluate(async () => { await fetch('/s3/tabs', { method: 'PUT' }) })
    await until('tab B knows the bucket', async () => await b.evaluate(async () => (await fetch('/s3/tabs?list-type=2')).status === 200))

    // The Node node goes: what follows travels between the tabs only.
    await node.stop()
    const put = await a.evaluate(async () => {
      const res = await fetch('/s3/tabs/p2p.txt', { method: 'PUT', body: 'from tab A to tab B' })
      return [res.status, res.headers.get('x-s3mesh-replicas')]
    })
    assert.deepEqual(put, [200, '1'])
    await until('tab B lists it (gossip between the tabs)', async () => await b.evaluate(async () => (await (await fetch('/s3/tabs?list-type=2')).text()).includes('p2p.txt')), 30_000)
    const got = await b.evaluate(async () => { const r = await fetch('/s3/tabs/p2p.txt'); return [r.status, await r.text()] })
    assert.deepEqual(got, [200, 'from tab A to tab B'], 'read from tab A over WebRTC')

    // And the other way: B writes, A lists it and reads it from B.
    const back = await b.evaluate(async () => {
      const res = await fetch('/s3/tabs/p2p-back.txt', { method: 'PUT', body: 'from tab B to tab A' })
      return [res.status, res.headers.get('x-s3mesh-replicas')]
    })
    assert.deepEqual(back, [200, '1'])
    await until('tab A lists it (gossip between the tabs)', async () => await a.evaluate(async () => (await (await fetch('/s3/tabs?list-type=2')).text()).includes('p2p-back.txt')), 30_000)
    const gotBack = await a.evaluate(async () => { const r = await fetch('/s3/tabs/p2p-back.txt'); return [r.status, await r.text()] })
    assert.deepEqual(gotBack, [200, 'from tab B to tab A'], 'read from tab B over WebRTC')
  })
})
