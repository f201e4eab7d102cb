/**
 * The console (demo/, built into the package) in a real Chromium against a
 * real `s3mesh server`: log in (a wrong secret is refused in plain words),
 * the tab joins the mesh, buckets are created (S3's naming rules explained
 * on error), listed and deleted (refused while not empty); objects browsed,
 * searched, sorted, uploaded, shared; the mesh shown live; all of it again by
 * keyboard alone; and `npm run dev` serving it with hot reload. Screenshots of
 * every main screen at desktop and phone width go to test-output/console/
 * (not committed).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../helpers/chromium.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { signer } from '../helpers/s3-client.js'
import { until } from '../helpers/until.js'

const SHOTS = new URL('../../test-output/console/', import.meta.url)
/** The console's stylesheet, which the hot-reload test edits (and restores). */
const STYLE = new URL('../../demo/style.css', import.meta.url)
const DESKTOP = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 844 }

/** The screen as it is, at desktop width and at phone width (full page), into test-output/console/<name>-{desktop,phone}.png. */
async function shoot (page: Page, name: string): Promise<void> {
  await page.screenshot({ path: new URL(`${name}-desktop.png`, SHOTS).pathname, fullPage: true })
  await page.setViewportSize(PHONE)
  await page.screenshot({ path: new URL(`${name}-phone.png`, SHOTS).pathname, fullPage: true })
  await page.setViewportSize(DESKTOP)
}

/** Presses Tab until the control named `name` has the focus (fails if it never comes), and checks the focus is visible. */
async function tabTo (page: Page, name: string | RegExp): Promise<void> {
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab')
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement & { labels?: NodeListOf<HTMLLabelElement> }
      if (el === null || el === document.body) return undefined
      const outline = getComputedStyle(el).outlineStyle
      return { name: (el.getAttribute('aria-label') ?? el.labels?.[0]?.textContent ?? el.textContent ?? '').replace(/\s+/g, ' ').trim(), outline }
    })
    if (focused === undefined) continue
    if (typeof name === 'string' ? focused.name === name || focused.name.startsWith(`${name} `) : name.test(focused.name)) {
      assert.notEqual(focused.outline, 'none', `the focus on ${focused.name} is visible`)
      return
    }
  }
  assert.fail(`Tab never reached ${String(name)}`)
}

describe('the console', () => {
  let node: ServerProcess
  let browser: Browser
  let page: Page
  const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
  const others: ServerProcess[] = []
  before(async () => {
    node = await startServerProcess({ env, args: ['--membership', 'local'] })
    browser = await launchChromium()
    page = await (await browser.newContext({ viewport: DESKTOP })).newPage()
    page.on('dialog', d => { void d.accept() })
    await mkdir(SHOTS, { recursive: true })
  })
  after(async () => { await browser?.close(); for (const n of [node, ...others]) await n?.stop().catch(() => {}) })

  it('refuses a wrong secret in plain words, then logs in and joins the mesh', async () => {
    await page.goto(node.consoleUrl!)
    await page.getByLabel('Access key').fill(ACCESS_KEY)
    await page.getByLabel('Secret key').fill('not-the-secret-key')
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByRole('alert').filter({ hasText: 'Wrong access key or secret key.' }).waitFor()
    await shoot(page, 'login')

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
    await shoot(page, 'buckets')

    // The bucket is the cluster's: the node lists it too; an object in it blocks the delete.
    const sign = signer()
    assert.match(await (await sign.fetch(`${node.url}/`)).text(), /<Name>photos<\/Name>/)
    assert.equal((await sign.fetch(`${node.url}/photos/cat.txt`, { method: 'PUT', body: 'meow' })).status, 200)
    await page.getByRole('button', { name: 'Delete bucket photos' }).click()
    await page.getByRole('alert').filter({ hasText: 'The bucket is not empty' }).waitFor()

    assert.equal((await sign.fetch(`${node.url}/photos/cat.txt`, { method: 'DELETE' })).status, 204)
    await page.getByRole('button', { name: 'Delete bucket photos' }).click()
    await page.getByRole('list', { name: 'Buckets' }).getByText('photos').waitFor({ state: 'detached' })
  })

  it('browses a bucket with folders and a breadcrumb, uploads dropped files with progress, downloads and deletes', async () => {
    const sign = signer()
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
    await page.getByRole('list', { name: 'Objects' }).getByText('two.bin (3.0 MiB)').waitFor()
    assert.equal(await (await sign.fetch(`${node.url}/album/one.txt`)).text(), 'first file', 'the node has the upload')
    await shoot(page, 'objects')

    // Sorted as chosen; searched by prefix (folders too).
    const listed = async (names: string): Promise<void> => {
      await page.waitForFunction(names => [...document.querySelectorAll('#object-list li')].map(li => li.textContent?.split(' ')[0]).join() === names, names)
    }
    await page.getByLabel('Sort by').selectOption({ label: 'Size (largest first)' })
    await listed('big.bin,two.bin,one.txt')
    await page.getByLabel('Sort by').selectOption({ label: 'Name (Z to A)' })
    await listed('two.bin,one.txt,big.bin')
    await page.getByLabel('Search by prefix').fill('t')
    await listed('two.bin')
    await page.getByLabel('Search by prefix').fill('nothing-like-this')
    await page.getByRole('status').filter({ hasText: 'Nothing starts with "nothing-like-this".' }).waitFor()
    await page.getByLabel('Search by prefix').fill('')
    await page.getByLabel('Sort by').selectOption({ label: 'Name (A to Z)' })
    await listed('big.bin,one.txt,two.bin')

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
    await shoot(page, 'details')
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
    await shoot(page, 'mesh')
    // It leaves (SIGTERM: a graceful leave): the view says so without a reload.
    await others.pop()!.stop()
    await page.waitForFunction(() => [...document.querySelectorAll('#member-rows tr')].filter(r => r.textContent?.includes('durable') && r.textContent.includes('alive')).length === 1, undefined, { timeout: 20_000 })
    await page.waitForFunction(() => document.getElementById('connection')?.textContent?.includes('(2 members alive)'))
  })

  it('lists a bucket of more than one page (S3 answers 1000 keys at a time) and narrows it by a search', async () => {
    const sign = signer()
    assert.equal((await sign.fetch(`${node.url}/many`, { method: 'PUT' })).status, 200)
    const keys = Array.from({ length: 1010 }, (_, i) => `k${String(i).padStart(4, '0')}`)
    for (let i = 0; i < keys.length; i += 25) {
      await Promise.all(keys.slice(i, i + 25).map(async k => { assert.equal((await sign.fetch(`${node.url}/many/${k}`, { method: 'PUT', body: k })).status, 200) }))
    }
    // Made elsewhere: the bucket list follows the mesh's catalog without a reload.
    await page.getByRole('list', { name: 'Buckets' }).getByRole('button', { name: 'many', exact: true }).click()
    await page.waitForFunction(() => document.querySelectorAll('#object-list li').length === 1010, undefined, { timeout: 30_000 })
    await page.getByLabel('Search by prefix').fill('k100')
    await page.waitForFunction(() => document.querySelectorAll('#object-list li').length === 10)
  })

  it('can be used by keyboard alone: log in, create a bucket, upload, share, delete, log out', async () => {
    const context = await browser.newContext({ viewport: DESKTOP })
    const kb = await context.newPage()
    kb.on('dialog', d => { void d.accept() })
    await kb.goto(node.consoleUrl!)
    await tabTo(kb, 'Access key')
    await kb.keyboard.type(ACCESS_KEY)
    await tabTo(kb, 'Secret key')
    await kb.keyboard.type(SECRET_KEY)
    await kb.keyboard.press('Enter')
    await kb.getByRole('heading', { name: 'Buckets' }).waitFor()

    await tabTo(kb, 'New bucket')
    await kb.keyboard.type('keyboard')
    await kb.keyboard.press('Enter')
    await kb.getByRole('list', { name: 'Buckets' }).getByRole('button', { name: 'keyboard', exact: true }).waitFor()
    await tabTo(kb, 'keyboard')
    await kb.keyboard.press('Enter')
    await kb.getByRole('heading', { name: 'Objects' }).waitFor()

    await tabTo(kb, 'Upload files')
    const [chooser] = await Promise.all([kb.waitForEvent('filechooser'), kb.keyboard.press('Space')])
    await chooser.setFiles({ name: 'typed.txt', mimeType: 'text/plain', buffer: Buffer.from('typed, not clicked') })
    await kb.getByRole('list', { name: 'Objects' }).getByText('typed.txt').waitFor()

    await tabTo(kb, 'Details of typed.txt')
    await kb.keyboard.press('Enter')
    await kb.locator('#details-list').getByText('18 bytes').waitFor()
    await tabTo(kb, 'Link valid for')
    await kb.keyboard.press('ArrowDown')
    await tabTo(kb, 'Share')
    await kb.keyboard.press('Enter')
    await kb.waitForFunction(() => (document.getElementById('share-link') as HTMLInputElement).value !== '')
    assert.match(await kb.getByLabel('Share link').inputValue(), /X-Amz-Expires=86400/, 'the expiry chosen by arrow key')

    await tabTo(kb, 'Delete typed.txt')
    await kb.keyboard.press('Enter')
    await kb.getByRole('list', { name: 'Objects' }).getByText('typed.txt').waitFor({ state: 'detached' })
    await tabTo(kb, 'Log out')
    await kb.keyboard.press('Enter')
    await kb.getByRole('heading', { name: 'Log in' }).waitFor()
    await context.close()
  })

  it('says in plain words when no member that holds an object can be reached', async () => {
    // k0001 was written on the node and only listed here: this tab does not hold its bytes.
    await page.getByRole('list', { name: 'Buckets' }).getByRole('button', { name: 'many', exact: true }).click()
    await page.getByLabel('Search by prefix').fill('k0001')
    await page.getByRole('button', { name: 'Download k0001' }).waitFor()
    await node.stop()
    await page.getByRole('button', { name: 'Download k0001' }).click()
    await page.getByRole('alert').filter({ hasText: 'The mesh cannot be reached right now' }).waitFor({ timeout: 5_000 }).catch(async (err: unknown) => { throw new Error(`alert: ${await page.locator('#error').textContent()}`, { cause: err }) })
    await shoot(page, 'offline')
  })
})

describe('npm run dev', () => {
  it('serves the console from source with hot reload, against a local node', async () => {
    const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
    const node = await startServerProcess({ env, args: ['--membership', 'local'] })
    const dev = spawn('npm', ['run', 'dev'], { cwd: new URL('../..', import.meta.url).pathname, env: { ...process.env, S3MESH_CONSOLE: node.consoleUrl, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let out = ''
    dev.stdout.on('data', (b: Buffer) => { out += b.toString() })
    dev.stderr.on('data', (b: Buffer) => { out += b.toString() })
    const browser = await launchChromium()
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error(`npm run dev printed no URL: ${out}`)) }, 60_000)
        dev.stdout.on('data', () => {
          const found = /hot reload.*: (http:\/\/\S+)/.exec(out)?.[1]
          if (found !== undefined) { clearTimeout(timer); resolve(found) }
        })
      })
      const page = await browser.newPage()
      const connected = page.waitForEvent('console', { predicate: m => m.text().includes('[vite] connected'), timeout: 30_000 })
      await page.goto(url)
      await connected
      await page.getByLabel('Access key').fill(ACCESS_KEY)
      await page.getByLabel('Secret key').fill(SECRET_KEY)
      await page.getByRole('button', { name: 'Log in' }).click()
      await page.getByRole('heading', { name: 'Buckets' }).waitFor()
      await page.getByLabel('New bucket').fill('from-dev')
      await page.getByRole('button', { name: 'Create' }).click()
      await page.getByRole('list', { name: 'Buckets' }).getByText('from-dev').waitFor()
      const sign = signer()
      assert.match(await (await sign.fetch(`${node.url}/`)).text(), /<Name>from-dev<\/Name>/, 'the page reached the node through the dev server')

      // Hot reload: an edit to the console's stylesheet shows in the open page, which keeps its state (no reload).
      await page.evaluate(() => { (globalThis as { beforeEdit?: boolean }).beforeEdit = true })
      const probe = async (): Promise<string> => await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--dev-edit').trim())
      assert.equal(await probe(), '', 'precondition: the stylesheet does not have the edit yet')
      const original = await readFile(STYLE, 'utf8')
      try {
        await writeFile(STYLE, `${original}\n:root { --dev-edit: seen; }\n`)
        await until('the edit shows in the open page', async () => await probe() === 'seen', 15_000)
      } finally {
        await writeFile(STYLE, original)
      }
      assert.equal(await page.evaluate(() => (globalThis as { beforeEdit?: boolean }).beforeEdit), true, 'the page was updated in place, not reloaded')
      await page.getByRole('list', { name: 'Buckets' }).getByText('from-dev').waitFor()
    } finally {
      await browser.close()
      process.kill(-dev.pid!, 'SIGTERM')
      await node.stop()
    }
  })
})
