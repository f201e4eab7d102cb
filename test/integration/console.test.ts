/**
 * The console (demo/, built into the package) in a real Chromium against a
 * real `s3mesh server`: log in (a wrong secret is refused in plain words),
 * the tab joins the mesh, buckets are created (S3's naming rules explained
 * on error), listed and deleted (refused while not empty). Screenshots go to
 * test-output/ (not committed).
 */
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { AwsClient } from 'aws4fetch'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../helpers/chromium.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'

const SHOTS = new URL('../../test-output/console/', import.meta.url)

describe('the console', () => {
  let node: ServerProcess
  let browser: Browser
  let page: Page
  const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
  const others: ServerProcess[] = []
  before(async () => {
    node = await startServerProcess({ env, args: ['--membership', 'local'] })
    browser = await launchChromium()
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage()
    page.on('dialog', d => { void d.accept() })
    await mkdir(SHOTS, { recursive: true })
  })
  after(async () => { await browser?.close(); for (const n of [node, ...others]) await n?.stop() })

  it('refuses a wrong secret in plain words, then logs in and joins the mesh', async () => {
    await page.goto(node.consoleUrl!)
    await page.getByLabel('Access key').fill(ACCESS_KEY)
    await page.getByLabel('Secret key').fill('not-the-secret-key')
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByRole('alert').filter({ hasText: 'Wrong access key or secret key.' }).waitFor()
    await page.screenshot({ path: new URL('login-error-desktop.png', SHOTS).pathname })

    await page.getByLabel('Secret key').fill(SECRET_KEY)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByRole('heading', { name: 'Buckets' }).waitFor()
    assert.match(await page.locator('#connection').textContent() ?? '', /member of the mesh/)
    assert.equal(await page.getByRole('alert').isHidden(), true, 'the error is gone')
  })

  it('creates, lists and deletes buckets; explains bad names and refuses to delete a bucket with objects', async () => {
    await page.getByLabel('New bucket').fill('Bad_Name')
    await page.getByRole('button', { name: 'Create' }).click()
    await page.getByRole('alert').filter({ hasText: 'not a valid bucket name' }).waitFor()

    await page.getByLabel('New bucket').fill('photos')
    await page.getByRole('button', { name: 'Create' }).click()
    await page.getByRole('list', { name: 'Buckets' }).getByText('photos').waitFor()
    await page.screenshot({ path: new URL('buckets-desktop.png', SHOTS).pathname })
    await page.setViewportSize({ width: 390, height: 844 })
    await page.screenshot({ path: new URL('buckets-phone.png', SHOTS).pathname })
    await page.setViewportSize({ width: 1280, height: 800 })

    // The bucket is the cluster's: the node lists it too; an object in it blocks the delete.
    const sign = new AwsClient({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, service: 's3', region: 'us-east-1' })
    assert.match(await (await sign.fetch(`${node.url}/`)).text(), /<Name>photos<\/Name>/)
    assert.equal((await sign.fetch(`${node.url}/photos/cat.txt`, { method: 'PUT', body: 'meow' })).status, 200)
    await page.getByRole('button', { name: 'Delete bucket photos' }).click()
    await page.getByRole('alert').filter({ hasText: 'The bucket is not empty' }).waitFor()

    assert.equal((await sign.fetch(`${node.url}/photos/cat.txt`, { method: 'DELETE' })).status, 204)
    await page.getByRole('button', { name: 'Delete bucket photos' }).click()
    await page.getByRole('list', { name: 'Buckets' }).getByText('photos').waitFor({ state: 'detached' })
  })

  it('browses a bucket with folders and a breadcrumb, uploads dropped files with progress, downloads and deletes', async () => {
    const sign = new AwsClient({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, service: 's3', region: 'us-east-1' })
    await page.getByLabel('New bucket').fill('album')
    await page.getByRole('button', { name: 'Create' }).click()
    await page.getByRole('list', { name: 'Buckets' }).getByRole('button', { name: 'album', exact: true }).click()
    await page.getByRole('heading', { name: 'Objects' }).waitFor()

    // Two files dropped at once.
    await page.evaluate(() => {
      const data = new DataTransfer()
      data.items.add(new File(['first file'], 'one.txt', { type: 'text/plain' }))
      data.items.add(new File([new Uint8Array(3 * 1024 * 1024)], 'two.bin'))
      // Large enough to go up in parts (8 MiB each).
      data.items.add(new File([new Uint8Array(20 * 1024 * 1024).fill(7)], 'big.bin'))
      document.getElementById('drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }))
    })
    await page.locator('#uploads li[data-done="true"]').nth(2).waitFor({ timeout: 60_000 })
    const big = await sign.fetch(`${node.url}/album/big.bin`, { method: 'HEAD' })
    assert.equal(big.headers.get('content-length'), String(20 * 1024 * 1024))
    assert.match(big.headers.get('etag') ?? '', /-3"$/, 'uploaded as a three-part multipart upload')
    for (const bar of await page.locator('#uploads progress').all()) assert.equal(await bar.evaluate(b => (b as HTMLProgressElement).value), 1)
    await page.getByRole('list', { name: 'Objects' }).getByText('two.bin (3145728 bytes)').waitFor()
    assert.equal(await (await sign.fetch(`${node.url}/album/one.txt`)).text(), 'first file', 'the node has the upload')
    await page.screenshot({ path: new URL('objects-desktop.png', SHOTS).pathname })

    // A folder made elsewhere, opened, then left through the breadcrumb.
    assert.equal((await sign.fetch(`${node.url}/album/docs/readme.txt`, { method: 'PUT', body: 'read me' })).status, 200)
    await page.getByRole('button', { name: 'Open bucket album' }).click()
    await page.getByRole('button', { name: 'Open folder docs/' }).click()
    await page.getByRole('list', { name: 'Objects' }).getByText('readme.txt (7 bytes)').waitFor()
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download readme.txt' }).click()])
    assert.equal(download.suggestedFilename(), 'readme.txt')
    await page.getByRole('button', { name: 'Delete readme.txt' }).click()
    await page.getByRole('list', { name: 'Objects' }).getByText('readme.txt').waitFor({ state: 'detached' })
    assert.equal((await sign.fetch(`${node.url}/album/docs/readme.txt`)).status, 404, 'deleted in the mesh')
    await page.getByRole('button', { name: 'Open bucket album' }).click()
    await page.getByRole('list', { name: 'Objects' }).getByText('one.txt (10 bytes)').waitFor()
  })

  it('shows an object\'s details and holders, and shares it by a link a fresh browser opens', async () => {
    await page.getByRole('button', { name: 'Details of one.txt' }).click()
    const details = page.locator('#details-list')
    await details.getByText('10 bytes').waitFor()
    assert.match(await details.textContent() ?? '', /text\/plain/)
    assert.match(await details.textContent() ?? '', /Held by.*\(alive\)/, 'which members hold it')
    await page.getByLabel('Link valid for').selectOption({ label: '7 days' })
    await page.getByRole('button', { name: 'Share' }).click()
    await page.waitForFunction(() => (document.getElementById('share-link') as HTMLInputElement).value !== '')
    const link = await page.getByLabel('Share link').inputValue()
    assert.match(link, /X-Amz-Expires=604800/)
    await page.screenshot({ path: new URL('details-desktop.png', SHOTS).pathname })
    // A fresh context: no service worker, no credentials, only the link.
    const fresh = await browser.newContext()
    const res = await fresh.request.get(link)
    assert.equal(res.status(), 200)
    assert.equal(await res.text(), 'first file')
    await fresh.close()
  })

  it('shows the mesh live: members with role and state (this tab marked), its connections, a feed of announcements', async () => {
    const rows = page.locator('#member-rows tr')
    await page.locator('#member-rows tr.self').filter({ hasText: '(this tab)' }).waitFor()
    assert.match(await rows.filter({ hasText: 'durable' }).first().textContent() ?? '', /alive/)
    assert.match(await page.locator('#tab-connections').textContent() ?? '', /1 Node node over WebSockets/)
    await page.locator('#feed li').filter({ hasText: 'put album/one.txt' }).first().waitFor()
    // A node joins: the view shows it without a reload.
    others.push(await startServerProcess({ env, args: ['--membership', 'local', '--join', node.meshAddress!] }))
    await page.waitForFunction(() => [...document.querySelectorAll('#member-rows tr')].filter(r => r.textContent?.includes('durable') && r.textContent.includes('alive')).length === 2, undefined, { timeout: 20_000 })
    assert.equal(await page.locator('#mesh-graph circle').count(), 3)
    await page.getByRole('heading', { name: 'Mesh', exact: true }).scrollIntoViewIfNeeded()
    await page.screenshot({ path: new URL('mesh-desktop.png', SHOTS).pathname })
    await page.setViewportSize({ width: 390, height: 844 })
    await page.screenshot({ path: new URL('mesh-phone.png', SHOTS).pathname })
  })
})
