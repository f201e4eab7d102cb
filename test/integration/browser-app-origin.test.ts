/**
 * A web app on its own origin (docs/deploy.md, step 5) in a real Chromium:
 * the app serves the service worker itself and joins a real `s3mesh server`
 * on another origin with `gateway: false`. With no page node open (this tab
 * runs none), the worker sends the tab's writes to the node the join named,
 * never to the app's own origin, and a node that cannot be reached is S3's
 * 503, not a failed fetch.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../helpers/chromium.js'
import { signer } from '../helpers/s3-client.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'

const BUNDLE = fileURLToPath(new URL('../../dist/browser-bundle/', import.meta.url))

/** The app's own origin: its page, and the s3mesh bundles it serves. Anything else (an /s3/ request that got past the worker) is counted and answered 404. */
async function appOrigin (): Promise<{ server: Server, origin: string, strays: string[] }> {
  const strays: string[] = []
  const files: Record<string, [string, string]> = { '/s3mesh.js': ['s3mesh.js', 'text/javascript'], '/s3mesh-sw.js': ['s3mesh-sw.js', 'text/javascript'] }
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://app').pathname
    if (path === '/') { res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>'); return }
    const file = files[path]
    if (file === undefined) { if (path.startsWith('/s3/')) strays.push(`${req.method} ${path}`); res.writeHead(404).end(); return }
    readFile(`${BUNDLE}${file[0]}`).then(body => { res.writeHead(200, { 'content-type': file[1], 'cache-control': 'no-cache' }).end(body) }, () => { res.writeHead(500).end() })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, strays }
}

describe('a web app on its own origin, its tab running no page node', () => {
  let node: ServerProcess
  let app: Awaited<ReturnType<typeof appOrigin>>
  let browser: Browser
  let page: Page
  const sign = signer()

  before(async () => {
    node = await startServerProcess({ args: ['--membership', 'local', '--replicas', '1'], env: { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') } })
    app = await appOrigin()
    assert.equal((await sign.fetch(`${node.url}/app`, { method: 'PUT' })).status, 200)
    // Cross-origin S3 from the app's origin, as deploy.md says to allow.
    const cors = `<CORSConfiguration><CORSRule><AllowedOrigin>${app.origin}</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedMethod>POST</AllowedMethod><AllowedMethod>DELETE</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader></CORSRule></CORSConfiguration>`
    assert.equal((await sign.fetch(`${node.url}/app?cors`, { method: 'PUT', body: cors })).status, 200)
    browser = await launchChromium()
    const context = await browser.newContext()
    await context.addInitScript('globalThis.__name = f => f')
    page = await context.newPage()
    await page.goto(`${app.origin}/`)
    await page.evaluate(async ([joinEndpoint, accessKeyId, secretAccessKey]) => {
      const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
      await register({ joinEndpoint, gateway: false, join: false, accessKeyId, secretAccessKey })
    }, [node.consoleUrl!, ACCESS_KEY, SECRET_KEY])
  })
  after(async () => {
    await browser?.close()
    await node?.stop().catch(() => {})
    await new Promise(resolve => app?.server.close(resolve))
  })

  it('sends a write to the node the join named, not to the app\'s origin', async () => {
    assert.equal(await page.evaluate(() => navigator.serviceWorker.controller !== null), true, 'precondition: the worker answers the page')
    const put = await page.evaluate(async () => {
      const res = await fetch('/s3/app/from-the-app.txt', { method: 'PUT', body: 'written with no page node open' })
      return [res.status, await res.text()]
    })
    assert.equal(put[0], 200, String(put[1]))
    const stored = await sign.fetch(`${node.url}/app/from-the-app.txt`)
    assert.equal(stored.status, 200)
    assert.equal(await stored.text(), 'written with no page node open')
    const deleted = await page.evaluate(async () => (await fetch('/s3/app/from-the-app.txt', { method: 'DELETE' })).status)
    assert.equal(deleted, 204)
    assert.equal((await sign.fetch(`${node.url}/app/from-the-app.txt`)).status, 404, 'the delete reached the node too')
    assert.deepEqual(app.strays, [], 'nothing went to the app\'s own origin')
  })

  it('answers a write with S3\'s 503 when the node cannot be reached, rather than failing the fetch', async () => {
    await node.stop({ remove: false })
    const t = Date.now()
    const down = await page.evaluate(async () => {
      try {
        const res = await fetch('/s3/app/while-down.txt', { method: 'PUT', body: 'nowhere to go' })
        return [res.status, new DOMParser().parseFromString(await res.text(), 'application/xml').querySelector('Code')?.textContent]
      } catch (err) {
        return ['fetch failed', String(err)]
      }
    })
    assert.deepEqual(down, [503, 'ServiceUnavailable'])
    assert.ok(Date.now() - t < 30_000, 'an answer, not a hang')
    assert.deepEqual(app.strays, [])
  })
})
