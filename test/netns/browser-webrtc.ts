/**
 * Run inside a network namespace with a veth pair (see browser-webrtc.test.ts):
 * Chromium offers no ICE candidate on loopback, so two tabs only connect over
 * WebRTC where the machine has another address. Two tabs of two users join
 * through one Node relay as guests, connect to each other over WebRTC, and
 * each gets from the other exactly what its own user may read: a shared
 * object comes over WebRTC from the other tab, the other user's own object
 * is refused by the tab that holds it.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../helpers/chromium.js'
import { openTab } from '../helpers/tab.js'
import { signer } from '../helpers/s3-client.js'
import { iamCall, userWithPolicy } from '../helpers/iam.js'
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { until } from '../helpers/until.js'

interface Guest {
  peers: Map<string, { role: string }>
  stats: { fetchedFromGuests: number }
  gate: { refused: Record<string, number> }
  catalog: { get: (b: string, k?: string) => { holders: string[] } | undefined }
  transfer: { get: (peer: string, r: { bucket: string, key: string, sha256: string, size: number }, signal: AbortSignal) => Promise<ReadableStream<Uint8Array>> }
}
type Tab = { node: { libp2p: { peerId: { toString: () => string }, getConnections: () => Array<{ remotePeer: { toString: () => string }, remoteAddr: { toString: () => string }, limits?: unknown }> }, guest: Guest } }

describe('two browser tabs of two users over WebRTC', () => {
  let browser: Browser
  let node: ServerProcess
  after(async () => { await browser?.close(); await node?.stop().catch(() => {}) })

  it('connect directly through one relay, and each gets from the other only what its own user may read', async () => {
    node = await startServerProcess({ env: { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }, args: ['--membership', 'local', '--replicas', '1'] })
    const root = signer()
    const iam = iamCall(node.url)
    // Each user reads (and lists) its own folder and the shared one, and writes its own.
    const user = async (name: string): Promise<[string, string]> => await userWithPolicy(iam, name, [
      { Effect: 'Allow', Action: 's3:GetObject', Resource: [`arn:aws:s3:::tabs/${name}/*`, 'arn:aws:s3:::tabs/shared/*'] },
      { Effect: 'Allow', Action: 's3:PutObject', Resource: `arn:aws:s3:::tabs/${name}/*` },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::tabs', Condition: { StringLike: { 's3:prefix': [`${name}/*`, 'shared/*'] } } },
    ])
    const alice = await user('alice')
    const bob = await user('bob')
    assert.equal((await root.fetch(`${node.url}/tabs`, { method: 'PUT' })).status, 200)
    assert.equal((await root.fetch(`${node.url}/tabs/shared/s.txt`, { method: 'PUT', body: 'for both' })).status, 200)

    browser = await launchChromium()
    const [a, b] = [await openTab(browser, node.consoleUrl!, alice), await openTab(browser, node.consoleUrl!, bob)]
    const id = async (p: Page): Promise<string> => await p.evaluate(() => (globalThis as unknown as { s3meshTab: Tab }).s3meshTab.node.libp2p.peerId.toString())
    const [idA, idB] = [await id(a), await id(b)]
    // Each learns of the other from the node (a guest's id and addresses, not its user), and dials it.
    await until('each tab knows the other as a guest', async () => {
      const knows = async (p: Page, other: string): Promise<boolean> => await p.evaluate(o => (globalThis as unknown as { s3meshTab: Tab }).s3meshTab.node.guest.peers.get(o)?.role === 'guest', other)
      return await knows(a, idB) && await knows(b, idA)
    }, 30_000)
    const direct = async (p: Page, other: string): Promise<boolean> => await p.evaluate(o => (globalThis as unknown as { s3meshTab: Tab }).s3meshTab.node.libp2p.getConnections()
      .some(c => c.remotePeer.toString() === o && c.limits === undefined && c.remoteAddr.toString().includes('/webrtc')), other)
    await until('each tab has a direct WebRTC connection to the other', async () => await direct(a, idB) && await direct(b, idA), 60_000)

    // Each writes its own object and reads the shared one: both are then held in the tab.
    for (const [p, name] of [[a, 'alice'], [b, 'bob']] as const) {
      const out = await p.evaluate(async n => {
        const put = await fetch(`/s3/tabs/${n}/own.txt`, { method: 'PUT', body: `${n}'s own` })
        const shared = await fetch('/s3/tabs/shared/s.txt')
        const other = await fetch(`/s3/tabs/${n === 'alice' ? 'bob' : 'alice'}/own.txt`)
        return [put.status, shared.status, await shared.text(), other.status]
      }, name)
      assert.deepEqual(out, [200, 200, 'for both', 403], `${name}: writes its own, reads the shared one, is refused the other's`)
    }
    // The shared object from the other tab over WebRTC: A drops its copy's bytes and reads it again, from B.
    const sha = async (key: string): Promise<string> => ((await (await root.fetch(`${node.url}/_s3mesh/v1/locate/tabs/${key}`)).json()) as { sha256: string }).sha256
    await until('B holds the shared object, as the node tells A', async () => await a.evaluate(o => (globalThis as unknown as { s3meshTab: Tab }).s3meshTab.node.guest.catalog.get('tabs', 'shared/s.txt')?.holders.includes(o) === true, idB))
    const fromB = await a.evaluate(async ([o, s]) => {
      const guest = (globalThis as unknown as { s3meshTab: Tab }).s3meshTab.node.guest
      const body = await guest.transfer.get(o!, { bucket: 'tabs', key: 'shared/s.txt', sha256: s!, size: 8 }, AbortSignal.timeout(10_000))
      return await new Response(body).text()
    }, [idB, await sha('shared/s.txt')])
    assert.equal(fromB, 'for both', 'A got the shared object from B over WebRTC')

    // The other user's object, asked of the tab that holds it: refused there, by its asker's rights, and counted.
    for (const [asker, holder, holderId, key] of [[a, b, idB, 'bob/own.txt'], [b, a, idA, 'alice/own.txt']] as const) {
      const refusedBefore = await holder.evaluate(() => (globalThis as unknown as { s3meshTab: Tab }).s3meshTab.node.guest.gate.refused.denied)
      const answer = await asker.evaluate(async ([o, k, s]) => {
        const guest = (globalThis as unknown as { s3meshTab: Tab }).s3meshTab.node.guest
        try {
          await new Response(await guest.transfer.get(o!, { bucket: 'tabs', key: k!, sha256: s!, size: 9 }, AbortSignal.timeout(10_000))).text()
          return 'served'
        } catch (err) {
          return String((err as Error).message)
        }
      }, [holderId, key, await sha(key)])
      assert.match(answer, /may not s3:GetObject/, `${key} refused by the tab holding it`)
      assert.equal(await holder.evaluate(() => (globalThis as unknown as { s3meshTab: Tab }).s3meshTab.node.guest.gate.refused.denied), (refusedBefore ?? 0) + 1, 'counted there')
    }
  })
})
