/**
 * Step 5 of docs/deploy.md on a lab (lab.ts): a browser behind a NAT of its
 * own, 40 ms from two storage nodes and a relay (1% loss), each with a
 * certificate from a private CA that Chromium trusts (its NSS database, as an
 * operator's CA would be installed). A web app's page on an https origin
 * joins through the relay over wss, reads from the storage nodes, writes to
 * the storage node the relay names, and is reachable only through the relay.
 * Needs root for the namespaces (CI runs as root) and certutil (libnss3-tools).
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { chromium, type Browser, type Page } from 'playwright-core'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../helpers/chromium-args.mjs'
import { issueCertificate, makeTestCa, type TestCa } from '../helpers/test-ca.js'
import { until } from '../helpers/until.js'
import { createLab, type Lab } from './lab.js'
import { LAB_ACCESS_KEY, LAB_SECRET_KEY, labClient, startLabNode, startTlsLabNode, type LabNode } from './lab-nodes.js'

const PROXY = fileURLToPath(new URL('./tls-proxy.mjs', import.meta.url))
const ROOTED = process.getuid?.() === 0 || process.env.CI === 'true'
const CERTUTIL = (() => { try { execFileSync('certutil', ['-H'], { stdio: 'ignore' }); return true } catch (err) { return (err as { status?: number }).status !== undefined } })()

interface TabView { connections: string[], addrs: string[], fetchedFromGuests: number }

describe('a browser behind NAT joins through a relay over wss', { skip: !ROOTED ? 'needs root for network namespaces (CI runs as root)' : !CERTUTIL && process.env.CI !== 'true' ? 'needs certutil (apt-get install libnss3-tools)' : false }, () => {
  let lab: Lab
  let ca: TestCa
  let work: string
  let browser: Browser
  let page: Page
  const nodes: LabNode[] = []
  let relay: LabNode
  let plainRelay: LabNode
  const key = randomBytes(32).toString('base64')

  before(async () => {
    lab = await createLab({ hosts: ['n1', 'n2', 'relay', 'proxied', 'browser', 'client'], rttMs: 40, loss: 0.01, nat: ['browser'] })
    ca = await makeTestCa()
    work = await mkdtemp(join(tmpdir(), 's3mesh-browser-nat-'))
    const start = async (host: string, command: 'server' | 'relay', seed?: string): Promise<LabNode> => await startTlsLabNode(lab, host, { command, work, ca, key, ...(seed === undefined ? {} : { seed }) })
    nodes.push(await start('n1', 'server'))
    nodes.push(await start('n2', 'server', nodes[0]!.meshAddress))
    relay = await start('relay', 'relay', nodes[0]!.meshAddress)
    // A relay whose own ports have no certificate (plain ws, and WebRTC-direct), its API behind a TLS reverse proxy.
    plainRelay = await startLabNode(lab, 'proxied', { command: 'relay', dataDir: `${work}/proxied`, args: ['--membership', 'wan', '--join', nodes[0]!.meshAddress], env: { S3MESH_CLUSTER_KEY: key, NODE_EXTRA_CA_CERTS: ca.certFile } })
    const proxyCerts = await issueCertificate(ca, `${work}/proxy-certs`, [lab.address('proxied')])
    const proxy = lab.spawn('proxied', process.execPath, [PROXY], { env: { ...process.env, TARGET: 'http://127.0.0.1:9000', LISTEN_PORT: '9443', CERT_FILE: join(proxyCerts, 'public.crt'), KEY_FILE: join(proxyCerts, 'private.key') }, stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise<void>(resolve => { proxy.stdout!.once('data', () => { resolve() }) })
    // The web app's page comes from n1's console origin (https); its writes are cross-origin S3 to a storage node.
    const origin = nodes[0]!.output().match(/Console:\s+(https:\/\/\S+)/)![1]!
    for (const n of nodes) {
      const [cors] = await labClient(lab, 'client', ['put-cors', n.url, 'webapp', origin], { ca: ca.certFile })
      assert.equal(cors?.status, 200, JSON.stringify(cors))
    }
    // Chromium in the browser's namespace (a wrapper that enters it), trusting the CA through its NSS database.
    const home = join(work, 'home')
    await mkdir(join(home, '.pki', 'nssdb'), { recursive: true })
    execFileSync('certutil', ['-d', `sql:${join(home, '.pki', 'nssdb')}`, '-N', '--empty-password'])
    execFileSync('certutil', ['-d', `sql:${join(home, '.pki', 'nssdb')}`, '-A', '-t', 'C,,', '-n', 's3mesh-test-ca', '-i', ca.certFile])
    const wrapper = join(work, 'chromium-in-lab')
    await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${lab.namespace('browser')} ${CHROMIUM_PATH} "$@"\n`)
    await chmod(wrapper, 0o755)
    browser = await chromium.launch({ executablePath: wrapper, args: CHROMIUM_ARGS, env: { ...process.env, HOME: home } })
    const context = await browser.newContext()
    await context.addInitScript('globalThis.__name = f => f')
    page = await context.newPage()
    await page.goto(origin + '/')
  })
  after(async () => {
    await browser?.close().catch(() => {})
    for (const n of [plainRelay, relay, ...nodes]) await n?.stop().catch(() => {})
    await lab?.close()
    await rm(work, { recursive: true, force: true })
    await rm(ca.dir, { recursive: true, force: true })
  })

  const view = async (): Promise<TabView> => await page.evaluate(() => {
    const tab = (globalThis as { s3meshTab?: { node?: { libp2p: { getConnections: () => Array<{ remoteAddr: { toString: () => string } }>, getMultiaddrs: () => Array<{ toString: () => string }> }, guest: { stats: { fetchedFromGuests: number } } } } }).s3meshTab
    return {
      connections: tab?.node?.libp2p.getConnections().map(c => c.remoteAddr.toString()) ?? [],
      addrs: tab?.node?.libp2p.getMultiaddrs().map(a => a.toString()) ?? [],
      fetchedFromGuests: tab?.node?.guest.stats.fetchedFromGuests ?? 0,
    }
  })

  it('the page, on https, joins through the relay over wss with a certificate its CA vouches for', async () => {
    const joined = await page.evaluate(async ([accessKeyId, secretAccessKey, joinEndpoint]) => {
      const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
      // The lab's addresses (198.18/15) are ones a browser's libp2p refuses unless told: a real deployment's are public.
      const tab = await register({ accessKeyId, secretAccessKey, joinEndpoint, gateway: false, allowLocalAddresses: true })
      ;(globalThis as { s3meshTab?: unknown }).s3meshTab = tab
      return location.protocol
    }, [LAB_ACCESS_KEY, LAB_SECRET_KEY, relay.url])
    assert.equal(joined, 'https:')
    const { connections } = await view()
    assert.ok(connections.some(a => a.includes('/tls/ws/') && a.includes(relay.id)), `a wss connection to the relay: ${connections.join(' ')}`)
  })

  it('is reachable only through the relay, and the relay lists it as its guest', async () => {
    await until('the tab has a relayed address', async () => (await view()).addrs.some(a => a.includes('/p2p-circuit')), 20_000)
    const { addrs } = await view()
    const dialable = addrs.filter(a => !a.includes('/p2p-circuit'))
    assert.deepEqual(dialable.filter(a => !a.startsWith('/webrtc')), [], `no address but through a relay: ${addrs.join(' ')}`)
    assert.ok(addrs.filter(a => a.includes('/p2p-circuit')).every(a => a.includes(`/p2p/${relay.id}/p2p-circuit`)), 'through this relay')
    const [members] = await labClient(lab, 'client', ['signed-get', `${relay.url}/_s3mesh/v1/members`], { ca: ca.certFile })
    const guests = (JSON.parse(members!.body!) as { members: Array<{ role?: string, addresses: string[] }> }).members.filter(m => m.role === 'guest')
    assert.equal(guests.length, 1)
    assert.ok(guests[0]!.addresses.every(a => a.includes(`/p2p/${relay.id}/p2p-circuit`)), guests[0]!.addresses.join(' '))
  })

  it('reads what a client wrote to a storage node, and writes to the storage node the relay named', async () => {
    const [put] = await labClient(lab, 'client', ['put', nodes[1]!.url, 'webapp', 'from-client-', '1', '131072'], { ca: ca.certFile })
    assert.equal(put?.status, 200)
    await until('the tab lists it', async () => await page.evaluate(async () => (await (await fetch('/s3/webapp?list-type=2')).text()).includes('from-client-00000')), 30_000)
    const got = await page.evaluate(async k => {
      const r = await fetch(`/s3/webapp/${k}`)
      const digest = await crypto.subtle.digest('SHA-256', await r.arrayBuffer())
      return [r.status, Array.from(new Uint8Array(digest)).map(b => b.toString(16).padStart(2, '0')).join('')]
    }, put!.key!)
    assert.deepEqual(got, [200, put!.sha256], 'fetched from a storage node through the NAT, verified, the same bytes')

    const written = await page.evaluate(async () => {
      const r = await fetch('/s3/webapp/from-the-tab.txt', { method: 'PUT', body: 'written behind a NAT' })
      return [r.status, r.headers.get('x-s3mesh-replicas'), r.status === 200 ? '' : await r.text()]
    })
    assert.equal(written[0], 200, String(written[2]))
    assert.equal(written[1], '2', 'on two storage nodes before it answered')
    for (const n of nodes) {
      const [back] = await labClient(lab, 'client', ['signed-get', `${n.url}/webapp/from-the-tab.txt`], { ca: ca.certFile })
      assert.equal(back?.body, 'written behind a NAT', `${n.host} serves it`)
    }
  })

  it('joins over WebRTC-direct when its node\'s own ports have no certificate it trusts (an https page cannot open ws://)', async () => {
    const other = await page.context().browser()!.newContext()
    try {
      await other.addInitScript('globalThis.__name = f => f')
      const tab = await other.newPage()
      await tab.goto(page.url())
      const proxied = `https://${lab.address('proxied')}:9443`
      const joined = await tab.evaluate(async ([accessKeyId, secretAccessKey, joinEndpoint]) => {
        const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
        const t = await register({ accessKeyId, secretAccessKey, joinEndpoint, gateway: false, allowLocalAddresses: true })
        ;(globalThis as { s3meshTab?: unknown }).s3meshTab = t
        const r = await fetch('/s3/webapp/from-the-tab.txt')
        return { connections: t.node!.libp2p.getConnections().map(c => c.remoteAddr.toString()), status: r.status, body: await r.text() }
      }, [LAB_ACCESS_KEY, LAB_SECRET_KEY, proxied])
      const toRelay = joined.connections.filter(a => a.includes(plainRelay.id))
      assert.ok(toRelay.length > 0 && toRelay.every(a => a.includes('/webrtc-direct/')), `the relay is reached over WebRTC-direct: ${joined.connections.join(' ')}`)
      assert.deepEqual([joined.status, joined.body], [200, 'written behind a NAT'], 'and the tab reads from the mesh')
    } finally {
      await other.close()
    }
  })
})
