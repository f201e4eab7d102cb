/**
 * The console's Access section and per-user views, in a real Chromium
 * against a real `s3mesh server`: root creates a user in the Access UI (its
 * secret shown once), the user logs in and sees only what its policies allow
 * (no upload, delete or create for a read-only user, no Access or Mesh; a
 * preview still opens), a read-write user may upload; groups, policies (a
 * malformed document refused in place, by the page and by the node), a
 * bucket made public and private again from its settings (an anonymous
 * fetch follows), temporary credentials that work with the AWS SDK for
 * their prefix and nowhere else; disable, enable and delete a user; a user
 * with consoleAdmin sees the mesh (its tab a guest, as every user's is); all by keyboard for
 * creating a user; axe-core on every Access view in both themes, and
 * screenshots at 1280 and 390 px, light and dark, into test-output/console/.
 */
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { after, before, describe, it } from 'node:test'
import { GetObjectCommand, ListBucketsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { launchChromium } from '../helpers/chromium.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { signer } from '../helpers/s3-client.js'
import { until } from '../helpers/until.js'

const SHOTS = new URL('../../test-output/console/', import.meta.url)
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js')
const DESKTOP = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 844 }
/** A 2x2 PNG, for an image preview through a presigned link. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64')

/** Switches the colour scheme with Pico's transitions off, so what is measured or shot is the final colours. */
async function scheme (page: Page, colorScheme: 'light' | 'dark'): Promise<void> {
  if (await page.evaluate(() => document.getElementById('no-transitions') === null)) {
    await page.addStyleTag({ content: '*, *::before, *::after { transition: none !important; animation: none !important; }' }).then(async h => { await h.evaluate(e => { (e as Element).id = 'no-transitions' }) })
  }
  await page.emulateMedia({ colorScheme })
}

/** The screen at desktop and phone width (full page), light and dark, into test-output/console/<name>-<width>-<scheme>.png. */
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
  for (let i = 0; i < 120; i++) {
    await page.keyboard.press('Tab')
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement & { labels?: NodeListOf<HTMLLabelElement> }
      if (el === null || el === document.body) return undefined
      const outline = getComputedStyle(el).outlineStyle
      return { name: (el.getAttribute('aria-label') ?? el.labels?.[0]?.textContent ?? el.textContent ?? '').replace(/\s+/g, ' ').trim(), outline }
    })
    if (focused === undefined) { seen.push('(body)'); continue }
    seen.push(focused.name)
    if (typeof name === 'string' ? focused.name === name || focused.name.startsWith(`${name} `) || focused.name.startsWith(`${name}:`) : name.test(focused.name)) {
      assert.notEqual(focused.outline, 'none', `the focus on ${focused.name} is visible`)
      return
    }
  }
  assert.fail(`Tab never reached ${String(name)}; it went through ${[...new Set(seen)].join(' | ')}`)
}

describe('the console: access', () => {
  let node: ServerProcess
  let browser: Browser
  let context: BrowserContext
  let page: Page
  const root = signer()
  /** Keys handed out along the way, by user name. */
  const keys = new Map<string, { accessKeyId: string, secretAccessKey: string }>()

  /** An IAM call to the node as root, from Node (what the test checks the console against). */
  async function iam (action: string, params: Record<string, string> = {}): Promise<string> {
    const res = await root.fetch(`${node.url}/`, {
      method: 'POST', body: new URLSearchParams({ Action: action, Version: '2010-05-08', ...params }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, aws: { service: 'iam' },
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`${action}: ${text}`)
    return text
  }
  /** A user made from Node, with policies and a key. */
  async function makeUser (name: string, ...policies: string[]): Promise<{ accessKeyId: string, secretAccessKey: string }> {
    await iam('CreateUser', { UserName: name })
    for (const p of policies) await iam('AttachUserPolicy', { UserName: name, PolicyArn: `arn:aws:iam::aws:policy/${p}` })
    const xml = await iam('CreateAccessKey', { UserName: name })
    const key = { accessKeyId: /<AccessKeyId>([^<]+)/.exec(xml)![1]!, secretAccessKey: /<SecretAccessKey>([^<]+)/.exec(xml)![1]! }
    keys.set(name, key)
    return key
  }
  const sdk = (credentials: { accessKeyId: string, secretAccessKey: string, sessionToken?: string }): S3Client =>
    new S3Client({ endpoint: node.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials })
  /** The S3 error code an SDK call fails with ('' when it succeeds). */
  const refusal = async (p: Promise<unknown>): Promise<string> => await p.then(() => '', (err: { name?: string, Code?: string }) => err.Code ?? err.name ?? 'error')

  async function logIn (p: Page, key: string, secret: string): Promise<void> {
    await p.goto(`${node.consoleUrl!}/#/buckets`)
    await p.getByLabel('Access key').fill(key)
    await p.getByLabel('Secret key').fill(secret)
    await p.getByRole('button', { name: 'Log in' }).click()
    await p.getByRole('heading', { name: 'Buckets' }).waitFor()
  }
  async function logOut (p: Page): Promise<void> {
    await p.getByRole('button', { name: 'Log out' }).click()
    await p.getByRole('heading', { name: 'Log in' }).waitFor()
  }
  const nav = (p: Page): ReturnType<Page['getByRole']> => p.getByRole('navigation', { name: 'Console' })

  before(async () => {
    node = await startServerProcess({ env: { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }, args: ['--membership', 'local'] })
    browser = await launchChromium()
    context = await browser.newContext({ viewport: DESKTOP })
    page = await context.newPage()
    page.on('dialog', d => { void d.accept() })
    page.on('console', m => { if (process.env.S3MESH_TEST_VERBOSE !== undefined) process.stderr.write(`page: ${m.text()}\n`) })
    await mkdir(SHOTS, { recursive: true })
    for (const [path, body, type] of [['shared', '', ''], ['shared/hello.txt', 'hello from root', 'text/plain'], ['shared/pixel.png', PNG, 'image/png'], ['shared/public/notice.txt', 'anyone may read this', 'text/plain']] as const) {
      const res = await root.fetch(`${node.url}/${path}`, { method: 'PUT', body, ...(type === '' ? {} : { headers: { 'content-type': type } }) })
      assert.equal(res.status, 200, `PUT ${path}`)
    }
  })
  after(async () => { await browser?.close(); await node?.stop() })

  it('lets root create a user with the readonly policy in the Access section, its secret shown once', async () => {
    await logIn(page, ACCESS_KEY, SECRET_KEY)
    assert.match(await page.locator('#connection').textContent() ?? '', /guest of the mesh, with your rights/, 'root\'s tab joins the mesh as a guest')
    await nav(page).getByRole('link', { name: 'Access' }).click()
    await page.getByRole('heading', { name: 'Users' }).waitFor()
    assert.match(page.url(), /#\/access\/users$/)
    await page.getByText('No users yet').waitFor()
    await shoot(page, 'access-users-empty')

    await page.getByLabel('User name').fill('reader')
    await page.getByRole('checkbox', { name: /^readonly/ }).check()
    await page.getByRole('button', { name: 'Create user' }).click()
    const once = page.getByRole('region', { name: 'Keys of reader' })
    await once.waitFor()
    const accessKeyId = await once.getByLabel('Access key', { exact: true }).inputValue()
    const secretAccessKey = await once.getByLabel('Secret key', { exact: true }).inputValue()
    assert.equal(secretAccessKey.length, 40, 'a secret of 40 characters')
    keys.set('reader', { accessKeyId, secretAccessKey })
    const row = page.getByRole('table', { name: 'Users' }).getByRole('row').filter({ hasText: 'reader' })
    await until('the table shows the key and the policy', async () => /1 active/.test(await row.textContent() ?? '') && /readonly/.test(await row.textContent() ?? ''), 15_000)
    assert.match(await row.textContent() ?? '', /enabled/)
    assert.match(await iam('ListAttachedUserPolicies', { UserName: 'reader' }), /<PolicyName>readonly<\/PolicyName>/, 'the node has the policy attached')
    await shoot(page, 'access-user-created')
    await accessible(page, 'the users, with a secret shown once')

    // The key works as the policy says: it lists, and may not write.
    const s3 = sdk({ accessKeyId, secretAccessKey })
    assert.equal(await refusal(s3.send(new ListBucketsCommand({}))), '')
    assert.equal(await refusal(s3.send(new PutObjectCommand({ Bucket: 'shared', Key: 'nope.txt', Body: 'x' }))), 'AccessDenied')

    await page.getByRole('button', { name: 'Done: I have kept them' }).click()
    await once.waitFor({ state: 'detached' })
    await page.reload()
    await page.getByRole('table', { name: 'Users' }).getByRole('link', { name: 'reader' }).waitFor()
    assert.equal((await page.content()).includes(secretAccessKey), false, 'the secret is not shown again')
    await shoot(page, 'access-users')
    await accessible(page, 'the users')
  })

  it('shows a read-only user its buckets and previews, and no button that could only fail', async () => {
    await logOut(page)
    const { accessKeyId, secretAccessKey } = keys.get('reader')!
    // A wrong secret for a user's key is refused in plain words too.
    await page.getByLabel('Access key').fill(accessKeyId)
    await page.getByLabel('Secret key').fill('not-the-secret')
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByRole('alert').filter({ hasText: 'Wrong access key or secret key.' }).waitFor()
    await logIn(page, accessKeyId, secretAccessKey)

    assert.match(await page.locator('#connection').textContent() ?? '', /guest of the mesh, with your rights/, 'a user\'s tab joins the mesh too, as a guest with its rights')
    assert.equal(await page.locator('header .user').textContent(), 'reader')
    assert.deepEqual(await nav(page).getByRole('link').allTextContents().then(t => t.map(x => x.trim())), ['Buckets'], 'no Access, Mesh or Monitoring')
    const table = page.getByRole('table', { name: 'Buckets' })
    await table.getByRole('link', { name: 'shared', exact: true }).waitFor()
    assert.equal(await page.getByLabel('New bucket').count(), 0, 'no bucket creation')
    await page.getByText('Creating buckets is not among your permissions').waitFor()
    assert.equal(await page.getByRole('button', { name: 'Delete bucket shared' }).count(), 0)
    assert.equal(await page.getByRole('link', { name: 'Settings of bucket shared' }).count(), 0)
    await shoot(page, 'access-readonly-buckets')
    await accessible(page, 'a read-only user\'s buckets')

    await table.getByRole('link', { name: 'shared', exact: true }).click()
    await page.getByRole('link', { name: 'Details of hello.txt' }).waitFor()
    for (const name of ['Upload files', 'Upload a folder', 'New folder']) assert.equal(await page.getByText(name).count(), 0, `no ${name}`)
    assert.equal(await page.getByRole('button', { name: 'Delete hello.txt' }).count(), 0)
    assert.equal(await page.getByRole('button', { name: 'Download hello.txt' }).count(), 1, 'reading is allowed')
    await page.getByText('Read only: uploading here is not among your permissions.').waitFor()

    await page.getByRole('link', { name: 'Details of hello.txt' }).click()
    await page.getByLabel('Preview of hello.txt').getByText('hello from root').waitFor()
    const panel = page.locator('#details')
    assert.equal(await panel.getByRole('button', { name: 'Delete' }).count(), 0, 'no delete in the panel')
    assert.equal(await panel.getByRole('button', { name: 'Edit metadata' }).count(), 0, 'no metadata edit')
    assert.equal(await panel.getByRole('button', { name: 'Edit tags' }).count(), 0, 'no tag edit')
    await page.getByRole('link', { name: 'Details of pixel.png' }).click()
    await until('the image preview loads through a presigned link', async () => await page.locator('.preview img').evaluate(i => (i as HTMLImageElement).naturalWidth) === 2, 15_000)
    await shoot(page, 'access-readonly-objects')
    await accessible(page, 'a read-only user\'s objects')

    // Old versions: readonly reads them (as AWS's read-only access does), and is offered nothing that changes them.
    assert.equal((await root.fetch(`${node.url}/shared?versioning`, { method: 'PUT', body: '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>' })).status, 200)
    for (const body of ['first', 'second']) assert.equal((await root.fetch(`${node.url}/shared/versioned.txt`, { method: 'PUT', body })).status, 200)
    assert.equal((await root.fetch(`${node.url}/shared/gone.txt`, { method: 'PUT', body: 'x' })).status, 200)
    assert.equal((await root.fetch(`${node.url}/shared/gone.txt`, { method: 'DELETE' })).status, 204)
    await page.goto(`${node.consoleUrl!}/#/browse/shared/?open=versioned.txt`)
    const versions = page.getByRole('table', { name: 'Versions of versioned.txt' })
    await until('both versions listed', async () => await versions.locator('tbody tr').count() === 2, 10_000)
    assert.equal(await versions.getByRole('button', { name: /^Download version/ }).count(), 2, 'each version downloads')
    assert.equal(await versions.getByRole('button', { name: /^Restore/ }).count(), 0, 'no restore: it writes')
    assert.equal(await versions.getByRole('button', { name: /for good$/ }).count(), 0, 'no delete of a version')
    await page.getByRole('switch', { name: 'Show deleted' }).check()
    const deleted = page.getByRole('table', { name: 'Deleted objects' })
    await deleted.getByRole('row').filter({ hasText: 'gone.txt' }).waitFor()
    assert.equal(await deleted.getByRole('button', { name: 'Recover gone.txt' }).count(), 0, 'no recover: it deletes a marker')

    // Places it may not use say so instead of failing.
    await page.goto(`${node.consoleUrl!}/#/mesh`)
    await page.getByText('Your access does not include the mesh\'s members').waitFor()
    await page.goto(`${node.consoleUrl!}/#/access/users`)
    await page.getByText('Your access does not include users, groups or policies').waitFor()
  })

  it('shows a read-write user the upload, and its upload reaches the node', async () => {
    await logOut(page)
    const { accessKeyId, secretAccessKey } = await makeUser('writer', 'readwrite')
    await logIn(page, accessKeyId, secretAccessKey)
    assert.equal(await nav(page).getByRole('link', { name: 'Access' }).count(), 0, 'readwrite has no IAM rights')
    await page.getByRole('table', { name: 'Buckets' }).getByRole('link', { name: 'shared', exact: true }).click()
    await page.getByRole('link', { name: 'Details of hello.txt' }).waitFor()
    await page.locator('#upload').setInputFiles({ name: 'from-writer.txt', mimeType: 'text/plain', buffer: Buffer.from('written by a user') })
    await page.getByRole('link', { name: 'Details of from-writer.txt' }).waitFor()
    assert.equal(await (await root.fetch(`${node.url}/shared/from-writer.txt`)).text(), 'written by a user', 'on the node, through the user\'s own rights')
    assert.equal(await page.getByRole('button', { name: 'Delete from-writer.txt' }).count(), 1)
    assert.equal(await page.getByRole('button', { name: 'New folder' }).count(), 1)
    await shoot(page, 'access-readwrite-objects')
    await logOut(page)
  })

  it('lists built-in and custom policies, and refuses a malformed document in place, by the page and by the node', async () => {
    await logIn(page, ACCESS_KEY, SECRET_KEY)
    await page.goto(`${node.consoleUrl!}/#/access/policies`)
    const table = page.getByRole('table', { name: 'Policies' })
    for (const p of ['readonly', 'readwrite', 'writeonly', 'consoleAdmin']) await table.getByRole('link', { name: p, exact: true }).waitFor()
    await shoot(page, 'access-policies')
    await accessible(page, 'the policies')

    await page.getByRole('link', { name: 'New policy' }).click()
    await page.getByRole('heading', { name: 'New policy' }).waitFor()
    assert.match(page.url(), /#\/access\/policies\?new$/)
    await page.getByLabel('Policy name').fill('shared-reader')
    const editor = page.getByLabel('Policy document (JSON)')
    await editor.fill(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Permit', Action: 's3:GetObject', Resource: 'arn:aws:s3:::shared/*' }] }, null, 2))
    await page.getByRole('button', { name: 'Create policy' }).click()
    const problem = page.locator('#policy-document-problem')
    await problem.getByText('MalformedPolicyDocument').waitFor()
    assert.match(await problem.textContent() ?? '', /Statement 1: Effect must be "Allow" or "Deny"/, 'the statement and field named, beside the editor')
    assert.equal(await editor.getAttribute('aria-invalid'), 'true')
    assert.match(await editor.getAttribute('aria-describedby') ?? '', /policy-document-problem/, 'the message is the field\'s description')
    assert.doesNotMatch(await iam('ListPolicies'), /shared-reader/, 'nothing was created')
    await shoot(page, 'access-policy-malformed')
    await accessible(page, 'the policy editor with a refusal')

    // Fixed as it is typed: the message goes.
    await editor.fill(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: ['arn:aws:s3:::shared', 'arn:aws:s3:::shared/*'] }] }, null, 2))
    await until('the message goes once the document is fixed', async () => (await problem.textContent() ?? '') === '')
    await page.getByRole('button', { name: 'Create policy' }).click()
    await page.getByRole('heading', { name: 'shared-reader' }).waitFor()
    assert.match(page.url(), /#\/access\/policies\/shared-reader$/)
    await page.reload()
    await page.getByRole('heading', { name: 'shared-reader' }).waitFor()
    await until('the document is read back', async () => (await editor.inputValue()).includes('s3:ListBucket'))

    // Edited while attached: the node keeps the new document, and the attachment stays.
    await iam('AttachUserPolicy', { UserName: 'reader', PolicyArn: 'arn:aws:iam::000000000000:policy/shared-reader' })
    await page.reload()
    await page.getByText('Attached to 1 user').waitFor()
    assert.match(await editor.inputValue(), /s3:ListBucket/, 'the document is in the editor once the page says what it is attached to')
    await editor.fill((await editor.inputValue()).replace('"s3:ListBucket"', '"s3:ListBucket",\n        "s3:GetObjectTagging"'))
    await page.getByRole('button', { name: 'Save policy' }).click()
    await page.getByRole('status').filter({ hasText: 'Policy shared-reader saved.' }).waitFor()
    assert.match(decodeURIComponent(await iam('GetPolicyVersion', { PolicyArn: 'arn:aws:iam::000000000000:policy/shared-reader', VersionId: 'v1' })), /s3:GetObjectTagging/)
    assert.match(await iam('ListAttachedUserPolicies', { UserName: 'reader' }), /shared-reader/, 'still attached')
    await shoot(page, 'access-policy')
  })

  it('makes a bucket public from its settings (an anonymous fetch reads it), private again (refused), and refuses a policy outside the bucket in place', async () => {
    const anonymous = async (key: string): Promise<number> => (await fetch(`${node.url}/shared/${key}`)).status
    assert.equal(await anonymous('hello.txt'), 403, 'private at first')
    await page.goto(`${node.consoleUrl!}/#/buckets/shared/settings`)
    const form = page.locator('#bucket-access')
    await form.getByRole('radio', { name: /^Private/ }).waitFor()
    await until('the current access is read', async () => await form.getByRole('radio', { name: /^Private/ }).isChecked())
    await form.getByRole('radio', { name: /^Public read/ }).check()
    await form.getByRole('button', { name: 'Save access' }).click()
    await page.getByRole('status').filter({ hasText: 'shared is readable by anyone now.' }).waitFor()
    assert.equal(await anonymous('hello.txt'), 200, 'anyone reads it')
    assert.equal(await (await fetch(`${node.url}/shared/hello.txt`)).text(), 'hello from root')
    await page.getByRole('link', { name: 'Buckets', exact: true }).first().click()
    await page.getByRole('table', { name: 'Buckets' }).getByRole('row').filter({ hasText: 'shared' }).getByText('public').waitFor()
    await page.goto(`${node.consoleUrl!}/#/buckets/shared/settings`)
    await until('public read is shown as chosen', async () => await form.getByRole('radio', { name: /^Public read/ }).isChecked())

    // A policy naming another bucket passes the page's parser; the node refuses it, and says why beside the editor.
    await form.getByRole('radio', { name: /^Custom policy/ }).check()
    const editor = page.getByLabel('Bucket policy (JSON)')
    await editor.fill(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::elsewhere/*' }] }))
    await form.getByRole('button', { name: 'Save access' }).click()
    const problem = page.locator('#bucket-policy-problem')
    await problem.getByText('outside the bucket shared').waitFor()
    assert.match(await problem.textContent() ?? '', /MalformedPolicy/)
    await shoot(page, 'access-bucket-policy-refused')
    await accessible(page, 'a bucket\'s access settings')

    await editor.fill(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::shared/public/*' }] }))
    await form.getByRole('button', { name: 'Save access' }).click()
    await page.getByRole('status').filter({ hasText: 'The policy of shared is saved.' }).waitFor()
    assert.equal(await anonymous('public/notice.txt'), 200, 'the policy lets anyone read public/')
    assert.equal(await anonymous('hello.txt'), 403, 'and nothing else (the public ACL went with it)')

    await form.getByRole('radio', { name: /^Private/ }).check()
    await form.getByRole('button', { name: 'Save access' }).click()
    await page.getByRole('status').filter({ hasText: 'shared is private now.' }).waitFor()
    assert.equal(await anonymous('hello.txt'), 403)
    assert.equal(await anonymous('public/notice.txt'), 403)
    assert.equal((await root.fetch(`${node.url}/shared?policy`)).status, 404, 'the policy is gone')
    await shoot(page, 'access-bucket-settings')
  })

  it('hands out temporary credentials for a user, shown once, that work with the AWS SDK for their prefix and nowhere else', async () => {
    await page.goto(`${node.consoleUrl!}/#/access/users`)
    await page.getByRole('table', { name: 'Users' }).getByRole('link', { name: 'writer' }).click()
    await page.getByRole('heading', { name: 'writer' }).waitFor()
    assert.match(page.url(), /#\/access\/users\/writer$/)
    await shoot(page, 'access-user')
    await accessible(page, 'a user')

    const form = page.locator('#temporary-credentials')
    await form.getByLabel('Valid for').selectOption('3600')
    await until('the buckets are offered', async () => await form.getByLabel('Bucket').locator('option', { hasText: 'shared' }).count() === 1)
    await form.getByLabel('Bucket').selectOption('shared')
    await form.getByLabel('Prefix').fill('drop/')
    await form.getByRole('button', { name: 'Create temporary credentials' }).click()
    const once = page.getByRole('region', { name: 'Temporary credentials for writer' })
    await once.waitFor()
    const value = async (label: string): Promise<string> => await once.getByLabel(label, { exact: true }).inputValue()
    const credentials = { accessKeyId: await value('AccessKeyId'), secretAccessKey: await value('SecretAccessKey'), sessionToken: await value('SessionToken') }
    const expiration = Date.parse(await value('Expiration'))
    assert.ok(Math.abs(expiration - Date.now() - 3600_000) < 120_000, 'valid for an hour')
    assert.equal(await once.getByRole('button', { name: /^Copy/ }).count(), 4, 'a copy button for each')
    await shoot(page, 'access-temporary-credentials')
    await accessible(page, 'temporary credentials shown once')

    const s3 = sdk(credentials)
    assert.equal(await refusal(s3.send(new PutObjectCommand({ Bucket: 'shared', Key: 'drop/in.txt', Body: 'dropped' }))), '', 'writes under the prefix')
    const got = await s3.send(new GetObjectCommand({ Bucket: 'shared', Key: 'drop/in.txt' }))
    assert.equal(await got.Body!.transformToString(), 'dropped')
    assert.equal(await refusal(s3.send(new ListObjectsV2Command({ Bucket: 'shared', Prefix: 'drop/' }))), '', 'lists the prefix')
    assert.equal(await refusal(s3.send(new GetObjectCommand({ Bucket: 'shared', Key: 'hello.txt' }))), 'AccessDenied', 'not outside the prefix')
    assert.equal(await refusal(s3.send(new PutObjectCommand({ Bucket: 'shared', Key: 'elsewhere.txt', Body: 'x' }))), 'AccessDenied')
    assert.equal(await refusal(s3.send(new ListObjectsV2Command({ Bucket: 'shared' }))), 'AccessDenied', 'nor a listing of the whole bucket')

    await once.getByRole('button', { name: 'Done: I have kept them' }).click()
    await once.waitFor({ state: 'detached' })
    assert.equal((await page.content()).includes(credentials.secretAccessKey), false, 'shown once')
  })

  it('manages groups: a group\'s policy reaches its members; removed and deleted after a confirmation', async () => {
    await page.goto(`${node.consoleUrl!}/#/access/groups`)
    await page.getByRole('heading', { name: 'Groups' }).waitFor()
    await page.getByLabel('New group').fill('editors')
    await page.getByRole('button', { name: 'Create group' }).click()
    await page.getByRole('table', { name: 'Groups' }).getByRole('link', { name: 'editors' }).click()
    await page.getByRole('heading', { name: 'editors' }).waitFor()
    await page.getByLabel('User to add').selectOption('reader')
    await page.getByRole('button', { name: 'Add user' }).click()
    await page.getByRole('link', { name: 'reader' }).waitFor()
    await page.getByLabel('Policy to attach').selectOption('readwrite')
    await page.getByRole('button', { name: 'Attach policy' }).click()
    await page.getByRole('button', { name: 'Detach policy readwrite' }).waitFor()
    const reader = sdk(keys.get('reader')!)
    await until('the group\'s policy lets reader write', async () => await refusal(reader.send(new PutObjectCommand({ Bucket: 'shared', Key: 'via-group.txt', Body: 'g' }))) === '', 10_000)
    await shoot(page, 'access-group')
    await accessible(page, 'a group')
    await page.goto(`${node.consoleUrl!}/#/access/groups`)
    await until('the table shows the member and the policy', async () => /reader/.test(await page.getByRole('table', { name: 'Groups' }).textContent() ?? '') && /readwrite/.test(await page.getByRole('table', { name: 'Groups' }).textContent() ?? ''), 15_000)
    await shoot(page, 'access-groups')
    await accessible(page, 'the groups')

    await page.getByRole('link', { name: 'editors' }).click()
    await page.getByRole('button', { name: 'Delete group' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByText('Its 1 member loses the group\'s policies').waitFor()
    await dialog.getByRole('button', { name: 'Delete group' }).click()
    await page.getByRole('heading', { name: 'Groups' }).waitFor()
    await page.getByText('No groups yet').waitFor()
    assert.doesNotMatch(await iam('ListGroups'), /editors/)
    assert.equal(await refusal(reader.send(new PutObjectCommand({ Bucket: 'shared', Key: 'via-group.txt', Body: 'g' }))), 'AccessDenied', 'reader is read-only again')
  })

  it('disables and enables a user, and deletes one with its keys, policies and groups after a confirmation', async () => {
    const writer = sdk(keys.get('writer')!)
    await page.goto(`${node.consoleUrl!}/#/access/users/writer`)
    await page.getByRole('button', { name: 'Disable user' }).click()
    await page.getByRole('button', { name: 'Enable user' }).waitFor()
    assert.notEqual(await refusal(writer.send(new ListBucketsCommand({}))), '', 'a disabled user\'s key is refused')
    await page.getByRole('button', { name: 'Enable user' }).click()
    await page.getByRole('button', { name: 'Disable user' }).waitFor()
    assert.equal(await refusal(writer.send(new ListBucketsCommand({}))), '', 'and works again once enabled')

    await iam('CreateGroup', { GroupName: 'leavers' })
    await iam('AddUserToGroup', { GroupName: 'leavers', UserName: 'reader' })
    await page.goto(`${node.consoleUrl!}/#/access/users/reader`)
    await page.getByRole('link', { name: 'leavers' }).waitFor()
    await page.getByRole('button', { name: 'Delete user' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByText('Its 1 access key, 2 policies and 1 group membership are removed first').waitFor()
    await dialog.getByRole('button', { name: 'Delete user' }).click()
    await page.getByRole('heading', { name: 'Users' }).waitFor()
    await page.getByRole('table', { name: 'Users' }).getByRole('link', { name: 'reader' }).waitFor({ state: 'detached' })
    assert.doesNotMatch(await iam('ListUsers'), /<UserName>reader</)
    assert.notEqual(await refusal(sdk(keys.get('reader')!).send(new ListBucketsCommand({}))), '', 'its key is gone')
  })

  it('shows a user with consoleAdmin the Access section and the mesh', async () => {
    await logOut(page)
    const { accessKeyId, secretAccessKey } = await makeUser('operator', 'consoleAdmin')
    await logIn(page, accessKeyId, secretAccessKey)
    assert.match(await page.locator('#connection').textContent() ?? '', /guest of the mesh/)
    assert.deepEqual(await nav(page).getByRole('link').allTextContents().then(t => t.map(x => x.trim())), ['Buckets', 'Access', 'Mesh', 'Monitoring'])
    await nav(page).getByRole('link', { name: 'Mesh' }).click()
    await until('the member table lists the node', async () => /serving this console/.test(await page.locator('#member-rows').textContent() ?? ''), 15_000)
    await nav(page).getByRole('link', { name: 'Access' }).click()
    await page.getByRole('table', { name: 'Users' }).getByRole('link', { name: 'writer' }).waitFor()
    await logOut(page)
  })

  it('creates a user by keyboard alone', async () => {
    const kbContext = await browser.newContext({ viewport: DESKTOP })
    const kb = await kbContext.newPage()
    try {
      await kb.goto(node.consoleUrl!)
      await tabTo(kb, 'Access key')
      await kb.keyboard.type(ACCESS_KEY)
      await tabTo(kb, 'Secret key')
      await kb.keyboard.type(SECRET_KEY)
      await kb.keyboard.press('Enter')
      await kb.getByRole('heading', { name: 'Buckets' }).waitFor()
      await tabTo(kb, 'Access')
      await kb.keyboard.press('Enter')
      await kb.getByRole('heading', { name: 'Users' }).waitFor()
      await tabTo(kb, 'User name')
      await kb.keyboard.type('typist')
      await tabTo(kb, 'readwrite')
      await kb.keyboard.press('Space')
      await tabTo(kb, 'Create user')
      await kb.keyboard.press('Enter')
      await kb.getByRole('region', { name: 'Keys of typist' }).waitFor()
      assert.equal(await kb.evaluate(() => document.activeElement?.id), 'once-title', 'the focus lands on the new keys')
      await tabTo(kb, 'Copy Secret key')
      await tabTo(kb, 'Done: I have kept them')
      await kb.keyboard.press('Enter')
      await kb.getByRole('region', { name: 'Keys of typist' }).waitFor({ state: 'detached' })
      await tabTo(kb, 'typist')
      await kb.keyboard.press('Enter')
      await kb.getByRole('heading', { name: 'typist' }).waitFor()
      assert.match(await iam('ListAttachedUserPolicies', { UserName: 'typist' }), /<PolicyName>readwrite<\/PolicyName>/)
      assert.match(await iam('ListAccessKeys', { UserName: 'typist' }), /<Status>Active<\/Status>/)
    } finally {
      await kbContext.close()
    }
  })
})
