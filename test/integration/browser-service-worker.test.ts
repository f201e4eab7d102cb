/**
 * The s3mesh service worker in a real Chromium, served by a real `s3mesh
 * server` on its console address: a page registers it, and from then on
 * fetch('/s3/...') is S3 over IndexedDB, surviving reloads and worker restarts.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { after, before, describe, it } from 'node:test'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { launchChromium } from '../helpers/chromium.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { signer } from '../helpers/s3-client.js'

describe('service worker: S3 semantics in the browser', () => {
  let node: ServerProcess
  let browser: Browser
  let context: BrowserContext
  let page: Page

  before(async () => {
    node = await startServerProcess({ args: ['--no-mesh'] })
    browser = await launchChromium()
    context = await browser.newContext()
    page = await context.newPage()
    await page.goto(node.consoleUrl!)
    await page.evaluate(async () => {
      const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
      await register({ accessKeyId: 'page-key', secretAccessKey: 'page-secret-1234', join: false, gateway: false })
    })
  })
  after(async () => { await browser?.close(); await node?.stop() })

  it('answers PUT, GET, HEAD, ranges, LIST with a delimiter, DELETE and multipart through fetch', async () => {
    const result = await page.evaluate(async () => {
      const out: Record<string, unknown> = {}
      out.createBucket = (await fetch('/s3/photos', { method: 'PUT' })).status
      const put = await fetch('/s3/photos/cats/tom.txt', { method: 'PUT', body: 'meow, says tom', headers: { 'content-type': 'text/plain', 'x-amz-meta-owner': 'ann' } })
      out.put = [put.status, put.headers.get('etag')]
      await fetch('/s3/photos/cats/kit.txt', { method: 'PUT', body: 'mew' })
      await fetch('/s3/photos/dogs/rex.txt', { method: 'PUT', body: 'woof' })
      await fetch('/s3/photos/top.txt', { method: 'PUT', body: 'top' })
      const get = await fetch('/s3/photos/cats/tom.txt')
      out.get = [get.status, await get.text(), get.headers.get('content-type'), get.headers.get('x-amz-meta-owner')]
      const head = await fetch('/s3/photos/cats/tom.txt', { method: 'HEAD' })
      out.head = [head.status, head.headers.get('content-length')]
      const range = await fetch('/s3/photos/cats/tom.txt', { headers: { range: 'bytes=6-9' } })
      out.range = [range.status, await range.text(), range.headers.get('content-range')]
      const list = await (await fetch('/s3/photos?list-type=2&delimiter=/')).text()
      const doc = new DOMParser().parseFromString(list, 'application/xml')
      out.keys = [...doc.querySelectorAll('Contents > Key')].map(k => k.textContent)
      out.prefixes = [...doc.querySelectorAll('CommonPrefixes > Prefix')].map(k => k.textContent)
      out.delete = (await fetch('/s3/photos/cats/kit.txt', { method: 'DELETE' })).status
      const gone = await fetch('/s3/photos/cats/kit.txt')
      out.gone = [gone.status, new DOMParser().parseFromString(await gone.text(), 'application/xml').querySelector('Code')?.textContent]

      // Multipart: two parts (the first at S3's 5 MiB minimum), completed, read back across the seam.
      const created = new DOMParser().parseFromString(await (await fetch('/s3/photos/big.bin?uploads', { method: 'POST' })).text(), 'application/xml')
      const uploadId = created.querySelector('UploadId')!.textContent!
      const part1 = new Uint8Array(5 * 1024 * 1024).fill(97)
      const e1 = (await fetch(`/s3/photos/big.bin?partNumber=1&uploadId=${uploadId}`, { method: 'PUT', body: part1 })).headers.get('etag')
      const e2 = (await fetch(`/s3/photos/big.bin?partNumber=2&uploadId=${uploadId}`, { method: 'PUT', body: 'the end' })).headers.get('etag')
      const complete = await fetch(`/s3/photos/big.bin?uploadId=${uploadId}`, {
        method: 'POST',
        body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${e1}</ETag></Part><Part><PartNumber>2</PartNumber><ETag>${e2}</ETag></Part></CompleteMultipartUpload>`,
      })
      out.complete = [complete.status, new DOMParser().parseFromString(await complete.text(), 'application/xml').querySelector('ETag')?.textContent]
      const seam = await fetch('/s3/photos/big.bin', { headers: { range: `bytes=${part1.length - 3}-${part1.length + 2}` } })
      out.seam = await seam.text()
      out.bigSize = (await fetch('/s3/photos/big.bin', { method: 'HEAD' })).headers.get('content-length')
      // Not under /s3/: the network, untouched.
      out.passThrough = (await fetch('/s3mesh.js')).headers.get('content-type')
      return out
    })
    assert.equal(result.createBucket, 200)
    assert.deepEqual(result.put, [200, `"${createHash('md5').update('meow, says tom').digest('hex')}"`])
    assert.deepEqual(result.get, [200, 'meow, says tom', 'text/plain', 'ann'])
    assert.deepEqual(result.head, [200, '14'])
    assert.deepEqual(result.range, [206, 'says', 'bytes 6-9/14'])
    assert.deepEqual(result.keys, ['top.txt'])
    assert.deepEqual(result.prefixes, ['cats/', 'dogs/'])
    assert.equal(result.delete, 204)
    assert.deepEqual(result.gone, [404, 'NoSuchKey'])
    assert.equal((result.complete as unknown[])[0], 200)
    assert.match(String((result.complete as unknown[])[1]), /-2"$/)
    assert.equal(result.seam, 'aaathe')
    assert.equal(result.bigSize, String(5 * 1024 * 1024 + 7))
    assert.match(String(result.passThrough), /javascript/)
  })

  it('decodes an object stored gzipped (Content-Encoding: gzip) as the network would, for a fetch and a script the page loads; a range stays as stored', async () => {
    const result = await page.evaluate(async () => {
      const source = 'window.fromGzip = "ran, " + (6 * 7)'
      const gzipped = await new Response(new Blob([source]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer()
      const put = await fetch('/s3/photos/app.js', { method: 'PUT', body: gzipped, headers: { 'content-type': 'text/javascript', 'content-encoding': 'gzip' } })
      const got = await fetch('/s3/photos/app.js')
      const text = await got.text()
      await new Promise((resolve, reject) => {
        const script = document.createElement('script')
        script.src = '/s3/photos/app.js'
        script.onload = resolve
        script.onerror = reject
        document.head.append(script)
      })
      const range = await fetch('/s3/photos/app.js', { headers: { range: 'bytes=0-1' } })
      // An S3 client that checks the checksum (of the stored bytes) gets them as stored.
      const checked = await fetch('/s3/photos/app.js', { headers: { 'x-amz-checksum-mode': 'ENABLED' } })
      const checkedHead = [...new Uint8Array(await checked.arrayBuffer())].slice(0, 2)
      const stored = await fetch('/s3/photos/app.js', { method: 'HEAD' })
      const deleted = (await fetch('/s3/photos/app.js', { method: 'DELETE' })).status
      return { deleted, put: put.status, source, text, encoding: got.headers.get('content-encoding'), ran: (window as unknown as { fromGzip?: string }).fromGzip, range: [range.status, ...new Uint8Array(await range.arrayBuffer())], checkedHead, storedSize: Number(stored.headers.get('content-length')), gzippedSize: gzipped.byteLength }
    })
    assert.equal(result.put, 200)
    assert.equal(result.storedSize, result.gzippedSize, 'stored as sent: compressed (the precondition)')
    assert.equal(result.text, result.source)
    assert.equal(result.encoding, 'gzip', 'the header says how it is stored, as from the network')
    assert.equal(result.ran, 'ran, 42')
    assert.deepEqual(result.range, [206, 0x1f, 0x8b])
    assert.deepEqual(result.checkedHead, [0x1f, 0x8b])
    assert.equal(result.deleted, 204)
  })

  it('keeps everything across a reload and a restart of the service worker', async () => {
    await page.reload()
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null)
    assert.equal(await page.evaluate(async () => await (await fetch('/s3/photos/cats/tom.txt')).text()), 'meow, says tom')

    // The browser stops idle workers whenever it likes; a stopped worker starts again on the next fetch.
    const cdp = await context.newCDPSession(page)
    await cdp.send('ServiceWorker.enable')
    await cdp.send('ServiceWorker.stopAllWorkers')
    const after = await page.evaluate(async () => {
      const get = await fetch('/s3/photos/cats/tom.txt')
      const list = await (await fetch('/s3/photos?list-type=2')).text()
      return { status: get.status, body: await get.text(), keys: [...new DOMParser().parseFromString(list, 'application/xml').querySelectorAll('Key')].map(k => k.textContent) }
    })
    assert.deepEqual(after, { status: 200, body: 'meow, says tom', keys: ['big.bin', 'cats/tom.txt', 'dogs/rex.txt', 'top.txt'] })
  })

  it('takes control of a page loaded past it (a hard reload), whose register() would otherwise wait for a worker that never claims it', async () => {
    const cdp = await context.newCDPSession(page)
    const loaded = page.waitForEvent('load')
    await cdp.send('Page.reload', { ignoreCache: true })
    await loaded
    assert.equal(await page.evaluate(() => navigator.serviceWorker.controller === null), true, 'precondition: the hard reload left the page uncontrolled')
    const t = Date.now()
    const read = await page.evaluate(async () => {
      const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
      await register({ accessKeyId: 'page-key', secretAccessKey: 'page-secret-1234', join: false, gateway: false, timeoutMs: 10_000 })
      const res = await fetch('/s3/photos/cats/tom.txt')
      return [navigator.serviceWorker.controller !== null, res.status, await res.text()]
    })
    assert.deepEqual(read, [true, 200, 'meow, says tom'], 'controlled, and answered from IndexedDB')
    assert.ok(Date.now() - t < 10_000)
  })

  it('checks signed requests, and lets a navigation from anywhere only read', async () => {
    const forged = await page.evaluate(async () => {
      const res = await fetch('/s3/photos/top.txt', {
        method: 'DELETE',
        headers: {
          'x-amz-date': new Date().toISOString().replace(/[-:]|\.\d{3}/g, ''),
          'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
          authorization: `AWS4-HMAC-SHA256 Credential=page-key/${new Date().toISOString().slice(0, 10).replace(/-/g, '')}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${'0'.repeat(64)}`,
        },
      })
      return [res.status, new DOMParser().parseFromString(await res.text(), 'application/xml').querySelector('Code')?.textContent, (await fetch('/s3/photos/top.txt')).status]
    })
    assert.deepEqual(forged, [403, 'SignatureDoesNotMatch', 200], 'a bad signature is refused and deletes nothing')

    const opened = await page.goto(`${node.consoleUrl!}/s3/photos/cats/tom.txt`)
    assert.equal(opened?.status(), 200)
    assert.equal(await opened?.text(), 'meow, says tom', 'opening an object\'s URL reads it')
  })

  it('with no page node, reads what IndexedDB lacks from the gateway, and says so clearly when the gateway is gone', async () => {
    await page.goto(node.consoleUrl!)
    await page.evaluate(async ([accessKeyId, secretAccessKey]) => {
      const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
      await register({ accessKeyId, secretAccessKey, join: false })
    }, [ACCESS_KEY, SECRET_KEY])
    const sign = signer()
    assert.equal((await sign.fetch(`${node.url}/served`, { method: 'PUT' })).status, 200)
    assert.equal((await sign.fetch(`${node.url}/served/on-the-node.txt`, { method: 'PUT', body: 'only the node has this' })).status, 200)
    const read = await page.evaluate(async () => {
      const whole = await fetch('/s3/served/on-the-node.txt')
      const part = await fetch('/s3/served/on-the-node.txt', { headers: { range: 'bytes=5-8' } })
      const missing = await fetch('/s3/served/nowhere.txt')
      return [whole.status, await whole.text(), part.status, await part.text(), missing.status]
    })
    assert.deepEqual(read, [200, 'only the node has this', 206, 'the ', 404])
    // Stored gzipped on the node: the gateway's answer comes through the worker's fetch, which the browser decoded; not decoded twice.
    assert.equal((await sign.fetch(`${node.url}/served/zipped.txt`, { method: 'PUT', body: gzipSync('zipped on the node'), headers: { 'content-encoding': 'gzip' } })).status, 200)
    assert.deepEqual(await page.evaluate(async () => { const r = await fetch('/s3/served/zipped.txt'); return [r.status, await r.text()] }), [200, 'zipped on the node'])

    await node.stop({ remove: false })
    const t = Date.now()
    const down = await page.evaluate(async () => {
      const res = await fetch('/s3/served/also-nowhere.txt')
      return [res.status, new DOMParser().parseFromString(await res.text(), 'application/xml').querySelector('Code')?.textContent]
    })
    assert.deepEqual(down, [503, 'ServiceUnavailable'])
    assert.ok(Date.now() - t < 35_000, 'an answer, not a hang')
    assert.equal(await page.evaluate(async () => await (await fetch('/s3/photos/cats/tom.txt')).text()), 'meow, says tom', 'what the browser holds still reads')
  })
})
