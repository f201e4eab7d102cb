/**
 * The console (demo/, built into the package) in a real Chromium against a
 * real `s3mesh server`: log in (a wrong secret is refused in plain words),
 * the tab joins the mesh; routed views (reload, back and forward keep the
 * place); buckets in a table, created (S3's naming rules explained on error)
 * and deleted with all their objects once the name is typed; objects
 * browsed, sorted, searched, uploaded (a queue with progress), previewed
 * (an image at its natural size, a video that seeks with Range requests),
 * shared, deleted one at a time and fifty at once; the mesh as a graph with
 * a labelled node per member that follows joins and leaves; monitoring
 * charts that move under load; all of it again by keyboard alone; axe-core
 * finds no serious accessibility violation on any view in either theme;
 * the console's own JavaScript within its budget and its first view quick;
 * and `npm run dev` serving it with hot reload. Screenshots of every view
 * at desktop and phone width in light and dark go to test-output/console/
 * (not committed).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
import { gzipSync } from 'node:zlib'
import { after, before, describe, it } from 'node:test'
import type { Browser, FileChooser, Page } from 'playwright-core'
import { launchChromium } from '../helpers/chromium.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { signer } from '../helpers/s3-client.js'
import { until } from '../helpers/until.js'

const SHOTS = new URL('../../test-output/console/', import.meta.url)
/** The console's stylesheet, which the hot-reload test edits (and restores). */
const STYLE = new URL('../../demo/style.css', import.meta.url)
const BUILT = new URL('../../dist/console/assets/', import.meta.url)
/** A 4 s VP8 WebM with a keyframe every second (made with ffmpeg; see test/fixtures/README.md). */
const CLIP = new URL('../fixtures/clip.webm', import.meta.url)
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js')
const DESKTOP = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 844 }
/** The issue's budgets: the console's own JavaScript (beside the mesh library), gzipped; its first view, interactive. */
const CONSOLE_JS_BUDGET = 150 * 1024
const FIRST_VIEW_BUDGET_MS = 1500

/** Switches the colour scheme with Pico's colour transitions off, so that what is measured or shot is the final colours, not a frame of the fade. */
async function scheme (page: Page, colorScheme: 'light' | 'dark'): Promise<void> {
  if (await page.evaluate(() => document.getElementById('no-transitions') === null)) {
    await page.addStyleTag({ content: '*, *::before, *::after { transition: none !important; animation: none !important; }' }).then(async h => { await h.evaluate(e => { (e as Element).id = 'no-transitions' }) })
  }
  await page.emulateMedia({ colorScheme })
}

/** The screen as it is, at desktop and phone width (full page), light and dark, into test-output/console/<name>-<width>-<scheme>.png. */
async function shoot (page: Page, name: string): Promise<void> {
  for (const colors of ['light', 'dark'] as const) {
    await scheme(page, colors)
    await page.screenshot({ path: new URL(`${name}-desktop-${colors}.png`, SHOTS).pathname, fullPage: true })
    await page.setViewportSize(PHONE)
    await page.screenshot({ path: new URL(`${name}-phone-${colors}.png`, SHOTS).pathname, fullPage: true })
    await page.setViewportSize(DESKTOP)
  }
  await scheme(page, 'light')
}

/** axe-core on the page as it is, in both colour schemes: no serious or critical violation. */
async function accessible (page: Page, view: string): Promise<void> {
  if (await page.evaluate(() => !('axe' in window))) await page.addScriptTag({ path: AXE })
  for (const colors of ['light', 'dark'] as const) {
    await scheme(page, colors)
    const violations = await page.evaluate(async () => {
      const r = await (window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<{ violations: Array<{ id: string, impact: string, help: string, nodes: Array<{ target: string[], any: Array<{ message: string }> }> }> }> } }).axe.run(document, { resultTypes: ['violations'] })
      return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map(n => `${n.target.join(' ')} (${n.any[0]?.message ?? ''})`).join('; ')}`)
    })
    assert.deepEqual(violations, [], `axe-core on ${view} (${colors})`)
  }
  await scheme(page, 'light')
}

/** Presses Tab until the control named `name` has the focus (fails if it never comes), and checks the focus is visible. */
async function tabTo (page: Page, name: string | RegExp): Promise<void> {
  const seen: string[] = []
  for (let i = 0; i < 100; i++) {
    await page.keyboard.press('Tab')
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement & { labels?: NodeListOf<HTMLLabelElement> }
      if (el === null || el === document.body) return undefined
      const outline = getComputedStyle(el).outlineStyle
      return { name: (el.getAttribute('aria-label') ?? el.labels?.[0]?.textContent ?? el.textContent ?? '').replace(/\s+/g, ' ').trim(), outline }
    })
    if (focused === undefined) { seen.push('(body)'); continue }
    seen.push(focused.name)
    if (typeof name === 'string' ? focused.name === name || focused.name.startsWith(`${name} `) : name.test(focused.name)) {
      assert.notEqual(focused.outline, 'none', `the focus on ${focused.name} is visible`)
      return
    }
  }
  assert.fail(`Tab never reached ${String(name)}; it went through ${[...new Set(seen)].join(' | ')}`)
}

const rowNames = async (page: Page): Promise<string> => await page.evaluate(() => [...document.querySelectorAll('table[aria-label="Objects"] tbody tr[data-key]')].map(r => r.querySelector('a.name span')?.textContent).join())

describe('the console', () => {
  let node: ServerProcess
  let browser: Browser
  let page: Page
  const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
  const others: ServerProcess[] = []
  const sign = signer()
  before(async () => {
    node = await startServerProcess({ env, args: ['--membership', 'local'] })
    browser = await launchChromium()
    page = await (await browser.newContext({ viewport: DESKTOP })).newPage()
    page.on('dialog', d => { void d.accept() })
    // What the page logs of failed requests it tried again, and errors it met, kept for a failure's message.
    page.on('console', m => { if (m.type() === 'error' || m.type() === 'warning') pageLog.push(`${m.type()}: ${m.text()}`) })
    page.on('pageerror', e => { pageLog.push(`page error: ${e.stack ?? e.message}`) })
    await mkdir(SHOTS, { recursive: true })
  })
  after(async () => { await browser?.close(); for (const n of [node, ...others]) await n?.stop().catch(() => {}) })
  const pageLog: string[] = []

  it('keeps its own JavaScript within 150 KB gzipped, beside the mesh library', async () => {
    const files = (await readdir(BUILT)).filter(f => f.endsWith('.js'))
    const mesh = files.filter(f => f.startsWith('mesh-'))
    const own = files.filter(f => !f.startsWith('mesh-'))
    assert.equal(mesh.length, 1, 'the mesh library is a chunk of its own')
    assert.ok(own.length >= 1)
    let gz = 0
    for (const f of own) gz += gzipSync(await readFile(new URL(f, BUILT))).byteLength
    await writeFile(new URL('budget.json', SHOTS), JSON.stringify({ consoleJsGzipBytes: gz, files: own }, null, 2))
    assert.ok(gz <= CONSOLE_JS_BUDGET, `the console's own JavaScript is ${Math.round(gz / 1024)} KB gzipped`)
  })

  it('refuses a wrong secret in plain words, then logs in and joins the mesh; its first view is interactive within 1.5 s', async () => {
    const served = await page.goto(node.consoleUrl!)
    // Another site may not frame it (clickjacking: it acts with the keys signed in).
    assert.equal(served?.headers()['x-frame-options'], 'DENY')
    assert.equal(served?.headers()['content-security-policy'], 'frame-ancestors \'none\'')
    await page.getByLabel('Access key').waitFor()
    const interactiveMs = await page.evaluate(() => performance.getEntriesByName('console-interactive')[0]?.startTime ?? NaN)
    await writeFile(new URL('first-view.json', SHOTS), JSON.stringify({ interactiveMs }, null, 2))
    assert.ok(interactiveMs <= FIRST_VIEW_BUDGET_MS, `first view interactive after ${interactiveMs} ms`)
    await page.getByLabel('Access key').fill(ACCESS_KEY)
    await page.getByLabel('Secret key').fill('not-the-secret-key')
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByRole('alert').filter({ hasText: 'Wrong access key or secret key.' }).waitFor()
    await shoot(page, 'login')
    await accessible(page, 'the login')

    await page.getByLabel('Secret key').fill(SECRET_KEY)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByRole('heading', { name: 'Buckets' }).waitFor()
    assert.match(await page.locator('#connection').textContent() ?? '', /guest of the mesh/)
    assert.equal(await page.getByRole('alert').isHidden(), true, 'the error is gone')
    assert.equal(await page.getByRole('link', { name: 'Buckets' }).getAttribute('aria-current'), 'page', 'the navigation shows where the person is')
    await page.getByText('No buckets yet').waitFor()
  })

  it('creates buckets (explaining bad names), lists them in a table, and deletes one with its objects only once its name is typed', async () => {
    await page.getByLabel('New bucket').fill('Bad_Name')
    await page.getByRole('button', { name: 'Create' }).click()
    await page.getByRole('alert').filter({ hasText: 'not a valid bucket name' }).waitFor()

    await page.getByLabel('New bucket').fill('photos')
    await page.getByRole('button', { name: 'Create' }).click()
    const table = page.getByRole('table', { name: 'Buckets' })
    await table.getByRole('link', { name: 'photos', exact: true }).waitFor()
    assert.match(await (await sign.fetch(`${node.url}/`)).text(), /<Name>photos<\/Name>/, 'the bucket is the cluster\'s')
    assert.equal((await sign.fetch(`${node.url}/photos/cat.txt`, { method: 'PUT', body: 'meow' })).status, 200)
    await page.reload()
    await until('the table counts the object the node wrote', async () => (await table.getByRole('row').filter({ hasText: 'photos' }).textContent() ?? '').includes('4 bytes'), 10_000)
    await shoot(page, 'buckets')
    await accessible(page, 'the buckets')

    // Its settings: CORS rules saved here are the node's.
    await page.getByRole('link', { name: 'Settings of bucket photos' }).click()
    await page.getByRole('heading', { name: 'Settings of photos' }).waitFor()
    await page.getByRole('button', { name: 'Insert an example' }).click()
    await page.getByRole('button', { name: 'Save CORS rules' }).click()
    await page.getByRole('status').filter({ hasText: 'CORS rules of photos saved.' }).waitFor()
    assert.match(await (await sign.fetch(`${node.url}/photos?cors`)).text(), /<AllowedOrigin>https:\/\/app\.example\.com<\/AllowedOrigin>/)
    await shoot(page, 'bucket-settings')
    await accessible(page, 'a bucket\'s settings')
    await page.getByRole('link', { name: 'Buckets', exact: true }).first().click()

    await page.getByRole('button', { name: 'Delete bucket photos' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByText('holds 1 object').waitFor()
    const confirm = dialog.getByRole('button', { name: 'Delete bucket and all objects' })
    assert.equal(await confirm.isDisabled(), true, 'not before the name is typed')
    await dialog.getByLabel(/Type photos/).fill('photo')
    assert.equal(await confirm.isDisabled(), true, 'not with the name mistyped')
    await dialog.getByLabel(/Type photos/).fill('photos')
    await confirm.click()
    await table.getByRole('link', { name: 'photos', exact: true }).waitFor({ state: 'detached' })
    assert.equal((await sign.fetch(`${node.url}/photos`, { method: 'HEAD' })).status, 404, 'gone from the node, objects and all')
  })

  it('browses a bucket by URL: folders, breadcrumb, sortable columns, search, uploads dropped into a queue with progress; reload, back and forward keep the place', async () => {
    await page.getByLabel('New bucket').fill('album')
    await page.getByRole('button', { name: 'Create' }).click()
    await page.getByRole('table', { name: 'Buckets' }).getByRole('link', { name: 'album', exact: true }).click()
    await page.getByRole('heading', { name: 'album' }).waitFor()
    assert.match(page.url(), /#\/browse\/album\/$/)
    await page.getByText('Nothing here yet').waitFor()

    await page.evaluate(() => {
      const data = new DataTransfer()
      data.items.add(new File(['first file'], 'one.txt', { type: 'text/plain' }))
      data.items.add(new File([new Uint8Array(3 * 1024 * 1024)], 'two.bin'))
      // Large enough to go up in parts (8 MiB each).
      data.items.add(new File([new Uint8Array(20 * 1024 * 1024).fill(7)], 'big.bin'))
      document.getElementById('drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }))
    })
    await page.getByRole('heading', { name: /Uploading \d files?/ }).waitFor()
    await page.locator('#uploads li[data-state="done"]').nth(2).waitFor({ timeout: 60_000 })
    await page.getByRole('heading', { name: 'Uploads done' }).waitFor()
    const big = await sign.fetch(`${node.url}/album/big.bin`, { method: 'HEAD' })
    assert.equal(big.headers.get('content-length'), String(20 * 1024 * 1024))
    assert.match(big.headers.get('etag') ?? '', /-3"$/, 'uploaded as a three-part multipart upload')
    for (const bar of await page.locator('#uploads progress').all()) assert.equal(await bar.evaluate(b => (b as HTMLProgressElement).value === (b as HTMLProgressElement).max), true)
    await page.getByRole('row').filter({ hasText: 'two.bin' }).getByText('3.0 MiB').waitFor()
    assert.equal(await (await sign.fetch(`${node.url}/album/one.txt`)).text(), 'first file', 'the node has the upload')
    await page.getByRole('button', { name: 'Clear' }).click()
    await shoot(page, 'objects')
    await accessible(page, 'the objects')

    const listed = async (names: string): Promise<void> => { await until(`rows ${names}`, async () => await rowNames(page) === names, 10_000) }
    await listed('big.bin,one.txt,two.bin')
    await page.getByRole('button', { name: 'Sort by size' }).click()
    await listed('big.bin,two.bin,one.txt')
    await page.getByRole('button', { name: 'Sort by name' }).click()
    await page.getByRole('button', { name: 'Sort by name' }).click()
    await listed('two.bin,one.txt,big.bin')
    await page.getByLabel('Search by prefix').fill('t')
    await listed('two.bin')
    await page.getByLabel('Search by prefix').fill('nothing-like-this')
    await page.getByRole('status').filter({ hasText: 'Nothing starts with "nothing-like-this".' }).waitFor()
    await page.getByLabel('Search by prefix').fill('')

    // A folder made elsewhere, opened; the place survives a reload and the history.
    assert.equal((await sign.fetch(`${node.url}/album/docs/readme.txt`, { method: 'PUT', body: 'read me' })).status, 200)
    await page.getByRole('link', { name: 'Open folder docs/' }).click()
    await page.getByRole('row').filter({ hasText: 'readme.txt' }).getByText('7 bytes').waitFor()
    assert.match(page.url(), /#\/browse\/album\/docs\/$/)
    await page.reload()
    await page.getByRole('row').filter({ hasText: 'readme.txt' }).waitFor()
    await page.goBack()
    await page.getByRole('row').filter({ hasText: 'one.txt' }).waitFor()
    await page.goForward()
    await page.getByRole('row').filter({ hasText: 'readme.txt' }).waitFor()
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download readme.txt' }).click()])
    assert.equal(download.suggestedFilename(), 'readme.txt')
    await page.getByRole('button', { name: 'Delete readme.txt' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click()
    await page.getByRole('row').filter({ hasText: 'readme.txt' }).waitFor({ state: 'detached' })
    assert.equal((await sign.fetch(`${node.url}/album/docs/readme.txt`)).status, 404, 'deleted in the mesh')
    await page.getByRole('link', { name: 'Open bucket album' }).click()
    await page.getByRole('row').filter({ hasText: 'one.txt' }).waitFor()
  })

  it('opens an object: details and holders, metadata and tags edited, a share link a fresh browser opens', async () => {
    await page.getByRole('link', { name: 'Details of one.txt' }).click()
    const panel = page.locator('#details')
    await panel.locator('#details-list').getByText('10 bytes').waitFor()
    assert.match(page.url(), /\?open=one\.txt$/, 'the open object is in the URL')
    assert.match(await panel.locator('#details-list').textContent() ?? '', /text\/plain/)
    assert.match(await panel.locator('#details-list').textContent() ?? '', /Held by.*\(alive\)/, 'which members hold it')
    await panel.locator('pre').getByText('first file').waitFor()

    await panel.getByRole('button', { name: 'Edit metadata' }).click()
    await panel.getByLabel('Metadata 1 name').fill('camera')
    await panel.getByLabel('Metadata 1 value').fill('pinhole')
    await panel.getByRole('button', { name: 'Save metadata' }).click()
    await panel.getByRole('region', { name: 'Metadata' }).getByText('pinhole').waitFor()
    assert.equal((await sign.fetch(`${node.url}/album/one.txt`, { method: 'HEAD' })).headers.get('x-amz-meta-camera'), 'pinhole')
    await panel.getByRole('button', { name: 'Edit tags' }).click()
    await panel.getByLabel('Tags 1 name').fill('project')
    await panel.getByLabel('Tags 1 value').fill('s3mesh')
    await panel.getByRole('button', { name: 'Save tags' }).click()
    await panel.getByRole('region', { name: 'Tags' }).getByText('s3mesh').waitFor()
    assert.match(await (await sign.fetch(`${node.url}/album/one.txt?tagging`)).text(), /<Key>project<\/Key><Value>s3mesh<\/Value>/)
    // The edits are announced and the list refreshes (throttled to a second): it still lists the bucket as it is,
    // not an earlier search's answer (a refresh planned before the search was cleared once listed nothing here).
    await new Promise(resolve => setTimeout(resolve, 1500))
    assert.equal((await rowNames(page)).split(',').sort().join(), 'big.bin,one.txt,two.bin', 'the list beside the panel')

    await page.getByLabel('Link valid for').selectOption({ label: '7 days' })
    await page.getByRole('button', { name: 'Share' }).click()
    await page.waitForFunction(() => (document.getElementById('share-link') as HTMLInputElement).value !== '')
    const link = await page.getByLabel('Share link').inputValue()
    assert.match(link, /X-Amz-Expires=604800/)
    await shoot(page, 'details')
    await accessible(page, 'an open object')
    // A fresh context: no service worker, no credentials, only the link.
    const fresh = await browser.newContext()
    const res = await fresh.request.get(link)
    assert.equal(res.status(), 200)
    assert.equal(await res.text(), 'first file')
    await fresh.close()
  })

  it('previews an image at its natural size and a video that seeks with Range requests', async () => {
    // A 64 x 48 PNG drawn in the page, dropped like a file.
    await page.evaluate(async () => {
      const canvas = document.createElement('canvas')
      canvas.width = 64
      canvas.height = 48
      const g = canvas.getContext('2d')!
      g.fillStyle = '#2f6feb'
      g.fillRect(0, 0, 64, 48)
      const blob = await new Promise<Blob>(resolve => { canvas.toBlob(b => { resolve(b!) }, 'image/png') })
      const data = new DataTransfer()
      data.items.add(new File([blob], 'square.png', { type: 'image/png' }))
      document.getElementById('drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }))
    })
    await page.getByRole('link', { name: 'Details of square.png' }).click()
    const img = page.locator('#details figure img')
    await img.waitFor()
    await page.waitForFunction(() => (document.querySelector('#details figure img') as HTMLImageElement | null)?.complete === true)
    assert.deepEqual(await img.evaluate(i => [(i as HTMLImageElement).naturalWidth, (i as HTMLImageElement).naturalHeight]), [64, 48], 'the preview shows the image itself')

    assert.equal((await sign.fetch(`${node.url}/album/clip.webm`, { method: 'PUT', body: await readFile(CLIP), headers: { 'content-type': 'video/webm' } })).status, 200)
    const ranges: string[] = []
    page.on('request', r => { const range = r.headers().range; if (r.url().includes('/clip.webm') && range !== undefined) ranges.push(range) })
    await page.getByRole('link', { name: 'Details of clip.webm' }).click()
    const video = page.locator('#details figure video')
    await video.waitFor()
    await page.waitForFunction(() => ((document.querySelector('#details figure video') as HTMLVideoElement | null)?.readyState ?? 0) >= 1, undefined, { timeout: 20_000 })
    const duration = await video.evaluate(v => (v as HTMLVideoElement).duration)
    assert.ok(duration > 3.5 && duration < 4.5, `the clip is 4 s long (${duration})`)
    const seeked = await video.evaluate(async v => await new Promise<number>(resolve => {
      const el = v as HTMLVideoElement
      el.addEventListener('seeked', () => { resolve(el.currentTime) }, { once: true })
      el.currentTime = 3
    }))
    assert.ok(Math.abs(seeked - 3) < 0.5, `seeked to ${seeked}`)
    assert.ok(ranges.length > 0, 'the video element asked for byte ranges')
    await shoot(page, 'preview')

    // Markdown is rendered, sanitised: no styles, forms, inputs, ids or handlers from somebody's text.
    const hostile = '# Title\n\n<style>*{display:none}</style><form action="https://example.com/steal"><input name="secret"></form><p id="share-link">x</p><img src="x" onerror="window.pwned=1">'
    assert.equal((await sign.fetch(`${node.url}/album/notes.md`, { method: 'PUT', body: hostile, headers: { 'content-type': 'text/markdown' } })).status, 200)
    await page.getByRole('link', { name: 'Details of notes.md' }).click()
    await page.locator('#details .markdown h1').filter({ hasText: 'Title' }).waitFor()
    assert.deepEqual(await page.evaluate(() => {
      const md = document.querySelector('#details .markdown')!
      return [md.querySelectorAll('style, form, input').length, md.querySelectorAll('[id], [onerror]').length, (window as { pwned?: number }).pwned ?? 0]
    }), [0, 0, 0])
    // A name ending in .pdf does not make HTML a framed page on the console's origin: shown as text.
    assert.equal((await sign.fetch(`${node.url}/album/fake.pdf`, { method: 'PUT', body: '<script>window.pwned=2</script>', headers: { 'content-type': 'text/html' } })).status, 200)
    await page.getByRole('link', { name: 'Details of fake.pdf' }).click()
    await page.locator('#details pre').filter({ hasText: '<script>' }).waitFor()
    assert.equal(await page.locator('#details iframe').count(), 0)
    assert.equal(await page.evaluate(() => (window as { pwned?: number }).pwned ?? 0), 0)
  })

  it('selects fifty objects and deletes them at once', async () => {
    assert.equal((await sign.fetch(`${node.url}/bulk`, { method: 'PUT' })).status, 200)
    for (let i = 0; i < 50; i += 10) {
      await Promise.all(Array.from({ length: 10 }, async (_, j) => {
        assert.equal((await sign.fetch(`${node.url}/bulk/item-${String(i + j).padStart(2, '0')}`, { method: 'PUT', body: 'x' })).status, 200)
      }))
    }
    assert.equal((await sign.fetch(`${node.url}/bulk/keep/me.txt`, { method: 'PUT', body: 'stay' })).status, 200)
    await page.goto(`${node.consoleUrl!}/#/browse/bulk/`)
    await until('fifty rows', async () => await page.locator('tr[data-key]').count() === 50, 20_000)
    await page.getByLabel('Select all').check()
    await page.getByText('50 selected').waitFor()
    await shoot(page, 'bulk')
    await page.getByRole('button', { name: 'Delete selected' }).click()
    await page.getByRole('dialog', { name: 'Delete 50 objects?' }).getByRole('button', { name: 'Delete' }).click()
    await until('no rows', async () => await page.locator('tr[data-key]').count() === 0, 20_000)
    const left = await (await sign.fetch(`${node.url}/bulk?list-type=2`)).text()
    assert.doesNotMatch(left, /item-/, 'every selected object is gone from the node')
    assert.match(left, /<Key>keep\/me.txt<\/Key>/, 'what was not selected stays')
  })

  it('keeps versions: turned on in a bucket\'s settings, an old version restored from the object\'s panel, a deleted object recovered', async () => {
    assert.equal((await sign.fetch(`${node.url}/history`, { method: 'PUT' })).status, 200)
    await page.goto(`${node.consoleUrl!}/#/buckets/history/settings`)
    await page.getByRole('heading', { name: 'Settings of history' }).waitFor()
    await page.locator('#versioning-status').getByText('Off').waitFor()
    await page.getByRole('button', { name: 'Turn versioning on' }).click()
    await page.getByRole('status').filter({ hasText: 'history keeps every version now.' }).waitFor()
    assert.match(await (await sign.fetch(`${node.url}/history?versioning`)).text(), /<Status>Enabled<\/Status>/, 'the node keeps versions of the bucket')
    await shoot(page, 'bucket-versioning')
    await accessible(page, 'a bucket\'s versioning')

    // Three versions of one key, written on the node; the oldest restored in the console.
    for (const body of ['draft one', 'draft two', 'final']) assert.equal((await sign.fetch(`${node.url}/history/notes.txt`, { method: 'PUT', body })).status, 200)
    await page.goto(`${node.consoleUrl!}/#/browse/history/?open=notes.txt`)
    const versions = page.getByRole('table', { name: 'Versions of notes.txt' })
    await until('three versions listed', async () => await versions.locator('tbody tr').count() === 3, 10_000)
    const rows = versions.locator('tbody tr')
    assert.match(await rows.nth(0).textContent() ?? '', /current/)
    assert.equal(await rows.nth(2).locator('td.num').textContent(), '9 bytes', 'the oldest, draft one, last')
    await shoot(page, 'object-versions')
    await accessible(page, 'an object\'s versions')
    const [download] = await Promise.all([page.waitForEvent('download'), rows.nth(2).getByRole('button', { name: /^Download version 1 / }).click()])
    assert.equal(await readFile(await download.path(), 'utf8'), 'draft one', 'an old version downloads as it was')
    await rows.nth(2).getByRole('button', { name: /^Restore version 1 / }).click()
    await page.getByRole('status').filter({ hasText: /^Restored version 1 / }).waitFor()
    assert.equal(await (await sign.fetch(`${node.url}/history/notes.txt`)).text(), 'draft one', 'the restored version is current on the node')
    await until('four versions listed, the restored one current', async () => await versions.locator('tbody tr').count() === 4 && (await rows.nth(0).locator('td.num').textContent()) === '9 bytes', 10_000)
    // One deleted for good: the node lists it no more.
    const middle = await rows.nth(2).getAttribute('data-version')
    await rows.nth(2).getByRole('button', { name: /for good$/ }).click()
    await until('three versions again', async () => await versions.locator('tbody tr').count() === 3, 10_000)
    assert.doesNotMatch(await (await sign.fetch(`${node.url}/history?versions`)).text(), new RegExp(`<VersionId>${middle!}</VersionId>`), 'the version is gone from the node')

    // Deleted from the list, then recovered under "Show deleted".
    await page.getByRole('button', { name: 'Close the object panel' }).click()
    await page.getByRole('button', { name: 'Delete notes.txt' }).click()
    const dialog = page.getByRole('dialog', { name: 'Delete notes.txt?' })
    await dialog.getByText('every version is kept').waitFor()
    await dialog.getByRole('button', { name: 'Delete' }).click()
    await page.getByRole('row').filter({ hasText: 'notes.txt' }).waitFor({ state: 'detached' })
    assert.equal((await sign.fetch(`${node.url}/history/notes.txt`, { method: 'HEAD' })).headers.get('x-amz-delete-marker'), 'true', 'a delete marker on the node')
    await page.getByRole('switch', { name: 'Show deleted' }).check()
    const deleted = page.getByRole('table', { name: 'Deleted objects' })
    await deleted.getByRole('row').filter({ hasText: 'notes.txt' }).waitFor()
    await shoot(page, 'objects-deleted')
    await accessible(page, 'the deleted objects')
    await deleted.getByRole('button', { name: 'Recover notes.txt' }).click()
    await page.getByRole('status').filter({ hasText: 'Recovered notes.txt.' }).waitFor()
    await page.getByRole('table', { name: 'Objects' }).getByRole('row').filter({ hasText: 'notes.txt' }).waitFor()
    assert.equal(await (await sign.fetch(`${node.url}/history/notes.txt`)).text(), 'draft one', 'the newest version is back on the node')
    await page.getByText('Nothing deleted here').waitFor()
  })

  it('keeps versions under object lock: a bucket created with it, a default retention in its settings, a legal hold and a retention set in the object\'s panel, a delete of the version refused', async () => {
    await page.goto(`${node.consoleUrl!}/#/buckets`)
    await page.getByLabel('New bucket').fill('vault')
    await page.getByRole('switch', { name: 'Object lock' }).check()
    await page.getByRole('button', { name: 'Create' }).click()
    await page.getByRole('status').filter({ hasText: 'Bucket vault created.' }).waitFor()
    assert.match(await (await sign.fetch(`${node.url}/vault?object-lock`)).text(), /<ObjectLockEnabled>Enabled<\/ObjectLockEnabled>/, 'the node made it with object lock')
    await page.goto(`${node.consoleUrl!}/#/buckets/vault/settings`)
    await page.locator('#lock-status').getByText('On').waitFor()
    await page.locator('#versioning-status').getByText('On').waitFor()
    assert.equal(await page.getByRole('button', { name: 'Suspend versioning' }).count(), 0, 'object lock keeps versioning on')
    const defaults = page.getByRole('form', { name: 'Default retention' })
    await defaults.getByLabel('Default retention').selectOption('GOVERNANCE')
    await defaults.getByLabel('Keep each version for').fill('7')
    await defaults.getByRole('button', { name: 'Save default retention' }).click()
    await page.getByRole('status').filter({ hasText: 'New versions in vault are kept 7 days (governance).' }).waitFor()
    await page.locator('#lock-default').getByText('7 days').waitFor()
    assert.match(await (await sign.fetch(`${node.url}/vault?object-lock`)).text(), /<Mode>GOVERNANCE<\/Mode><Days>7<\/Days>/)
    await shoot(page, 'bucket-object-lock')
    await accessible(page, 'a bucket\'s object lock')

    assert.equal((await sign.fetch(`${node.url}/vault/ledger.csv`, { method: 'PUT', body: 'a,b\n1,2\n' })).status, 200)
    await page.goto(`${node.consoleUrl!}/#/browse/vault/?open=ledger.csv`)
    await page.locator('#retention-status').getByText(/^Governance until/).waitFor()
    await page.locator('#legal-hold-status').getByText('Off').waitFor()
    await page.getByRole('button', { name: 'Place legal hold' }).click()
    await page.getByRole('status').filter({ hasText: 'Legal hold placed on ledger.csv.' }).waitFor()
    await page.locator('#legal-hold-status').getByText('On').waitFor()
    const retention = page.getByRole('form', { name: 'Retention' })
    await retention.getByLabel('Mode').selectOption('COMPLIANCE')
    const until = new Date(Date.now() + 60 * 86_400_000)
    await retention.getByLabel('Keep until').fill(`${until.getFullYear()}-${String(until.getMonth() + 1).padStart(2, '0')}-${String(until.getDate()).padStart(2, '0')}`)
    await retention.getByRole('switch', { name: 'Bypass governance' }).check()
    await retention.getByRole('button', { name: 'Save retention' }).click()
    await page.getByRole('status').filter({ hasText: /^ledger.csv is kept until / }).waitFor()
    await page.locator('#retention-status').getByText(/^Compliance until/).waitFor()
    const head = await sign.fetch(`${node.url}/vault/ledger.csv`, { method: 'HEAD' })
    assert.deepEqual([head.headers.get('x-amz-object-lock-mode'), head.headers.get('x-amz-object-lock-legal-hold')], ['COMPLIANCE', 'ON'], 'the node has the lock')
    assert.ok(Date.parse(head.headers.get('x-amz-object-lock-retain-until-date')!) > Date.now() + 59 * 86_400_000)
    assert.equal(await page.getByRole('option', { name: 'Governance' }).count(), 0, 'a compliance retention is only ever extended')
    await shoot(page, 'object-protection')
    await accessible(page, 'an object\'s protection')
    // Deleting the version for good is refused, in words.
    const versions = page.getByRole('table', { name: 'Versions of ledger.csv' })
    await versions.locator('tbody tr').first().getByRole('button', { name: /for good$/ }).click()
    await page.getByRole('alert').filter({ hasText: 'Object lock protects this version' }).waitFor()
    assert.equal((await sign.fetch(`${node.url}/vault/ledger.csv`)).status, 200, 'the version is still there')
  })

  it('shows the mesh as a graph with a labelled node per member that follows joins and leaves, a member table and a feed', async () => {
    await page.getByRole('link', { name: 'Mesh', exact: true }).click()
    await page.getByRole('heading', { name: 'Mesh' }).waitFor()
    const members = async (): Promise<number> => await page.locator('#mesh-graph g.member').count()
    const rows = async (): Promise<number> => await page.locator('#member-rows tr').count()
    await until('one node in the graph per member in the table (the node and this tab at least)', async () => await members() >= 2 && await members() === await rows(), 10_000)
    const labels = await page.locator('#mesh-graph g.member text.label').allTextContents()
    assert.equal(labels.length, await members(), 'every node is labelled')
    assert.ok(labels.every(l => /^\S{8}/.test(l)), `labels name the members: ${labels.join(', ')}`)
    assert.equal(labels.filter(l => l.endsWith('(this tab)')).length, 1, `this tab is labelled: ${labels.join(', ')}`)
    await page.locator('#member-rows tr.self').filter({ hasText: '(this tab)' }).waitFor()
    // A Node node tells the others its free disk space and since when it runs.
    const durableRow = page.locator('#member-rows tr').filter({ hasText: 'durable' }).first()
    await until('the node\'s disk free and uptime', async () => {
      const cells = await durableRow.locator('td').allTextContents()
      return /\d (bytes|KiB|MiB|GiB|TiB)$/.test(cells[4] ?? '') && /\d (s|min|h)/.test(cells[6] ?? '')
    }, 10_000)
    assert.match(await page.locator('#tab-connections').textContent() ?? '', /1 Node node over WebSockets/)
    // Writes and deletes made on the node reach the feed as they are announced.
    assert.equal((await sign.fetch(`${node.url}/album/feed.txt`, { method: 'PUT', body: 'fed' })).status, 200)
    await page.locator('#feed li').filter({ hasText: 'put album/feed.txt' }).first().waitFor()
    assert.equal((await sign.fetch(`${node.url}/album/feed.txt`, { method: 'DELETE' })).status, 204)
    await page.getByLabel('Kind').selectOption({ label: 'Deletes' })
    await page.locator('#feed li').filter({ hasText: 'deleted album/feed.txt' }).first().waitFor()
    assert.equal(await page.locator('#feed li').filter({ hasText: 'put ' }).count(), 0, 'the filter shows deletes only')
    await page.getByLabel('Kind').selectOption({ label: 'All' })

    // Two nodes join: each is in the graph, and the edge between them (neither is the console's node) comes from
    // their own report, asked through the console's node over the mesh.
    const joined = await Promise.all([0, 1].map(async () => await startServerProcess({ env, args: ['--membership', 'local', '--join', node.meshAddress!] })))
    others.push(...joined)
    const durableAlive = async (): Promise<number> => await page.locator('#mesh-graph g.member.alive').filter({ hasText: 'durable' }).count()
    // Joining and being probed alive by the tab takes a few rounds; on a loaded machine (CI, two cores) up to tens of seconds.
    await until('three durable nodes alive in the graph', async () => await durableAlive() === 3, 45_000)
    assert.equal(await members(), await rows(), 'the joined nodes are in the graph as in the table')
    const ids = await Promise.all(joined.map(async n => ((await (await sign.fetch(`${n.url}/_s3mesh/v1/members`)).json()) as { members: Array<{ id: string, self?: true }> }).members.find(m => m.self === true)!.id.slice(-8)))
    await until('an edge between the two joined nodes', async () => (await page.locator('#mesh-graph line.edge title').allTextContents()).some(t => t.includes(ids[0]!) && t.includes(ids[1]!)), 20_000)
    await shoot(page, 'mesh')
    await accessible(page, 'the mesh')
    // They leave (SIGTERM: a graceful leave): the graph says so without a reload.
    for (const n of joined) await n.stop()
    others.length = 0
    await until('one durable node alive in the graph', async () => await durableAlive() === 1, 30_000)
    await page.waitForFunction(() => document.getElementById('connection')?.textContent?.includes('(1 node alive)'))
  })

  /** PUTs 4 KiB objects into album/ on `url`, four at a time, for `ms`. */
  async function load (url: string, ms: number, prefix: string): Promise<void> {
    const stop = Date.now() + ms
    for (let sent = 0; Date.now() < stop; sent += 4) {
      await Promise.all(Array.from({ length: 4 }, async (_, i) => { await sign.fetch(`${url}/album/${prefix}-${sent + i}`, { method: 'PUT', body: 'x'.repeat(4096) }) }))
    }
  }

  it('charts the node\'s requests, latency and bytes, and the charts move while a load runs', async () => {
    await page.getByRole('link', { name: 'Monitoring' }).click()
    await page.getByRole('heading', { name: 'Monitoring' }).waitFor()
    const requests = page.locator('figure.chart').filter({ hasText: 'Requests' })
    const points = async (): Promise<number> => Number(await requests.getAttribute('data-points'))
    await until('a first point', async () => await points() >= 1, 10_000)
    const before = await points()
    await load(node.url, 7000, 'load')
    assert.ok(await points() > before, 'new points while the load ran')
    const label = await requests.locator('[role="img"]').getAttribute('aria-label') ?? ''
    const rate = Number(/all ([\d.]+)\/s/.exec(label)?.[1] ?? NaN)
    assert.ok(rate > 0, `the request rate shows the load: ${label}`)
    await shoot(page, 'monitoring')
    await accessible(page, 'the monitoring')

    // Another node's figures, through this one (over the mesh): pick it and load it.
    const second = await startServerProcess({ env, args: ['--membership', 'local', '--join', node.meshAddress!] })
    try {
      const id = ((await (await sign.fetch(`${second.url}/_s3mesh/v1/members`)).json()) as { members: Array<{ id: string, self?: true }> }).members.find(m => m.self === true)!.id
      const picker = page.getByRole('combobox', { name: 'Member' })
      await until('the joined node can be picked', async () => (await picker.locator('option').allTextContents()).some(t => t.startsWith(id.slice(-8))), 20_000)
      await picker.selectOption(id)
      // The charts show the other node's own series (not the points left from this one's) before it is loaded.
      await until('a first point from the other node', async () => await page.locator(`section[data-member="${id}"]`).count() === 1 && await points() >= 1, 10_000)
      const quiet = await points()
      await load(second.url, 6000, 'other')
      assert.ok(await points() > quiet, 'the other node\'s chart moved')
      const otherLabel = await requests.locator('[role="img"]').getAttribute('aria-label') ?? ''
      assert.ok(Number(/all ([\d.]+)\/s/.exec(otherLabel)?.[1] ?? NaN) > 0, `the other node's request rate shows its load: ${otherLabel}`)
      await picker.selectOption('')
    } finally {
      await second.stop()
    }
  })

  it('lists a bucket of more than one page (S3 answers 1000 keys at a time) and narrows it by a search', async () => {
    assert.equal((await sign.fetch(`${node.url}/many`, { method: 'PUT' })).status, 200)
    const keys = Array.from({ length: 1010 }, (_, i) => `k${String(i).padStart(4, '0')}`)
    for (let i = 0; i < keys.length; i += 25) {
      await Promise.all(keys.slice(i, i + 25).map(async k => { assert.equal((await sign.fetch(`${node.url}/many/${k}`, { method: 'PUT', body: k })).status, 200) }))
    }
    await page.getByRole('link', { name: 'Buckets' }).click()
    // Made elsewhere: the bucket list follows the mesh's catalog without a reload.
    await page.getByRole('table', { name: 'Buckets' }).getByRole('link', { name: 'many', exact: true }).click()
    // What the page says meanwhile (its status, or an alert) is in the message when it never says 1,010.
    await until('the listing says 1,010 objects', async () => (await page.getByRole('status').filter({ hasText: '1,010 objects' }).count()) > 0, 30_000,
      async () => `status: ${JSON.stringify(await page.getByRole('status').allTextContents())}, alerts: ${JSON.stringify(await page.getByRole('alert').allTextContents())}, ` +
        `the page's log: ${JSON.stringify(pageLog.filter(l => !l.includes('Failed to load resource')).slice(-10))}, the node's: ${JSON.stringify(node.output().split('\n').filter(l => /internal error/i.test(l)).slice(-5))}`)
    assert.equal(await page.locator('tr[data-key]').count(), 500, 'drawn a page at a time')
    await page.getByRole('button', { name: 'Show 500 more' }).click()
    await until('1,000 rows', async () => await page.locator('tr[data-key]').count() === 1000, 10_000)
    await page.getByLabel('Search by prefix').fill('k100')
    await until('ten rows', async () => await page.locator('tr[data-key]').count() === 10, 10_000)
  })

  it('can be used by keyboard alone: log in, create a bucket, upload, open, share, delete, see the mesh, log out', async () => {
    const context = await browser.newContext({ viewport: DESKTOP })
    const kb = await context.newPage()
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
    await kb.getByRole('table', { name: 'Buckets' }).getByRole('link', { name: 'keyboard', exact: true }).waitFor()
    await tabTo(kb, 'keyboard')
    await kb.keyboard.press('Enter')
    await kb.getByRole('heading', { name: 'keyboard' }).waitFor()

    await tabTo(kb, 'Upload files')
    // Playwright turns on file-chooser interception when a listener is added, by a message of its own. A key pressed
    // before that message lands opens Chromium's real (headless, never answered) dialog, and every later activation
    // is refused while it is "open": the CI failure this replaces. So the listener goes on first, a round trip to the
    // page makes sure the interception is in place, and only then is the key pressed.
    const chosen = new Promise<FileChooser>((resolve) => kb.once('filechooser', resolve))
    await kb.evaluate(() => 0)
    await kb.keyboard.press('Space')
    const chooser = await Promise.race([chosen, sleep(10_000).then(() => { throw new Error('no file chooser within 10 s of Space on the upload control') })])
    await chooser.setFiles({ name: 'typed.txt', mimeType: 'text/plain', buffer: Buffer.from('typed, not clicked') })
    await kb.getByRole('link', { name: 'Details of typed.txt' }).waitFor()

    await tabTo(kb, 'Details of typed.txt')
    await kb.keyboard.press('Enter')
    await kb.locator('#details-list').getByText('18 bytes').waitFor()
    await tabTo(kb, 'Link valid for')
    await kb.keyboard.press('ArrowDown')
    await tabTo(kb, 'Share')
    await kb.keyboard.press('Enter')
    await kb.waitForFunction(() => (document.getElementById('share-link') as HTMLInputElement).value !== '')
    assert.match(await kb.getByLabel('Share link').inputValue(), /X-Amz-Expires=86400/, 'the expiry chosen by arrow key')

    await kb.keyboard.press('Shift+Tab')
    await tabTo(kb, 'Close the object panel')
    await kb.keyboard.press('Enter')
    await tabTo(kb, 'Delete typed.txt')
    await kb.keyboard.press('Enter')
    await kb.getByRole('dialog').waitFor()
    await tabTo(kb, 'Delete')
    await kb.keyboard.press('Enter')
    await kb.getByRole('link', { name: 'Details of typed.txt' }).waitFor({ state: 'detached' })

    await tabTo(kb, 'Mesh')
    await kb.keyboard.press('Enter')
    await kb.getByRole('heading', { name: 'Mesh' }).waitFor()
    await tabTo(kb, 'Monitoring')
    await kb.keyboard.press('Enter')
    await kb.getByRole('heading', { name: 'Monitoring' }).waitFor()
    await tabTo(kb, 'Log out')
    await kb.keyboard.press('Enter')
    await kb.getByRole('heading', { name: 'Log in' }).waitFor()
    await context.close()
  })

  it('says in plain words when no member that holds an object can be reached', async () => {
    // k0001 was written on the node and only listed here: this tab does not hold its bytes, and no other node may
    // (one left running by an earlier test that failed would serve it).
    for (const n of others.splice(0)) await n.stop()
    await page.goto(`${node.consoleUrl!}/#/browse/many/`)
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
    // Launched inside the try: a browser that fails to start must not leave the dev server and the node running.
    let browser: Awaited<ReturnType<typeof launchChromium>> | undefined
    try {
      browser = await launchChromium()
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
      await page.getByRole('heading', { name: 'Buckets' }).waitFor({ timeout: 60_000 })
      await page.getByLabel('New bucket').fill('from-dev')
      await page.getByRole('button', { name: 'Create' }).click()
      await page.getByRole('table', { name: 'Buckets' }).getByRole('link', { name: 'from-dev', exact: true }).waitFor()
      const sign = signer()
      assert.match(await (await sign.fetch(`${node.url}/`)).text(), /<Name>from-dev<\/Name>/, 'the page reached the node through the dev server')

      // Hot reload: an edit to the console's stylesheet shows in the open page, which keeps its state (no reload).
      await page.evaluate(() => { (globalThis as { beforeEdit?: boolean }).beforeEdit = true })
      const probe = async (): Promise<string> => await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--dev-edit').trim())
      assert.equal(await probe(), '', 'precondition: the stylesheet does not have the edit yet')
      const original = await readFile(STYLE, 'utf8')
      try {
        // Saved again (as an editor would on a second save) every 5 s: under load, Vite's watcher
        // has been seen to miss an edit made in its first moments; the update must still come in place.
        let saves = 0
        let saving = Promise.resolve()
        const save = (): Promise<void> => { saves++; saving = writeFile(STYLE, `${original}\n:root { --dev-edit: seen; } /* save ${saves} */\n`); return saving }
        await save()
        const resave = setInterval(() => { void save() }, 5_000)
        try {
          await until('the edit shows in the open page', async () => await probe() === 'seen', 30_000, () => `after ${saves} saves`)
        } finally {
          clearInterval(resave)
          await saving // the restore below must land after the last save
        }
      } finally {
        await writeFile(STYLE, original)
      }
      assert.equal(await page.evaluate(() => (globalThis as { beforeEdit?: boolean }).beforeEdit), true, 'the page was updated in place, not reloaded')
      await page.getByRole('table', { name: 'Buckets' }).getByRole('link', { name: 'from-dev', exact: true }).waitFor()
    } finally {
      await browser?.close()
      process.kill(-dev.pid!, 'SIGTERM')
      await node.stop()
    }
  })
})
