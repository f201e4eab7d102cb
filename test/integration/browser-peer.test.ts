/**
 * A browser tab as a guest of the mesh, in a real Chromium, with two real
 * `s3mesh server` processes: the tab joins through the node that served it
 * (with credentials, and is given no cluster key), its writes through
 * fetch('/s3/...') reach the Node nodes (aws-cli reads them), objects
 * written with aws-cli are read in the tab, and closing the tab loses nothing.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { AWS_UNSET, awsCliEnv, run } from '../helpers/cli-clients.js'
import { launchChromium } from '../helpers/chromium.js'
import { freePorts } from '../helpers/free-ports.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { until } from '../helpers/until.js'
import { signer } from '../helpers/s3-client.js'

const sign = signer()

interface Member { id: string, state: string, role?: string }
async function members (node: ServerProcess): Promise<Member[]> {
  return ((await (await sign.fetch(`${node.url}/_s3mesh/v1/members`)).json()) as { members: Member[] }).members
}

describe('a browser tab in the mesh', () => {
  const nodes: ServerProcess[] = []
  let browser: Browser
  let page: Page

  before(async () => {
    const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
    const args = ['--membership', 'local', '--replicas', '2']
    nodes.push(await startServerProcess({ env, args }))
    nodes.push(await startServerProcess({ env, args: [...args, '--join', nodes[0]!.meshAddress!] }))
    browser = await launchChromium()
    page = await (await browser.newContext()).newPage()
    page.on('console', m => { if (process.env.S3MESH_TEST_VERBOSE !== undefined) process.stderr.write(`page: ${m.text()}\n`) })
  })
  after(async () => { await browser?.close(); for (const n of nodes) await n.stop().catch(() => {}) })

  it('joins as a guest with the root credentials and no cluster key, and a wrong secret is refused', async () => {
    await page.goto(nodes[0]!.consoleUrl!)
    const refused = await page.evaluate(async () => {
      const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
      try { await register({ accessKeyId: 'testaccesskey', secretAccessKey: 'not-the-secret' }); return 'joined' } catch (err) { return (err as Error).name }
    })
    assert.equal(refused, 'JoinError')
    await page.evaluate(async ([accessKeyId, secretAccessKey]) => {
      const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
      const r = await register({ accessKeyId, secretAccessKey })
      ;(globalThis as { s3meshTab?: unknown }).s3meshTab = r
    }, [ACCESS_KEY, SECRET_KEY])
    await until(`${nodes[0]!.url} lists the tab as a guest`, async () => (await members(nodes[0]!)).some(m => m.role === 'guest' && m.state === 'alive'), 20_000)
    await until('the tab knows both Node nodes', async () => await page.evaluate(() => {
      const tab = (globalThis as { s3meshTab?: { node?: { guest: { peers: Map<string, { role: string, state: string }> } } } }).s3meshTab
      return [...tab?.node?.guest.peers.values() ?? []].filter(p => p.role === 'durable' && p.state === 'alive').length === 2
    }), 20_000)
    const tabKeys = await page.evaluate(() => Object.keys((globalThis as { s3meshTab?: object }).s3meshTab ?? {}))
    assert.ok(tabKeys.includes('node') && !tabKeys.includes('membership'), 'the tab is a guest, not a member of the cluster')
    const join = await sign.fetch(`${nodes[0]!.url}/_s3mesh/v1/browser-join?peer=12D3KooWJi4jXMDyNmBoArG7YUsi5pjWUgDC7YjVRinF4Dr8hKEq`)
    const info = await join.json() as Record<string, unknown>
    assert.equal(join.status, 200)
    assert.ok(typeof info.admission === 'string' && info.clusterKeys === undefined, 'root\'s join answer holds an admission and no cluster key')
  })

  it('what the tab writes is on the Node nodes before its PUT answers, and aws-cli reads it', async () => {
    const body = 'written in a browser tab'
    const put = await page.evaluate(async text => {
      await fetch('/s3/tabs', { method: 'PUT' })
      const res = await fetch('/s3/tabs/note.txt', { method: 'PUT', body: text, headers: { 'content-type': 'text/plain' } })
      return [res.status, res.headers.get('x-s3mesh-replicas'), await res.text()]
    }, body)
    assert.equal(put[0], 200, String(put[2]))
    assert.equal(put[1], '2', 'two durable copies before the PUT answers (a tab\'s never counts)')
    const head = await sign.fetch(`${nodes[0]!.url}/tabs/note.txt`, { method: 'HEAD' })
    assert.deepEqual([head.headers.get('content-type'), head.headers.get('cache-control')], ['text/plain', null], 'the object keeps the metadata the page gave, and none the browser added')
    const dir = await mkdtemp(join(tmpdir(), 's3mesh-aws-'))
    const env = await awsCliEnv(dir)
    try {
      for (const n of nodes) {
        const got = await run('/usr/bin/aws', ['--endpoint-url', n.url, 's3', 'cp', 's3://tabs/note.txt', '-'], env, { unset: AWS_UNSET })
        assert.equal(got.stdout, body, `aws-cli on ${n.url}: ${got.stderr}`)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('a page\'s upload crosses to the page node as one Blob, and the nodes and the tab keep its bytes; a bad Content-MD5 stores nothing', async () => {
    // 1.5 MiB: the tab keeps it as two chunks, slices of the Blob the page node was given.
    const bytes = randomBytes(1536 * 1024)
    const got = await page.evaluate(async data => {
      // (No named functions in here: tsx would wrap them in a helper the page lacks.)
      const bodies: string[] = []
      const listening = new AbortController()
      navigator.serviceWorker.addEventListener('message', e => { const d = e.data as { type?: string, method?: string, body?: unknown }; if (d?.type === 's3mesh:request' && d.method === 'PUT') bodies.push(d.body instanceof Blob ? `Blob ${d.body.size}` : String(d.body)) }, { signal: listening.signal })
      const sent = Uint8Array.from(atob(data), c => c.charCodeAt(0))
      // The page node reads a Blob body once, whole, to hash it (a stream would be read in pieces): counted here.
      const reads: string[] = []
      const { arrayBuffer, stream } = Blob.prototype
      Blob.prototype.arrayBuffer = async function (this: Blob) { reads.push(`arrayBuffer ${this.size}`); return await arrayBuffer.call(this) }
      // A stream of a Blob counts once it is read (the page node makes one for its store's interface, left unread).
      Blob.prototype.stream = function (this: Blob) {
        const inner = stream.call(this).getReader()
        const size = this.size
        let read = false
        return new ReadableStream<Uint8Array<ArrayBuffer>>({
          async pull (c) {
            const r = await inner.read()
            if (!read) { read = true; reads.push(`stream ${size}`) }
            if (r.done) c.close()
            else c.enqueue(r.value)
          },
          async cancel (why) { await inner.cancel(why) },
        }, { highWaterMark: 0 })
      }
      let put: Response
      try {
        put = await fetch('/s3/tabs/upload.bin', { method: 'PUT', body: new Blob([sent]), headers: { 'content-type': 'application/x-test' } })
      } finally {
        Blob.prototype.arrayBuffer = arrayBuffer
        Blob.prototype.stream = stream
      }
      const guest = (globalThis as { s3meshTab?: { node?: { guest: { self: string, catalog: { get: (b: string, k: string) => { holders: string[] } | undefined } } } } }).s3meshTab!.node!.guest
      const kept = guest.catalog.get('tabs', 'upload.bin')?.holders.includes(guest.self)
      const back = new Uint8Array(await (await fetch('/s3/tabs/upload.bin')).arrayBuffer())
      // A Content-MD5 is checked as the bytes stream (the Blob is not taken): a wrong one is refused and stores nothing.
      const bad = await fetch('/s3/tabs/upload.bin', { method: 'PUT', body: new Blob([new Uint8Array(10)]), headers: { 'content-md5': btoa(String.fromCharCode(...new Uint8Array(16))) } })
      const after = new Uint8Array(await (await fetch('/s3/tabs/upload.bin')).arrayBuffer())
      listening.abort()
      const [backHex, afterHex] = await Promise.all([back, after].map(async b => [...new Uint8Array(await crypto.subtle.digest('SHA-256', b))].map(x => x.toString(16).padStart(2, '0')).join('')))
      return { status: put.status, replicas: put.headers.get('x-s3mesh-replicas'), kept, reads, back: backHex, bad: [bad.status, await bad.text()], after: afterHex, bodies }
    }, bytes.toString('base64'))
    const want = createHash('sha256').update(bytes).digest('hex')
    assert.deepEqual([got.status, got.replicas], [200, '2'])
    assert.equal(got.kept, true, 'the tab holds a copy when the PUT answers')
    assert.deepEqual(got.reads, [`arrayBuffer ${bytes.byteLength}`], 'the page node read the Blob itself, once, to hash it')
    assert.deepEqual(got.bodies, [`Blob ${bytes.byteLength}`, 'Blob 10'], 'each PUT\'s body reached the page as one Blob')
    assert.equal(got.back, want, 'the tab reads back the bytes it sent')
    assert.equal(got.bad[0], 400, String(got.bad[1]))
    assert.match(String(got.bad[1]), /BadDigest/)
    assert.equal(got.after, want, 'the refused write changed nothing')
    for (const n of nodes) {
      const res = await sign.fetch(`${n.url}/tabs/upload.bin`)
      assert.equal(res.headers.get('content-type'), 'application/x-test')
      assert.equal(createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex'), want, `${n.url} holds the bytes`)
    }
  })

  it('reads in the tab what aws-cli wrote to a Node node (fetched from a holder, verified, kept)', async () => {
    const bytes = randomBytes(300 * 1024)
    const res = await sign.fetch(`${nodes[1]!.url}/tabs/from-node.bin`, { method: 'PUT', body: bytes })
    assert.equal(res.status, 200)
    await until('the tab lists it', async () => await page.evaluate(async () => (await (await fetch('/s3/tabs?list-type=2')).text()).includes('from-node.bin')))
    const got = await page.evaluate(async () => {
      const r = await fetch('/s3/tabs/from-node.bin')
      return [r.status, Array.from(new Uint8Array(await r.arrayBuffer()))]
    })
    assert.equal(got[0], 200)
    assert.ok(Buffer.from(got[1] as number[]).equals(bytes), 'the same bytes')
  })

  it('its worker answers reads of what the tab holds without the page, and stops when the key changes', async () => {
    // What the page is asked: every request the worker hands it, counted in the page.
    await page.evaluate(() => {
      const g = globalThis as { asked?: string[] }
      g.asked = []
      navigator.serviceWorker.addEventListener('message', e => { const d = e.data as { type?: string, method?: string, url?: string }; if (d?.type === 's3mesh:request') g.asked!.push(`${d.method!} ${new URL(d.url!).pathname}`) })
    })
    const asked = async (): Promise<string[]> => await page.evaluate(() => (globalThis as { asked?: string[] }).asked!.filter(a => a.endsWith('/s3/tabs/held.bin')))
    const read = async (init?: RequestInit): Promise<[number, string]> => await page.evaluate(async init => {
      const r = await fetch('/s3/tabs/held.bin', init)
      return [r.status, await r.text()]
    }, init as Record<string, unknown>)
    const put = async (text: string): Promise<number> => await page.evaluate(async text => (await fetch('/s3/tabs/held.bin', { method: 'PUT', body: text })).status, text)
    assert.equal(await put('first'), 200)
    // The first read goes through the page (nothing is marked yet); once the page has told the worker, reads stay in it.
    assert.deepEqual(await read(), [200, 'first'])
    assert.ok((await asked()).includes('GET /s3/tabs/held.bin'), 'the first read was the page\'s')
    await until('a read no longer reaches the page', async () => { const n = (await asked()).length; await read(); return (await asked()).length === n })
    const before = (await asked()).length
    for (let i = 0; i < 5; i++) assert.deepEqual(await read(), [200, 'first'])
    assert.deepEqual(await read({ headers: { range: 'bytes=1-3' } }), [206, 'irs'], 'a range, from the worker too')
    assert.equal((await asked()).length, before, 'six reads answered by the worker alone')
    // A HEAD is marked by a HEAD the page answered (its headers are compared, not a GET's).
    await until('a HEAD no longer reaches the page', async () => { const n = (await asked()).length; await read({ method: 'HEAD' }); return (await asked()).length === n })
    // The tab's own write: read back at once, through the page, whatever the worker was told.
    assert.equal(await put('second'), 200)
    assert.deepEqual(await read(), [200, 'second'], 'the tab reads its own write')
    await until('the worker answers the new version by itself', async () => { const n = (await asked()).length; await read(); return (await asked()).length === n })
    // A write elsewhere: the tab's catalog hears of it (it holds the key), and the worker stops answering the old copy.
    const third = randomBytes(2000).toString('hex')
    const beforeThird = (await asked()).length
    assert.equal((await sign.fetch(`${nodes[1]!.url}/tabs/held.bin`, { method: 'PUT', body: third })).status, 200)
    await until('the tab reads the write made on a Node node', async () => (await read())[1] === third)
    assert.ok((await asked()).length > beforeThird, 'the new version was read through the page')
    await until('the worker answers the newer version by itself', async () => { const n = (await asked()).length; const [, body] = await read(); return body === third && (await asked()).length === n })
    // The tab's own delete: the copy stays in IndexedDB a while, but the next read is the page's, and finds nothing.
    const beforeDelete = (await asked()).length
    assert.equal(await page.evaluate(async () => (await fetch('/s3/tabs/held.bin', { method: 'DELETE' })).status), 204)
    assert.deepEqual((await read())[0], 404, 'the tab reads its own delete')
    assert.ok((await asked()).length >= beforeDelete + 2, 'the delete and the read after it both went to the page')
  })

  it('when the page running the node closes, a write it had is sent again, and another page of the origin reads through the gateway', async () => {
    // A second page of the same origin (same worker, same IndexedDB) with no node of its own.
    const other = await page.context().newPage()
    await other.goto(nodes[0]!.consoleUrl!)
    await other.evaluate(async () => {
      const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
      await register()
    })
    const peers = await page.evaluate(() => (globalThis as { s3meshTab?: { node?: { guest: { peers: Map<string, unknown> } } } }).s3meshTab?.node?.guest.peers.size)
    assert.equal(peers, 2, 'register() exposes the mesh\'s peers')
    const bytes = randomBytes(1000)
    assert.equal((await sign.fetch(`${nodes[1]!.url}/tabs/after-the-node.bin`, { method: 'PUT', body: bytes })).status, 200)
    // A write the page node has when the page closes. The page holds it unanswered (its fetch to the node never
    // ends), so only the worker noticing that the page is gone, and sending the body again, answers it.
    await page.evaluate(() => {
      const real = globalThis.fetch
      let held = 0
      let both: () => void
      ;(globalThis as { seen?: Promise<void> }).seen = new Promise(resolve => { both = resolve })
      // The page node's PUTs to its node: held, never sent (and `seen` says the page node got that far with both).
      globalThis.fetch = async (input, init) => {
        if (!(input instanceof Request ? input.url : String(input)).includes('/mid-close')) return await real(input, init)
        if (++held === 2) both()
        return await new Promise<never>(() => {})
      }
    })
    const midClose = randomBytes(3 * 1024 * 1024)
    // And a conditional one, which is not sent again (the closed page may have made it, and its condition would refuse it).
    const [pending, conditional] = ([{ key: 'mid-close.bin', headers: {} }, { key: 'mid-close-if.bin', headers: { 'if-none-match': '*' } }] as Array<{ key: string, headers: Record<string, string> }>).map(async ({ key, headers }) => await other.evaluate(async ({ data, key, headers }) => {
      const t0 = performance.now()
      const r = await fetch(`/s3/tabs/${key}`, { method: 'PUT', body: new Blob([Uint8Array.from(atob(data), c => c.charCodeAt(0))]), headers })
      return { status: r.status, text: await r.text(), ms: performance.now() - t0 }
    }, { data: midClose.toString('base64'), key, headers }))
    await page.evaluate(async () => { await (globalThis as { seen?: Promise<void> }).seen })
    for (const key of ['mid-close.bin', 'mid-close-if.bin']) assert.equal((await sign.fetch(`${nodes[0]!.url}/tabs/${key}`, { method: 'HEAD' })).status, 404, `the page node has the write of ${key}, unanswered, when it closes`)
    await page.close()
    const refused = await conditional!
    assert.equal(refused.status, 503, refused.text)
    assert.equal((await sign.fetch(`${nodes[0]!.url}/tabs/mid-close-if.bin`, { method: 'HEAD' })).status, 404, 'the conditional write was not sent again')
    const resent = await pending!
    assert.equal(resent.status, 200, resent.text)
    assert.ok(resent.ms < 30_000, `answered in ${Math.round(resent.ms)} ms, not after the page's timeout (over a minute)`)
    const held = Buffer.from(await (await sign.fetch(`${nodes[0]!.url}/tabs/mid-close.bin`)).arrayBuffer())
    assert.ok(held.equals(midClose), 'the node holds the bytes the worker sent again')
    const got = await other.evaluate(async () => {
      const r = await fetch('/s3/tabs/after-the-node.bin')
      return [r.status, Array.from(new Uint8Array(await r.arrayBuffer()))]
    })
    assert.equal(got[0], 200)
    assert.ok(Buffer.from(got[1] as number[]).equals(bytes), 'served by the gateway, the page node being gone')
    // A write with no page node open: the worker sends it to the node (signed with the keys the first page registered),
    // rather than keep it in IndexedDB alone.
    const written = await other.evaluate(async () => (await fetch('/s3/tabs/by-the-worker.txt', { method: 'PUT', body: 'no page node open' })).status)
    assert.equal(written, 200)
    assert.equal(await (await sign.fetch(`${nodes[0]!.url}/tabs/by-the-worker.txt`)).text(), 'no page node open', 'the node holds it')
    await other.close()
  })

  it('closing the tab loses nothing: the Node nodes still serve what it wrote, and no longer list it', async () => {
    for (const n of nodes) {
      await until(`${n.url} no longer lists the tab`, async () => !(await members(n)).some(m => m.role === 'guest'), 30_000)
      const res = await sign.fetch(`${n.url}/tabs/note.txt`)
      assert.equal(res.status, 200)
      assert.equal(await res.text(), 'written in a browser tab')
    }
  })

  it('joins over WebRTC-direct when that is the transport it may use, and reads over it', async () => {
    const context = await browser.newContext()
    try {
      await context.addInitScript('globalThis.__name = f => f')
      const tab = await context.newPage()
      await tab.goto(nodes[0]!.consoleUrl!)
      const bytes = randomBytes(200 * 1024)
      assert.equal((await sign.fetch(`${nodes[0]!.url}/tabs/over-webrtc-direct.bin`, { method: 'PUT', body: bytes })).status, 200)
      const remote = await tab.evaluate(async ([accessKeyId, secretAccessKey]) => {
        const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
        const r = await register({ accessKeyId, secretAccessKey, transports: ['webrtc-direct'] })
        ;(globalThis as { s3meshTab?: unknown }).s3meshTab = r
        return r.node!.libp2p.getConnections().map(c => c.remoteAddr.toString())
      }, [ACCESS_KEY, SECRET_KEY])
      assert.ok(remote.length > 0 && remote.every(a => a.includes('/webrtc-direct/')), `the tab reached its node over WebRTC-direct only: ${remote.join(' ')}`)
      const got = await tab.evaluate(async () => {
        const r = await fetch('/s3/tabs/over-webrtc-direct.bin')
        return [r.status, Array.from(new Uint8Array(await r.arrayBuffer()))]
      })
      assert.equal(got[0], 200)
      assert.ok(Buffer.from(got[1] as number[]).equals(bytes), 'the same bytes')
    } finally {
      await context.close()
    }
  })
})

describe('a browser tab whose relay dies', () => {
  let browser: Browser
  let node: ServerProcess | undefined
  after(async () => { await browser?.close(); await node?.stop().catch(() => {}) })

  it('keeps serving what it holds while the relay is down, and rejoins when it returns', async () => {
    const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
    // Fixed ports: the node comes back at the same addresses (and the page's origin is its console).
    const [s3, mesh, ui] = await freePorts()
    const args = ['--membership', 'local', '--replicas', '1', '--address', `127.0.0.1:${s3}`, '--mesh-address', `127.0.0.1:${mesh}`, '--console-address', `127.0.0.1:${ui}`]
    node = await startServerProcess({ env, args })
    browser = await launchChromium()
    const page = await (await browser.newContext()).newPage()
    await page.goto(node.consoleUrl!)
    await page.evaluate(async ([accessKeyId, secretAccessKey]) => {
      const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
      ;(globalThis as { s3meshTab?: unknown }).s3meshTab = await register({ accessKeyId, secretAccessKey })
      await fetch('/s3/keep', { method: 'PUT' })
      await fetch('/s3/keep/mine.txt', { method: 'PUT', body: 'held by the tab' })
    }, [ACCESS_KEY, SECRET_KEY])

    // It dies as a machine does (SIGKILL): no leave message, no graceful close of the tab's connection.
    assert.equal(await node.stop({ remove: false, signal: 'SIGKILL' }), null, 'the node was killed, not stopped')
    const whileDown = await page.evaluate(async () => {
      const res = await fetch('/s3/keep/mine.txt')
      const offline = await fetch('/s3/keep/offline.txt', { method: 'PUT', body: 'written while cut off' })
      return [res.status, await res.text(), offline.status, offline.headers.get('x-s3mesh-replicas')]
    })
    assert.deepEqual(whileDown, [200, 'held by the tab', 503, null], 'what the tab holds still reads with its node gone; a write no durable member can take is refused, not acknowledged')

    node = await startServerProcess({ dataDir: node.dataDir, env, args })
    await until('the returned node lists the tab again (it follows it)', async () => (await members(node!)).some(m => m.role === 'guest' && m.state === 'alive'), 30_000)
    // And the tab's writes reach the node again.
    const put = await page.evaluate(async () => {
      const res = await fetch('/s3/keep/after.txt', { method: 'PUT', body: 'written after the return' })
      return [res.status, res.headers.get('x-s3mesh-replicas')]
    })
    assert.deepEqual(put, [200, '1'])
    const res = await sign.fetch(`${node.url}/keep/after.txt`)
    assert.equal(await res.text(), 'written after the return')
    assert.equal((await sign.fetch(`${node.url}/keep/offline.txt`)).status, 404, 'the refused write was not kept anywhere')
  })
})
